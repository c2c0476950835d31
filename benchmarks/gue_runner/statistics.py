"""Scores over seeds: collapse detection, per-task means and sample sds, family averages, and the comparison of
two sides (pretrained vs from scratch, with the CNN baseline and the strand variants)."""

import statistics

from dnabert2.benchmarks.gue_runner.settings import FAMILIES, family_of, metric_of

METRIC_NOTE = "Metric: MCC x100 for every task but virus_covid, macro F1 x100 for virus_covid (as in the paper)."

COLLAPSE_RULE = (
    "collapsed: the test predictions fell into one class (MCC exactly 0 with accuracy equal to one class's share of "
    "the test labels; MCC exactly 0 for results stored without those shares); left out of means and averages."
)

RC_AVERAGE = ("the same fine-tuned models, each test sequence scored as the mean of its own and its reverse "
              "complement's logits (--rc_average)")

STRANDS_NOTE = f"Strands averaged at test: {RC_AVERAGE}."

NOISE_RULE = (
    "within seed noise: |mean difference| < the larger of the two sample standard deviations over seeds "
    "(needs at least 2 scored seeds on each side; seeds paired: only seeds present on both sides are compared)."
)


def is_collapsed(metrics: dict) -> bool:
    """True for a run whose test predictions all fell into one class (see COLLAPSE_RULE)."""
    if "collapsed" in metrics:
        return bool(metrics["collapsed"])
    if metrics.get("eval_matthews_correlation") != 0.0:
        return False
    shares, accuracy = metrics.get("test_class_shares"), metrics.get("eval_accuracy")
    return shares is None or accuracy is None or any(abs(accuracy - share) < 1e-9 for share in shares)


def mean_or_none(values):
    """The mean of the values; None when there are none."""
    return statistics.fmean(values) if values else None


def task_summary(task: str, by_seed: dict, strands_averaged: bool = False) -> dict | None:
    """Mean and sample sd (x100) of a task's score over its non-collapsed seeds; collapsed seeds listed apart.

    ``strands_averaged``: the score of the same models with each test sequence scored as the mean of both strands
    (``--rc_average``; seeds whose plain predictions collapsed stay out); None when a seed did not record it."""
    key, label = metric_of(task)
    if strands_averaged:
        key = key.replace("eval_", "eval_rc_average_", 1)
        if not by_seed or any(key not in m for m in by_seed.values()):
            return None
    scores = {seed: 100 * m[key] for seed, m in by_seed.items() if not is_collapsed(m)}
    values = list(scores.values())
    return {
        "task": task, "family": family_of(task) or "-", "metric": label,
        "mean": mean_or_none(values), "std": statistics.stdev(values) if len(values) > 1 else None,
        "seeds": len(by_seed), "seeds_run": sorted(by_seed, key=int), "scores": scores,
        "collapsed_seeds": sorted((seed for seed, m in by_seed.items() if is_collapsed(m)), key=int),
        "status": "ok" if values else "collapsed",
    }


def summarize(results: dict) -> tuple[list, list]:
    """Per-task summaries (task_summary) and per-family rows (family, ours, paper, tasks scored, tasks collapsed)."""
    rows = [task_summary(task, by_seed) for task, by_seed in sorted(results.items())]
    families = []
    for label, _, paper in FAMILIES:
        members = [row for row in rows if row["family"] == label]
        scored = [row["mean"] for row in members if row["mean"] is not None]
        if members:
            families.append({"family": label, "mean": mean_or_none(scored), "paper": paper, "tasks": len(scored),
                             "collapsed_tasks": len(members) - len(scored)})
    return rows, families


def compare(pretrained: dict, scratch: dict, cnn: dict | None = None, augmented: dict | None = None) -> dict:
    """Per task and family: pretrained and from-scratch scores, their difference and whether it is within seed noise,
    the CNN baseline's score where its results are given, and the strand variants of the pretrained model (test-time
    averaging; ``augmented``: fine-tuned on a random strand per example) where recorded; all over the shared seeds."""
    rows = []
    for task in sorted(set(pretrained) & set(scratch)):
        seeds = sorted(set(pretrained[task]) & set(scratch[task]), key=int)
        if not seeds:
            continue
        a = task_summary(task, {s: pretrained[task][s] for s in seeds})
        b = task_summary(task, {s: scratch[task][s] for s in seeds})
        difference = a["mean"] - b["mean"] if a["mean"] is not None and b["mean"] is not None else None
        noise = max(a["std"], b["std"]) if a["std"] is not None and b["std"] is not None else None
        within = None if difference is None or noise is None else abs(difference) < noise
        baseline = {s: cnn[task][s] for s in seeds if s in (cnn or {}).get(task, {})}
        both_strands = {s: augmented[task][s] for s in seeds if s in (augmented or {}).get(task, {})}
        strands = {"averaged_at_test": task_summary(task, {s: pretrained[task][s] for s in seeds}, True),
                   "augmented": task_summary(task, both_strands) if both_strands else None,
                   "augmented_averaged_at_test": task_summary(task, both_strands, True) if both_strands else None}
        rows.append({"task": task, "family": a["family"], "metric": a["metric"], "seeds": seeds, "pretrained": a,
                     "from_scratch": b, "difference": difference, "noise": noise, "within_seed_noise": within,
                     "cnn": task_summary(task, baseline) if baseline else None, "strands": strands})
    families = []
    for label, _, _ in FAMILIES:
        members = [row for row in rows if row["family"] == label]
        both = [row for row in members if row["difference"] is not None]
        if both:
            p, s = mean_or_none([r["pretrained"]["mean"] for r in both]), mean_or_none([r["from_scratch"]["mean"] for r in both])
            cnn_means = [r["cnn"]["mean"] for r in both if r["cnn"] and r["cnn"]["mean"] is not None]
            families.append({"family": label, "pretrained": p, "from_scratch": s, "difference": p - s, "tasks": len(both),
                             "collapsed_tasks": len(members) - len(both),
                             "cnn": mean_or_none(cnn_means) if len(cnn_means) == len(both) else None})
    both = [row for row in rows if row["difference"] is not None]
    overall = {"tasks": len(both), "pretrained": mean_or_none([r["pretrained"]["mean"] for r in both]),
               "from_scratch": mean_or_none([r["from_scratch"]["mean"] for r in both]),
               "difference": mean_or_none([r["difference"] for r in both])}
    cnn_means = [r["cnn"]["mean"] for r in both if r["cnn"] and r["cnn"]["mean"] is not None]
    overall["cnn"] = mean_or_none(cnn_means) if both and len(cnn_means) == len(both) else None
    unmatched = sorted(set(pretrained) ^ set(scratch))
    return {"metric_note": METRIC_NOTE, "noise_rule": NOISE_RULE, "collapse_rule": COLLAPSE_RULE, "tasks": rows,
            "families": families, "all_tasks": overall, "tasks_on_one_side_only": unmatched}
