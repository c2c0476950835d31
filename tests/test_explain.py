"""Base-resolution explanations (dnabert2.inference.attribution, dnabert2-explain) against references of their own:
ism against a plain substitution loop, ig against its completeness and a plain Riemann sum of gradients, attention
against the model's returned weights spread by token lengths."""

import random

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference import attribution
from dnabert2.runtime.errors import InputError
from modeling_dnabert2 import DNABert2ForSequenceClassification
from tests.conftest import ROOT


def random_dna(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(ROOT)


@pytest.fixture
def classifier(tiny_config):
    torch.manual_seed(0)
    tiny_config.num_labels = 2
    tiny_config.id2label, tiny_config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    return DNABert2ForSequenceClassification(tiny_config).eval()


def plain_logits(model, tokenizer, sequence):
    """One sequence alone through the model's forward (no batching, no padding)."""
    with torch.no_grad():
        return model(**tokenizer(sequence, return_tensors="pt")).logits[0].double().numpy()


def test_ism_equals_a_plain_substitution_loop(classifier, tokenizer):
    sequences = [random_dna(37, 1), random_dna(23, 2) + "N" + random_dna(10, 3)]
    explained = attribution.ism(classifier, tokenizer, sequences, target="pos", max_tokens_per_batch=300)
    for sequence, result in zip(sequences, explained):
        reference = plain_logits(classifier, tokenizer, sequence)[1]
        expected = np.zeros((len(sequence), 4))
        for i, letter in enumerate(sequence):
            for b, base in enumerate("ACGT"):
                if letter in "ACGT" and base != letter:
                    expected[i, b] = plain_logits(classifier, tokenizer, sequence[:i] + base + sequence[i + 1 :])[1]
                    expected[i, b] -= reference
        assert result.target == 1 and result.score == pytest.approx(reference, abs=1e-5)
        np.testing.assert_allclose(result.hypothetical, expected, atol=2e-5)
        np.testing.assert_allclose(result.attribution, -expected.sum(axis=1) / 3, atol=2e-5)
        assert np.abs(expected).max() > 1e-3  # the substitutions do move the logit
    assert np.all(explained[1].hypothetical[23] == 0)  # the N is not mutated


def test_ism_region_and_default_target(classifier, tokenizer):
    sequence = random_dna(40, 4)
    whole = attribution.ism(classifier, tokenizer, [sequence])[0]
    part = attribution.ism(classifier, tokenizer, [sequence], region=attribution.parse_region("10:20"))[0]
    assert whole.target == int(np.argmax(plain_logits(classifier, tokenizer, sequence)))
    np.testing.assert_allclose(part.hypothetical[10:20], whole.hypothetical[10:20], atol=1e-6)
    assert not part.hypothetical[:10].any() and not part.hypothetical[20:].any()


def plain_baseline(model, tokenizer, sequence, baseline):
    """(inputs, baseline) token embeddings (1, T, hidden): each sequence token's embedding replaced by [MASK]'s, zeros
    or [PAD]'s in the baseline; [CLS] and [SEP] kept."""
    ids = torch.tensor([tokenizer(sequence)["input_ids"]])
    words = model.bert.embeddings.word_embeddings
    inputs = words(ids).detach()
    reference = inputs.clone()
    if baseline == "zero":
        reference[0, 1:-1] = 0
    else:
        reference[0, 1:-1] = words.weight[getattr(tokenizer, f"{baseline}_token_id")].detach()
    return inputs, reference


def plain_integrated_gradients(model, inputs, baseline, target, steps=400):
    """Midpoint Riemann sum of the gradients along the straight path from the baseline, per token."""
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    path = (baseline + alphas[:, None, None] * (inputs - baseline)).requires_grad_(True)
    logits = model(inputs_embeds=path.reshape(steps, *inputs.shape[1:])).logits[:, target]
    (gradients,) = torch.autograd.grad(logits.sum(), path)
    return (gradients.mean(0) * (inputs - baseline)[0]).sum(-1).double().numpy()


@pytest.mark.parametrize("baseline", attribution.IG_BASELINES)
def test_integrated_gradients_complete_and_equal_a_plain_riemann_sum(classifier, tokenizer, baseline):
    sequence = random_dna(45, 5)
    with torch.no_grad():  # a random head's logits barely move: scale them so the change is far above rounding
        classifier.classifier.weight.mul_(100)
    result = attribution.integrated_gradients(
        classifier, tokenizer, [sequence], target="neg", steps=64, baseline=baseline
    )[0]
    inputs, reference = plain_baseline(classifier, tokenizer, sequence, baseline)
    with torch.no_grad():
        change = (classifier(inputs_embeds=inputs).logits - classifier(inputs_embeds=reference).logits)[0, 0].item()
    assert abs(change) > 1e-2  # the baseline differs from the input
    assert result.completeness_gap < 0.01
    assert result.attribution.sum() == pytest.approx(change, rel=0.01)
    per_token = plain_integrated_gradients(classifier, inputs, reference, 0)
    spans = np.asarray(tokenizer(sequence, return_offsets_mapping=True)["offset_mapping"])
    np.testing.assert_allclose(
        attribution.spread_over_bases(per_token, spans, len(sequence)), result.attribution, atol=2e-3 * abs(change)
    )


def test_integrated_gradients_default_baseline_is_mask(classifier, tokenizer):
    sequence = random_dna(30, 8)
    explained = {
        baseline: attribution.integrated_gradients(classifier, tokenizer, [sequence], target="neg", steps=16, **option)
        for baseline, option in (("default", {}), ("mask", {"baseline": "mask"}), ("pad", {"baseline": "pad"}))
    }
    np.testing.assert_array_equal(explained["default"][0].attribution, explained["mask"][0].attribution)
    assert not np.allclose(explained["default"][0].attribution, explained["pad"][0].attribution)
    with pytest.raises(InputError, match="ig_baseline"):
        attribution.integrated_gradients(classifier, tokenizer, [sequence], baseline="shuffle")


def test_attention_equals_the_returned_weights_spread_by_token_length(classifier, tokenizer):
    sequences = [random_dna(50, 6), random_dna(31, 7)]
    for layers in ([1], [0, 1]):
        explained = attribution.attention(classifier, tokenizer, sequences, layers=layers, max_tokens_per_batch=64)
        for sequence, result in zip(sequences, explained):
            encoded = tokenizer(sequence, return_tensors="pt")
            with torch.no_grad():
                output = classifier(**encoded, output_attentions=True)
            cls_row = sum(output.attentions[layer][0, :, 0, :].sum(0) for layer in layers).double().numpy()
            tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])[1:-1]
            expected = np.concatenate([[value / len(t)] * len(t) for value, t in zip(cls_row[1:-1], tokens)])
            np.testing.assert_allclose(result.attribution, expected, atol=1e-6)
            assert result.score == pytest.approx(output.logits[0, result.target].item(), abs=1e-5)


def test_spread_keeps_sums_and_refuses_gaps():
    spans = np.array([[0, 0], [0, 3], [3, 4], [4, 9], [0, 0]])
    spread = attribution.spread_over_bases(np.array([7.0, 3.0, 1.0, 5.0, 9.0]), spans, 9)
    np.testing.assert_allclose(spread, [1, 1, 1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError):
        attribution.spread_over_bases(np.ones(2), np.array([[0, 3], [4, 9]]), 9)


def test_bad_flags_are_input_errors(classifier):
    with pytest.raises(InputError):
        attribution.target_index(classifier.config, "other", np.zeros(2))
    with pytest.raises(InputError):
        attribution.parse_region("20:10")
    with pytest.raises(InputError):
        attribution.parse_layers("5", 2)


@pytest.fixture
def model_folder(classifier, tokenizer, tmp_path):
    folder = tmp_path / "finetuned"
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_command_line_windows_tracks_modisco_and_logos(model_folder, tmp_path, tokenizer, classifier):
    from train import explain

    fasta = tmp_path / "in.fa"
    records = {"chrA": random_dna(130, 8), "chrB": random_dna(70, 9)}
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records.items()))
    out = tmp_path / "explained"
    result = explain.main(
        [
            *("--model_name_or_path", str(model_folder), "--input", str(fasta), "--output_dir", str(out)),
            *("--method", "attention", "--window", "80", "--stride", "40", "--part_size", "2"),
            *("--bedgraph", str(tmp_path / "a.bedGraph"), "--bigwig", str(tmp_path / "a.bw")),
            *("--modisco", str(tmp_path / "modisco"), "--plot", str(tmp_path / "logos.png"), "--plot_top", "2"),
        ]
    )
    table = pq.read_table(sorted(out.glob("*.parquet"))).sort_by([("index", "ascending"), ("start", "ascending")])
    assert [(r["name"], r["start"], r["end"]) for r in table.select(["name", "start", "end"]).to_pylist()] == [
        ("chrA", 0, 80),
        ("chrA", 40, 120),
        ("chrA", 50, 130),
        ("chrB", 0, 70),
    ]
    attributions = [np.asarray(a) for a in table.column("attribution").to_pylist()]
    direct = attribution.attention(classifier, tokenizer, [records["chrA"][40:120]])[0]
    np.testing.assert_allclose(attributions[1], direct.attribution, atol=1e-6)
    # bedGraph: base 60 of chrA lies in windows 0-80, 40-120 and 50-130: the mean of the three
    values = {}
    for line in (tmp_path / "a.bedGraph").read_text().splitlines()[1:]:
        chrom, start, end, value = line.split("\t")
        for position in range(int(start), int(end)):
            values[chrom, position] = float(value)
    expected = np.mean([attributions[0][60], attributions[1][20], attributions[2][10]])
    assert values["chrA", 60] == pytest.approx(expected, rel=1e-5)
    assert values["chrB", 5] == pytest.approx(attributions[3][5], rel=1e-5)
    assert len(values) == 200
    import pyBigWig

    with pyBigWig.open(str(tmp_path / "a.bw")) as track:
        assert track.values("chrA", 60, 61)[0] == pytest.approx(expected, rel=1e-5)
    onehot, contributions = np.load(tmp_path / "modisco" / "ohe.npy"), np.load(tmp_path / "modisco" / "attr.npy")
    assert onehot.shape == contributions.shape == (4, 4, 80)
    assert onehot[3, :, 70:].sum() == 0 and onehot[3, :, :70].sum() == 70
    np.testing.assert_allclose((onehot * contributions).sum(1)[1], attributions[1], atol=1e-6)
    assert (tmp_path / "logos.png").stat().st_size > 1000
    assert result["written"]["plot"] == str(tmp_path / "logos.png")


def test_command_line_ism_csv_hypothetical_and_modisco(model_folder, tmp_path):
    from train import explain

    csv = tmp_path / "in.csv"
    sequences = [random_dna(30, 10), random_dna(26, 11)]
    csv.write_text("sequence,label\n" + "".join(f"{s},1\n" for s in sequences))
    out = tmp_path / "ism"
    explain.main(
        [
            *("--model_name_or_path", str(model_folder), "--input", str(csv), "--output_dir", str(out)),
            *("--method", "ism", "--target", "pos", "--modisco", str(tmp_path / "m")),
        ]
    )
    table = pq.read_table(sorted(out.glob("*.parquet")))
    assert table.column("target").to_pylist() == ["pos", "pos"]
    hypothetical = np.asarray(table.column("hypothetical").to_pylist()[0])
    assert hypothetical.shape == (30, 4)
    contributions = np.load(tmp_path / "m" / "attr.npy")[0].T  # (L, 4)
    onehot = np.load(tmp_path / "m" / "ohe.npy")[0].T
    # each alternative base minus the mean of the three alternatives; the reference base carries the attribution
    alternatives = hypothetical.sum(1, keepdims=True) / 3
    np.testing.assert_allclose(
        contributions[onehot == 0].reshape(30, 3), (hypothetical - alternatives)[onehot == 0].reshape(30, 3), atol=1e-6
    )
    np.testing.assert_allclose((contributions * onehot).sum(1), table.column("attribution").to_pylist()[0], atol=1e-6)
    with pytest.raises(InputError):
        explain.main(
            [
                *("--model_name_or_path", str(model_folder), "--input", str(csv)),
                "--output_dir",
                str(tmp_path / "x"),
                "--method",
                "ig",
                "--region",
                "1:5",
            ]
        )


def test_bed_regions_make_tracks_in_genome_coordinates(model_folder, tmp_path):
    from train import explain

    genome = tmp_path / "genome.fa"
    chromosome = random_dna(300, 12)
    genome.write_text(f">chrA\n{chromosome}\n")
    bed = tmp_path / "regions.bed"
    bed.write_text("chrA\t50\t110\tfirst\nchrA\t100\t160\n")
    out = tmp_path / "bed"
    explain.main(
        [
            *("--model_name_or_path", str(model_folder), "--input", str(bed), "--fasta", str(genome)),
            *("--output_dir", str(out), "--method", "attention", "--bedgraph", str(tmp_path / "g.bedGraph")),
            *("--bigwig", str(tmp_path / "g.bw")),
        ]
    )
    table = pq.read_table(sorted(out.glob("*.parquet"))).sort_by("index")
    assert table.column("sequence").to_pylist() == [chromosome[50:110], chromosome[100:160]]
    first, second = (np.asarray(a) for a in table.column("attribution").to_pylist())
    values = {}
    for line in (tmp_path / "g.bedGraph").read_text().splitlines()[1:]:
        chrom, start, end, value = line.split("\t")
        values.update({position: float(value) for position in range(int(start), int(end))})
    assert sorted(values) == list(range(50, 160))
    assert values[60] == pytest.approx(first[10], rel=1e-5)
    assert values[105] == pytest.approx((first[55] + second[5]) / 2, rel=1e-5)
    import pyBigWig

    with pyBigWig.open(str(tmp_path / "g.bw")) as track:
        assert track.chroms() == {"chrA": 300}
        assert track.values("chrA", 150, 151)[0] == pytest.approx(second[50], rel=1e-5)
