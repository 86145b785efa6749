"""For measurement (benchmarks/pair_kernels_gpu.py): the pair kernels of issue 38's first version, which own a block
of atoms and sum their pairs in registers, without atomics. Measured slower than the shipped kernels
(science/gpu/fused_pairs.py) on one H100 (benchmarks/pair_kernel_versions.md); the text below is as it shipped.

The lean network's pair part as two fused Triton kernels, forward and backward, for a GPU.

Per pair, LeanHipnn computes the cut-off inverse sensitivities (n_dist), the interaction weights applied to
them (nf_out), the angular terms (9) and their outer product summed onto atom i: (atoms, 9, nf_out). In torch
that is a chain of elementwise passes over (pairs, n_dist) and (pairs, 9, nf_out) arrays and their backward,
each reading and writing memory. Here the pairs are taken grouped by atom i (ML-IAP and the engine's cell list
hand them over sorted by i; others are sorted first): one program owns a block of atoms, walks their pairs in
chunks, keeps each atom's 9 x nf_out sums in registers and writes them once (no atomics); the backward
recomputes each pair from its vector and turns its atom's gradient into dE/d(x_i - x_j), one write per pair.
Sensitivities are formed one at a time into [atoms, chunk, nf_out] accumulators (no [pairs, n_dist, nf_out]
product). The per-atom network (a few 8-wide layers) stays in torch and autograd joins the two.

For a one-species network only (the seed's silver): every neighbour's one-hot feature is 1, so the species
of j does not enter. Arithmetic in the dtype of the sums (the network's) throughout: every constant comes from
a tensor in that dtype, as a Python float inside a kernel is a float32. Pair vectors of either float dtype.
On a CPU the same kernels run under Triton's interpreter (TRITON_INTERPRET=1, numpy), which is how the unit
tests check them against the torch arithmetic; the engine uses them on CUDA devices only.
"""
import torch
import triton
import triton.language as tl

from mlmd_parsl.science.gpu import fused_pairs as shipped
from mlmd_parsl.science.gpu.fused_pairs import pair_geometry

ANGULAR_TERMS = shipped.ANGULAR_TERMS
ATOMS_PER_PROGRAM = 16
PAIRS_PER_CHUNK = 16  # a silver atom has 12-14 pairs within the cutoff: most atoms take one chunk
CONSTANTS = 3  # hard_max, pi / (2 hard_max), 1/3; then inv_mu (n_dist), then -1/(2 sigma^2) (n_dist)


@triton.jit
def _atoms_of_program(offsets_ptr, natoms, ATOMS: tl.constexpr):
    a = tl.program_id(0) * ATOMS + tl.arange(0, ATOMS)
    amask = a < natoms
    first = tl.load(offsets_ptr + a, mask=amask, other=0)
    count = tl.load(offsets_ptr + a + 1, mask=amask, other=0) - first
    return a.to(tl.int64), amask, first, count


@triton.jit
def _forward_kernel(coord_ptr, offsets_ptr, out_ptr, const_ptr, w_ptr, natoms,
                    NDIST: tl.constexpr, NF: tl.constexpr, ATOMS: tl.constexpr, CHUNK: tl.constexpr):
    DTYPE = out_ptr.dtype.element_ty
    a, amask, first, count = _atoms_of_program(offsets_ptr, natoms, ATOMS)
    o = tl.arange(0, NF)
    third = tl.load(const_ptr + 2)
    s0 = tl.zeros((ATOMS, NF), dtype=DTYPE)
    s1, s2, s3, s4, s5, s6, s7, s8 = s0, s0, s0, s0, s0, s0, s0, s0
    for c in range(0, tl.max(count, axis=0), CHUNK):
        slot = c + tl.arange(0, CHUNK)
        mask = slot[None, :] < count[:, None]
        p = first[:, None] + slot[None, :]
        xh, yh, zh, u, cos, sin, inside, cut = pair_geometry(coord_ptr, p, mask, const_ptr, DTYPE)
        radial = tl.zeros((ATOMS, CHUNK, NF), dtype=DTYPE)
        for k in tl.static_range(NDIST):
            t = u - tl.load(const_ptr + 3 + k)
            s = tl.exp(t * t * tl.load(const_ptr + 3 + NDIST + k)) * cut
            radial += s[:, :, None] * tl.load(w_ptr + k * NF + o)[None, None, :]
        s0 += tl.sum(radial, axis=1)
        s1 += tl.sum(xh[:, :, None] * radial, axis=1)
        s2 += tl.sum(yh[:, :, None] * radial, axis=1)
        s3 += tl.sum(zh[:, :, None] * radial, axis=1)
        s4 += tl.sum((xh * xh - third)[:, :, None] * radial, axis=1)
        s5 += tl.sum((xh * yh)[:, :, None] * radial, axis=1)
        s6 += tl.sum((xh * zh)[:, :, None] * radial, axis=1)
        s7 += tl.sum((yh * yh - third)[:, :, None] * radial, axis=1)
        s8 += tl.sum((yh * zh)[:, :, None] * radial, axis=1)
    base = out_ptr + a[:, None] * (9 * NF) + o[None, :]
    m2 = amask[:, None]
    tl.store(base, s0, mask=m2)
    tl.store(base + NF, s1, mask=m2)
    tl.store(base + 2 * NF, s2, mask=m2)
    tl.store(base + 3 * NF, s3, mask=m2)
    tl.store(base + 4 * NF, s4, mask=m2)
    tl.store(base + 5 * NF, s5, mask=m2)
    tl.store(base + 6 * NF, s6, mask=m2)
    tl.store(base + 7 * NF, s7, mask=m2)
    tl.store(base + 8 * NF, s8, mask=m2)


@triton.jit
def _backward_kernel(coord_ptr, offsets_ptr, grad_out_ptr, grad_ptr, const_ptr, w_ptr, natoms,
                     NDIST: tl.constexpr, NF: tl.constexpr, ATOMS: tl.constexpr, CHUNK: tl.constexpr):
    DTYPE = grad_out_ptr.dtype.element_ty
    a, amask, first, count = _atoms_of_program(offsets_ptr, natoms, ATOMS)
    o = tl.arange(0, NF)
    third = tl.load(const_ptr + 2)
    half_pi_over_hard_max = tl.load(const_ptr + 1)
    base = grad_out_ptr + a[:, None] * (9 * NF) + o[None, :]
    m2 = amask[:, None]
    # the atom's gradient G[m, o], once: [ATOMS, 1, NF] against its pairs' [ATOMS, CHUNK, ...]
    g0 = tl.load(base, mask=m2, other=0.0)[:, None, :]
    g1 = tl.load(base + NF, mask=m2, other=0.0)[:, None, :]
    g2 = tl.load(base + 2 * NF, mask=m2, other=0.0)[:, None, :]
    g3 = tl.load(base + 3 * NF, mask=m2, other=0.0)[:, None, :]
    g4 = tl.load(base + 4 * NF, mask=m2, other=0.0)[:, None, :]
    g5 = tl.load(base + 5 * NF, mask=m2, other=0.0)[:, None, :]
    g6 = tl.load(base + 6 * NF, mask=m2, other=0.0)[:, None, :]
    g7 = tl.load(base + 7 * NF, mask=m2, other=0.0)[:, None, :]
    g8 = tl.load(base + 8 * NF, mask=m2, other=0.0)[:, None, :]
    for c in range(0, tl.max(count, axis=0), CHUNK):
        slot = c + tl.arange(0, CHUNK)
        mask = slot[None, :] < count[:, None]
        p = first[:, None] + slot[None, :]
        xh, yh, zh, u, cos, sin, inside, cut = pair_geometry(coord_ptr, p, mask, const_ptr, DTYPE)
        # dE/d radial[o] = sum_m G[m, o] angular[m]
        g_radial = (g0 + xh[:, :, None] * g1 + yh[:, :, None] * g2 + zh[:, :, None] * g3
                    + (xh * xh - third)[:, :, None] * g4 + (xh * yh)[:, :, None] * g5 + (xh * zh)[:, :, None] * g6
                    + (yh * yh - third)[:, :, None] * g7 + (yh * zh)[:, :, None] * g8)
        # s_k = e_k cut(d), e_k = exp(nhs_k (1/d - inv_mu_k)^2), cut = cos^2(pi d / (2 hard_max)) inside the cutoff:
        # dE/dd = sum_k (sum_o g_radial[o] w[k, o]) (de_k/dd cut + e_k dcut/dd); the radial sums come along
        dcut = tl.where(inside, -2.0 * cos * sin * half_pi_over_hard_max, 0.0)
        radial = tl.zeros((ATOMS, CHUNK, NF), dtype=DTYPE)
        g_dist = tl.zeros((ATOMS, CHUNK), dtype=DTYPE)
        for k in tl.static_range(NDIST):
            nhs = tl.load(const_ptr + 3 + NDIST + k)
            t = u - tl.load(const_ptr + 3 + k)
            e = tl.exp(t * t * nhs)
            w_k = tl.load(w_ptr + k * NF + o)[None, None, :]
            radial += (e * cut)[:, :, None] * w_k
            g_dist += tl.sum(g_radial * w_k, axis=2) * (e * (2.0 * nhs * t) * (-(u * u)) * cut + e * dcut)
        # dE/d(angular term m) = sum_o G[m, o] radial[o]; then r-hat and d as functions of the pair vector
        a1 = tl.sum(g1 * radial, axis=2)
        a2 = tl.sum(g2 * radial, axis=2)
        a3 = tl.sum(g3 * radial, axis=2)
        a4 = tl.sum(g4 * radial, axis=2)
        a5 = tl.sum(g5 * radial, axis=2)
        a6 = tl.sum(g6 * radial, axis=2)
        a7 = tl.sum(g7 * radial, axis=2)
        a8 = tl.sum(g8 * radial, axis=2)
        gx = a1 + 2.0 * xh * a4 + yh * a5 + zh * a6
        gy = a2 + xh * a5 + 2.0 * yh * a7 + zh * a8
        gz = a3 + xh * a6 + yh * a8
        along = gx * xh + gy * yh + gz * zh
        out_type = grad_ptr.dtype.element_ty
        tl.store(grad_ptr + 3 * p, ((gx - along * xh) * u + g_dist * xh).to(out_type), mask=mask)
        tl.store(grad_ptr + 3 * p + 1, ((gy - along * yh) * u + g_dist * yh).to(out_type), mask=mask)
        tl.store(grad_ptr + 3 * p + 2, ((gz - along * zh) * u + g_dist * zh).to(out_type), mask=mask)


class FusedPairWeights(shipped.FusedPairWeights):
    """The shipped kernels' constants and weights; pairs_sorted: the caller hands pairs sorted by atom i (else they
    are sorted on every call)."""

    def __init__(self, lean, pairs_sorted=False):
        super().__init__(lean)
        self.pairs_sorted = pairs_sorted

    def launch(self, kernel, natoms, *arrays):
        grid = (triton.cdiv(natoms, ATOMS_PER_PROGRAM),)
        kernel[grid](*arrays, natoms, NDIST=self.n_dist, NF=self.nf_pad, ATOMS=ATOMS_PER_PROGRAM,
                     CHUNK=PAIRS_PER_CHUNK)


def atom_offsets(pair_i_sorted, natoms):
    """offsets[a]: the first pair of atom a in pairs sorted by atom i; offsets[natoms]: the end of atom natoms-1's
    (pairs of atoms >= natoms are never read)."""
    atoms = torch.arange(natoms + 1, device=pair_i_sorted.device, dtype=pair_i_sorted.dtype)
    return torch.searchsorted(pair_i_sorted, atoms)


class _FusedPairSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pair_coord, pair_i, natoms, weights, dtype):
        constants, w = weights.on(dtype, pair_coord.device)
        order = None
        if not weights.pairs_sorted:
            order = torch.argsort(pair_i, stable=True)
            pair_i, pair_coord = pair_i[order], pair_coord[order]
        coord = pair_coord.contiguous()
        offsets = atom_offsets(pair_i, natoms)
        out = torch.empty((natoms, ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=coord.device)
        if natoms:
            weights.launch(_forward_kernel, natoms, coord, offsets, out, constants, w)
        ctx.save_for_backward(coord, offsets, order)
        ctx.weights, ctx.dtype = weights, dtype
        return out[:, :, :weights.nf_out]

    @staticmethod
    def backward(ctx, grad_out):
        coord, offsets, order = ctx.saved_tensors
        weights, dtype = ctx.weights, ctx.dtype
        constants, w = weights.on(dtype, coord.device)
        natoms = len(grad_out)
        if weights.nf_pad == weights.nf_out:
            padded = grad_out.to(dtype).contiguous()
        else:
            padded = torch.zeros((natoms, ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=coord.device)
            padded[:, :, :weights.nf_out] = grad_out
        grad = torch.zeros_like(coord)  # pairs of atoms >= natoms (padding) are not written: zero
        if natoms:
            weights.launch(_backward_kernel, natoms, coord, offsets, padded, grad, constants, w)
        if order is not None:
            grad = torch.empty_like(grad).index_copy_(0, order, grad)
        return grad, None, None, None, None


def fused_pair_sums(weights: FusedPairWeights, pair_i, pair_coord, natoms, dtype):
    """out[i] = sum over atom i's pairs of angular (9) x radial (nf_out), (natoms, 9, nf_out) in dtype, for pair
    vectors x_i - x_j; pairs of atoms >= natoms add nothing and get zero gradient. Differentiable in pair_coord
    (not in the weights: inference only)."""
    return _FusedPairSums.apply(pair_coord, pair_i, natoms, weights, dtype)
