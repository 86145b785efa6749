"""The lean network's whole model step fused into one numba kernel for a CPU (issue 41): per-atom energies and
pair forces, with no torch operation and no autograd.

HIP-NN's one interaction layer makes an atom's energy a function of its own pairs only: the neighbour sums
(9 x nf_out per atom) feed a per-atom network. So one loop per atom (parallel over atoms, no scatter, no race)
walks the atom's pairs and keeps each pair's sensitivities, radial and angular terms in a small scratch buffer,
sums them, runs the per-atom network forward and its gradient by hand (three 8-wide layers), then walks the pairs
again to write each pair's -dE/d(x_i - x_j). Everything an atom needs stays in L1; the torch step instead forms
(pairs, 16), (pairs, 8) and (pairs, 9, 8) arrays one operation at a time, forward and backward, with a few
hundred operator dispatches per step whatever the atoms (benchmarks/RESULTS.md, issue 41).

The arithmetic is LeanHipnn's (lean_hipnn.py: pair_terms, pair_radial, neighbour_sums, energy_terms) in the pair
vectors' dtype; pairs beyond the cutoff add exactly nothing and get zero force, pairs whose atom i is not one of
the weighted atoms get zero force. One species (the seed's silver), like the GPU kernels (fused_pairs.py). The
torch step stays the reference the tests compare with (tests/unit/model/test_cpu_step.py).
"""
import math

import numpy as np
import torch
from numba import njit, prange

from .cpu_math import exp, softplus, softplus_slope

# The kernels' arithmetic stays in the arrays' dtype: every constant comes from `c` (a literal like 2.0 would make
# numba promote float32 work to float64); error_model="numpy": no Python-style division checks inside the loops.
# LLVM does not vectorise the loops over 8 features or 16 sensitivities (measured: scalar FMAs, ~1 ns each): numba's
# arrays may alias, so it cannot keep a row of sums in registers. That, not the arithmetic, bounds this step
# (benchmarks/RESULTS.md, issue 41); the scratch rows are indexed, never sliced (a slice is a reference-counted view).
_KERNEL = dict(cache=True, fastmath=True, error_model="numpy")
# c: hard_max, pi / (2 hard_max), 1/3, cusp_reg, the one-hot energy weight, 0, 1, 2
_ZERO, _ONE, _TWO = 5, 6, 7


@njit(**_KERNEL)
def _atom_network(sums, x, c, per_feature, res_w, layer_w, layer_b, final_w, energy_b, weight, grad_sums, work):
    """The per-atom network on the neighbour sums (9, nf): returns the energy, writes weight * dE/dsums."""
    energy = _atom_forward(sums, x, c, per_feature, res_w, layer_w, layer_b, final_w, energy_b, work)
    _atom_backward(sums, c, per_feature, res_w, layer_w, final_w, weight, grad_sums, work)
    return energy


@njit(**_KERNEL)
def _atom_forward(sums, x, c, per_feature, res_w, layer_w, layer_b, final_w, energy_b, work):
    """The per-atom network's forward pass, keeping in `work` what the backward pass needs; returns the energy.

    per_feature rows: vecscales, quadscales, selfint weight, selfint bias, int_adjust weight, int_res bias.
    layer_w/layer_b: (layers, 2, h, h) / (layers, 2, h), the base and res linear of each atom layer.
    work (7 + 2 * layers, max(nf, h)): rows 0-2 the interaction, the vector and quadrupole norms; 3-4 gradients;
    5 an activation; 6 + l the hidden state entering layer l (6 + layers: the last); 7 + layers + l layer l's base
    pre-activation."""
    nf, h, nlayers = sums.shape[1], res_w.shape[0], layer_w.shape[0]
    cusp, two = c[3], c[_TWO]
    for f in range(nf):
        vnorm = math.sqrt(sums[1, f] * sums[1, f] + sums[2, f] * sums[2, f] + sums[3, f] * sums[3, f] + cusp)
        qnorm = math.sqrt(two * (sums[4, f] * sums[4, f] + sums[5, f] * sums[5, f] + sums[6, f] * sums[6, f]
                                 + sums[7, f] * sums[7, f] + sums[8, f] * sums[8, f] + sums[4, f] * sums[7, f]) + cusp)
        interaction = (sums[0, f] + vnorm * per_feature[0, f] + qnorm * per_feature[1, f]
                       + per_feature[2, f] * x + per_feature[3, f])
        work[0, f], work[1, f], work[2, f] = interaction, vnorm, qnorm
        work[5, f] = softplus(interaction)
    for o in range(h):
        acc = per_feature[5, o] + per_feature[4, o] * x
        for f in range(nf):
            acc += res_w[o, f] * work[5, f]
        work[6, o] = acc
    for layer in range(nlayers):
        hidden, pre = 6 + layer, 7 + nlayers + layer  # rows of work; the layer's output goes to row hidden + 1
        for o in range(h):
            acc = layer_b[layer, 0, o]
            for i in range(h):
                acc += layer_w[layer, 0, o, i] * work[hidden, i]
            work[pre, o] = acc
            work[5, o] = softplus(acc)
        for o in range(h):
            acc = layer_b[layer, 1, o] + work[hidden, o]
            for i in range(h):
                acc += layer_w[layer, 1, o, i] * work[5, i]
            work[hidden + 1, o] = acc
    energy = energy_b + c[4] * x
    for o in range(h):
        energy += final_w[o] * work[6 + nlayers, o]
    return energy


@njit(**_KERNEL)
def _atom_backward(sums, c, per_feature, res_w, layer_w, final_w, weight, grad_sums, work):
    """weight * dE/dsums into grad_sums, from what _atom_forward left in `work`: the gradient of the hidden state
    (row 3) from the last layer to the first (row 4: of the layer's pre-activation)."""
    nf, h, nlayers = sums.shape[1], res_w.shape[0], layer_w.shape[0]
    two = c[_TWO]
    for o in range(h):
        work[3, o] = weight * final_w[o]
    for layer in range(nlayers - 1, -1, -1):
        pre = 7 + nlayers + layer
        for i in range(h):
            acc = c[_ZERO]
            for o in range(h):
                acc += layer_w[layer, 1, o, i] * work[3, o]
            work[4, i] = acc * softplus_slope(work[pre, i])
        for i in range(h):
            acc = work[3, i]
            for o in range(h):
                acc += layer_w[layer, 0, o, i] * work[4, o]
            work[5, i] = acc
        for i in range(h):
            work[3, i] = work[5, i]
    for f in range(nf):
        acc = c[_ZERO]
        for o in range(h):
            acc += res_w[o, f] * work[3, o]
        g = acc * softplus_slope(work[0, f])
        gv = g * per_feature[0, f] / work[1, f]
        gq = g * per_feature[1, f] / work[2, f]
        grad_sums[0, f] = g
        grad_sums[1, f], grad_sums[2, f], grad_sums[3, f] = gv * sums[1, f], gv * sums[2, f], gv * sums[3, f]
        grad_sums[4, f] = gq * (two * sums[4, f] + sums[7, f])
        grad_sums[5, f], grad_sums[6, f] = gq * two * sums[5, f], gq * two * sums[6, f]
        grad_sums[7, f] = gq * (two * sums[7, f] + sums[4, f])
        grad_sums[8, f] = gq * two * sums[8, f]


@njit(inline="always", **_KERNEL)
def _pair_forward(coord, p, q, c, inv_mu, nhs, w, geometry, sense, radial, sums):
    """Pair p into row q of the atom's scratch (geometry: 1/d, x/d, y/d, z/d, cutoff, d(cutoff)/dd; sensitivities
    before the cutoff; radial terms) and its angular x radial terms onto the atom's sums. Beyond the cutoff, cutoff
    and slope are zero: the pair adds nothing and gets zero force, as in torch (`dist <= hard_max`)."""
    zero, one, two, third = c[_ZERO], c[_ONE], c[_TWO], c[2]
    x, y, z = coord[p, 0], coord[p, 1], coord[p, 2]
    d = math.sqrt(x * x + y * y + z * z)
    u = one / d
    cosine, sine = math.cos(c[1] * d), math.sin(c[1] * d)
    inside = d <= c[0]
    cut = cosine * cosine if inside else zero
    xh, yh, zh = x * u, y * u, z * u
    geometry[q, 0], geometry[q, 1], geometry[q, 2], geometry[q, 3] = u, xh, yh, zh
    geometry[q, 4], geometry[q, 5] = cut, (-two * cosine * sine * c[1] if inside else zero)
    nf, ndist = w.shape[1], w.shape[0]
    for k in range(ndist):
        t = u - inv_mu[k]
        sense[q, k] = exp(t * t * nhs[k])
    for f in range(nf):
        radial[q, f] = zero
    for k in range(ndist):
        ek = sense[q, k] * cut
        for f in range(nf):
            radial[q, f] += ek * w[k, f]
    a4, a5, a6, a7, a8 = xh * xh - third, xh * yh, xh * zh, yh * yh - third, yh * zh
    for f in range(nf):
        r = radial[q, f]
        sums[0, f] += r
        sums[1, f] += xh * r
        sums[2, f] += yh * r
        sums[3, f] += zh * r
        sums[4, f] += a4 * r
        sums[5, f] += a5 * r
        sums[6, f] += a6 * r
        sums[7, f] += a7 * r
        sums[8, f] += a8 * r


@njit(inline="always", **_KERNEL)
def _pair_force(q, grad_sums, geometry, sense, radial, c, inv_mu, nhs, w_t, g_radial, g_sense, forces, p):
    """-dE/d(x_i - x_j) of the pair in scratch row q into forces[p], from the atom's weighted dE/dsums."""
    zero, two, third = c[_ZERO], c[_TWO], c[2]
    nf, ndist = w_t.shape
    u, xh, yh, zh = geometry[q, 0], geometry[q, 1], geometry[q, 2], geometry[q, 3]
    a4, a5, a6, a7, a8 = xh * xh - third, xh * yh, xh * zh, yh * yh - third, yh * zh
    am1 = am2 = am3 = am4 = am5 = am6 = am7 = am8 = zero
    for f in range(nf):
        r = radial[q, f]
        g_radial[f] = (grad_sums[0, f] + xh * grad_sums[1, f] + yh * grad_sums[2, f] + zh * grad_sums[3, f]
                       + a4 * grad_sums[4, f] + a5 * grad_sums[5, f] + a6 * grad_sums[6, f] + a7 * grad_sums[7, f]
                       + a8 * grad_sums[8, f])
        am1 += grad_sums[1, f] * r
        am2 += grad_sums[2, f] * r
        am3 += grad_sums[3, f] * r
        am4 += grad_sums[4, f] * r
        am5 += grad_sums[5, f] * r
        am6 += grad_sums[6, f] * r
        am7 += grad_sums[7, f] * r
        am8 += grad_sums[8, f] * r
    for k in range(ndist):
        g_sense[k] = zero
    for f in range(nf):
        gr = g_radial[f]
        for k in range(ndist):
            g_sense[k] += gr * w_t[f, k]
    cut, dcut = geometry[q, 4], geometry[q, 5]
    minus_u2_cut = -(u * u) * cut
    g_dist = zero
    for k in range(ndist):
        g_dist += g_sense[k] * sense[q, k] * (two * nhs[k] * (u - inv_mu[k]) * minus_u2_cut + dcut)
    gx = am1 + two * xh * am4 + yh * am5 + zh * am6
    gy = am2 + xh * am5 + two * yh * am7 + zh * am8
    gz = am3 + xh * am6 + yh * am8
    along = gx * xh + gy * yh + gz * zh
    forces[p, 0] = -((gx - along * xh) * u + g_dist * xh)
    forces[p, 1] = -((gy - along * yh) * u + g_dist * yh)
    forces[p, 2] = -((gz - along * zh) * u + g_dist * zh)


@njit(parallel=True, **_KERNEL)
def _step(coord, offsets, features, weights, chunk, width, c, inv_mu, nhs, w, w_t, per_feature, res_w, layer_w,
          layer_b, final_w, energy_b, energies, forces):
    """Blocks of `chunk` atoms in parallel, an atom at a time; width: the most pairs of an atom."""
    natoms, nf, ndist, h = len(energies), w.shape[1], w.shape[0], res_w.shape[0]
    dtype, zero = coord.dtype, c[_ZERO]
    for block in prange((natoms + chunk - 1) // chunk):
        geometry = np.empty((width, 6), dtype=dtype)
        sense = np.empty((width, ndist), dtype=dtype)
        radial = np.empty((width, nf), dtype=dtype)
        sums = np.empty((9, nf), dtype=dtype)
        grad_sums = np.empty((9, nf), dtype=dtype)
        work = np.empty((7 + 2 * layer_w.shape[0], max(nf, h)), dtype=dtype)
        g_radial = np.empty(nf, dtype=dtype)
        g_sense = np.empty(ndist, dtype=dtype)
        for a in range(block * chunk, min(natoms, (block + 1) * chunk)):
            first, last = offsets[a], offsets[a + 1]
            if weights[a] == zero:
                energies[a] = zero
                for p in range(first, last):
                    forces[p, 0] = forces[p, 1] = forces[p, 2] = zero
                continue
            for m in range(9):
                for f in range(nf):
                    sums[m, f] = zero
            for p in range(first, last):
                _pair_forward(coord, p, p - first, c, inv_mu, nhs, w, geometry, sense, radial, sums)
            energies[a] = weights[a] * _atom_network(sums, features[a], c, per_feature, res_w, layer_w, layer_b,
                                                     final_w, energy_b, weights[a], grad_sums, work)
            for p in range(first, last):
                _pair_force(p - first, grad_sums, geometry, sense, radial, c, inv_mu, nhs, w_t, g_radial, g_sense,
                            forces, p)


def _serial_copy(parallel):
    """The same kernel compiled without parallel=True (prange runs as range: one thread, no thread pool), under a
    name of its own: numba names a cache entry after the function, not its flags, so a copy under _step's name
    loaded the parallel kernel from the cache (and started the pool it was meant to avoid)."""
    import types

    body = parallel.py_func
    copy = types.FunctionType(body.__code__, body.__globals__, "_serial_step", body.__defaults__, body.__closure__)
    copy.__qualname__ = "_serial_step"
    return njit(**_KERNEL)(copy)


_serial_step = _serial_copy(_step)


@njit(cache=True)
def _offsets_if_grouped(pair_i, natoms, offsets):
    """offsets[a]..offsets[a+1]: atom a's pairs, if pair_i is grouped by atom (non-decreasing) and < natoms."""
    a = 0
    offsets[0] = 0
    for p in range(len(pair_i)):
        i = pair_i[p]
        if i < a or i >= natoms:
            return False
        while a < i:
            a += 1
            offsets[a] = p
    while a < natoms:
        a += 1
        offsets[a] = len(pair_i)
    return True


class CpuFusedStep:
    """LeanHipnn's energies and pair forces by the fused kernel; its weights as numpy arrays, per dtype."""

    def __init__(self, lean):
        reason = fused_cpu_step_unavailable(lean, "cpu")
        if reason:
            raise ValueError(reason)
        self.lean, self.arrays = lean, {}
        self.threads = None  # None: as many as torch uses (OMP_NUM_THREADS where set)

    def __getstate__(self):
        return {**self.__dict__, "arrays": {}}

    def _weights(self, dtype):
        if dtype not in self.arrays:
            self.arrays[dtype] = _weight_arrays(self.lean, dtype)
        return self.arrays[dtype]

    def __call__(self, pair_i, pair_coord, features, weights):
        """(per-atom energies times weights, pair forces -dE/d(x_i - x_j)) as numpy arrays in pair_coord's dtype.

        pair_i (int, any order), pair_coord (pairs, 3) float32/float64, features (atoms,) the atoms' one-hot
        species value (1: the network's one species, which every atom must be), weights (atoms,) the energy
        weights (0: the atom's energy is not counted and its pairs get zero force)."""
        pair_i, coord = np.asarray(pair_i), np.asarray(pair_coord)
        dtype = coord.dtype
        natoms = len(weights)
        if natoms and np.min(features) != 1:  # the kernel takes every neighbour j to be of the one species too
            raise ValueError("fused CPU step: every atom must be of the network's one species")
        offsets = np.empty(natoms + 1, dtype=np.int64)
        order = None
        if not _offsets_if_grouped(pair_i, natoms, offsets):
            if len(pair_i) and (pair_i.min() < 0 or pair_i.max() >= natoms):
                raise ValueError(f"pair_i holds atoms outside 0..{natoms - 1}")
            order = np.argsort(pair_i, kind="stable")
            pair_i, coord = pair_i[order], coord[order]
            _offsets_if_grouped(pair_i, natoms, offsets)
        width = int(np.max(offsets[1:] - offsets[:-1])) if natoms else 0
        energies = np.empty(natoms, dtype=dtype)
        forces = np.empty((len(pair_i), 3), dtype=dtype)
        threads = _threads(self.threads)
        kernel = _step if threads > 1 else _serial_step
        chunk = max(1, min(64, -(-natoms // (4 * threads))))
        kernel(np.ascontiguousarray(coord), offsets, np.asarray(features, dtype=dtype),
               np.asarray(weights, dtype=dtype), chunk, max(width, 1), *self._weights(dtype), energies, forces)
        if order is not None:
            unsorted = np.empty_like(forces)
            unsorted[order] = forces
            forces = unsorted
        return energies, forces


def _threads(wanted=None):
    """`wanted` numba threads, or as many as torch uses (OMP_NUM_THREADS where set): a rank of several must not
    oversubscribe its cores. One thread runs the serial kernel and never starts numba's thread pool: with two
    ranks on two cores, each rank's pool (OpenMP threads spinning between steps) made the step 4x slower."""
    import numba

    threads = max(1, min(wanted or torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if threads > 1 and numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
    return threads


def _weight_arrays(lean, dtype):
    """The kernel's weight arguments (c ... energy_b) from LeanHipnn's buffers and layers, in numpy `dtype`."""
    def array(tensor):
        return np.ascontiguousarray(tensor.detach().double().cpu().numpy().astype(dtype))

    c = np.array([lean.hard_max, 0.5 * math.pi / lean.hard_max, 1.0 / 3.0, lean.cusp_reg,
                  float(lean.energy_onehot.weight[0, 0]), 0.0, 1.0, 2.0], dtype=dtype)
    bias = lean.int_res.bias if lean.int_res.bias is not None else torch.zeros(lean.int_res.out_features)
    selfint_bias = lean.selfint.bias if lean.selfint.bias is not None else torch.zeros(lean.nf_out)
    per_feature = torch.stack([lean.vecscales, lean.quadscales, lean.selfint.weight[:, 0], selfint_bias,
                               lean.int_adjust.weight[:, 0], bias])
    layers, h = list(lean.atom_layers), lean.int_res.out_features
    layer_w = torch.stack([torch.stack([b.weight, r.weight]) for b, r in layers]) if layers else torch.zeros(0, 2, h, h)
    layer_b = (torch.stack([torch.stack([_bias(b, h), _bias(r, h)]) for b, r in layers]) if layers
               else torch.zeros(0, 2, h))
    energy_b = dtype.type(float(lean.energy_final.bias[0]) if lean.energy_final.bias is not None else 0.0)
    return (c, array(lean.inv_mu.reshape(-1)), array(lean.neg_half_sigma_sq.reshape(-1)), array(lean.int_weights),
            array(lean.int_weights.t()), array(per_feature), array(lean.int_res.weight), array(layer_w), array(layer_b),
            array(lean.energy_final.weight[0]), energy_b)


def _bias(linear, size):
    return linear.bias if linear.bias is not None else torch.zeros(size)


def fused_cpu_step_unavailable(lean, device) -> str:
    """'' when the fused CPU step can run this network on `device`, else the reason."""
    if torch.device(device).type != "cpu":
        return "the fused CPU step runs on the CPU only"
    if lean.nf_in != 1:
        return f"the fused CPU step takes one-species networks only (this one has {lean.nf_in} species)"
    if lean.int_adjust is None:
        return "the fused CPU step takes networks with a size-adjusting residual layer only"
    return ""

