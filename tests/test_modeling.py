"""The model against an independent padded reference, published-checkpoint loading, outputs, bad inputs."""

import json
import logging
import subprocess
import sys

import pytest
import torch
from conftest import HIDE_PROJECT, uneven_batch
from reference import (
    SLOPES_12,
    official_state_dict,
    reference_attention,
    reference_encoder,
    reference_mlm_logits,
    write_official_checkpoint,
)

import modeling_dnabert2 as md
from configuration_dnabert2 import DNABert2Config
from modeling_dnabert2 import (
    DNABert2ForMaskedLM,
    DNABert2ForSequenceClassification,
    DNABert2ForTokenClassification,
    DNABert2Model,
    alibi_slopes,
)


def mlm_with_reference_weights(config, seed=0):
    sd = official_state_dict(config, seed)
    model = DNABert2ForMaskedLM(config).eval()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) <= {"cls.predictions.decoder.weight"}
    return model, sd


def test_slopes_follow_published_head_order():
    assert torch.allclose(alibi_slopes(12), torch.tensor(SLOPES_12))
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(k + 1) for k in range(8)]))
    assert alibi_slopes(6).tolist() == pytest.approx([2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_hidden_states_and_mlm_logits_match_padded_reference(tiny_config, implementation):
    tiny_config._attn_implementation = implementation
    model, sd = mlm_with_reference_weights(tiny_config)
    ids, mask, types = uneven_batch([17, 5, 30, 1])
    out = model(ids, mask, types, output_hidden_states=True)
    expected = reference_encoder(sd, tiny_config, ids, mask, types)
    assert len(out.hidden_states) == tiny_config.num_hidden_layers + 1
    for got, want in zip(out.hidden_states, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    want_logits = reference_mlm_logits(sd, tiny_config, expected[-1])
    real = mask.bool()
    torch.testing.assert_close(out.logits[real], want_logits[real], atol=1e-5, rtol=1e-5)
    assert (out.logits[~real] == 0).all()  # padded positions are exact zeros
    assert (out.hidden_states[-1][~real] == 0).all()


def test_real_token_outputs_do_not_depend_on_padding(tiny_config):
    model, _ = mlm_with_reference_weights(tiny_config)
    ids, mask, types = uneven_batch([9, 23], extra_padding=0)
    more_ids, more_mask, more_types = uneven_batch([9, 23], extra_padding=40)
    short = model(ids, mask, types).logits
    long = model(more_ids, more_mask, more_types).logits
    torch.testing.assert_close(long[:, : ids.shape[1]], short, atol=1e-6, rtol=0)
    alone = model(ids[:1, :9], mask[:1, :9], types[:1, :9]).logits
    torch.testing.assert_close(alone[0], short[0, :9], atol=1e-5, rtol=1e-5)


ANY_LENGTHS_PATHS = ["sdpa", "sdpa_per_sequence", "sdpa_per_sequence, 16-query blocks", "eager"]


@pytest.mark.parametrize(
    "lengths, path",
    [
        *((lengths, path) for lengths in ([70, 33, 5], [1], [16, 16], [3, 40]) for path in ANY_LENGTHS_PATHS),
        *((lengths, "sdpa_equal_length") for lengths in ([1], [16, 16], [9, 9, 9])),
    ],
)
def test_sdpa_paths_match_plain_attention_forward_and_backward(monkeypatch, lengths, path):
    heads, head_dim = 6, 8
    generator = torch.Generator().manual_seed(len(lengths))
    qkv = torch.randn(sum(lengths), 3 * heads * head_dim, generator=generator, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(len(lengths), max(lengths) + 4, dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    slopes = alibi_slopes(heads).double()
    inputs = md.AttentionInputs(md.PackedBatch.from_mask(mask), slopes, path.split(",")[0])
    if path.endswith("query blocks"):
        monkeypatch.setattr(md, "_BLOCK_BIAS_BUDGET", heads * max(lengths) * 16)  # the floor is 16 rows
    context, _ = md.packed_attention(qkv, inputs, heads, dropout_p=0.0)
    q, k, v = qkv.view(sum(lengths), 3, heads, head_dim).unbind(1)
    expected = reference_attention(q, k, v, lengths, slopes).reshape(sum(lengths), -1)
    torch.testing.assert_close(context, expected, atol=1e-10, rtol=1e-10)
    upstream = torch.randn(context.shape, generator=generator, dtype=torch.float64)
    (grad,) = torch.autograd.grad(context, qkv, upstream)
    (expected_grad,) = torch.autograd.grad(expected, qkv, upstream)
    torch.testing.assert_close(grad, expected_grad, atol=1e-10, rtol=1e-10)


def test_equal_length_batch_trains_as_the_per_sequence_path_in_fp32(tiny_config, monkeypatch):
    ids, mask, types = uneven_batch([24, 24, 24], extra_padding=3)
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(1)) > 0.3, -100)
    model, _ = mlm_with_reference_weights(tiny_config)
    model.train()
    results = []
    for path in ("sdpa_equal_length", "sdpa_per_sequence"):
        monkeypatch.setattr(md, "choose_attention", lambda *args, path=path: path)
        model.zero_grad()
        loss = model(ids, mask, types, labels=labels).loss
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (loss, grads), (expected_loss, expected_grads) = results
    torch.testing.assert_close(loss, expected_loss, atol=1e-5, rtol=1e-5)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_pytorch_tanh"])
def test_gated_gelu_matches_autograd_through_split(hidden_act):
    projected = torch.randn(7, 2 * 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(7, 5, dtype=torch.float64)
    product = md._GatedGelu.apply(projected, md._GELU_APPROXIMATIONS[hidden_act])
    gated, linear = projected.split(5, dim=-1)
    expected = md.ACT2FN[hidden_act](gated) * linear
    torch.testing.assert_close(product, expected, atol=1e-12, rtol=1e-12)
    (grad,) = torch.autograd.grad(product, projected, upstream)
    (expected_grad,) = torch.autograd.grad(expected, projected, upstream)
    torch.testing.assert_close(grad, expected_grad, atol=1e-12, rtol=1e-12)


def test_attention_weights_returned_and_match_reference(tiny_config):
    model, sd = mlm_with_reference_weights(tiny_config)
    ids, mask, types = uneven_batch([6, 11])
    out = model(ids, mask, types, output_attentions=True)
    assert len(out.attentions) == tiny_config.num_hidden_layers
    weights = out.attentions[0]
    assert weights.shape == (2, tiny_config.num_attention_heads, 11, 11)
    torch.testing.assert_close(weights[0, :, :6, :6].sum(-1), torch.ones(6, 6))
    assert (weights[0, :, 6:] == 0).all() and (weights[0, :, :, 6:] == 0).all()
    # the eager path (chosen for weights) gives the same logits as sdpa
    torch.testing.assert_close(out.logits, model(ids, mask, types).logits, atol=1e-5, rtol=1e-5)


def test_sparse_mlm_head_in_training_and_loss_counts_unk(tiny_config):
    model, sd = mlm_with_reference_weights(tiny_config)
    ids, mask, types = uneven_batch([12, 7])
    labels = torch.full_like(ids, -100)
    labels[0, 3], labels[1, 2], labels[0, 5] = 0, 77, 1000  # label 0 is [UNK] and must count
    model.train()
    sparse = model(ids, mask, types, labels=labels)
    assert sparse.logits.shape == (3, tiny_config.vocab_size)
    expected_logits = reference_mlm_logits(sd, tiny_config, reference_encoder(sd, tiny_config, ids, mask, types)[-1])
    selected = labels != -100
    want = torch.nn.functional.cross_entropy(expected_logits[selected], labels[selected])
    torch.testing.assert_close(sparse.loss, want, atol=1e-5, rtol=1e-5)
    model.eval()
    dense = model(ids, mask, types, labels=labels)
    assert dense.logits.shape == (2, 12, tiny_config.vocab_size)
    torch.testing.assert_close(dense.loss, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("lengths", [[17, 5, 30, 1], [12, 12, 12]], ids=["padded", "equal-lengths"])
def test_last_layer_at_labelled_positions_equals_full_computation(tiny_config, lengths):
    """Sparse MLM training (last layer at labelled tokens only) gives the full computation's logits there, its loss
    and every parameter's gradient; one sequence has no labelled token at all."""
    ids, mask, types = uneven_batch(lengths, seed=3)
    generator = torch.Generator().manual_seed(1)
    labels = torch.where((torch.rand(ids.shape, generator=generator) < 0.3) & (mask > 0), ids, -100)
    labels[0, 0], labels[1] = ids[0, 0], -100  # [CLS] labelled; the second sequence read nowhere
    results = []
    for sparse in (True, False):
        tiny_config.sparse_prediction = sparse
        model, _ = mlm_with_reference_weights(tiny_config)
        model.train()
        out = model(ids, mask, types, labels=labels)
        out.loss.backward()
        logits = out.logits if sparse else out.logits[labels != -100]
        results.append((out.loss, logits, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (loss, logits, grads), (full_loss, full_logits, full_grads) = results
    assert logits.shape == ((labels != -100).sum().item(), tiny_config.vocab_size)
    torch.testing.assert_close(logits, full_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, full_loss, atol=1e-5, rtol=1e-5)
    assert grads.keys() == full_grads.keys() and len(grads) == len(list(model.parameters()))
    for name in grads:
        torch.testing.assert_close(grads[name], full_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_logits_at_positions_equal_full_logits_and_skip_the_last_layer_elsewhere(tiny_config):
    model, _ = mlm_with_reference_weights(tiny_config)
    ids, mask, types = uneven_batch([17, 5, 30, 1], extra_padding=2)
    positions = torch.rand(ids.shape, generator=torch.Generator().manual_seed(2)) < 0.4
    positions[:, 0] = True  # [CLS]
    full = model(ids, mask, types).logits
    real = positions & mask.bool()  # padded positions are never read
    last = model.bert.encoder.layer[-1].mlp.wo
    rows = []
    hook = last.register_forward_hook(lambda module, inputs, output: rows.append(inputs[0].shape[0]))
    try:
        got = model.logits_at(ids, positions, mask, types)
    finally:
        hook.remove()
    torch.testing.assert_close(got, full[real], atol=1e-5, rtol=1e-5)
    assert rows == [int(real.sum())] and rows[0] < int(mask.sum())
    # with every position's hidden states asked for, the last layer runs whole and is read out after
    encoding = model.bert.encode_packed(ids, mask, types, output_hidden_states=True, read_out=positions)
    torch.testing.assert_close(model.cls(encoding.hidden), full[real], atol=1e-5, rtol=1e-5)
    assert len(encoding.hidden_states()) == tiny_config.num_hidden_layers + 1


def test_gradient_checkpointing_gives_same_gradients(tiny_config):
    ids, mask, types = uneven_batch([10, 4])
    labels = ids.masked_fill(mask == 0, -100)
    grads = []
    for checkpointing in (False, True):
        model, _ = mlm_with_reference_weights(tiny_config)
        model.train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.bert.encoder.layer[0].gradient_checkpointing
        model(ids, mask, types, labels=labels).loss.backward()
        grads.append(model.bert.encoder.layer[0].attention.self.Wqkv.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_classification_heads_match_reference_and_losses(tiny_config):
    sd = official_state_dict(tiny_config)
    ids, mask, types = uneven_batch([8, 15, 3])
    last = reference_encoder(sd, tiny_config, ids, mask, types)[-1]
    config = DNABert2Config(**{**tiny_config.to_dict(), "num_labels": 3})
    model = DNABert2ForSequenceClassification(config).eval()
    model.load_state_dict(sd, strict=False)
    out = model(ids, mask, types, labels=torch.tensor([0, 2, 1]))
    pooled = torch.tanh(last[:, 0] @ model.bert.pooler.dense.weight.T + model.bert.pooler.dense.bias)
    want = pooled @ model.classifier.weight.T + model.classifier.bias
    torch.testing.assert_close(out.logits, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(want, torch.tensor([0, 2, 1])))

    regression = DNABert2ForSequenceClassification(DNABert2Config(**{**tiny_config.to_dict(), "num_labels": 1})).eval()
    target = torch.tensor([0.5, -1.0, 2.0])
    out = regression(ids, mask, types, labels=target)
    assert regression.config.problem_type == "regression"
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1), target))

    multi = DNABert2ForSequenceClassification(DNABert2Config(**{**tiny_config.to_dict(), "num_labels": 4})).eval()
    target = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1]])
    out = multi(ids, mask, types, labels=target)
    assert multi.config.problem_type == "multi_label_classification"
    torch.testing.assert_close(out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, target))

    mean = DNABert2ForSequenceClassification(DNABert2Config(**{**tiny_config.to_dict(), "classifier_pooling": "mean"}))
    mean.load_state_dict(sd, strict=False)
    mean.eval()
    pooled = (last * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(
        mean(ids, mask, types).logits, pooled @ mean.classifier.weight.T + mean.classifier.bias, atol=1e-5, rtol=1e-5
    )

    tokens = DNABert2ForTokenClassification(DNABert2Config(**{**tiny_config.to_dict(), "num_labels": 2})).eval()
    tokens.load_state_dict(sd, strict=False)
    logits = tokens(ids, mask, types).logits
    torch.testing.assert_close(logits, last @ tokens.classifier.weight.T + tokens.classifier.bias, atol=1e-5, rtol=1e-5)


def test_mean_pooled_embedding(tiny_config):
    sd = official_state_dict(tiny_config)
    model = DNABert2Model(tiny_config).eval()
    model.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("bert.")}, strict=False)
    ids, mask, types = uneven_batch([8, 2])
    last = reference_encoder(sd, tiny_config, ids, mask, torch.zeros_like(types))[-1]
    want = (last * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(model.embed(ids, mask), want, atol=1e-5, rtol=1e-5)


def test_loads_official_checkpoint_layout(tmp_path, tiny_config):
    sd = write_official_checkpoint(tmp_path / "official", tiny_config)
    model, info = DNABert2ForMaskedLM.from_pretrained(tmp_path / "official", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    ids, mask, types = uneven_batch([20, 9])
    model.eval()
    expected = reference_mlm_logits(sd, tiny_config, reference_encoder(sd, tiny_config, ids, mask, types)[-1])
    torch.testing.assert_close(model(ids, mask, types).logits[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)

    base, info = DNABert2Model.from_pretrained(tmp_path / "official", output_loading_info=True)
    assert set(info["missing_keys"]) <= {"pooler.dense.weight", "pooler.dense.bias"}
    classifier, info = DNABert2ForSequenceClassification.from_pretrained(
        tmp_path / "official", num_labels=2, output_loading_info=True
    )
    assert all(k.startswith(("bert.pooler", "classifier")) for k in info["missing_keys"])
    torch.testing.assert_close(classifier.bert.encoder.layer[1].mlp.wo.weight, sd["bert.encoder.layer.1.mlp.wo.weight"])


def test_load_report_names_untrained_heads_but_not_the_identity_pooler(tmp_path, tiny_config, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("transformers"), "propagate", True)  # else caplog never sees the report
    DNABert2ForMaskedLM(tiny_config).save_pretrained(tmp_path / "mlm")  # an encoder checkpoint: no pooler, no head

    def load_report(cls, folder, **kwargs):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="transformers"):
            model = cls.from_pretrained(folder, **kwargs)
        return model, "\n".join(r.getMessage() for r in caplog.records if "LOAD REPORT" in r.getMessage())

    encoder, report = load_report(DNABert2Model, tmp_path / "mlm")
    assert "pooler" not in report
    assert torch.equal(encoder.pooler.dense.weight, torch.eye(tiny_config.hidden_size))  # initialised on purpose
    classifier, report = load_report(DNABert2ForSequenceClassification, tmp_path / "mlm", num_labels=2)
    missing = {line.split("|")[0].strip() for line in report.splitlines() if "| MISSING" in line}
    assert missing == {"classifier.weight", "classifier.bias"}  # the untrained head is still reported
    classifier.save_pretrained(tmp_path / "classifier")
    _, report = load_report(DNABert2ForSequenceClassification, tmp_path / "classifier")
    assert report == ""  # a full round trip reports nothing


def test_save_load_round_trip_through_remote_code_in_fresh_process(tmp_path, tiny_config):
    model, _ = mlm_with_reference_weights(tiny_config)
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert set(saved["auto_map"]) == {
        "AutoConfig",
        "AutoModel",
        "AutoModelForMaskedLM",
        "AutoModelForSequenceClassification",
        "AutoModelForTokenClassification",
    }
    for name in ("modeling_dnabert2.py", "configuration_dnabert2.py", "bert_layers_triton.py"):
        assert (tmp_path / "saved" / name).exists()
    ids, mask, types = uneven_batch([14, 6])
    torch.save({"ids": ids, "mask": mask, "types": types}, tmp_path / "inputs.pt")
    torch.save(model(ids, mask, types).logits, tmp_path / "expected.pt")
    script = (
        HIDE_PROJECT
        + f"""
import torch
from transformers import AutoModelForMaskedLM
model = AutoModelForMaskedLM.from_pretrained({str(tmp_path / "saved")!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
x = torch.load({str(tmp_path / "inputs.pt")!r})
logits = model(x["ids"], x["mask"], x["types"]).logits
assert torch.equal(logits, torch.load({str(tmp_path / "expected.pt")!r})), "logits differ"
read = x["mask"].bool()
torch.testing.assert_close(model.logits_at(x["ids"], read, x["mask"], x["types"]), logits[read], atol=1e-5, rtol=1e-5)
print("OK")
"""
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_plain_import_registers_auto_classes(tmp_path, tiny_config):
    from transformers import AutoModel, AutoModelForTokenClassification

    DNABert2ForMaskedLM(tiny_config).save_pretrained(tmp_path)
    assert type(AutoModel.from_pretrained(tmp_path)) is DNABert2Model
    assert type(AutoModelForTokenClassification.from_pretrained(tmp_path)) is DNABert2ForTokenClassification


def test_official_config_reads(tmp_path, tiny_config):
    write_official_checkpoint(tmp_path, tiny_config)
    config = DNABert2Config.from_pretrained(tmp_path)
    assert config.hidden_size == tiny_config.hidden_size and not hasattr(config, "alibi_starting_size")
    assert "bert_layers" not in json.dumps(getattr(config, "auto_map", {}))


@pytest.mark.parametrize(
    "make_inputs, message",
    [
        (lambda: dict(input_ids=torch.randint(5, 100, (7,))), "shape"),
        (lambda: dict(input_ids=torch.tensor([[5, 6, 4096]])), "vocabulary"),
        (lambda: dict(input_ids=torch.tensor([[5, -1]])), "vocabulary"),
        (
            lambda: dict(input_ids=torch.tensor([[5, 6]]), attention_mask=torch.ones(1, 3, dtype=torch.long)),
            "attention_mask",
        ),
        (lambda: dict(input_ids=torch.zeros(0, 5, dtype=torch.long)), "Empty"),
        (
            lambda: dict(input_ids=torch.tensor([[5, 6]]), attention_mask=torch.tensor([[0, 0]])),
            "without any real token",
        ),
        (lambda: dict(input_ids=torch.tensor([[5, 6, 7]]), attention_mask=torch.tensor([[0, 1, 1]])), "right-padded"),
        (lambda: dict(input_ids=torch.tensor([[5, 6]]), token_type_ids=torch.tensor([[0, 2]])), "token_type_ids"),
        (lambda: dict(input_ids=torch.tensor([[5.0, 6.0]])), "integer"),
    ],
)
def test_bad_inputs_raise_clear_errors(tiny_config, make_inputs, message):
    model = DNABert2Model(tiny_config).eval()
    with pytest.raises(ValueError, match=message):
        model(**make_inputs())


def test_unknown_attention_implementation_is_refused(tiny_config):
    with pytest.raises(ValueError, match="attn_implementation"):
        DNABert2Model._from_config(tiny_config, attn_implementation="flash_attention_9")


def test_attention_choice(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    hidden, packed = torch.zeros(2, 2), md.PackedBatch.from_mask(torch.tensor([[1, 1], [1, 0]]))
    equal = md.PackedBatch.from_mask(torch.ones(2, 2, dtype=torch.long))
    for requested in ("auto", "sdpa", "triton"):  # triton needs a GPU (or the interpreter)
        assert md.choose_attention(requested, hidden, packed, False, 64, 512) == "sdpa_per_sequence"
        assert md.choose_attention(requested, hidden, equal, False, 64, 512) == "sdpa_equal_length"
    assert md.choose_attention("auto", hidden, equal, False, 64, 1) == "sdpa_per_sequence"  # longer than a block
    assert md.choose_attention("sdpa", hidden, packed, True, 64, 512) == "eager"
    assert md.choose_attention("eager", hidden, packed, False, 64, 512) == "eager"
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))  # what a GPU would be offered
    assert md.choose_attention("auto", hidden, packed, False, 64, 512) == "sdpa"  # never the unverified kernel
    assert md.choose_attention("auto", hidden, packed, False, 64, 1) == "sdpa_per_sequence"  # longer than a block


def test_eager_is_the_explicit_formula(tiny_config, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eager attention called SDPA")

    ids, mask, types = uneven_batch([6, 11])
    model, _ = mlm_with_reference_weights(tiny_config)
    expected = model(ids, mask, types).logits  # SDPA
    monkeypatch.setattr(md.F, "scaled_dot_product_attention", refuse)
    model.config._attn_implementation = "eager"
    torch.testing.assert_close(model(ids, mask, types).logits, expected, atol=1e-5, rtol=1e-5)


def test_user_auto_map_is_kept_and_published_one_replaced(tiny_config):
    custom = {"AutoModel": "my_modeling.MyDNABert2"}
    config = DNABert2Config(**{**tiny_config.to_dict(), "auto_map": custom})
    assert DNABert2Model(config).config.auto_map == custom
    published = {"AutoModel": "bert_layers.BertModel", "AutoConfig": "configuration_bert.BertConfig"}
    assert DNABert2Config(auto_map=published).auto_map["AutoModel"] == "modeling_dnabert2.DNABert2Model"
