"""Reports of GUE runs: results.{json,csv,md,png} of one folder and comparison.{json,md,png} of the sides."""

import csv
import json
from pathlib import Path

from dnabert2.benchmarks.gue_runner.examples import BOOTSTRAP_RULE
from dnabert2.benchmarks.gue_runner.plots import plot, plot_comparison
from dnabert2.benchmarks.gue_runner.statistics import (
    CLEAN_RULE,
    COLLAPSE_RULE,
    CONTRASTS,
    MEANS_NOTE,
    METRIC_NOTE,
    RC_AVERAGE,
    SIDE_TITLES,
    STRANDS_NOTE,
    TEST_RULE,
    compare,
    mean_or_none,
    summarize,
    task_summary,
)
from dnabert2.benchmarks.gue_runner.store import read_predictions, read_results
from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.runtime.files import atomic_output, write_text_atomic

CSV_COLUMNS = ["task", "family", "metric", "score", "std", "seeds", "collapsed_seeds", "score_strands_averaged"]


def score_cell(summary: dict) -> str:
    """'51.06', '51.06 ± 2.10' or 'collapsed'."""
    if summary["mean"] is None:
        return "collapsed"
    return f"{summary['mean']:.2f}" + (f" ± {summary['std']:.2f}" if summary["std"] is not None else "")


def collapsed_cell(summary: dict) -> str:
    seeds = summary["collapsed_seeds"]
    return f"{len(seeds)}/{summary['seeds']} (seed {', '.join(seeds)})" if seeds else "-"


def number_cell(value):
    """A table cell for a number that may be missing: '-' or two decimals."""
    return "-" if value is None else f"{value:.2f}"


def signed_cell(value):
    """A table cell for a difference that may be missing: '-' or signed, two decimals."""
    return "-" if value is None else f"{round(value, 9) + 0.0:+.2f}"  # no '-0.00' for a rounding error


def report_paths(output_dir: Path, stem: str) -> list[Path]:
    return [
        output_dir / f"{stem}.{ext}" for ext in ("json", "md", "csv", "png") if (output_dir / f"{stem}.{ext}").exists()
    ]


def write_reports(results: dict, output_dir: Path, command: str, settings: dict | None = None) -> str:
    """Write results.json/.csv/.md and results.png; returns the markdown table."""
    rows, families = summarize(results)
    averaged = {task: task_summary(task, by_seed, strands_averaged=True) for task, by_seed in results.items()}
    with_averages = any(averaged.values())
    payload = {
        "command": command,
        "settings": settings,
        "results": results,
        "summary": rows,
        "families": families,
        "collapse_rule": COLLAPSE_RULE,
    }
    write_text_atomic(output_dir / "results.json", json.dumps(payload, indent=2))
    with atomic_output(output_dir / "results.csv") as path, open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {
                "task": r["task"],
                "family": r["family"],
                "metric": r["metric"],
                "score": "collapsed" if r["mean"] is None else number_cell(r["mean"]),
                "std": number_cell(r["std"]),
                "seeds": ", ".join(r["seeds_run"]),
                "collapsed_seeds": len(r["collapsed_seeds"]),
                "score_strands_averaged": number_cell((averaged[r["task"]] or {}).get("mean")),
            }
            for r in rows
        )
    extra = " strands averaged at test |" if with_averages else ""
    lines = [
        f"Command: `{command}`",
        "",
        "| task | family | metric | score x100 (mean ± sd over seeds) | seeds | collapsed seeds |" + extra,
        "|---|---|---|---|---|---|" + "---|" * with_averages,
        *[
            f"| {r['task']} | {r['family']} | {r['metric']} | {score_cell(r)} | {', '.join(r['seeds_run'])} | "
            f"{collapsed_cell(r)} |"
            + (f" {score_cell(averaged[r['task']]) if averaged[r['task']] else '-'} |" if with_averages else "")
            for r in rows
        ],
        "",
        METRIC_NOTE,
    ]
    if with_averages:
        lines += ["", STRANDS_NOTE]
    if any(r["collapsed_seeds"] for r in rows):
        lines += ["", COLLAPSE_RULE[0].upper() + COLLAPSE_RULE[1:]]
    scored = [r["mean"] for r in rows if r["mean"] is not None]
    if scored:
        lines += ["", f"Average over {len(scored)} scored tasks: {mean_or_none(scored):.2f}"]
    if families:
        lines += ["", "| family | ours | DNABERT-2 (paper) | tasks scored | tasks collapsed |", "|---|---|---|---|---|"]
        lines += [
            f"| {f['family']} | {number_cell(f['mean'])} | {f['paper']:.2f} | {f['tasks']} | {f['collapsed_tasks']} |"
            for f in families
        ]
    table = "\n".join(lines) + "\n"
    write_results_markdown(output_dir / "results.md", table)
    plot(rows, families, output_dir / "results.png")
    return table


def side_cell(summary: dict | None) -> str:
    """A side's score on a task: mean ± sd as scored, then its score without the collapsed seeds where any collapsed."""
    if summary is None:
        return "-"
    cell = f"{summary['mean_as_scored']:.2f}" + (
        f" ± {summary['std_as_scored']:.2f}" if summary["std_as_scored"] is not None else ""
    )
    seeds = summary["collapsed_seeds"]
    if summary["mean"] is None:
        cell += "; every seed collapsed"
    elif seeds:
        cell += f"; {score_cell(summary)} without collapsed seed{'s' * (len(seeds) > 1)} {', '.join(seeds)}"
    return cell


def test_cell(test: dict | None) -> str:
    """A paired test as '+5.30 [2.1, 8.5], p=0.01'; the mean difference alone where there is no test."""
    if test is None:
        return "-"
    difference = signed_cell(test["mean"])
    if test["no_test"]:
        return f"{difference} ({test['no_test']}: no test)"
    low, high = test["ci95"]
    return f"{difference} [{low:.1f}, {high:.1f}], " + ("p<0.001" if test["p"] < 0.001 else f"p={test['p']:.2g}")


def contamination_cell(counts: dict | None) -> str:
    """A task's test-set overlap with the corpus: '0; 12; 988 of 1,000'."""
    if counts is None:
        return "-"
    return f"{counts['exact']:,}; {counts['shared_kmer']:,}; {counts['clean']:,} of {counts['test_sequences']:,}"


def contrast_title(contrast: str) -> str:
    """'pretrained - from_scratch' as 'pretrained - from scratch'."""
    return " - ".join(SIDE_TITLES[name] for name in contrast.split(" - "))


def averages_table(groups: list, sides: list, contrasts: list, kind: str) -> list[str]:
    """Markdown lines of family and all-task averages: ``kind`` "as_scored" (with the paired tests) or
    "collapsed_left_out" (differences of the means)."""
    tasks_title = "tasks" if kind == "as_scored" else "tasks (without a side collapsed on every seed)"
    lines = [
        "| family | "
        + tasks_title
        + " | "
        + " | ".join(SIDE_TITLES[name] for name in sides)
        + " | "
        + " | ".join(contrast_title(contrast) for contrast in contrasts)
        + " |",
        "|---|---|" + "---|" * (len(sides) + len(contrasts)),
    ]
    for group in groups:
        means = group[kind]
        if kind == "as_scored":
            differences = [test_cell(group["tests"].get(contrast)) for contrast in contrasts]
        else:
            differences = [signed_cell(group["collapsed_left_out_differences"].get(contrast)) for contrast in contrasts]
        count = group["tasks"] if kind == "as_scored" else group["tasks_without_collapse"]
        lines.append(
            f"| {group['family']} | {count} | "
            + " | ".join(number_cell(means.get(name)) for name in sides)
            + " | "
            + " | ".join(differences)
            + " |"
        )
    return lines


def write_comparison(folders: dict, output_dir, augmented_dir=None, contamination_file=None) -> str:
    """Write comparison.json/.md/.png to output_dir: the sides' results folders (``folders``: side name -> folder;
    pretrained and from_scratch required), their paired tests, the strand table when test-time averages or
    ``augmented_dir`` are there, and the test sets' overlap with the pretraining corpus when ``contamination_file``
    (benchmarks/gue_contamination.py's JSON) is given; returns the markdown tables."""
    output_dir = Path(output_dir)
    contamination = json.loads(Path(contamination_file).read_text()) if contamination_file else None
    results = {name: read_results(folder)[1] for name, folder in folders.items() if folder}
    predictions = {
        name: {
            task: {
                seed: arrays for seed in by_seed if (arrays := read_predictions(folders[name], task, seed)) is not None
            }
            for task, by_seed in side.items()
        }
        for name, side in results.items()
    }
    report = compare(
        results,
        read_results(augmented_dir)[1] if augmented_dir else None,
        contamination["tasks"] if contamination else None,
        predictions,
    )
    report["results_folders"] = {name: str(folder) for name, folder in folders.items() if folder}
    report["augmented_results"] = str(augmented_dir) if augmented_dir else None
    report["contamination"] = {"file": str(contamination_file), "k": contamination["k"]} if contamination else None
    write_text_atomic(output_dir / "comparison.json", json.dumps(report, indent=2))
    sides = report["sides"]
    contrasts = [
        contrast
        for contrast in (f"{a} - {b}" for a, b in CONTRASTS)
        if any(contrast in r["tests"] for r in report["tasks"])
    ]
    described = {"from_scratch": " (random init of the same config)"}
    lines = [
        "Sides: "
        + "; ".join(f"{SIDE_TITLES[name]}{described.get(name, '')}: `{folders[name]}`" for name in sides)
        + ".",
        "",
        "| task | family | metric | seeds | "
        + " | ".join(SIDE_TITLES[name] for name in sides)
        + " | "
        + " | ".join(contrast_title(contrast) for contrast in contrasts)
        + " |"
        + (
            f" test sequences in the pretraining corpus (exact; sharing a {contamination['k']}-mer; clean) |"
            if contamination
            else ""
        ),
        "|---|---|---|---|" + "---|" * (len(sides) + len(contrasts) + bool(contamination)),
    ]
    lines += [
        f"| {r['task']} | {r['family']} | {r['metric']} | {', '.join(r['seeds'])} | "
        + " | ".join(side_cell(r[name]) for name in sides)
        + " | "
        + " | ".join(test_cell(r["tests"].get(contrast)) for contrast in contrasts)
        + " |"
        + (f" {contamination_cell(r['contamination'])} |" if contamination else "")
        for r in report["tasks"]
    ]
    if report["all_tasks"]:
        groups = [*report["families"], report["all_tasks"]]
        lines += [
            "",
            "Averages over tasks, every run as scored (a collapsed run counts with its MCC of 0): the headline.",
            "",
            *averages_table(groups, sides, contrasts, "as_scored"),
            "",
            "Averages with collapsed runs left out (each side's mean over its non-collapsed seeds; a task "
            "where a side collapsed on every seed left out of every side's average):",
            "",
            *averages_table(groups, sides, contrasts, "collapsed_left_out"),
        ]
    lines += examples_tables(report, sides, contrasts)
    lines += strand_table(report["tasks"])
    lines += [
        "",
        "Scores x100 over the seeds pretrained and from scratch share: mean ± sample sd, every run as "
        "scored; where a side collapsed, its mean without the collapsed seeds follows. " + METRIC_NOTE,
        "",
        "Differences: first side minus second, seed by seed. " + TEST_RULE,
        "",
        MEANS_NOTE,
        "",
        report["collapse_rule"][0].upper() + report["collapse_rule"][1:],
    ]
    if report["tasks_on_one_side_only"]:
        lines += ["", f"Left out (run on one side only): {', '.join(report['tasks_on_one_side_only'])}."]
    table = "\n".join(lines) + "\n"
    write_results_markdown(output_dir / "comparison.md", table)
    plot_comparison(report, output_dir / "comparison.png")
    return table


def bootstrap_cell(summary: dict | None) -> str:
    """A bootstrap over test examples as '+5.30 [2.1, 8.5], p=0.002'."""
    if summary is None:
        return "-"
    low, high = summary["ci95"]
    p = f"p<{2 / summary['replicates']:.2g}" if summary["p"] == 0 else f"p={summary['p']:.2g}"  # 2/B: the least p > 0
    return f"{signed_cell(summary['mean'])} [{low:.1f}, {high:.1f}], {p}"


def examples_tables(report: dict, sides: list, contrasts: list) -> list[str]:
    """Markdown lines of the per-example statistics: the paired bootstrap over test examples and every side's score
    on the contamination-clean subset beside its full score, per task, family and all tasks; a line saying which
    sides stored no per-example predictions."""
    rows, groups = report["tasks"], [*report["families"], *([report["all_tasks"]] if report["all_tasks"] else [])]
    with_predictions = [name for name in sides if any(name in r["clean"] for r in rows)]
    lines = []
    if len(with_predictions) < len(sides):
        lines += [
            "",
            "Per-example test predictions are not stored for: "
            + ", ".join(SIDE_TITLES[name] for name in sides if name not in with_predictions)
            + " (results from before runs stored them); those sides have no bootstrap and no clean-subset score.",
        ]
    tested = [c for c in contrasts if any(c in r["bootstrap"] for r in rows)]
    if tested:
        lines += [
            "",
            "Paired bootstrap over test examples (the fine-tuned models fixed; see the rule below):",
            "",
            "| task | " + " | ".join(contrast_title(c) for c in tested) + " |",
            "|---|" + "---|" * len(tested),
        ]
        lines += [
            f"| {r['task']} | " + " | ".join(bootstrap_cell(r["bootstrap"].get(c)) for c in tested) + " |" for r in rows
        ]
        lines += [
            f"| {g['family']} | " + " | ".join(bootstrap_cell(g["bootstrap"].get(c)) for c in tested) + " |"
            for g in groups
        ]
    clean_sides = [name for name in with_predictions if any(r["clean"].get(name) is not None for r in rows)]
    if clean_sides:
        lines += [
            "",
            "Contamination-clean test subsets: each side's score on the whole test set; on its clean subset "
            "(mean over the same seeds):",
            "",
            "| task | clean examples | "
            + " | ".join(f"{SIDE_TITLES[name]}: all; clean" for name in clean_sides)
            + " |",
            "|---|---|" + "---|" * len(clean_sides),
        ]
        for r in rows:
            counts = r["contamination"]
            lines.append(
                f"| {r['task']} | "
                + (f"{counts['clean']:,} of {counts['test_sequences']:,}" if counts else "-")
                + " | "
                + " | ".join(
                    f"{number_cell(r[name]['mean_as_scored'])}; {number_cell(r['clean'].get(name))}" if r[name] else "-"
                    for name in clean_sides
                )
                + " |"
            )
        for g in groups:
            lines.append(
                f"| {g['family']} | | "
                + " | ".join(
                    f"{number_cell(g['as_scored'].get(name))}; {number_cell(g['clean'].get(name))}"
                    for name in clean_sides
                )
                + " |"
            )
    if tested or clean_sides:
        lines += ["", BOOTSTRAP_RULE, "", CLEAN_RULE]
    return lines


def strand_table(rows: list) -> list[str]:
    """Markdown lines of the pretrained model's strand variants per task, with their mean over tasks; none when no
    variant was recorded."""
    columns = [
        ("averaged_at_test", "strands averaged at test"),
        ("augmented", "fine-tuned on both strands"),
        ("augmented_averaged_at_test", "both strands, averaged at test"),
    ]
    columns = [(key, title) for key, title in columns if any(r["strands"][key] for r in rows)]
    if not columns:
        return []
    lines = [
        "",
        f"Strands (pretrained model): {RC_AVERAGE}; fine-tuned on both strands: --rc_augment (a random "
        "strand per training example).",
        "",
        "| task | metric | pretrained | " + " | ".join(title for _, title in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    summaries = [[r["pretrained"], *(r["strands"][key] for key, _ in columns)] for r in rows]
    for r, row_summaries in zip(rows, summaries):
        lines.append(
            f"| {r['task']} | {r['metric']} | "
            + " | ".join(score_cell(summary) if summary else "-" for summary in row_summaries)
            + " |"
        )
    means = [[(summary or {}).get("mean") for summary in column] for column in zip(*summaries)]
    lines += [
        "| mean over tasks | | "
        + " | ".join(number_cell(mean_or_none(v)) if None not in v else "-" for v in means)
        + " |"
    ]
    titles = ["pretrained", *(title for _, title in columns)]
    seeds = {
        title: sorted({seed for summary in column if summary for seed in summary["seeds_run"]}, key=int)
        for title, column in zip(titles, zip(*summaries))
    }
    if len({tuple(v) for v in seeds.values()}) > 1:
        lines += ["", "Seeds: " + "; ".join(f"{title} {', '.join(v)}" for title, v in seeds.items()) + "."]
    return lines
