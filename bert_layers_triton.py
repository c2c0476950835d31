"""Varlen FlashAttention with in-kernel ALiBi for DNABERT-2, in Triton (forward and backward).

``flash_attn_varlen_alibi(q, k, v, cu_seqlens, max_seqlen, alibi_slopes)`` attends bidirectionally within each
sequence of a batch packed without padding: score[i, j] = q_i . k_j * scale - slope[h] * |i - j|. The bias is
computed inside the kernel from the slopes, so memory is O(tokens), never O(L^2). Gradients flow to q, k, v
through Triton backward kernels (log-sum-exp saved by the forward; dK/dV and dQ in separate kernels, no atomics).

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
    def _scores(q, k, slope, offs_m, offs_n, seqlen, scale):
        """Scaled scores plus ALiBi for one (query block, key block), keys past the sequence at -inf."""
        s = tl.dot(q, tl.trans(k)) * scale
        distance = tl.abs(offs_m[:, None] - offs_n[None, :]).to(tl.float32)
        s = s - slope * distance
        return tl.where(offs_n[None, :] < seqlen, s, float("-inf"))

    @triton.jit
    def _forward_kernel(
        Q, K, V, Out, Lse, cu_seqlens, slopes, scale,
        stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh, stride_lh,
        head_dim, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    ):
        block_m, seq, head = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        start = tl.load(cu_seqlens + seq)
        seqlen = tl.load(cu_seqlens + seq + 1) - start
        if block_m * BLOCK_M >= seqlen:
            return
        slope = tl.load(slopes + head)
        offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, BLOCK_D)
        d_ok = offs_d[None, :] < head_dim
        m_ok = offs_m[:, None] < seqlen
        q = tl.load(Q + (start + offs_m[:, None]) * stride_qt + head * stride_qh + offs_d[None, :], mask=m_ok & d_ok, other=0.0)
        row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
        row_sum = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        for n0 in range(0, seqlen, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            n_ok = offs_n[:, None] < seqlen
            k = tl.load(K + (start + offs_n[:, None]) * stride_kt + head * stride_kh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
            v = tl.load(V + (start + offs_n[:, None]) * stride_vt + head * stride_vh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            new_max = tl.maximum(row_max, tl.max(s, axis=1))
            p = tl.exp(s - new_max[:, None])
            correction = tl.exp(row_max - new_max)
            row_sum = row_sum * correction + tl.sum(p, axis=1)
            acc = acc * correction[:, None] + tl.dot(p.to(v.dtype), v)
            row_max = new_max
        acc = acc / row_sum[:, None]
        tl.store(Out + (start + offs_m[:, None]) * stride_ot + head * stride_oh + offs_d[None, :], acc.to(Out.dtype.element_ty), mask=m_ok & d_ok)
        tl.store(Lse + head * stride_lh + start + offs_m, row_max + tl.log(row_sum), mask=offs_m < seqlen)

    @triton.jit
    def _backward_dkdv_kernel(
        Q, K, V, dO, Lse, Delta, dK, dV, cu_seqlens, slopes, scale,
        stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_dot, stride_doh, stride_lh,
        stride_dkt, stride_dkh, stride_dvt, stride_dvh,
        head_dim, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    ):
        block_n, seq, head = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        start = tl.load(cu_seqlens + seq)
        seqlen = tl.load(cu_seqlens + seq + 1) - start
        if block_n * BLOCK_N >= seqlen:
            return
        slope = tl.load(slopes + head)
        offs_n = block_n * BLOCK_N + tl.arange(0, BLOCK_N)
        offs_d = tl.arange(0, BLOCK_D)
        d_ok = offs_d[None, :] < head_dim
        n_ok = offs_n[:, None] < seqlen
        k = tl.load(K + (start + offs_n[:, None]) * stride_kt + head * stride_kh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
        v = tl.load(V + (start + offs_n[:, None]) * stride_vt + head * stride_vh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
        dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
        dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
        for m0 in range(0, seqlen, BLOCK_M):
            offs_m = m0 + tl.arange(0, BLOCK_M)
            m_ok = offs_m < seqlen
            q = tl.load(Q + (start + offs_m[:, None]) * stride_qt + head * stride_qh + offs_d[None, :], mask=m_ok[:, None] & d_ok, other=0.0)
            do = tl.load(dO + (start + offs_m[:, None]) * stride_dot + head * stride_doh + offs_d[None, :], mask=m_ok[:, None] & d_ok, other=0.0)
            lse = tl.load(Lse + head * stride_lh + start + offs_m, mask=m_ok, other=0.0)
            delta = tl.load(Delta + head * stride_lh + start + offs_m, mask=m_ok, other=0.0)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            p = tl.where(m_ok[:, None], tl.exp(s - lse[:, None]), 0.0)
            dv += tl.dot(tl.trans(p.to(do.dtype)), do)
            dp = tl.dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q)
        dk = dk * scale
        tl.store(dK + (start + offs_n[:, None]) * stride_dkt + head * stride_dkh + offs_d[None, :], dk.to(dK.dtype.element_ty), mask=n_ok & d_ok)
        tl.store(dV + (start + offs_n[:, None]) * stride_dvt + head * stride_dvh + offs_d[None, :], dv.to(dV.dtype.element_ty), mask=n_ok & d_ok)

    @triton.jit
    def _backward_dq_kernel(
        Q, K, V, dO, Lse, Delta, dQ, cu_seqlens, slopes, scale,
        stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_dot, stride_doh, stride_lh,
        stride_dqt, stride_dqh,
        head_dim, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    ):
        block_m, seq, head = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        start = tl.load(cu_seqlens + seq)
        seqlen = tl.load(cu_seqlens + seq + 1) - start
        if block_m * BLOCK_M >= seqlen:
            return
        slope = tl.load(slopes + head)
        offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, BLOCK_D)
        d_ok = offs_d[None, :] < head_dim
        m_ok = offs_m < seqlen
        q = tl.load(Q + (start + offs_m[:, None]) * stride_qt + head * stride_qh + offs_d[None, :], mask=m_ok[:, None] & d_ok, other=0.0)
        do = tl.load(dO + (start + offs_m[:, None]) * stride_dot + head * stride_doh + offs_d[None, :], mask=m_ok[:, None] & d_ok, other=0.0)
        lse = tl.load(Lse + head * stride_lh + start + offs_m, mask=m_ok, other=0.0)
        delta = tl.load(Delta + head * stride_lh + start + offs_m, mask=m_ok, other=0.0)
        dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        for n0 in range(0, seqlen, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)
            n_ok = offs_n[:, None] < seqlen
            k = tl.load(K + (start + offs_n[:, None]) * stride_kt + head * stride_kh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
            v = tl.load(V + (start + offs_n[:, None]) * stride_vt + head * stride_vh + offs_d[None, :], mask=n_ok & d_ok, other=0.0)
            s = _scores(q, k, slope, offs_m, offs_n, seqlen, scale)
            p = tl.exp(s - lse[:, None])
            dp = tl.dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k)
        dq = dq * scale
        tl.store(dQ + (start + offs_m[:, None]) * stride_dqt + head * stride_dqh + offs_d[None, :], dq.to(dQ.dtype.element_ty), mask=m_ok[:, None] & d_ok)


def _blocks(head_dim: int, max_seqlen: int):
    """Block sizes: head dim padded to a power of two (>= 16); smaller key/query blocks for large head dims."""
    block_d = max(16, triton.next_power_of_2(head_dim))
    block = 64 if block_d <= 64 else 32
    block = min(block, max(16, triton.next_power_of_2(max_seqlen)))
    return block, block, block_d


def _check(q, k, v, cu_seqlens, alibi_slopes):
    if triton is None:
        raise RuntimeError(triton_unavailable_reason())
    if q.dim() != 3 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share a (total_tokens, heads, head_dim) shape, got {q.shape}, {k.shape}, {v.shape}.")
    if not HEAD_DIM_RANGE[0] <= q.shape[-1] <= HEAD_DIM_RANGE[1]:
        raise ValueError(f"head_dim must lie in {list(HEAD_DIM_RANGE)}, got {q.shape[-1]}.")
    if q.stride(-1) != 1 or k.stride(-1) != 1 or v.stride(-1) != 1:
        raise ValueError("q, k, v must be contiguous in their last dimension.")
    if cu_seqlens.dtype != torch.int32 or cu_seqlens.dim() != 1:
        raise ValueError("cu_seqlens must be a 1-D int32 tensor of batch + 1 cumulative lengths.")
    if alibi_slopes.shape != (q.shape[1],) or alibi_slopes.dtype != torch.float32:
        raise ValueError(f"alibi_slopes must be float32 of shape ({q.shape[1]},).")


class _FlashAttnVarlenAlibi(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, cu_seqlens, max_seqlen, slopes, scale):
        total, heads, head_dim = q.shape
        block_m, block_n, block_d = _blocks(head_dim, max_seqlen)
        out = torch.empty_like(q)
        lse = torch.empty(heads, total, device=q.device, dtype=torch.float32)
        grid = (triton.cdiv(max_seqlen, block_m), cu_seqlens.numel() - 1, heads)
        _forward_kernel[grid](
            q, k, v, out, lse, cu_seqlens, slopes, scale,
            q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
            lse.stride(0), head_dim, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
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
            q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1),
            dout.stride(0), dout.stride(1), lse.stride(0),
        )
        batch = cu_seqlens.numel() - 1
        _backward_dkdv_kernel[(triton.cdiv(ctx.max_seqlen, block_n), batch, heads)](
            q, k, v, dout, lse, delta, dk, dv, cu_seqlens, slopes, ctx.scale, *common,
            dk.stride(0), dk.stride(1), dv.stride(0), dv.stride(1),
            head_dim, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
        )
        _backward_dq_kernel[(triton.cdiv(ctx.max_seqlen, block_m), batch, heads)](
            q, k, v, dout, lse, delta, dq, cu_seqlens, slopes, ctx.scale, *common,
            dq.stride(0), dq.stride(1),
            head_dim, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
        )
        return dq, dk, dv, None, None, None, None


def flash_attn_varlen_alibi(q, k, v, cu_seqlens, max_seqlen, alibi_slopes, softmax_scale=None):
    """Bidirectional ALiBi attention over a packed batch; differentiable in q, k and v.

    Args:
        q, k, v: (total_tokens, heads, head_dim) fp16, bf16 or fp32 (fp32 accumulation), head_dim 16..128.
        cu_seqlens: int32 (batch + 1,) cumulative sequence lengths starting at 0.
        max_seqlen: length of the longest sequence.
        alibi_slopes: float32 (heads,).
        softmax_scale: defaults to 1 / sqrt(head_dim).
    Returns:
        (total_tokens, heads, head_dim), the dtype of q.
    """
    _check(q, k, v, cu_seqlens, alibi_slopes)
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    return _FlashAttnVarlenAlibi.apply(q, k, v, cu_seqlens, int(max_seqlen), alibi_slopes, float(scale))
