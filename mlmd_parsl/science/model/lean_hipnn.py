"""The exported HIP-NN re-written as one plain torch module for the engine's model step.

hippynn's LAMMPS graph evaluates the seed's network (HipnnQuad, resnet, softplus, one-hot species,
HEnergy) through a general graph: per-step padding/indexing nodes, data-dependent shapes and host
synchronisations, and hundreds of small tensor operations. `LeanHipnn` computes the same arithmetic
from the same weights; on a GPU with fixed shapes and no host synchronisation, so a whole step (model,
forces, virial) can be captured once as a CUDA graph and replayed (see captured_step.py). On a CPU the
neighbour sums use a padded layout sized by the pairs instead (neighbour_sums). Pairs beyond the
cutoff contribute exactly zero (hippynn's cosine cutoff is multiplied by `d <= cutoff`), so a padded or
unfiltered candidate list gives the same energy and forces (to round-off on a CPU, where the batched
sums may add in another order). Tests check it against hippynn's graph.

Only the structure the seed trains is accepted; anything else raises UnsupportedNetwork and the engine
keeps hippynn's graph.
"""
import math

import torch


class UnsupportedNetwork(ValueError):
    pass


class LeanHipnn(torch.nn.Module):
    def __init__(self, species_map, n_species, interaction, atom_layers, energy_layers):
        super().__init__()
        self.register_buffer("species_map", species_map.clone())
        self.n_species = n_species  # including the blank species 0
        base = interaction.base_layer
        sense = base.sensitivity
        self.n_dist, self.nf_out, self.nf_in = base.int_weights.shape
        self.hard_max = float(sense.cutoff.hard_max_dist)
        self.cusp_reg = float(base.cusp_reg)
        self.register_buffer("inv_mu", (1.0 / sense.mu.detach()).clone())  # (1, n_dist)
        self.register_buffer("neg_half_sigma_sq", -0.5 * sense.sigma.detach().square())
        # (n_dist, nf_in * nf_out): sensitivity k to (species f of the neighbour, output feature o)
        self.register_buffer("int_weights", base.int_weights.detach().permute(0, 2, 1)
                             .reshape(self.n_dist, self.nf_in * self.nf_out).clone())
        self.register_buffer("vecscales", base.vecscales.detach().clone())
        self.register_buffer("quadscales", base.quadscales.detach().clone())
        self.selfint = _frozen_linear(base.selfint)
        self.int_res = _frozen_linear(interaction.res_layer)
        self.int_adjust = _frozen_linear(interaction.adjust_layer) if interaction.needs_size_adjust else None
        self.atom_layers = torch.nn.ModuleList(
            torch.nn.ModuleList([_frozen_linear(layer.base_layer), _frozen_linear(layer.res_layer)])
            for layer in atom_layers)
        self.energy_onehot = _frozen_linear(energy_layers[0])
        self.energy_final = _frozen_linear(energy_layers[1])

    @classmethod
    def from_graph(cls, graph):
        """Build from hippynn's exported LAMMPS graph (MLIAPInterface.graph); UnsupportedNetwork otherwise."""
        from hippynn.layers.targets import HEnergy
        from hippynn.networks.hipnn import HipnnQuad

        modules = list(graph.moddict.values())
        networks = [m for m in modules if isinstance(m, HipnnQuad)]
        energies = [m for m in modules if isinstance(m, HEnergy)]
        encoders = [m for m in modules if hasattr(m, "species_map")]
        if len(networks) != 1 or len(energies) != 1 or len(encoders) != 1:
            raise UnsupportedNetwork("not one HipnnQuad network, one HEnergy and one species encoder")
        interaction, atom_layers = check_supported(networks[0], energies[0])
        n_species = int(energies[0].layers[0].in_features) + 1
        try:
            return cls(encoders[0].species_map, n_species, interaction, atom_layers, energies[0].layers)
        except (AttributeError, TypeError, ValueError, RuntimeError) as exc:
            # a layer of the right class that lacks what we read (e.g. an older hippynn's, without cusp_reg)
            raise UnsupportedNetwork(f"the network's layers do not have what the lean network reads: {exc}") from None

    def use_fused_kernels(self, on=True):
        """Compute the pair part with the fused Triton kernels (fused_pairs.py) from now on, or stop; raises
        ValueError for a network they do not take (see fused_kernels_unavailable)."""
        self.fused = None
        if on:
            from ..gpu.fused_pairs import FusedPairWeights

            self.fused = FusedPairWeights(self)
        return self

    def use_cpu_kernels(self, on=True):
        """Compute the whole step on a CPU with the fused numba kernel (cpu_step.py) from now on, or stop; raises
        ValueError for a network it does not take."""
        self.cpu_step = None
        if on:
            from .cpu_step import CpuFusedStep

            self.cpu_step = CpuFusedStep(self)
        return self

    def one_hot(self, atomic_numbers, dtype):
        # by comparison: F.one_hot checks its input on the host (a sync)
        species = self.species_map[atomic_numbers].unsqueeze(-1)
        return (species == torch.arange(1, self.n_species, device=species.device)).to(dtype)

    def atom_energies(self, atomic_numbers, pair_i, pair_j, pair_coord, nlocal=None, padded_sums=None):
        """Per-atom energies of the first nlocal atoms (default: all) with these atomic numbers and pairs
        (i, j, x_i - x_j); every pair's i must be one of them, its j may be any atom (a ghost). padded_sums:
        neighbour_sums' layout (None: padded on a CPU)."""
        nlocal = len(atomic_numbers) if nlocal is None else nlocal
        features = self.one_hot(atomic_numbers, pair_coord.dtype)
        fused = getattr(self, "fused", None)  # older pickles of this module have no such attribute
        if fused is not None:
            from ..gpu.fused_pairs import fused_pair_sums

            out = fused_pair_sums(fused, pair_i, pair_coord, nlocal, pair_coord.dtype)
        else:
            sense, angular = pair_terms(self, pair_coord)
            radial = pair_radial(self, sense, features[pair_j])
            out = neighbour_sums(pair_i, angular, radial, nlocal, padded_sums)  # (nlocal, 9, nf_out)
        onehot_part, final_part = energy_terms(self, features[:nlocal], out)
        return onehot_part + final_part

    def energy_and_pair_forces(self, atomic_numbers, pair_i, pair_j, pair_coord, local_weight):
        """Energy of the atoms weighted 1 in local_weight (0 for the rest) and pair forces -dE/d(x_i - x_j)."""
        cpu_step = getattr(self, "cpu_step", None)  # older pickles of this module have no such attribute
        if cpu_step is not None and pair_coord.device.type == "cpu":
            energies, pair_forces = cpu_step(pair_i.numpy(), pair_coord.detach().numpy(),
                                             self.one_hot(atomic_numbers, pair_coord.dtype)[:, 0].numpy(),
                                             local_weight.to(pair_coord.dtype).numpy())
            return torch.from_numpy(energies).sum(), torch.from_numpy(pair_forces)
        pair_coord = pair_coord.detach().requires_grad_(True)
        energy = (self.atom_energies(atomic_numbers, pair_i, pair_j, pair_coord) * local_weight).sum()
        (grad,) = torch.autograd.grad(energy, pair_coord)
        return energy.detach(), -grad


def fused_kernels_unavailable(lean, device) -> str:
    """'' when the fused Triton pair kernels can run this network on `device`, else the reason."""
    from importlib.util import find_spec

    if torch.device(device).type != "cuda":
        return "the fused pair kernels run on CUDA devices only"
    if find_spec("triton") is None:
        return "triton is not installed"
    if lean.nf_in != 1:
        return f"the fused pair kernels take one-species networks only (this one has {lean.nf_in} species)"
    return ""


def check_supported(net, energy):
    """The seed's structure or UnsupportedNetwork: returns (interaction block, atom layers) of the HipnnQuad."""
    from hippynn.layers.hiplayers.interactions import InteractLayerQuad
    from hippynn.layers.hiplayers.sensitivity import CosCutoff, InverseSensitivityModule
    from hippynn.layers.transform import ResNetWrapper

    if not net.resnet or len(net.blocks) != 1 or not isinstance(net.activation, torch.nn.Softplus):
        raise UnsupportedNetwork("only a resnet HipnnQuad with one interaction layer and softplus")
    if net.activation.beta != 1 or net.activation.threshold != 20:
        raise UnsupportedNetwork("softplus with non-default beta/threshold")
    interaction, *atom_layers = net.blocks[0]
    base = getattr(interaction, "base_layer", None)
    if not isinstance(interaction, ResNetWrapper) or not isinstance(base, InteractLayerQuad):
        raise UnsupportedNetwork("interaction layer is not a ResNetWrapper around InteractLayerQuad")
    if type(base.sensitivity) is not InverseSensitivityModule or type(base.sensitivity.cutoff) is not CosCutoff:
        raise UnsupportedNetwork("sensitivity is not the inverse one with a cosine cutoff")
    if not all(isinstance(a, ResNetWrapper) and isinstance(a.base_layer, torch.nn.Linear)
               and not a.needs_size_adjust for a in atom_layers):
        raise UnsupportedNetwork("atom layers are not same-size resnet linear layers")
    if energy.first_is_interacting or len(energy.layers) != 2 or energy.layers[0].out_features != 1:
        raise UnsupportedNetwork("energy head is not HEnergy over (one-hot, last features) with one target")
    return interaction, atom_layers


class LiveHipnnWeights:
    """hippynn's own trainable modules seen through LeanHipnn's names, for training: the derived tensors
    (1/mu, -sigma^2/2, the permuted interaction weights) are recomputed from the live parameters on each use,
    so gradients reach hippynn's parameters and the trained network saves and exports as hippynn's."""

    def __init__(self, network, energy, species_map):
        interaction, atom_layers = check_supported(network, energy)
        self.species_map = species_map
        self.n_species = int(energy.layers[0].in_features) + 1
        self.base = interaction.base_layer
        self.n_dist, self.nf_out, self.nf_in = self.base.int_weights.shape
        self.hard_max = float(self.base.sensitivity.cutoff.hard_max_dist)
        self.cusp_reg = float(self.base.cusp_reg)
        self.selfint = self.base.selfint
        self.int_res = interaction.res_layer
        self.int_adjust = interaction.adjust_layer if interaction.needs_size_adjust else None
        self.atom_layers = [(layer.base_layer, layer.res_layer) for layer in atom_layers]
        self.energy_onehot, self.energy_final = energy.layers
        self.vecscales, self.quadscales = self.base.vecscales, self.base.quadscales
        self.network, self.energy_module = network, energy

    one_hot = LeanHipnn.one_hot

    @property
    def inv_mu(self):
        return 1.0 / self.base.sensitivity.mu

    @property
    def neg_half_sigma_sq(self):
        return -0.5 * self.base.sensitivity.sigma.square()

    @property
    def int_weights(self):
        return self.base.int_weights.permute(0, 2, 1).reshape(self.n_dist, self.nf_in * self.nf_out)


def pair_terms(w, pair_coord):
    """Per pair: the cut-off inverse sensitivities (pairs, n_dist) and the angular terms (pairs, 9):
    1, r-hat and the traceless r-hat r-hat^T in hippynn's five-component order (xx, xy, xz, yy, yz)."""
    dist = pair_coord.norm(dim=1)
    sense = torch.exp((1.0 / dist.unsqueeze(1) - w.inv_mu).square() * w.neg_half_sigma_sq)
    sense = sense * (torch.cos(0.5 * math.pi * dist / w.hard_max).square() * (dist <= w.hard_max)).unsqueeze(1)
    rhat = pair_coord / dist.unsqueeze(1)
    x, y, z = rhat.unbind(dim=1)
    quad = torch.stack([x * x - 1 / 3, x * y, x * z, y * y - 1 / 3, y * z], dim=1)
    return sense, torch.cat([torch.ones_like(dist).unsqueeze(1), rhat, quad], dim=1)


def pair_radial(w, sense, neighbour_features):
    """(pairs, nf_out): the interaction weights applied per pair, before the sum over neighbours (hippynn
    sums first; the weights are linear): 9 x nf_out numbers per pair move through memory instead of
    9 x n_dist x nf_in; and before the neighbour's one-hot species, so per-pair products are nf_in x nf_out."""
    by_species = (sense @ w.int_weights).view(len(sense), w.nf_in, w.nf_out)
    return (by_species * neighbour_features.unsqueeze(2)).sum(dim=1)


def energy_terms(w, features, out):
    """Per-atom energies from the neighbour sums out (atoms, 9, nf_out): HEnergy's two terms, the one-hot
    (species) part and the part from the last features, each (atoms,); their squares give hierarchicality."""
    softplus = torch.nn.functional.softplus
    scalar, vec, q = out[:, 0], out[:, 1:4], out[:, 4:9]
    vec = torch.sqrt(vec.square().sum(dim=1) + w.cusp_reg) * w.vecscales
    q = torch.sqrt(2 * (q.square().sum(dim=1) + q[:, 0] * q[:, 3]) + w.cusp_reg) * w.quadscales
    interaction = scalar + vec + q + w.selfint(features)
    residual = w.int_adjust(features) if w.int_adjust is not None else features
    hidden = w.int_res(softplus(interaction)) + residual
    for base, res in w.atom_layers:
        hidden = res(softplus(base(hidden))) + hidden
    return w.energy_onehot(features).squeeze(1), w.energy_final(hidden).squeeze(1)


def neighbour_sums(pair_i, angular, radial, natoms, padded=None):
    """out[i] = sum over atom i's pairs of the outer product angular (9) x radial (nf_out): (natoms, 9, nf_out).

    On a GPU: every pair's product, summed with index_add_ (what the H100 measurements of 2026-11-27 ran).
    On a CPU that product and its backward pass over a (pairs, 9, nf_out) tensor took half of the model step;
    there (padded=None on a CPU, or True) each atom's pairs go into a padded (atoms, most pairs of an atom, .)
    layout and one batched matmul sums them, 4x faster for forward + backward at 568 atoms (padding slots are
    zero and add nothing). Its width depends on the data, so torch.compile takes the index_add_ layout."""
    if padded is None:
        padded = not angular.is_cuda
    if not padded:
        out = torch.zeros((natoms, 9, radial.shape[1]), dtype=radial.dtype, device=radial.device)
        return out.index_add_(0, pair_i, angular.unsqueeze(2) * radial.unsqueeze(1))
    count = torch.bincount(pair_i, minlength=natoms)
    width = int(count.max()) if len(pair_i) else 0
    first = torch.cumsum(count, 0) - count
    rank = torch.arange(len(pair_i), device=pair_i.device)
    if bool((pair_i[1:] >= pair_i[:-1]).all()):  # the engine's pairs come sorted by i: no argsort needed
        slot = rank - first[pair_i]
    else:
        order = torch.argsort(pair_i, stable=True)
        slot = torch.empty_like(pair_i)
        slot[order] = rank - first[pair_i[order]]
    row = pair_i * width + slot  # a row of the flattened (natoms * width) layout: index_copy beats a 2-d index_put
    padded_angular = angular.new_zeros((natoms * width, angular.shape[1])).index_copy(0, row, angular)
    padded_radial = radial.new_zeros((natoms * width, radial.shape[1])).index_copy(0, row, radial)
    return torch.bmm(padded_angular.view(natoms, width, angular.shape[1]).transpose(1, 2),
                     padded_radial.view(natoms, width, radial.shape[1]))


def _frozen_linear(layer):
    copy = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    copy.load_state_dict(layer.state_dict())
    copy.requires_grad_(False)
    return copy.to(layer.weight.device, layer.weight.dtype)
