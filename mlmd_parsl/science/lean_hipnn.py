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
        from hippynn.layers.hiplayers.interactions import InteractLayerQuad
        from hippynn.layers.hiplayers.sensitivity import CosCutoff, InverseSensitivityModule
        from hippynn.layers.targets import HEnergy
        from hippynn.layers.transform import ResNetWrapper
        from hippynn.networks.hipnn import HipnnQuad

        modules = list(graph.moddict.values())
        networks = [m for m in modules if isinstance(m, HipnnQuad)]
        energies = [m for m in modules if isinstance(m, HEnergy)]
        encoders = [m for m in modules if hasattr(m, "species_map")]
        if len(networks) != 1 or len(energies) != 1 or len(encoders) != 1:
            raise UnsupportedNetwork("not one HipnnQuad network, one HEnergy and one species encoder")
        net, energy, encoder = networks[0], energies[0], encoders[0]
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
        n_species = int(energy.layers[0].in_features) + 1
        return cls(encoder.species_map, n_species, interaction, atom_layers, energy.layers)

    def atom_energies(self, atomic_numbers, pair_i, pair_j, pair_coord):
        """Per-atom energies (n,) for atoms with these atomic numbers and pairs (i, j, x_i - x_j)."""
        softplus = torch.nn.functional.softplus
        species = self.species_map[atomic_numbers].unsqueeze(1)
        # one-hot without the blank species 0, by comparison: F.one_hot checks its input on the host (a sync)
        features = (species == torch.arange(1, self.n_species, device=species.device)).to(pair_coord.dtype)
        dist = pair_coord.norm(dim=1)
        sense = torch.exp((1.0 / dist.unsqueeze(1) - self.inv_mu).square() * self.neg_half_sigma_sq)
        sense = sense * (torch.cos(0.5 * math.pi * dist / self.hard_max).square() * (dist <= self.hard_max)).unsqueeze(1)
        rhat = pair_coord / dist.unsqueeze(1)
        x, y, z = rhat.unbind(dim=1)
        # r r^T minus its trace / 3, upper part xx, xy, xz, yy, yz (hippynn's five-component order)
        quad = torch.stack([x * x - 1 / 3, x * y, x * z, y * y - 1 / 3, y * z], dim=1)
        angular = torch.cat([torch.ones_like(dist).unsqueeze(1), rhat, quad], dim=1)  # (pairs, 9)
        # The interaction weights are linear, so they are applied per pair before the sum over neighbours
        # (hippynn sums first): 9 x nf_out numbers per pair move through memory instead of 9 x n_dist x nf_in;
        # and before the neighbour's one-hot species is applied, so the per-pair products are nf_in x nf_out.
        by_species = (sense @ self.int_weights).view(len(dist), self.nf_in, self.nf_out)
        radial = (by_species * features[pair_j].unsqueeze(2)).sum(dim=1)
        out = neighbour_sums(pair_i, angular, radial, len(features))  # (atoms, 9, nf_out)
        scalar, vec, q = out[:, 0], out[:, 1:4], out[:, 4:9]
        vec = torch.sqrt(vec.square().sum(dim=1) + self.cusp_reg) * self.vecscales
        q = torch.sqrt(2 * (q.square().sum(dim=1) + q[:, 0] * q[:, 3]) + self.cusp_reg) * self.quadscales
        interaction = scalar + vec + q + self.selfint(features)
        residual = self.int_adjust(features) if self.int_adjust is not None else features
        hidden = self.int_res(softplus(interaction)) + residual
        for base, res in self.atom_layers:
            hidden = res(softplus(base(hidden))) + hidden
        return (self.energy_onehot(features) + self.energy_final(hidden)).squeeze(1)

    def energy_and_pair_forces(self, atomic_numbers, pair_i, pair_j, pair_coord, local_weight):
        """Energy of the atoms weighted 1 in local_weight (0 for the rest) and pair forces -dE/d(x_i - x_j)."""
        pair_coord = pair_coord.detach().requires_grad_(True)
        energy = (self.atom_energies(atomic_numbers, pair_i, pair_j, pair_coord) * local_weight).sum()
        (grad,) = torch.autograd.grad(energy, pair_coord)
        return energy.detach(), -grad


def neighbour_sums(pair_i, angular, radial, natoms):
    """out[i] = sum over atom i's pairs of the outer product angular (9) x radial (nf_out): (natoms, 9, nf_out).

    On a GPU: every pair's product, summed with index_add_ (what the H100 measurements of 2026-11-27 ran).
    On a CPU that product and its backward pass over a (pairs, 9, nf_out) tensor took half of the model step;
    there each atom's pairs go into a padded (atoms, most pairs of an atom, .) layout and one batched matmul
    sums them, 4x faster for forward + backward at 568 atoms (padding slots are zero and add nothing)."""
    if angular.is_cuda:
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
