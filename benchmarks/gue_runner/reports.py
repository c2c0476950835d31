"""Reports of GUE runs: results.{json,csv,md,png} of one folder and comparison.{json,md,png} of the sides."""

import csv
import json
from pathlib import Path

from dnabert2.benchmarks.gue_runner.plots import plot, plot_comparison
from dnabert2.benchmarks.gue_runner.statistics import (
    COLLAPSE_RULE, METRIC_NOTE, NOISE_RULE, RC_AVERAGE, STRANDS_NOTE, compare, mean_or_none, summarize, task_summary,
)
from dnabert2.benchmarks.gue_runner.store import read_results

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


def report_paths(output_dir: Path, stem: str) -> list[Path]:
    return [output_dir / f"{stem}.{ext}" for ext in ("json", "md", "csv", "png") if (output_dir / f"{stem}.{ext}").exists()]


def write_reports(results: dict, output_dir: Path, command: str, settings: dict | None = None) -> str:
    """Write results.json/.csv/.md and results.png; returns the markdown table."""
    rows, families = summarize(results)
    averaged = {task: task_summary(task, by_seed, strands_averaged=True) for task, by_seed in results.items()}
    with_averages = any(averaged.values())
    payload = {"command": command, "settings": settings, "results": results, "summary": rows, "families": families,
               "collapse_rule": COLLAPSE_RULE}
    (output_dir / "results.json").write_text(json.dumps(payload, indent=2))
    with open(output_dir / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({"task": r["task"], "family": r["family"], "metric": r["metric"],
                          "score": "collapsed" if r["mean"] is None else number_cell(r["mean"]),
                          "std": number_cell(r["std"]), "seeds": r["seeds"], "collapsed_seeds": len(r["collapsed_seeds"]),
                          "score_strands_averaged": number_cell((averaged[r["task"]] or {}).get("mean"))} for r in rows)
    extra = " strands averaged at test |" if with_averages else ""
    lines = [
        f"Command: `{command}`",
        "",
        "| task | family | metric | score x100 (mean ± sd over seeds) | seeds | collapsed seeds |" + extra,
        "|---|---|---|---|---|---|" + "---|" * with_averages,
        *[f"| {r['task']} | {r['family']} | {r['metric']} | {score_cell(r)} | {r['seeds']} | {collapsed_cell(r)} |"
          + (f" {score_cell(averaged[r['task']]) if averaged[r['task']] else '-'} |" if with_averages else "")
          for r in rows],
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
        lines += [f"| {f['family']} | {number_cell(f['mean'])} | {f['paper']:.2f} | {f['tasks']} | {f['collapsed_tasks']} |"
                  for f in families]
    table = "\n".join(lines) + "\n"
    (output_dir / "results.md").write_text(table)
    plot(rows, families, output_dir / "results.png")
    return table


def verdict(row: dict) -> str:
    sides = [name for name in ("pretrained", "from_scratch") if row[name]["mean"] is None]
    if sides:
        return "collapsed (" + ", ".join(name.replace("_", " ") for name in sides) + ")"
    if row["within_seed_noise"] is None:
        return "no noise estimate (< 2 seeds)"
    return "within seed noise" if row["within_seed_noise"] else "beyond seed noise"


def write_comparison(pretrained_dir, scratch_dir, output_dir, cnn_dir=None, augmented_dir=None) -> str:
    """Write comparison.json/.md/.png (pretrained vs from scratch, the CNN baseline when ``cnn_dir``, the strand
    table when test-time averages or ``augmented_dir`` are there) to output_dir; returns the markdown tables."""
    output_dir = Path(output_dir)
    (_, pretrained), (_, scratch) = read_results(pretrained_dir), read_results(scratch_dir)
    report = compare(pretrained, scratch, read_results(cnn_dir)[1] if cnn_dir else None,
                     read_results(augmented_dir)[1] if augmented_dir else None)
    report["pretrained_results"], report["from_scratch_results"] = str(pretrained_dir), str(scratch_dir)
    report["cnn_results"] = str(cnn_dir) if cnn_dir else None
    report["augmented_results"] = str(augmented_dir) if augmented_dir else None
    (output_dir / "comparison.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"Pretrained: `{pretrained_dir}`; from scratch (random init of the same config): `{scratch_dir}`.",
        "",
        "| task | family | metric | pretrained | from scratch | difference | verdict | seeds | CNN baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["tasks"]:
        difference = "-" if r["difference"] is None else f"{r['difference']:+.2f}"
        collapsed = [f"{name.replace('_', ' ')} seed {', '.join(r[name]['collapsed_seeds'])} collapsed"
                     for name in ("pretrained", "from_scratch")
                     if r[name]["collapsed_seeds"] and r[name]["mean"] is not None]  # partly collapsed
        lines.append(f"| {r['task']} | {r['family']} | {r['metric']} | {score_cell(r['pretrained'])} | "
                     f"{score_cell(r['from_scratch'])} | {difference} | {'; '.join([verdict(r), *collapsed])} | "
                     f"{', '.join(r['seeds'])} | {score_cell(r['cnn']) if r['cnn'] else '-'} |")
    if report["families"]:
        lines += ["", "| family | pretrained | from scratch | difference | tasks | tasks left out (collapsed) | "
                  "CNN baseline |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {f['family']} | {f['pretrained']:.2f} | {f['from_scratch']:.2f} | {f['difference']:+.2f} | "
                  f"{f['tasks']} | {f['collapsed_tasks']} | {number_cell(f['cnn'])} |" for f in report["families"]]
        overall = report["all_tasks"]
        lines += [f"| all tasks | {overall['pretrained']:.2f} | {overall['from_scratch']:.2f} | "
                  f"{overall['difference']:+.2f} | {overall['tasks']} | - | {number_cell(overall['cnn'])} |"]
    lines += strand_table(report["tasks"])
    lines += ["", "Scores x100, mean ± sample sd over the seeds both runs share. " + METRIC_NOTE,
              "", "Difference: pretrained minus from scratch. " + NOISE_RULE[0].upper() + NOISE_RULE[1:],
              "", COLLAPSE_RULE[0].upper() + COLLAPSE_RULE[1:]]
    if report["tasks_on_one_side_only"]:
        lines += ["", f"Left out (run on one side only): {', '.join(report['tasks_on_one_side_only'])}."]
    table = "\n".join(lines) + "\n"
    (output_dir / "comparison.md").write_text(table)
    plot_comparison(report, output_dir / "comparison.png")
    return table


def strand_table(rows: list) -> list[str]:
    """Markdown lines of the pretrained model's strand variants per task, with their mean over tasks; none when no
    variant was recorded."""
    columns = [("averaged_at_test", "strands averaged at test"), ("augmented", "fine-tuned on both strands"),
               ("augmented_averaged_at_test", "both strands, averaged at test")]
    columns = [(key, title) for key, title in columns if any(r["strands"][key] for r in rows)]
    if not columns:
        return []
    lines = ["", f"Strands (pretrained model): {RC_AVERAGE}; fine-tuned on both strands: --rc_augment (a random "
             "strand per training example).", "",
             "| task | metric | pretrained | " + " | ".join(title for _, title in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    summaries = [[r["pretrained"], *(r["strands"][key] for key, _ in columns)] for r in rows]
    for r, row_summaries in zip(rows, summaries):
        lines.append(f"| {r['task']} | {r['metric']} | "
                     + " | ".join(score_cell(summary) if summary else "-" for summary in row_summaries) + " |")
    means = [[(summary or {}).get("mean") for summary in column] for column in zip(*summaries)]
    lines += ["| mean over tasks | | " + " | ".join(number_cell(mean_or_none(v)) if None not in v else "-" for v in means) + " |"]
    titles = ["pretrained", *(title for _, title in columns)]
    seeds = {title: sorted({seed for summary in column if summary for seed in summary["seeds_run"]}, key=int)
             for title, column in zip(titles, zip(*summaries))}
    if len({tuple(v) for v in seeds.values()}) > 1:
        lines += ["", "Seeds: " + "; ".join(f"{title} {', '.join(v)}" for title, v in seeds.items()) + "."]
    return lines
