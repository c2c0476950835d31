"""Scores over seeds: collapse detection, per-task means and sample sds, family averages, and the comparison of the
sides (pretrained, further pretrained, from scratch, the CNN and composition baselines) by paired tests over seeds."""

import statistics

import numpy as np
from scipy import stats

from dnabert2.benchmarks.gue_runner.examples import (
    BOOTSTRAP_RULE,
    bootstrap_differences,
    bootstrap_summary,
    check_alignment,
    score,
)
from dnabert2.benchmarks.gue_runner.settings import FAMILIES, family_of, metric_of
from dnabert2.finetuning.collapse import COLLAPSE_DEFINITION, is_collapsed
from dnabert2.runtime.errors import InputError

METRIC_NOTE = "Metric: MCC x100 for every task but virus_covid, macro F1 x100 for virus_covid (as in the paper)."

COLLAPSE_RULE = f"{COLLAPSE_DEFINITION}; left out of means and averages."

RC_AVERAGE = (
    "the same fine-tuned models, each test sequence scored as the mean of its own and its reverse "
    "complement's logits (--rc_average)"
)

STRANDS_NOTE = f"Strands averaged at test: {RC_AVERAGE}."

# The comparison's sides in column order, their titles, and the differences it tests (first minus second).
SIDES = ("pretrained", "further_pretrained", "from_scratch", "cnn", "composition")
SIDE_TITLES = {
    "pretrained": "pretrained",
    "further_pretrained": "further pretrained",
    "from_scratch": "from scratch",
    "cnn": "CNN baseline",
    "composition": "composition baseline",
}
CONTRASTS = (
    ("pretrained", "from_scratch"),
    ("pretrained", "cnn"),
    ("pretrained", "composition"),
    ("further_pretrained", "pretrained"),
)

MEANS_NOTE = (
    "Means: 'as scored' counts every run with the score it got (a collapsed run's MCC 0); 'collapsed left out' "
    "averages each side over its non-collapsed seeds only, which flatters a side that collapses (and leaves a task "
    "out of the averages where a side collapsed on every seed). The headline averages are as scored."
)

TEST_RULE = (
    "Test: paired t-test over the seeds both sides share (seed s of one side against seed s of the other; every run "
    "as scored, collapsed ones included): mean difference, 95 % confidence interval (t distribution, n - 1 degrees "
    "of freedom) and two-sided p; no test with fewer than 2 shared seeds or identical differences. Family and "
    "all-task rows: the same test on each seed's difference averaged over the group's tasks (when every task has the "
    "same seeds), which treats the tasks as fixed (seed noise in the average over these tasks, not how other tasks "
    "would go). p-values are per row, not corrected for the number of rows; with 3 seeds (2 degrees of freedom) "
    "intervals are wide and p > 0.05 is not evidence of no difference."
)

CLEAN_RULE = (
    "Clean subset: the test examples that neither occur in the pretraining corpus nor share a non-low-complexity "
    "k-mer with it (benchmarks/results/gue_contamination.md); each side's score there is its mean over the same seeds "
    "of the metric on those examples only, from the runs' stored per-example predictions (plain strand, as scored)."
)


def mean_or_none(values):
    """The mean of the values; None when there are none."""
    return statistics.fmean(values) if values else None


def sd_or_none(values):
    """The sample standard deviation of the values; None for fewer than two."""
    return statistics.stdev(values) if len(values) > 1 else None


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
        "task": task,
        "family": family_of(task) or "-",
        "metric": label,
        "mean": mean_or_none(values),
        "std": sd_or_none(values),
        "seeds": len(by_seed),
        "seeds_run": sorted(by_seed, key=int),
        "scores": scores,
        "collapsed_seeds": sorted((seed for seed, m in by_seed.items() if is_collapsed(m)), key=int),
        "status": "ok" if values else "collapsed",
    }


def side_summary(task: str, by_seed: dict) -> dict:
    """task_summary (collapsed seeds left out of "mean" and "std") plus every seed as scored: "scores_as_scored",
    "mean_as_scored", "std_as_scored"."""
    key, _ = metric_of(task)
    as_scored = {seed: 100 * m[key] for seed, m in by_seed.items()}
    return {
        **task_summary(task, by_seed),
        "scores_as_scored": as_scored,
        "mean_as_scored": mean_or_none(list(as_scored.values())),
        "std_as_scored": sd_or_none(list(as_scored.values())),
    }


def summarize(results: dict) -> tuple[list, list]:
    """Per-task summaries (task_summary) and per-family rows (family, ours, paper, tasks scored, tasks collapsed)."""
    rows = [task_summary(task, by_seed) for task, by_seed in sorted(results.items())]
    families = []
    for label, _, paper in FAMILIES:
        members = [row for row in rows if row["family"] == label]
        scored = [row["mean"] for row in members if row["mean"] is not None]
        if members:
            families.append(
                {
                    "family": label,
                    "mean": mean_or_none(scored),
                    "paper": paper,
                    "tasks": len(scored),
                    "collapsed_tasks": len(members) - len(scored),
                }
            )
    return rows, families


def paired_test(first: dict, second: dict) -> dict | None:
    """Paired t-test of first - second over the seeds both {seed: score} dicts share: the differences, their mean,
    95 % confidence interval, t, degrees of freedom and two-sided p (None, and "no_test" says why, without 2 shared
    seeds or with identical differences); None when no seed is shared."""
    seeds = sorted(set(first) & set(second), key=int)
    if not seeds:
        return None
    differences = [first[seed] - second[seed] for seed in seeds]
    result = {
        "seeds": seeds,
        "differences": differences,
        "mean": statistics.fmean(differences),
        "ci95": None,
        "t": None,
        "df": None,
        "p": None,
        "no_test": "1 seed"
        if len(seeds) < 2
        else "same difference on every seed"
        if len(set(differences)) < 2
        else None,
    }
    if not result["no_test"]:
        test = stats.ttest_rel([first[seed] for seed in seeds], [second[seed] for seed in seeds])
        interval = test.confidence_interval(0.95)
        result.update(
            ci95=[float(interval.low), float(interval.high)],
            t=float(test.statistic),
            df=int(test.df),
            p=float(test.pvalue),
        )
    return result


def group_summary(label: str, rows: list, sides: list) -> dict:
    """Averages of a group of task rows (a family or all tasks): every side as scored, with the paired tests on the
    per-seed task averages, and with collapsed seeds left out (over the tasks where no side collapsed entirely)."""
    complete = [name for name in sides if all(row[name] for row in rows)]  # sides run on every task of the group
    kept = [row for row in rows if all(row[name]["mean"] is not None for name in complete)]
    tests = {}
    for first, second in CONTRASTS:
        if first in complete and second in complete:
            seed_sets = {tuple(row["tests"][f"{first} - {second}"]["seeds"]) for row in rows}
            if len(seed_sets) == 1:
                (seeds,) = seed_sets
                tests[f"{first} - {second}"] = paired_test(
                    *(
                        {seed: mean_or_none([row[name]["scores_as_scored"][seed] for row in rows]) for seed in seeds}
                        for name in (first, second)
                    )
                )
            else:  # no per-seed average: the mean of the task differences, untested
                tests[f"{first} - {second}"] = {
                    "seeds": None,
                    "differences": None,
                    "ci95": None,
                    "t": None,
                    "df": None,
                    "p": None,
                    "mean": mean_or_none([row["tests"][f"{first} - {second}"]["mean"] for row in rows]),
                    "no_test": "tasks run with different seeds",
                }
    left_out = {name: mean_or_none([row[name]["mean"] for row in kept]) for name in complete}
    return {
        "family": label,
        "tasks": len(rows),
        "as_scored": {name: mean_or_none([row[name]["mean_as_scored"] for row in rows]) for name in complete},
        "tests": tests,
        "collapsed_left_out": left_out,
        "tasks_without_collapse": len(kept),
        "collapsed_left_out_differences": {
            f"{first} - {second}": left_out[first] - left_out[second]
            for first, second in CONTRASTS
            if left_out.get(first) is not None and left_out.get(second) is not None
        },
    }


def compare(
    sides: dict, augmented: dict | None = None, contamination: dict | None = None, predictions: dict | None = None
) -> dict:
    """Per task, family and over all tasks: each side's scores (``sides``: name in SIDES -> results; pretrained and
    from_scratch required) over the seeds pretrained and from scratch share, both kinds of means, the paired tests
    of CONTRASTS, the pretrained model's strand variants (test-time averaging; ``augmented``: fine-tuned on a
    random strand per example) and each test set's overlap with the pretraining corpus (``contamination``: the
    tasks of a gue_contamination.json report) with, where the runs stored them (``predictions``: side -> task -> seed
    -> arrays of store.read_predictions), each side's score on the contamination-clean subset and the paired
    bootstrap over test examples of CONTRASTS."""
    pretrained, scratch = sides["pretrained"], sides["from_scratch"]
    present = [name for name in SIDES if sides.get(name) is not None]
    rows, replicates = [], {}
    for task in sorted(set(pretrained) & set(scratch)):
        seeds = sorted(set(pretrained[task]) & set(scratch[task]), key=int)
        if not seeds:
            continue
        row = {"task": task, "family": family_of(task) or "-", "metric": metric_of(task)[1], "seeds": seeds}
        for name in SIDES:
            by_seed = {seed: sides[name][task][seed] for seed in seeds if seed in (sides.get(name) or {}).get(task, {})}
            row[name] = side_summary(task, by_seed) if by_seed else None
        row["tests"] = {
            f"{first} - {second}": paired_test(row[first]["scores_as_scored"], row[second]["scores_as_scored"])
            for first, second in CONTRASTS
            if row[first] and row[second]
        }
        both_strands = {seed: augmented[task][seed] for seed in seeds if seed in (augmented or {}).get(task, {})}
        row["strands"] = {
            "averaged_at_test": task_summary(task, {s: pretrained[task][s] for s in seeds}, True),
            "augmented": task_summary(task, both_strands) if both_strands else None,
            "augmented_averaged_at_test": task_summary(task, both_strands, True) if both_strands else None,
        }
        counts = (contamination or {}).get(task)
        row["contamination"] = (
            {key: value for key, value in counts.items() if not key.endswith("_indices")} if counts else None
        )
        row["clean"], row["bootstrap"], replicates[task] = example_level(
            row,
            {
                name: scored_on_test(task, (predictions or {}).get(name, {}).get(task, {}), sides.get(name))
                for name in SIDES
            },
            counts,
        )
        rows.append(row)
    families = [
        {**group_summary(label, members, present), **group_examples(members, replicates)}
        for label, _, _ in FAMILIES
        if (members := [row for row in rows if row["family"] == label])
    ]
    return {
        "metric_note": METRIC_NOTE,
        "means_note": MEANS_NOTE,
        "test_rule": TEST_RULE,
        "collapse_rule": f"{COLLAPSE_DEFINITION}.",
        "bootstrap_rule": BOOTSTRAP_RULE,
        "clean_rule": CLEAN_RULE,
        "sides": present,
        "tasks": rows,
        "families": families,
        "all_tasks": {**group_summary("all tasks", rows, present), **group_examples(rows, replicates)}
        if rows
        else None,
        "tasks_on_one_side_only": sorted(set(pretrained) ^ set(scratch)),
    }


def scored_on_test(task: str, stored: dict, results: dict | None) -> dict:
    """A side's stored predictions of a task (seed -> arrays); an error for a run scored on another split than test
    (whose predictions the contamination report's test indices would not fit)."""
    for seed in stored:
        split = (results or {}).get(task, {}).get(seed, {}).get("scored_split", "test")
        if split != "test":
            raise InputError(f"{task} seed {seed}: scored on the {split} split, not test.")
    return stored


def example_level(row: dict, stored: dict, counts: dict | None) -> tuple[dict, dict, dict]:
    """A task row's per-example statistics from its sides' stored test predictions (``stored``: side -> seed ->
    arrays; a side counts only when every seed of the row has them; all must reproduce their stored scores and share
    one label array, whose length must be the contamination report's test_sequences): (side -> score on the clean
    subset of ``counts``, or None; contrast -> bootstrap_summary; contrast -> resampled differences)."""
    metric = row["metric"]
    runs = {
        name: {seed: stored[name][seed] for seed in row[name]["scores_as_scored"]}
        for name in SIDES
        if row[name] and all(seed in stored[name] for seed in row[name]["scores_as_scored"])
    }
    if runs:
        labels = next(iter(next(iter(runs.values())).values()))["labels"]
        for name, by_seed in runs.items():
            check_alignment(by_seed, row[name]["scores_as_scored"], metric, labels)
        if counts and counts["test_sequences"] != len(labels):
            raise InputError(
                f"{row['task']}: the contamination report counts {counts['test_sequences']} test "
                f"sequences, the runs scored {len(labels)}: another test file."
            )
    clean = {
        name: mean_or_none(
            [
                value
                for arrays in by_seed.values()
                if (value := score(arrays["labels"], arrays["predictions"], metric, counts["clean_indices"]))
                is not None
            ]
        )
        if counts
        else None
        for name, by_seed in runs.items()
    }
    summaries, replicates = {}, {}
    for first, second in CONTRASTS:
        if first in runs and second in runs:
            seeds = sorted(set(runs[first]) & set(runs[second]), key=int)
            pair = [{seed: runs[name][seed] for seed in seeds} for name in (first, second)]
            observed = mean_or_none(
                [row[first]["scores_as_scored"][s] - row[second]["scores_as_scored"][s] for s in seeds]
            )
            replicates[f"{first} - {second}"] = bootstrap_differences(*pair, metric, row["task"])
            summaries[f"{first} - {second}"] = bootstrap_summary(observed, replicates[f"{first} - {second}"])
    return clean, summaries, replicates


def group_examples(rows: list, replicates: dict) -> dict:
    """Per-example statistics of a group of task rows: each side's mean clean-subset score (over the tasks, where
    every task has one) and each contrast's bootstrap of the tasks' mean difference (where every task has one)."""
    sides = [name for name in SIDES if rows and all(row["clean"].get(name) is not None for row in rows)]
    contrasts = [f"{a} - {b}" for a, b in CONTRASTS if all(f"{a} - {b}" in replicates[row["task"]] for row in rows)]
    return {
        "clean": {name: mean_or_none([row["clean"][name] for row in rows]) for name in sides},
        "bootstrap": {
            contrast: bootstrap_summary(
                mean_or_none([row["bootstrap"][contrast]["mean"] for row in rows]),
                np.mean([replicates[row["task"]][contrast] for row in rows], axis=0),
            )
            for contrast in contrasts
        },
    }
