"""The Triton varlen ALiBi FlashAttention kernel under TRITON_INTERPRET=1 against a plain PyTorch reference.

bf16 is not tested here: the Triton interpreter's tl.dot gives garbage for bf16 (upstream limitation).
"""

import pytest
import torch
from conftest import uneven_batch
from reference import reference_attention, reference_slopes

bert_layers_triton = pytest.importorskip("bert_layers_triton")
if bert_layers_triton.triton_unavailable_reason():
    pytest.skip(bert_layers_triton.triton_unavailable_reason(), allow_module_level=True)

from bert_layers_triton import flash_attn_varlen_alibi  # noqa: E402


def run_both(lengths, heads, head_dim, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    total = sum(lengths)
    exact = [torch.randn(total, heads, head_dim, generator=generator, dtype=torch.float64) for _ in range(3)]
    grad_out = torch.randn(total, heads, head_dim, generator=generator, dtype=torch.float64)
    cu_seqlens = torch.tensor([0] + lengths).cumsum(0).to(torch.int32)
    slopes = reference_slopes(heads).float()

    def forward_backward(fn, inputs_dtype):
        inputs = [t.to(inputs_dtype).detach().requires_grad_() for t in exact]
        out = fn(*inputs)
        out.backward(grad_out.to(out.dtype))
        return [out.detach().double()] + [t.grad.double() for t in inputs]

    kernel = forward_backward(lambda q, k, v: flash_attn_varlen_alibi(q, k, v, cu_seqlens, max(lengths), slopes), dtype)
    truth = forward_backward(lambda q, k, v: reference_attention(q, k, v, lengths, slopes.double()), torch.float64)
    same_precision = forward_backward(lambda q, k, v: reference_attention(q, k, v, lengths, slopes), dtype)
    return kernel, truth, same_precision


@pytest.mark.parametrize(
    "lengths, heads, head_dim",
    [([1, 37, 100], 4, 64), ([128, 5], 2, 16), ([1, 37, 100], 12, 24), ([128, 5], 1, 128), ([3], 3, 40)],
)
def test_fp32_forward_and_gradients_match_reference(lengths, heads, head_dim):
    kernel, truth, _ = run_both(lengths, heads, head_dim, torch.float32)
    for name, got, want in zip(("out", "dq", "dk", "dv"), kernel, truth):
        assert (got - want).abs().max() < 1e-4, name


@pytest.mark.parametrize("lengths, heads, head_dim", [([1, 37, 100], 2, 64), ([128, 5], 3, 24)])
def test_fp16_error_within_twice_that_of_pytorch_fp16(lengths, heads, head_dim):
    kernel, truth, torch_fp16 = run_both(lengths, heads, head_dim, torch.float16)
    for name, got, want, same in zip(("out", "dq", "dk", "dv"), kernel, truth, torch_fp16):
        kernel_error = (got - want).abs().max()
        torch_error = (same - want).abs().max()
        assert kernel_error <= 2 * torch_error + 1e-4, (
            f"{name}: kernel {kernel_error:.2e}, torch fp16 {torch_error:.2e}"
        )


def test_bad_arguments_raise():
    q = torch.randn(10, 2, 8)
    with pytest.raises(ValueError, match="head_dim"):
        flash_attn_varlen_alibi(q, q, q, torch.tensor([0, 10], dtype=torch.int32), 10, torch.ones(2))
    q = torch.randn(10, 2, 16)
    with pytest.raises(TypeError, match="cu_seqlens"):
        flash_attn_varlen_alibi(q, q, q, torch.tensor([0, 10]), 10, torch.ones(2))


def _valid_arguments():
    """Two sequences (4 and 6 tokens), 2 heads of 16: arguments the kernel accepts."""
    q = torch.randn(10, 2, 16)
    return dict(
        q=q,
        k=q.clone(),
        v=q.clone(),
        cu_seqlens=torch.tensor([0, 4, 10], dtype=torch.int32),
        max_seqlen=6,
        alibi_slopes=torch.ones(2),
    )


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(max_seqlen=5), ValueError, "max_seqlen 5 is below the longest sequence in cu_seqlens \\(6\\)"),
        (dict(k=torch.randn(10, 2, 16).half()), TypeError, "same dtype"),
        (
            dict(
                q=torch.randn(10, 2, 16).double(), k=torch.randn(10, 2, 16).double(), v=torch.randn(10, 2, 16).double()
            ),
            TypeError,
            "float16, bfloat16 or float32",
        ),
        (dict(cu_seqlens=torch.tensor([0, 4, 10], dtype=torch.int32, device="meta")), ValueError, "one device"),
        (dict(alibi_slopes=torch.ones(2, device="meta")), ValueError, "one device"),
        (dict(cu_seqlens=torch.tensor([1, 4, 10], dtype=torch.int32)), ValueError, "rise from 0"),
        (dict(cu_seqlens=torch.tensor([0, 4, 9], dtype=torch.int32)), ValueError, "to total_tokens \\(10\\)"),
        (dict(cu_seqlens=torch.tensor([0, 7, 4, 10], dtype=torch.int32), max_seqlen=7), ValueError, "decreasing"),
        (dict(alibi_slopes=torch.ones(4)[::2]), ValueError, "contiguous"),
    ],
)
def test_arguments_that_would_give_wrong_numbers_raise(change, error, match):
    """Each of these used to run (or fail deep inside Triton), e.g. too small a max_seqlen left rows of the
    output uninitialised; now each is refused up front with the reason."""
    with pytest.raises(error, match=match):
        flash_attn_varlen_alibi(**{**_valid_arguments(), **change})


def test_max_seqlen_above_the_longest_is_accepted_and_exact():
    arguments = _valid_arguments()
    lengths = [4, 6]
    want = reference_attention(arguments["q"], arguments["k"], arguments["v"], lengths, arguments["alibi_slopes"])
    got = flash_attn_varlen_alibi(**{**arguments, "max_seqlen": 40})
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_fp32_products_are_ieee_fp32_not_tf32(monkeypatch):
    """On Ampere+ GPUs Triton's default for an fp32 tl.dot is TF32 (10-bit mantissa); the kernel asks for IEEE.
    The interpreter computes in fp32 either way, so what the kernel asks of every tl.dot is what is checked."""
    from triton._C.libtriton import ir
    from triton.runtime.interpreter import InterpreterBuilder

    requested = []
    create_dot = InterpreterBuilder.create_dot

    def recording(self, a, b, d, input_precision, max_num_imprecise_acc):
        requested.append(input_precision)
        return create_dot(self, a, b, d, input_precision, max_num_imprecise_acc)

    monkeypatch.setattr(InterpreterBuilder, "create_dot", recording)
    arguments = {name: t.requires_grad_() if name in ("q", "k", "v") else t for name, t in _valid_arguments().items()}
    flash_attn_varlen_alibi(**arguments).sum().backward()
    assert len(requested) >= 6 and set(requested) == {ir.INPUT_PRECISION.IEEE}


def test_model_with_triton_attention_matches_sdpa(tiny_config, monkeypatch):
    from modeling_dnabert2 import DNABert2ForMaskedLM

    calls = []
    monkeypatch.setattr(
        bert_layers_triton, "flash_attn_varlen_alibi", lambda *a: calls.append(1) or flash_attn_varlen_alibi(*a)
    )
    tiny_config.num_attention_heads = 3  # head_dim 16, the kernel's smallest

    torch.manual_seed(0)
    ids, mask, types = uneven_batch([21, 6, 1])
    labels = ids.masked_fill(mask == 0, -100)
    results = {}
    for implementation in ("sdpa", "triton"):
        torch.manual_seed(0)
        tiny_config._attn_implementation = implementation
        model = DNABert2ForMaskedLM(tiny_config).train()
        out = model(ids, mask, types, labels=labels)
        out.loss.backward()
        results[implementation] = (out.loss.detach(), model.bert.encoder.layer[0].attention.self.Wqkv.weight.grad)
    # the kernel really ran, once per layer but the last, which runs at the labelled positions only (read-out)
    assert len(calls) == tiny_config.num_hidden_layers - 1
    torch.testing.assert_close(results["triton"][0], results["sdpa"][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(results["triton"][1], results["sdpa"][1], atol=1e-5, rtol=1e-4)


def test_kernel_failure_falls_back_to_sdpa_with_one_warning(tiny_config, monkeypatch, caplog):
    import modeling_dnabert2 as md

    def broken(*args):
        raise RuntimeError("PTX compilation failed (simulated)")

    monkeypatch.setattr(md, "_triton_failure", None)
    monkeypatch.setattr(bert_layers_triton, "flash_attn_varlen_alibi", broken)
    tiny_config.num_attention_heads = 3  # head_dim 16, the kernel's smallest
    ids, mask, types = uneven_batch([21, 6, 1])
    model = md.DNABert2ForMaskedLM(tiny_config).eval()
    expected = model(ids, mask, types).logits  # SDPA
    model.config._attn_implementation = "triton"
    with caplog.at_level("WARNING"):
        first = model(ids, mask, types).logits
        second = model(ids, mask, types).logits
    torch.testing.assert_close(first, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(second, expected, atol=1e-5, rtol=1e-5)
    warnings = [r.getMessage() for r in caplog.records if "Triton attention kernel failed" in r.getMessage()]
    assert len(warnings) == 1 and "RuntimeError: PTX compilation failed (simulated)" in warnings[0]
    assert md.choose_attention("triton", ids.float(), md.PackedBatch.from_mask(mask), False, 16, 512) != "triton"
