"""Varlen FlashAttention with in-kernel ALiBi for DNABERT-2, in Triton (forward and backward).

``flash_attn_varlen_alibi(q, k, v, cu_seqlens, max_seqlen, alibi_slopes)`` attends bidirectionally within each
sequence of a batch packed without padding. The bias is computed inside the kernel from the slopes, so memory is
O(tokens), never O(L^2). Gradients flow to q, k, v (not to the slopes) through Triton backward kernels.

Sources:
    FlashAttention: T. Dao, D. Y. Fu, S. Ermon, A. Rudra, C. Ré, "FlashAttention: Fast and Memory-Efficient Exact
        Attention with IO-Awareness", NeurIPS 2022, arXiv:2205.14135 (tiling, online softmax, recomputation).
    FlashAttention-2: T. Dao, "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning",
        2023, arXiv:2307.08691 (parallelism over query blocks, only the log-sum-exp saved for the backward).
    ALiBi: O. Press, N. A. Smith, M. Lewis, "Train Short, Test Long: Attention with Linear Biases Enables Input
        Length Extrapolation", ICLR 2022, arXiv:2108.12409 (here in the bidirectional |i - j| form).

Forward, per sequence and head h, for query i and key j of the same sequence (keys past the sequence excluded):
    S_ij = scale * q_i . k_j - slope_h * |i - j|
    P = softmax(S) row-wise, with L_i = log sum_j exp(S_ij) saved
    O = P V
Backward, with P recomputed as P_ij = exp(S_ij - L_i):
    dV = P^T dO                 dP = dO V^T
    delta_i = rowsum(dO_i * O_i)    (= sum_j P_ij dP_ij)
    dS = P * (dP - delta)       (elementwise; delta broadcast along rows)
    dQ = scale * dS K           dK = scale * dS^T Q
Which kernel computes what (one program per (block, sequence, head); grid axis 0 walks the blocks):
    _forward_kernel: O and L for one query block, iterating over the key blocks with the online softmax.
    delta: plain PyTorch in the autograd backward, before the two kernels below.
    _backward_dkdv_kernel: dK and dV for one key block, iterating over the query blocks.
    _backward_dq_kernel: dQ for one query block, iterating over the key blocks.
Each output block is owned by one program, so no atomics are needed; the price is computing S and P twice.

Triton is optional: this module always imports; ``triton_unavailable_reason()`` says why the kernel cannot run.
Under ``TRITON_INTERPRET=1`` the kernels run on CPU tensors (slowly), which is how the tests check them.
"""

import math

import torch

HEAD_DIM_RANGE = (16, 128)

try:
    import triton
    import triton.language as tl

    _IMPORT_ERROR = None
except Exception as error:  # missing or broken installation: the model falls back to SDPA
    triton = tl = None
    _IMPORT_ERROR = error


def triton_unavailable_reason():
    """None when Triton imports, else a short reason (device checks are the caller's)."""
    if _IMPORT_ERROR is not None:
        return f"triton cannot be imported ({type(_IMPORT_ERROR).__name__}: {_IMPORT_ERROR})"
    return None


if triton is not None:

    @triton.jit
    def _program(cu_seqlens, slopes, BLOCK: tl.constexpr):
        """The prologue shared by the kernels: this program's sequence (start token, length), head, the head's
        ALiBi slope, the sequence positions of its BLOCK rows, and whether the block lies past the sequence's end
        (the caller then returns: the grid is sized for the longest sequence)."""
        block, seq, head = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        start = tl.load(cu_seqlens + seq)
        seqlen = tl.load(cu_seqlens + seq + 1) - start
        slope = tl.load(slopes + head)
        offs = block * BLOCK + tl.arange(0, BLOCK)
        return start, seqlen, head, slope, offs, block * BLOCK >= seqlen

    @triton.jit
    def _tile(base, stride_t, stride_h, start, head, offs, seqlen, head_dim, BLOCK_D: tl.constexpr):
        """Pointers to and mask of the (rows at sequence positions offs) x (BLOCK_D columns) tile of one head of a
        (tokens, heads, head_dim) tensor; rows past the sequence and columns past head_dim are masked out."""
        offs_d = tl.arange(0, BLOCK_D)
        ptrs = base + (start + offs[:, None]) * stride_t + head * stride_h + offs_d[None, :]
        return ptrs, (offs[:, None] < seqlen) & (offs_d[None, :] < head_dim)

    @triton.jit
    def _load_tile(base, stride_t, stride_h, start, head, offs, seqlen, head_dim, BLOCK_D: tl.constexpr):
        """The tile of ``_tile``, zeros where masked."""
        ptrs, mask = _tile(base, stride_t, stride_h, start, head, offs, seqlen, head_dim, BLOCK_D)
        return tl.load(ptrs, mask=mask, other=0.0)

    @triton.jit
    def _store_tile(base, value, stride_t, stride_h, start, head, offs, seqlen, head_dim, BLOCK_D: tl.constexpr):
        """Stores value (fp32 accumulator) into the tile of ``_tile``, cast to the tensor's dtype."""
        ptrs, mask = _tile(base, stride_t, stride_h, start, head, offs, seqlen, head_dim, BLOCK_D)
        tl.store(ptrs, value.to(base.dtype.element_ty), mask=mask)

    @triton.jit
    def _row_stat(base, stride_h, start, head, offs, seqlen):
        """Pointers to and mask of the per-row statistics (L or delta, a (heads, tokens) tensor) of rows offs."""
        return base + head * stride_h + start + offs, offs < seqlen

    @triton.jit
    def _load_row_stat(base, stride_h, start, head, offs, seqlen):
        """The per-row statistics of ``_row_stat``, zeros where masked."""
        ptrs, mask = _row_stat(base, stride_h, start, head, offs, seqlen)
        return tl.load(ptrs, mask=mask, other=0.0)

    @triton.jit
    def _dot(a, b):
        """a @ b accumulated in fp32; fp32 operands multiply in IEEE fp32, not TF32 (Triton's default on Ampere+
        GPUs). fp16 and bf16 operands are unaffected (the precision option applies to fp32 only)."""
        return tl.dot(a, b, input_precision="ieee")

    @triton.jit
    def _scores(q, k, slope, offs_m, offs_n, seqlen, scale):
        """Scaled scores plus ALiBi for one (query block, key block), keys past the sequence at -inf."""
        s = _dot(q, tl.trans(k)) * scale
        distance = tl.abs(offs_m[:, None] - offs_n[None, :]).to(tl.float32)
        s = s - slope * distance
        return tl.where(offs_n[None, :] < seqlen, s, float("-inf"))

    @triton.jit
    def _forward_kernel(
        Q,
        K,
        V,
        Out,
        Lse,
        cu_seqlens,
        slopes,
        scale,
        stride_qt,
        stride_qh,
        stride_kt,
        stride_kh,
        stride_vt,
        stride_vh,
        stride_ot,
        stride_oh,
        stride_lh,
        head_dim,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        start, seqlen, head, slope, offs_m, past_end = _program(cu_seqlens, slopes, BLOCK_M)
        if past_end:
            return
        q = _load_tile(Q, stride_qt, stride_qh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
        row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
        row_sum = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        for n0 in range(0, seqlen, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            k = _load_tile(K, stride_kt, stride_kh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
            v = _load_tile(V, stride_vt, stride_vh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            new_max = tl.maximum(row_max, tl.max(s, axis=1))
            p = tl.exp(s - new_max[:, None])
            correction = tl.exp(row_max - new_max)
            row_sum = row_sum * correction + tl.sum(p, axis=1)
            acc = acc * correction[:, None] + _dot(p.to(v.dtype), v)
            row_max = new_max
        acc = acc / row_sum[:, None]
        _store_tile(Out, acc, stride_ot, stride_oh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
        lse_ptrs, lse_mask = _row_stat(Lse, stride_lh, start, head, offs_m, seqlen)
        tl.store(lse_ptrs, row_max + tl.log(row_sum), mask=lse_mask)

    @triton.jit
    def _backward_dkdv_kernel(
        Q,
        K,
        V,
        dO,
        Lse,
        Delta,
        dK,
        dV,
        cu_seqlens,
        slopes,
        scale,
        stride_qt,
        stride_qh,
        stride_kt,
        stride_kh,
        stride_vt,
        stride_vh,
        stride_dot,
        stride_doh,
        stride_lh,
        stride_dkt,
        stride_dkh,
        stride_dvt,
        stride_dvh,
        head_dim,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        start, seqlen, head, slope, offs_n, past_end = _program(cu_seqlens, slopes, BLOCK_N)
        if past_end:
            return
        k = _load_tile(K, stride_kt, stride_kh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
        v = _load_tile(V, stride_vt, stride_vh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
        dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
        dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
        for m0 in range(0, seqlen, BLOCK_M):
            offs_m = m0 + tl.arange(0, BLOCK_M)
            q = _load_tile(Q, stride_qt, stride_qh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
            do = _load_tile(dO, stride_dot, stride_doh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
            lse = _load_row_stat(Lse, stride_lh, start, head, offs_m, seqlen)
            delta = _load_row_stat(Delta, stride_lh, start, head, offs_m, seqlen)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            # Query rows past the sequence have finite scores (q = 0) and must not add to dK, dV.
            p = tl.where(offs_m[:, None] < seqlen, tl.exp(s - lse[:, None]), 0.0)
            dv += _dot(tl.trans(p.to(do.dtype)), do)
            dp = _dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dk += _dot(tl.trans(ds.to(q.dtype)), q)
        dk = dk * scale
        _store_tile(dK, dk, stride_dkt, stride_dkh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
        _store_tile(dV, dv, stride_dvt, stride_dvh, start, head, offs_n, seqlen, head_dim, BLOCK_D)

    @triton.jit
    def _backward_dq_kernel(
        Q,
        K,
        V,
        dO,
        Lse,
        Delta,
        dQ,
        cu_seqlens,
        slopes,
        scale,
        stride_qt,
        stride_qh,
        stride_kt,
        stride_kh,
        stride_vt,
        stride_vh,
        stride_dot,
        stride_doh,
        stride_lh,
        stride_dqt,
        stride_dqh,
        head_dim,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        start, seqlen, head, slope, offs_m, past_end = _program(cu_seqlens, slopes, BLOCK_M)
        if past_end:
            return
        q = _load_tile(Q, stride_qt, stride_qh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
        do = _load_tile(dO, stride_dot, stride_doh, start, head, offs_m, seqlen, head_dim, BLOCK_D)
        lse = _load_row_stat(Lse, stride_lh, start, head, offs_m, seqlen)
        delta = _load_row_stat(Delta, stride_lh, start, head, offs_m, seqlen)
        dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        for n0 in range(0, seqlen, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            k = _load_tile(K, stride_kt, stride_kh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
            v = _load_tile(V, stride_vt, stride_vh, start, head, offs_n, seqlen, head_dim, BLOCK_D)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            p = tl.exp(s - lse[:, None])
            dp = _dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dq += _dot(ds.to(k.dtype), k)
        dq = dq * scale
        _store_tile(dQ, dq, stride_dqt, stride_dqh, start, head, offs_m, seqlen, head_dim, BLOCK_D)


def _blocks(head_dim: int, max_seqlen: int):
    """Block sizes: head dim padded to a power of two (>= 16); smaller key/query blocks for large head dims."""
    block_d = max(16, triton.next_power_of_2(head_dim))
    block = 64 if block_d <= 64 else 32
    block = min(block, max(16, triton.next_power_of_2(max_seqlen)))
    return block, block, block_d


def _check(q, k, v, cu_seqlens, max_seqlen, alibi_slopes):
    """Raise TypeError (dtypes) or ValueError (shapes, devices, layout, lengths) for arguments the kernel would
    turn into wrong numbers instead of an error. Reads cu_seqlens back once: one device sync per call."""
    if triton is None:
        raise RuntimeError(triton_unavailable_reason())
    if q.dim() != 3 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(
            f"q, k, v must share a (total_tokens, heads, head_dim) shape, got {q.shape}, {k.shape}, {v.shape}."
        )
    if not HEAD_DIM_RANGE[0] <= q.shape[-1] <= HEAD_DIM_RANGE[1]:
        raise ValueError(f"head_dim must lie in {list(HEAD_DIM_RANGE)}, got {q.shape[-1]}.")
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32) or not q.dtype == k.dtype == v.dtype:
        raise TypeError(
            f"q, k, v must have the same dtype, float16, bfloat16 or float32; got {q.dtype}, {k.dtype}, {v.dtype}."
        )
    if cu_seqlens.dtype != torch.int32:
        raise TypeError(f"cu_seqlens must be int32, got {cu_seqlens.dtype}.")
    if alibi_slopes.dtype != torch.float32:
        raise TypeError(f"alibi_slopes must be float32, got {alibi_slopes.dtype}.")
    devices = [t.device for t in (q, k, v, cu_seqlens, alibi_slopes)]
    if len(set(devices)) > 1:
        raise ValueError(f"q, k, v, cu_seqlens and alibi_slopes must be on one device, got {devices}.")
    if q.stride(-1) != 1 or k.stride(-1) != 1 or v.stride(-1) != 1:
        raise ValueError("q, k, v must be contiguous in their last dimension.")
    if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2 or not cu_seqlens.is_contiguous():
        raise ValueError("cu_seqlens must be a contiguous 1-D tensor of batch + 1 cumulative lengths (batch >= 1).")
    if alibi_slopes.shape != (q.shape[1],) or not alibi_slopes.is_contiguous():
        raise ValueError(
            f"alibi_slopes must be a contiguous tensor of shape ({q.shape[1]},), got {tuple(alibi_slopes.shape)}."
        )
    lengths = cu_seqlens[1:] - cu_seqlens[:-1]
    first, last, shortest, longest = torch.stack([cu_seqlens[0], cu_seqlens[-1], lengths.min(), lengths.max()]).tolist()
    if first != 0 or last != q.shape[0] or shortest < 0:
        raise ValueError(
            f"cu_seqlens must rise from 0 to total_tokens ({q.shape[0]}) without decreasing, got {cu_seqlens.tolist()}."
        )
    if max_seqlen < longest:
        raise ValueError(
            f"max_seqlen {max_seqlen} is below the longest sequence in cu_seqlens ({longest}): rows past "
            "it would be left uncomputed."
        )


class _FlashAttnVarlenAlibi(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, cu_seqlens, max_seqlen, slopes, scale):
        total, heads, head_dim = q.shape
        block_m, block_n, block_d = _blocks(head_dim, max_seqlen)
        out = torch.empty_like(q)
        lse = torch.empty(heads, total, device=q.device, dtype=torch.float32)
        grid = (triton.cdiv(max_seqlen, block_m), cu_seqlens.numel() - 1, heads)
        _forward_kernel[grid](
            q,
            k,
            v,
            out,
            lse,
            cu_seqlens,
            slopes,
            scale,
            q.stride(0),
            q.stride(1),
            k.stride(0),
            k.stride(1),
            v.stride(0),
            v.stride(1),
            out.stride(0),
            out.stride(1),
            lse.stride(0),
            head_dim,
            BLOCK_M=block_m,
            BLOCK_N=block_n,
            BLOCK_D=block_d,
        )
        ctx.save_for_backward(q, k, v, out, lse, cu_seqlens, slopes)
        ctx.max_seqlen, ctx.scale = max_seqlen, scale
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse, cu_seqlens, slopes = ctx.saved_tensors
        total, heads, head_dim = q.shape
        dout = dout.contiguous()
        delta = (dout.float() * out.float()).sum(-1).transpose(0, 1).contiguous()  # (heads, total)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        block_m, block_n, block_d = _blocks(head_dim, ctx.max_seqlen)
        common = (
            q.stride(0),
            q.stride(1),
            k.stride(0),
            k.stride(1),
            v.stride(0),
            v.stride(1),
            dout.stride(0),
            dout.stride(1),
            lse.stride(0),
        )
        batch = cu_seqlens.numel() - 1
        _backward_dkdv_kernel[(triton.cdiv(ctx.max_seqlen, block_n), batch, heads)](
            q,
            k,
            v,
            dout,
            lse,
            delta,
            dk,
            dv,
            cu_seqlens,
            slopes,
            ctx.scale,
            *common,
            dk.stride(0),
            dk.stride(1),
            dv.stride(0),
            dv.stride(1),
            head_dim,
            BLOCK_M=block_m,
            BLOCK_N=block_n,
            BLOCK_D=block_d,
        )
        _backward_dq_kernel[(triton.cdiv(ctx.max_seqlen, block_m), batch, heads)](
            q,
            k,
            v,
            dout,
            lse,
            delta,
            dq,
            cu_seqlens,
            slopes,
            ctx.scale,
            *common,
            dq.stride(0),
            dq.stride(1),
            head_dim,
            BLOCK_M=block_m,
            BLOCK_N=block_n,
            BLOCK_D=block_d,
        )
        return dq, dk, dv, None, None, None, None


def flash_attn_varlen_alibi(q, k, v, cu_seqlens, max_seqlen, alibi_slopes, softmax_scale=None):
    """Bidirectional ALiBi attention over a packed batch; differentiable in q, k and v.

    Args:
        q, k, v: (total_tokens, heads, head_dim), one dtype: fp16, bf16 or fp32 (fp32 products in IEEE fp32, not
            TF32; fp32 accumulation for all), head_dim 16..128, contiguous in the last dimension, one device.
        cu_seqlens: int32 (batch + 1,) cumulative sequence lengths from 0 to total_tokens.
        max_seqlen: at least the length of the longest sequence (checked: reading cu_seqlens back costs one device
            sync per call); the grid is sized by it.
        alibi_slopes: float32 (heads,).
        softmax_scale: defaults to 1 / sqrt(head_dim).
    Returns:
        (total_tokens, heads, head_dim), the dtype of q.
    """
    max_seqlen = int(max_seqlen)
    _check(q, k, v, cu_seqlens, max_seqlen, alibi_slopes)
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    return _FlashAttnVarlenAlibi.apply(q, k, v, cu_seqlens, max_seqlen, alibi_slopes, float(scale))
