"""Motifs from base-resolution attributions: tfmodisco-lite on the (N, 4, L) arrays ``dnabert2-explain --modisco``
writes, its results file and HTML report, and a plain summary (each pattern's seqlet count, position probability
matrix, contribution weight matrix and consensus)."""

import json
from pathlib import Path

import numpy as np

from dnabert2.data.alphabet import ACGT
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import write_text_atomic


def load_arrays(one_hot_path, attribution_path) -> tuple[np.ndarray, np.ndarray]:
    """The one-hot and hypothetical-contribution arrays (N, 4, L), checked to match."""
    arrays = []
    for path in (one_hot_path, attribution_path):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file (dnabert2-explain --modisco DIR writes ohe.npy and attr.npy).")
        array = np.load(path)
        arrays.append(array["arr_0"] if hasattr(array, "files") else array)
    onehot, contributions = arrays
    if onehot.ndim != 3 or onehot.shape[1] != 4 or onehot.shape != contributions.shape:
        raise InputError(f"Expected two arrays of shape (N, 4, L), got {onehot.shape} and {contributions.shape}.")
    return onehot.astype(np.float32), contributions.astype(np.float32)


def consensus(ppm: np.ndarray, threshold: float = 0.5) -> str:
    """A pattern's consensus: the most probable base per position, lower-case where its probability is under
    ``threshold``."""
    return "".join(ACGT[i] if p >= threshold else ACGT[i].lower() for i, p in zip(ppm.argmax(axis=1), ppm.max(axis=1)))


def find_motifs(
    onehot: np.ndarray,
    contributions: np.ndarray,
    output_dir,
    window: int | None = None,
    max_seqlets: int = 2000,
    sliding_window: int = 20,
    flank: int = 5,
    trim: int = 30,
    n_leiden: int = 2,
    min_metacluster_size: int = 100,
    report: bool = True,
    seqlet_fdr: float = 0.05,
) -> dict:
    """Run tfmodisco-lite on the central ``window`` bases (default: all) of (N, 4, L) arrays; write
    ``modisco_results.h5``, its HTML report (``report/``: logos of each pattern's CWM) and ``motifs.json`` /
    ``motifs.md`` (pattern, sign, seqlets, consensus, PPM and CWM); fewer than ``min_metacluster_size`` seqlets of a
    sign make no pattern; seqlets are called at false discovery rate ``seqlet_fdr``. Returns the summary."""
    import modiscolite

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    length = onehot.shape[2]
    window = min(window or length, length) // 2 * 2
    start = length // 2 - window // 2
    crop = slice(start, start + window)
    positive, negative = modiscolite.tfmodisco.TFMoDISco(
        one_hot=onehot[:, :, crop].transpose(0, 2, 1).copy(),
        hypothetical_contribs=contributions[:, :, crop].transpose(0, 2, 1).copy(),
        max_seqlets_per_metacluster=max_seqlets,
        sliding_window_size=sliding_window,
        flank_size=flank,
        trim_to_window_size=trim,
        target_seqlet_fdr=seqlet_fdr,
        n_leiden_runs=n_leiden,
        min_metacluster_size=min_metacluster_size,
    )
    results = output_dir / "modisco_results.h5"
    modiscolite.io.save_hdf5(str(results), positive, negative, window)
    patterns = []
    for sign, group in (("positive", positive), ("negative", negative)):
        for number, pattern in enumerate(group or []):
            ppm = np.asarray(pattern.sequence, np.float64)
            patterns.append(
                {
                    "pattern": f"{'pos' if sign == 'positive' else 'neg'}_patterns.pattern_{number}",
                    "sign": sign,
                    "seqlets": len(pattern.seqlets),
                    "consensus": consensus(ppm),
                    "ppm": ppm.round(4).tolist(),
                    "cwm": np.asarray(pattern.contrib_scores, np.float64).round(6).tolist(),
                }
            )
    summary = {"sequences": int(onehot.shape[0]), "window": window, "results": str(results), "patterns": patterns}
    if report:
        modiscolite.report.report_motifs(str(results), str(output_dir / "report"), "./", None, False)
        summary["report"] = str(output_dir / "report" / "motifs.html")
    write_text_atomic(output_dir / "motifs.json", json.dumps(summary, indent=1) + "\n")
    lines = [
        f"# tfmodisco-lite motifs ({summary['sequences']} sequences, central {window} bp)",
        "",
        "| pattern | sign | seqlets | consensus |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p['pattern']} | {p['sign']} | {p['seqlets']} | {p['consensus']} |" for p in patterns]
    write_text_atomic(output_dir / "motifs.md", "\n".join(lines) + "\n")
    return summary


def pwm_correlation(found: np.ndarray, planted: np.ndarray) -> tuple[float, int, bool]:
    """The best Pearson correlation between a found (W, 4) matrix and a planted (K, 4) one over every offset at
    which the planted motif lies whole inside the found one (or the found inside the planted), on both strands:
    (correlation, offset, reverse complement)."""
    best = (-1.0, 0, False)
    for reverse in (False, True):
        matrix = found[::-1, ::-1] if reverse else found
        short, long_ = (planted, matrix) if len(planted) <= len(matrix) else (matrix, planted)
        for offset in range(len(long_) - len(short) + 1):
            value = float(np.corrcoef(short.ravel(), long_[offset : offset + len(short)].ravel())[0, 1])
            if value > best[0]:
                best = (value, offset, reverse)
    return best
