"""The lean network's pair part as two fused Triton kernels, forward and backward, for a GPU.

Per pair, LeanHipnn computes the cut-off inverse sensitivities (n_dist), the interaction weights applied to
them (nf_out), the angular terms (9) and their outer product summed onto atom i: (atoms, 9, nf_out). In torch
that is a chain of elementwise passes over (pairs, n_dist) and (pairs, 9, nf_out) arrays and their backward,
each reading and writing memory. Here one program takes a block of pairs (any order), forms each pair's
sensitivities one at a time into [pairs, nf_out] accumulators and adds its 9 x nf_out products onto atom i with
atomics; the backward recomputes each pair from its vector and turns its atom's gradient into dE/d(x_i - x_j).
Pairs of atoms >= natoms are skipped (the captured step's padding). The per-atom network (a few 8-wide layers)
stays in torch and autograd joins the two.

Why this form (benchmarks/pair_kernel_versions.md, one H100, 85,200 atoms, 1.13 M pairs): it took 0.215 ms
forward and 0.408 ms forward + backward, against 0.313 / 0.643 ms for kernels that own a block of atoms and sum
their pairs in registers without atomics (benchmarks/pair_kernels_per_atom.py), and 2.42 + 2.39 ms (H200) for
the first version, which formed a [pairs, 16, 8] product.

For a one-species network only (the seed's silver): every neighbour's one-hot feature is 1, so the species
of j does not enter. Arithmetic in the dtype of the sums (the network's) throughout: every constant comes from
a tensor in that dtype, as a Python float inside a kernel is a float32. Pair vectors of either float dtype.
On a CPU the same kernels run under Triton's interpreter (TRITON_INTERPRET=1, numpy), which is how the unit
tests check them against the torch arithmetic; the engine uses them on CUDA devices only.
"""
import math

import torch
import triton
import triton.language as tl

ANGULAR_TERMS = 9  # 1, r-hat (3), traceless r-hat r-hat^T (5: xx, xy, xz, yy, yz), hippynn's order
BLOCK_PAIRS = 128
# const_ptr: hard_max, pi / (2 hard_max), 1/3; then inv_mu (n_dist), then -1/(2 sigma^2) (n_dist)


@triton.jit
def pair_geometry(coord_ptr, p, mask, const_ptr, DTYPE: tl.constexpr):
    """Per pair [BLOCK]: the unit vector, 1/d, cos and sin of the cosine cutoff's phase, inside the cutoff, the
    cutoff. Masked slots read a vector far beyond the cutoff: their cutoff is exactly 0."""
    x = tl.load(coord_ptr + 3 * p, mask=mask, other=1000.0).to(DTYPE)
    y = tl.load(coord_ptr + 3 * p + 1, mask=mask, other=0.0).to(DTYPE)
    z = tl.load(coord_ptr + 3 * p + 2, mask=mask, other=0.0).to(DTYPE)
    d = tl.sqrt(x * x + y * y + z * z)
    u = 1.0 / d
    phase = tl.load(const_ptr + 1) * d
    cos, sin = tl.cos(phase), tl.sin(phase)
    inside = d <= tl.load(const_ptr)
    cut = tl.where(inside, cos * cos, 0.0)
    return x * u, y * u, z * u, u, cos, sin, inside, cut


@triton.jit
def _radial(u, cut, const_ptr, w_ptr, o, NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr,
            DTYPE: tl.constexpr):
    """[BLOCK, NF]: sum_k s_k w[k, :], the sensitivities s_k = exp(nhs_k (1/d - inv_mu_k)^2) cut, one k at a time
    (no [BLOCK, NDIST, NF] product, no reduction across threads)."""
    radial = tl.zeros((BLOCK, NF), dtype=DTYPE)
    for k in tl.static_range(NDIST):
        t = u - tl.load(const_ptr + 3 + k)
        s = tl.exp(t * t * tl.load(const_ptr + 3 + NDIST + k)) * cut
        radial += s[:, None] * tl.load(w_ptr + k * NF + o)[None, :]
    return radial


@triton.jit
def _pairs_of_program(pair_i_ptr, npairs, natoms, BLOCK: tl.constexpr):
    p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    i = tl.load(pair_i_ptr + p, mask=p < npairs, other=0).to(tl.int64)
    return p, (p < npairs) & (i < natoms), i


@triton.jit
def _forward_kernel(coord_ptr, pair_i_ptr, out_ptr, const_ptr, w_ptr, npairs, natoms,
                    NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr):
    DTYPE = out_ptr.dtype.element_ty
    p, mask, i = _pairs_of_program(pair_i_ptr, npairs, natoms, BLOCK)
    o = tl.arange(0, NF)
    third = tl.load(const_ptr + 2)
    xh, yh, zh, u, cos, sin, inside, cut = pair_geometry(coord_ptr, p, mask, const_ptr, DTYPE)
    radial = _radial(u, cut, const_ptr, w_ptr, o, NDIST, NF, BLOCK, DTYPE)
    base = out_ptr + i[:, None] * (9 * NF) + o[None, :]
    m2 = mask[:, None]
    tl.atomic_add(base, radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + NF, xh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 2 * NF, yh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 3 * NF, zh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 4 * NF, (xh * xh - third)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 5 * NF, (xh * yh)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 6 * NF, (xh * zh)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 7 * NF, (yh * yh - third)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 8 * NF, (yh * zh)[:, None] * radial, mask=m2, sem="relaxed")


@triton.jit
def _backward_kernel(coord_ptr, pair_i_ptr, grad_out_ptr, grad_ptr, const_ptr, w_ptr, npairs, natoms,
                     NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr):
    DTYPE = grad_out_ptr.dtype.element_ty
    p, mask, i = _pairs_of_program(pair_i_ptr, npairs, natoms, BLOCK)
    o = tl.arange(0, NF)
    third = tl.load(const_ptr + 2)
    xh, yh, zh, u, cos, sin, inside, cut = pair_geometry(coord_ptr, p, mask, const_ptr, DTYPE)
    radial = _radial(u, cut, const_ptr, w_ptr, o, NDIST, NF, BLOCK, DTYPE)
    base = grad_out_ptr + i[:, None] * (9 * NF) + o[None, :]
    m2 = mask[:, None]
    g0 = tl.load(base, mask=m2, other=0.0)
    g1 = tl.load(base + NF, mask=m2, other=0.0)
    g2 = tl.load(base + 2 * NF, mask=m2, other=0.0)
    g3 = tl.load(base + 3 * NF, mask=m2, other=0.0)
    g4 = tl.load(base + 4 * NF, mask=m2, other=0.0)
    g5 = tl.load(base + 5 * NF, mask=m2, other=0.0)
    g6 = tl.load(base + 6 * NF, mask=m2, other=0.0)
    g7 = tl.load(base + 7 * NF, mask=m2, other=0.0)
    g8 = tl.load(base + 8 * NF, mask=m2, other=0.0)
    # dE/d(angular term m) = sum_o G[m, o] radial[o]; dE/d radial[o] = sum_m G[m, o] angular[m]
    a1 = tl.sum(g1 * radial, axis=1)
    a2 = tl.sum(g2 * radial, axis=1)
    a3 = tl.sum(g3 * radial, axis=1)
    a4 = tl.sum(g4 * radial, axis=1)
    a5 = tl.sum(g5 * radial, axis=1)
    a6 = tl.sum(g6 * radial, axis=1)
    a7 = tl.sum(g7 * radial, axis=1)
    a8 = tl.sum(g8 * radial, axis=1)
    g_radial = (g0 + xh[:, None] * g1 + yh[:, None] * g2 + zh[:, None] * g3 + (xh * xh - third)[:, None] * g4
                + (xh * yh)[:, None] * g5 + (xh * zh)[:, None] * g6 + (yh * yh - third)[:, None] * g7
                + (yh * zh)[:, None] * g8)
    # s_k = e_k cut(d), e_k = exp(nhs_k (1/d - inv_mu_k)^2), cut = cos^2(pi d / (2 hard_max)) inside the cutoff:
    # dE/dd = sum_k (sum_o g_radial[o] w[k, o]) (de_k/dd cut + e_k dcut/dd)
    dcut = tl.where(inside, -2.0 * cos * sin * tl.load(const_ptr + 1), 0.0)
    g_dist = tl.zeros((BLOCK,), dtype=DTYPE)
    for k in tl.static_range(NDIST):
        nhs = tl.load(const_ptr + 3 + NDIST + k)
        t = u - tl.load(const_ptr + 3 + k)
        e = tl.exp(t * t * nhs)
        g_sense = tl.sum(g_radial * tl.load(w_ptr + k * NF + o)[None, :], axis=1)
        g_dist += g_sense * (e * (2.0 * nhs * t) * (-(u * u)) * cut + e * dcut)
    # angular terms as functions of r-hat, then r-hat and d as functions of the pair vector
    gx = a1 + 2.0 * xh * a4 + yh * a5 + zh * a6
    gy = a2 + xh * a5 + 2.0 * yh * a7 + zh * a8
    gz = a3 + xh * a6 + yh * a8
    along = gx * xh + gy * yh + gz * zh
    out_type = grad_ptr.dtype.element_ty
    tl.store(grad_ptr + 3 * p, ((gx - along * xh) * u + g_dist * xh).to(out_type), mask=mask)
    tl.store(grad_ptr + 3 * p + 1, ((gy - along * yh) * u + g_dist * yh).to(out_type), mask=mask)
    tl.store(grad_ptr + 3 * p + 2, ((gz - along * zh) * u + g_dist * zh).to(out_type), mask=mask)


class FusedPairWeights:
    """LeanHipnn's pair-part weights as the kernels read them: the constants in the sums' dtype and the weights
    with their output columns padded to a power of two (a padded column is zero and sliced off)."""

    def __init__(self, lean):
        if lean.nf_in != 1:
            raise ValueError(f"fused pair kernels: one-species networks only (this one has {lean.nf_in} species)")
        self.n_dist, self.nf_out = lean.n_dist, lean.nf_out
        self.nf_pad = triton.next_power_of_2(self.nf_out)
        self.hard_max = lean.hard_max
        self.tensors = {}  # (dtype, device) -> (constants, w), made on first use
        self.lean = lean

    def __getstate__(self):  # the copies are remade where the module is loaded
        return {**self.__dict__, "tensors": {}}

    def on(self, dtype, device):
        key = (dtype, device)
        if key not in self.tensors:
            lean = self.lean
            head = torch.tensor([self.hard_max, 0.5 * math.pi / self.hard_max, 1.0 / 3.0], dtype=torch.float64)
            constants = torch.cat([head, lean.inv_mu.detach().reshape(-1).double().cpu(),
                                   lean.neg_half_sigma_sq.detach().reshape(-1).double().cpu()])
            w = torch.zeros((self.n_dist, self.nf_pad), dtype=dtype, device=device)
            w[:, :self.nf_out] = lean.int_weights.detach()
            self.tensors[key] = (constants.to(device, dtype), w)
        return self.tensors[key]

    def launch(self, kernel, npairs, natoms, *arrays):
        grid = (triton.cdiv(npairs, BLOCK_PAIRS),)
        kernel[grid](*arrays, npairs, natoms, NDIST=self.n_dist, NF=self.nf_pad, BLOCK=BLOCK_PAIRS)


class _FusedPairSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pair_coord, pair_i, natoms, weights, dtype):
        constants, w = weights.on(dtype, pair_coord.device)
        coord = pair_coord.contiguous()
        out = torch.zeros((natoms, ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=coord.device)
        if len(pair_i):
            weights.launch(_forward_kernel, len(pair_i), natoms, coord, pair_i, out, constants, w)
        ctx.save_for_backward(coord, pair_i)
        ctx.weights, ctx.dtype = weights, dtype
        return out[:, :, :weights.nf_out]

    @staticmethod
    def backward(ctx, grad_out):
        coord, pair_i = ctx.saved_tensors
        weights, dtype = ctx.weights, ctx.dtype
        constants, w = weights.on(dtype, coord.device)
        natoms = len(grad_out)
        if weights.nf_pad == weights.nf_out:
            padded = grad_out.to(dtype).contiguous()
        else:
            padded = torch.zeros((natoms, ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=coord.device)
            padded[:, :, :weights.nf_out] = grad_out
        grad = torch.zeros_like(coord)  # pairs of atoms >= natoms (padding) are not written: zero
        if len(pair_i):
            weights.launch(_backward_kernel, len(pair_i), natoms, coord, pair_i, padded, grad, constants, w)
        return grad, None, None, None, None


def kernel_signatures(dtype="fp32", coord="fp64"):
    """(kernel, argument types) of both kernels for Triton's ahead-of-time compile (the unit tests compile them for
    a GPU on a machine without one): sums, constants and weights in `dtype`, pair vectors in `coord`."""
    common = {"const_ptr": f"*{dtype}", "w_ptr": f"*{dtype}", "npairs": "i32", "natoms": "i32",
              "NDIST": "constexpr", "NF": "constexpr", "BLOCK": "constexpr"}
    forward = {"coord_ptr": f"*{coord}", "pair_i_ptr": "*i64", "out_ptr": f"*{dtype}", **common}
    backward = {"coord_ptr": f"*{coord}", "pair_i_ptr": "*i64", "grad_out_ptr": f"*{dtype}",
                "grad_ptr": f"*{coord}", **common}
    return [(_forward_kernel, forward), (_backward_kernel, backward)]


def fused_pair_sums(weights: FusedPairWeights, pair_i, pair_coord, natoms, dtype):
    """out[i] = sum over atom i's pairs of angular (9) x radial (nf_out), (natoms, 9, nf_out) in dtype, for pair
    vectors x_i - x_j in any order; pairs of atoms >= natoms add nothing and get zero gradient. Differentiable in
    pair_coord (not in the weights: inference only)."""
    return _FusedPairSums.apply(pair_coord, pair_i, natoms, weights, dtype)
