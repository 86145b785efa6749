"""For measurement only (benchmarks/pair_kernels_gpu.py): the pair kernels as they were before issue 38, one program
per block of pairs adding each pair's 9 x nf_out products onto atom i with atomics, in commit 3671ba9's form
(sensitivities one at a time into [pairs, nf] accumulators; never measured before). Constants are float32
literals here, as they were: not for float64 use. The shipped kernels are science/model/fused_pairs.py.
"""
import torch
import triton
import triton.language as tl

ANGULAR_TERMS = 9  # 1, r-hat (3), traceless r-hat r-hat^T (5: xx, xy, xz, yy, yz), hippynn's order
ANGULAR = tl.constexpr(ANGULAR_TERMS)  # the same, as kernels may read a global
BLOCK_PAIRS = 128


@triton.jit
def _pair_geometry(coord_ptr, p, mask, hard_max, DTYPE: tl.constexpr):
    """Per pair [BLOCK]: the unit vector, 1/d, the cosine cutoff's cos and sin, inside the cutoff, the cutoff."""
    x = tl.load(coord_ptr + 3 * p, mask=mask, other=1000.0).to(DTYPE)
    y = tl.load(coord_ptr + 3 * p + 1, mask=mask, other=0.0).to(DTYPE)
    z = tl.load(coord_ptr + 3 * p + 2, mask=mask, other=0.0).to(DTYPE)
    d = tl.sqrt(x * x + y * y + z * z)
    u = 1.0 / d
    phase = (0.5 * 3.141592653589793 / hard_max) * d
    cos, sin = tl.cos(phase), tl.sin(phase)
    inside = d <= hard_max
    cut = tl.where(inside, cos * cos, 0.0)
    return x * u, y * u, z * u, u, cos, sin, inside, cut


@triton.jit
def _radial(u, cut, inv_mu_ptr, nhs_ptr, w_ptr, o, NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr,
            DTYPE: tl.constexpr):
    """[BLOCK, NF]: sum_k s_k w[k, :], the sensitivities s_k = exp(nhs_k (1/d - inv_mu_k)^2) cut, one k at a time
    (no [BLOCK, NDIST, NF] product, no reduction across threads)."""
    radial = tl.zeros((BLOCK, NF), dtype=DTYPE)
    for k in tl.static_range(NDIST):
        t = u - tl.load(inv_mu_ptr + k)
        s = tl.exp(t * t * tl.load(nhs_ptr + k)) * cut
        radial += s[:, None] * tl.load(w_ptr + k * NF + o)[None, :]
    return radial


@triton.jit
def _forward_kernel(coord_ptr, pair_i_ptr, out_ptr, inv_mu_ptr, nhs_ptr, w_ptr, npairs, hard_max,
                    NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr):
    p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = p < npairs
    o = tl.arange(0, NF)
    DTYPE = out_ptr.dtype.element_ty
    xh, yh, zh, u, cos, sin, inside, cut = _pair_geometry(coord_ptr, p, mask, hard_max, DTYPE)
    radial = _radial(u, cut, inv_mu_ptr, nhs_ptr, w_ptr, o, NDIST, NF, BLOCK, DTYPE)
    i = tl.load(pair_i_ptr + p, mask=mask, other=0).to(tl.int64)
    base = out_ptr + i[:, None] * (ANGULAR * NF) + o[None, :]
    m2 = mask[:, None]
    tl.atomic_add(base, radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + NF, xh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 2 * NF, yh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 3 * NF, zh[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 4 * NF, (xh * xh - 1.0 / 3.0)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 5 * NF, (xh * yh)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 6 * NF, (xh * zh)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 7 * NF, (yh * yh - 1.0 / 3.0)[:, None] * radial, mask=m2, sem="relaxed")
    tl.atomic_add(base + 8 * NF, (yh * zh)[:, None] * radial, mask=m2, sem="relaxed")


@triton.jit
def _backward_kernel(coord_ptr, pair_i_ptr, grad_out_ptr, grad_ptr, inv_mu_ptr, nhs_ptr, w_ptr, npairs, hard_max,
                     NDIST: tl.constexpr, NF: tl.constexpr, BLOCK: tl.constexpr):
    p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = p < npairs
    o = tl.arange(0, NF)
    DTYPE = grad_out_ptr.dtype.element_ty
    xh, yh, zh, u, cos, sin, inside, cut = _pair_geometry(coord_ptr, p, mask, hard_max, DTYPE)
    radial = _radial(u, cut, inv_mu_ptr, nhs_ptr, w_ptr, o, NDIST, NF, BLOCK, DTYPE)
    i = tl.load(pair_i_ptr + p, mask=mask, other=0).to(tl.int64)
    base = grad_out_ptr + i[:, None] * (ANGULAR * NF) + o[None, :]
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
    g_radial = (g0 + xh[:, None] * g1 + yh[:, None] * g2 + zh[:, None] * g3 + (xh * xh - 1.0 / 3.0)[:, None] * g4
                + (xh * yh)[:, None] * g5 + (xh * zh)[:, None] * g6 + (yh * yh - 1.0 / 3.0)[:, None] * g7
                + (yh * zh)[:, None] * g8)
    # s_k = e_k cut(d), e_k = exp(nhs_k (1/d - inv_mu_k)^2), cut = cos^2(pi d / (2 hard_max)) inside the cutoff:
    # dE/dd = sum_k (sum_o g_radial[o] w[k, o]) (de_k/dd cut + e_k dcut/dd)
    dcut = tl.where(inside, -2.0 * cos * sin * (0.5 * 3.141592653589793 / hard_max), 0.0)
    g_dist = tl.zeros((BLOCK,), dtype=DTYPE)
    for k in tl.static_range(NDIST):
        nhs = tl.load(nhs_ptr + k)
        t = u - tl.load(inv_mu_ptr + k)
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
    """LeanHipnn's pair-part weights padded to the kernels' power-of-two widths (zero rows and columns add
    nothing: a padded sensitivity meets a zero weight row, a padded output column is sliced off)."""

    def __init__(self, lean):
        if lean.nf_in != 1:
            raise ValueError(f"fused pair kernels: one-species networks only (this one has {lean.nf_in} species)")
        self.n_dist, self.nf_out = lean.n_dist, lean.nf_out
        self.ndist_pad = triton.next_power_of_2(self.n_dist)
        self.nf_pad = triton.next_power_of_2(self.nf_out)
        self.hard_max = lean.hard_max
        self.tensors = {}  # dtype -> (inv_mu, nhs, w), made on first use on the lean module's device
        self.lean = lean

    def __getstate__(self):  # the padded copies are remade where the module is loaded
        return {**self.__dict__, "tensors": {}}

    def on(self, dtype, device):
        key = (dtype, device)
        if key not in self.tensors:
            lean = self.lean
            inv_mu = torch.zeros(self.ndist_pad, dtype=dtype, device=device)
            nhs = torch.zeros(self.ndist_pad, dtype=dtype, device=device)
            w = torch.zeros((self.ndist_pad, self.nf_pad), dtype=dtype, device=device)
            inv_mu[:self.n_dist] = lean.inv_mu.reshape(-1)
            nhs[:self.n_dist] = lean.neg_half_sigma_sq.reshape(-1)
            w[:self.n_dist, :self.nf_out] = lean.int_weights
            self.tensors[key] = (inv_mu, nhs, w)
        return self.tensors[key]


class _FusedPairSums(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pair_coord, pair_i, natoms, weights, dtype):
        inv_mu, nhs, w = weights.on(dtype, pair_coord.device)
        out = torch.zeros((natoms, ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=pair_coord.device)
        npairs = len(pair_i)
        coord = pair_coord.contiguous()
        if npairs:
            grid = (triton.cdiv(npairs, BLOCK_PAIRS),)
            _forward_kernel[grid](coord, pair_i, out, inv_mu, nhs, w, npairs, weights.hard_max,
                                  NDIST=weights.ndist_pad, NF=weights.nf_pad, BLOCK=BLOCK_PAIRS)
        ctx.save_for_backward(coord, pair_i)
        ctx.weights, ctx.dtype = weights, dtype
        return out[:, :, :weights.nf_out]

    @staticmethod
    def backward(ctx, grad_out):
        coord, pair_i = ctx.saved_tensors
        weights, dtype = ctx.weights, ctx.dtype
        inv_mu, nhs, w = weights.on(dtype, coord.device)
        padded = torch.zeros((len(grad_out), ANGULAR_TERMS, weights.nf_pad), dtype=dtype, device=coord.device)
        padded[:, :, :weights.nf_out] = grad_out
        grad = torch.empty_like(coord)
        npairs = len(pair_i)
        if npairs:
            grid = (triton.cdiv(npairs, BLOCK_PAIRS),)
            _backward_kernel[grid](coord, pair_i, padded, grad, inv_mu, nhs, w, npairs, weights.hard_max,
                                   NDIST=weights.ndist_pad, NF=weights.nf_pad, BLOCK=BLOCK_PAIRS)
        return grad, None, None, None, None


def kernel_signatures(dtype="fp32", coord="fp64"):
    """(kernel, argument types) of both kernels for Triton's ahead-of-time compile (the unit tests compile them for
    a GPU on a machine without one): sums and weights in `dtype`, pair vectors in `coord`."""
    common = {"inv_mu_ptr": f"*{dtype}", "nhs_ptr": f"*{dtype}", "w_ptr": f"*{dtype}", "npairs": "i32",
              "hard_max": "fp32", "NDIST": "constexpr", "NF": "constexpr", "BLOCK": "constexpr"}
    forward = {"coord_ptr": f"*{coord}", "pair_i_ptr": "*i64", "out_ptr": f"*{dtype}", **common}
    backward = {"coord_ptr": f"*{coord}", "pair_i_ptr": "*i64", "grad_out_ptr": f"*{dtype}",
                "grad_ptr": f"*{coord}", **common}
    return [(_forward_kernel, forward), (_backward_kernel, backward)]


def fused_pair_sums(weights: FusedPairWeights, pair_i, pair_coord, natoms, dtype):
    """out[i] = sum over atom i's pairs of angular (9) x radial (nf_out), (natoms, 9, nf_out) in dtype, for pair
    vectors x_i - x_j; differentiable in pair_coord (not in the weights: inference only)."""
    return _FusedPairSums.apply(pair_coord, pair_i, natoms, weights, dtype)

