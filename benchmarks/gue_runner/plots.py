"""Bar charts of the GUE results: per-task scores with sds, family averages beside the paper's, and the comparison
of the sides (pretrained, further pretrained, from scratch, CNN and composition baselines)."""

from dnabert2.benchmarks.gue_runner.statistics import SIDE_TITLES


def _figure(n_tasks: int, n_families: int, bars_per_task: int = 1):
    """A figure sized to what it shows: one panel per task group, a family panel only when there are families."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task_width = 1.2 + 0.35 * bars_per_task * max(n_tasks, 1)
    family_width = 1.2 + 0.7 * n_families if n_families else 0
    width = max(4.0, task_width + family_width + 0.8)
    if not n_families:
        fig, axis = plt.subplots(figsize=(width, 4.5))
        return plt, fig, [axis]
    fig, axes = plt.subplots(1, 2, figsize=(width, 4.5), gridspec_kw={"width_ratios": [task_width, family_width]})
    return plt, fig, list(axes)


def _bars(axis, xs, summaries, mean="mean", std="std", **style):
    """Bars of the mean scores (keys ``mean``, ``std``), sd error bars where there is one, and a red note where seeds
    collapsed: 'collapsed' where no seed scored, 'n collapsed' under a mean that counts collapsed runs."""
    axis.bar(xs, [r[mean] or 0 for r in summaries], **style)
    with_sd = [(x, r) for x, r in zip(xs, summaries) if r[std] is not None]
    if with_sd:
        axis.errorbar(
            [x for x, _ in with_sd],
            [r[mean] for _, r in with_sd],
            yerr=[r[std] for _, r in with_sd],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
    for x, r in zip(xs, summaries):
        if r[mean] is None or (mean != "mean" and r["collapsed_seeds"]):
            label = "collapsed" if r[mean] is None else f"{len(r['collapsed_seeds'])} collapsed"
            axis.text(x, 0, label, rotation=90, ha="center", va="bottom", fontsize=7, color="tab:red")


def _task_ticks(axis, xs, names):
    slanted = len(names) > 3
    axis.set_xticks(xs, names, rotation=60 if slanted else 0, ha="right" if slanted else "center")


def plot(rows, families, path):
    """Bar chart of per-task scores (sd as error bars), and of family averages next to the paper's."""
    plt, fig, axes = _figure(len(rows), len(families))
    x = list(range(len(rows)))
    _bars(axes[0], x, rows, color="tab:blue")
    _task_ticks(axes[0], x, [r["task"] for r in rows])
    axes[0].set_ylabel("score x100 (MCC; F1 for virus_covid)")
    axes[0].set_title("Per task (test split)")
    if families:
        fx = range(len(families))
        axes[1].bar([i - 0.2 for i in fx], [f["mean"] or 0 for f in families], width=0.4, label="this run")
        axes[1].bar([i + 0.2 for i in fx], [f["paper"] for f in families], width=0.4, label="DNABERT-2 117M (paper)")
        axes[1].set_xticks(list(fx), [f["family"] for f in families])
        axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))
        axes[1].set_title("Family averages")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_comparison(report: dict, path):
    """Per-task bars of every side as scored (sd as error bars, collapsed runs noted; a black tick at its score on
    the contamination-clean subset where known), and the as-scored family averages."""
    rows, families = report["tasks"], report["families"]
    sides = [name for name in report["sides"] if all(r[name] for r in rows)]
    plt, fig, axes = _figure(len(rows), len(families), bars_per_task=len(sides))
    x = list(range(len(rows)))
    colors = {
        "pretrained": "tab:blue",
        "further_pretrained": "tab:purple",
        "from_scratch": "tab:orange",
        "cnn": "tab:green",
        "composition": "tab:gray",
    }
    width = 0.8 / len(sides)
    marked = False
    for k, name in enumerate(sides):
        positions = [i + (k - (len(sides) - 1) / 2) * width for i in x]
        _bars(
            axes[0],
            positions,
            [r[name] for r in rows],
            mean="mean_as_scored",
            std="std_as_scored",
            width=width,
            color=colors[name],
            label=SIDE_TITLES[name],
        )
        clean = [
            (position, r["clean"].get(name)) for position, r in zip(positions, rows) if r["clean"].get(name) is not None
        ]
        if clean:
            axes[0].plot(
                *zip(*clean), "k_", markersize=5, label=None if marked else "on the contamination-clean subset"
            )
            marked = True
    _task_ticks(axes[0], x, [r["task"] for r in rows])
    axes[0].set_ylabel("score x100 (MCC; F1 for virus_covid)")
    axes[0].set_title("Per task, every run as scored")
    axes[0].legend(fontsize=7, ncol=len(sides) + 1, loc="lower left", bbox_to_anchor=(0, 1))  # above, clear of the bars
    if families:
        fx = range(len(families))
        for k, name in enumerate(sides):
            axes[1].bar(
                [i + (k - (len(sides) - 1) / 2) * width for i in fx],
                [f["as_scored"].get(name) or 0 for f in families],
                width=width,
                color=colors[name],
            )
        axes[1].set_xticks(list(fx), [f["family"] for f in families])
        axes[1].set_title("Family averages, as scored")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
