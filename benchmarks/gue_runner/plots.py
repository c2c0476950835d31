"""Bar charts of the GUE results: per-task scores with sds, family averages beside the paper's, and the
pretrained vs from-scratch (and CNN) comparison."""


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


def _bars(axis, xs, summaries, **style):
    """Bars of the mean scores, sd error bars where there is one, 'collapsed' where there is no score."""
    axis.bar(xs, [r["mean"] or 0 for r in summaries], **style)
    with_sd = [(x, r) for x, r in zip(xs, summaries) if r["std"] is not None]
    if with_sd:
        axis.errorbar([x for x, _ in with_sd], [r["mean"] for _, r in with_sd], yerr=[r["std"] for _, r in with_sd],
                      fmt="none", ecolor="black", capsize=3)
    _mark_collapsed(axis, [x for x, r in zip(xs, summaries) if r["mean"] is None])


def _task_ticks(axis, xs, names):
    slanted = len(names) > 3
    axis.set_xticks(xs, names, rotation=60 if slanted else 0, ha="right" if slanted else "center")


def _mark_collapsed(axis, xs):
    for x in xs:
        axis.text(x, 0, "collapsed", rotation=90, ha="center", va="bottom", fontsize=7, color="tab:red")


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
    """Per-task pretrained and from-scratch bars (sd as error bars), and family averages."""
    rows, families = report["tasks"], report["families"]
    plt, fig, axes = _figure(len(rows), len(families), bars_per_task=2)
    x = list(range(len(rows)))
    sides = [("pretrained", "tab:blue"), ("from_scratch", "tab:orange")]
    sides += [("cnn", "tab:green")] if rows and all(r["cnn"] for r in rows) else []
    width = 0.8 / len(sides)
    for k, (name, color) in enumerate(sides):
        empty = {"mean": None, "std": None, "collapsed_seeds": []}
        _bars(axes[0], [i + (k - (len(sides) - 1) / 2) * width for i in x], [r[name] or empty for r in rows],
              width=width, color=color, label="CNN baseline" if name == "cnn" else name.replace("_", " "))
    _task_ticks(axes[0], x, [r["task"] for r in rows])
    axes[0].set_ylabel("score x100 (MCC; F1 for virus_covid)")
    axes[0].set_title("Pretrained vs from scratch, per task")
    axes[0].legend(fontsize=7)
    if families:
        fx = range(len(families))
        for k, (name, color) in enumerate(sides):
            axes[1].bar([i + (k - (len(sides) - 1) / 2) * width for i in fx],
                        [f[name] if f[name] is not None else 0 for f in families], width=width, color=color)
        axes[1].set_xticks(list(fx), [f["family"] for f in families])
        axes[1].set_title("Family averages")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
