"""The lean network's pair part as two fused numba kernels, forward and backward, for a CPU (issue 41, first step).

The torch CPU step forms (pairs, n_dist), (pairs, nf_out) and (pairs, 9, nf_out) arrays one operation at a time,
forward and backward; here one loop per atom (numba, parallel over atoms) walks the atom's pairs, forms each
pair's sensitivities, radial and angular terms in registers and adds them onto the atom's 9 x nf_out sums; the
backward recomputes each pair and writes its dE/d(x_i - x_j). No scatter: pairs are taken grouped by atom i
(sorted here when they are not). Pairs beyond the cutoff add exactly nothing and get zero gradient, as in torch.
For a one-species network only (the seed's silver), like the GPU kernels (fused_pairs.py). Arithmetic in the
pair vectors' dtype.
"""
import math

import numpy as np
import torch
from numba import njit, prange


@njit(cache=True, fastmath=True)
def _pair(coord, p, hard_max, half_pi_over, third, inv_mu, nhs, w, radial, ang):
    """Fills radial (nf) and ang (9) for pair p; returns (inside, u, cos, sin, cut)."""
    x, y, z = coord[p, 0], coord[p, 1], coord[p, 2]
    d = math.sqrt(x * x + y * y + z * z)
    if d > hard_max:
        return False, 0.0, 0.0, 0.0, 0.0
    u = 1.0 / d
    c, s = math.cos(half_pi_over * d), math.sin(half_pi_over * d)
    cut = c * c
    radial[:] = 0.0
    for k in range(len(inv_mu)):
        t = u - inv_mu[k]
        e = math.exp(t * t * nhs[k]) * cut
        for f in range(radial.shape[0]):
            radial[f] += e * w[k, f]
    xh, yh, zh = x * u, y * u, z * u
    ang[0], ang[1], ang[2], ang[3] = 1.0, xh, yh, zh
    ang[4], ang[5], ang[6], ang[7], ang[8] = xh * xh - third, xh * yh, xh * zh, yh * yh - third, yh * zh
    return True, u, c, s, cut


@njit(parallel=True, cache=True, fastmath=True)
def _forward(coord, offsets, consts, inv_mu, nhs, w, out):
    hard_max, half_pi_over, third = consts[0], consts[1], consts[2]
    nf = w.shape[1]
    for a in prange(out.shape[0]):
        radial = np.empty(nf, dtype=out.dtype)
        ang = np.empty(9, dtype=out.dtype)
        for m in range(9):
            for f in range(nf):
                out[a, m, f] = 0.0
        for p in range(offsets[a], offsets[a + 1]):
            inside, u, c, s, cut = _pair(coord, p, hard_max, half_pi_over, third, inv_mu, nhs, w, radial, ang)
            if inside:
                for m in range(9):
                    for f in range(nf):
                        out[a, m, f] += ang[m] * radial[f]


@njit(parallel=True, cache=True, fastmath=True)
def _backward(coord, offsets, consts, inv_mu, nhs, w, grad_out, grad):
    hard_max, half_pi_over, third = consts[0], consts[1], consts[2]
    nf = w.shape[1]
    for a in prange(grad_out.shape[0]):
        radial = np.empty(nf, dtype=grad.dtype)
        ang = np.empty(9, dtype=grad.dtype)
        g_radial = np.empty(nf, dtype=grad.dtype)
        am = np.empty(9, dtype=grad.dtype)
        for p in range(offsets[a], offsets[a + 1]):
            inside, u, c, s, cut = _pair(coord, p, hard_max, half_pi_over, third, inv_mu, nhs, w, radial, ang)
            if not inside:
                grad[p, 0] = grad[p, 1] = grad[p, 2] = 0.0
                continue
            for f in range(nf):
                g_radial[f] = 0.0
            for m in range(9):
                acc = 0.0
                for f in range(nf):
                    acc += grad_out[a, m, f] * radial[f]
                    g_radial[f] += ang[m] * grad_out[a, m, f]
                am[m] = acc
            dcut = -2.0 * c * s * half_pi_over
            g_dist = 0.0
            for k in range(len(inv_mu)):
                t = u - inv_mu[k]
                e = math.exp(t * t * nhs[k])
                g_sense = 0.0
                for f in range(nf):
                    g_sense += g_radial[f] * w[k, f]
                g_dist += g_sense * (e * (2.0 * nhs[k] * t) * (-(u * u)) * cut + e * dcut)
            xh, yh, zh = ang[1], ang[2], ang[3]
            gx = am[1] + 2.0 * xh * am[4] + yh * am[5] + zh * am[6]
            gy = am[2] + xh * am[5] + 2.0 * yh * am[7] + zh * am[8]
            gz = am[3] + xh * am[6] + yh * am[8]
            along = gx * xh + gy * yh + gz * zh
            grad[p, 0] = (gx - along * xh) * u + g_dist * xh
            grad[p, 1] = (gy - along * yh) * u + g_dist * yh
            grad[p, 2] = (gz - along * zh) * u + g_dist * zh


class CpuPairWeights:
    """LeanHipnn's pair-part constants and weights as numpy arrays, per dtype (made on first use)."""

    def __init__(self, lean):
        if lean.nf_in != 1:
            raise ValueError(f"fused CPU pair kernels: one-species networks only (this one has {lean.nf_in} species)")
        self.lean, self.arrays = lean, {}

    def __getstate__(self):
        return {**self.__dict__, "arrays": {}}

    def on(self, dtype):
        if dtype not in self.arrays:
            lean, np_dtype = self.lean, torch.empty(0, dtype=dtype).numpy().dtype
            consts = np.array([lean.hard_max, 0.5 * math.pi / lean.hard_max, 1.0 / 3.0], dtype=np_dtype)
            self.arrays[dtype] = (consts, lean.inv_mu.detach().reshape(-1).double().numpy().astype(np_dtype),
                                  lean.neg_half_sigma_sq.detach().reshape(-1).double().numpy().astype(np_dtype),
                                  lean.int_weights.detach().double().numpy().astype(np_dtype))
        return self.arrays[dtype]


def _grouped(pair_i, natoms):
    """(order or None, offsets): pairs grouped by atom, offsets[a]..offsets[a+1] atom a's (atoms >= natoms dropped)."""
    i = pair_i.numpy()
    order = None
    if len(i) > 1 and not bool(np.all(i[1:] >= i[:-1])):
        order = np.argsort(i, kind="stable")
        i = i[order]
    return order, np.searchsorted(i, np.arange(natoms + 1)).astype(np.int64)


class _CpuPairSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pair_coord, pair_i, natoms, weights):
        dtype = pair_coord.dtype
        consts, inv_mu, nhs, w = weights.on(dtype)
        order, offsets = _grouped(pair_i, natoms)
        coord = pair_coord.detach().numpy()
        coord = np.ascontiguousarray(coord[order] if order is not None else coord)
        out = np.empty((natoms, 9, w.shape[1]), dtype=coord.dtype)
        _forward(coord, offsets, consts, inv_mu, nhs, w, out)
        ctx.saved = (coord, offsets, order, len(pair_i))
        ctx.weights, ctx.dtype = weights, dtype
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad_out):
        coord, offsets, order, npairs = ctx.saved
        consts, inv_mu, nhs, w = ctx.weights.on(ctx.dtype)
        grad = np.zeros((npairs, 3), dtype=coord.dtype)  # pairs of atoms >= natoms: zero
        _backward(coord, offsets, consts, inv_mu, nhs, w, np.ascontiguousarray(grad_out.numpy()), grad)
        if order is not None:
            unsorted = np.empty_like(grad)
            unsorted[order] = grad
            grad = unsorted
        return torch.from_numpy(grad), None, None, None


def cpu_pair_sums(weights: CpuPairWeights, pair_i, pair_coord, natoms):
    """out[i] = sum over atom i's pairs of angular (9) x radial (nf_out): (natoms, 9, nf_out) in pair_coord's
    dtype, on the CPU; differentiable in pair_coord."""
    return _CpuPairSums.apply(pair_coord, pair_i, natoms, weights)
