"""The embedded default task: which of 7 organisms does a 100-bp fragment come from?

Built from the committed ``benchmarks/data/multispecies_mini.fa`` (7 x ~20 kb of real sequence), so the main job
runs on a machine with nothing but this repository. Each record is cut into three regions (70 % train,
15 % dev, 15 % test) so that no fragment of one split overlaps another.
"""

import csv
from pathlib import Path

from dnabert2.data.alphabet import is_acgt
from dnabert2.data.fasta import read_fasta

DEFAULT_FASTA = Path(__file__).resolve().parents[1] / "data" / "multispecies_mini.fa"  # package data
FRAGMENT_BP = 100
TRAIN_STRIDE_BP = 50


def write_species_task(output_dir, fasta=DEFAULT_FASTA) -> Path:
    """Write train.csv / dev.csv / test.csv (sequence,label) into ``output_dir``; labels are record indices."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "dev": [], "test": []}
    for label, record in enumerate(read_fasta(fasta)):
        sequence = record.sequence
        cut_train, cut_dev = int(len(sequence) * 0.70), int(len(sequence) * 0.85)
        regions = {
            "train": (0, cut_train, TRAIN_STRIDE_BP),
            "dev": (cut_train, cut_dev, FRAGMENT_BP),
            "test": (cut_dev, len(sequence), FRAGMENT_BP),
        }
        for split, (start, end, stride) in regions.items():
            for offset in range(start, end - FRAGMENT_BP + 1, stride):
                fragment = sequence[offset : offset + FRAGMENT_BP]
                if is_acgt(fragment):
                    rows[split].append((fragment, label))
    for split, split_rows in rows.items():
        with open(output_dir / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            writer.writerows(split_rows)
    return output_dir
