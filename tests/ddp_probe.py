"""Runs train/run_mlm.py under a launcher and records, per process, the windows it trained on and its final weights.

Used by tests/test_run_mlm.py: ``accelerate launch tests/ddp_probe.py <run_mlm flags>`` writes
``<output_dir>/probe-rank<R>.json`` with the world size, the training window indices drawn and a weight checksum.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnabert2.pretraining.masking import MaskedWindows  # noqa: E402
from dnabert2.pretraining.metrics import MaskedLMTrainer  # noqa: E402
from dnabert2.runtime.errors import run_command  # noqa: E402
from dnabert2.train import run_mlm  # noqa: E402

SEEN = []
_getitem, _train = MaskedWindows.__getitem__, MaskedLMTrainer.train


def recording_getitem(self, index):
    if not self.replace_all:  # training windows only
        SEEN.append(int(index))
    return _getitem(self, index)


def probing_train(self, *args, **kwargs):
    result = _train(self, *args, **kwargs)
    weights = {name: float(p.detach().double().sum()) for name, p in self.model.named_parameters()}
    rank = int(os.environ.get("RANK", "0"))
    Path(self.args.output_dir, f"probe-rank{rank}.json").write_text(
        json.dumps(
            {
                "world_size": self.args.world_size,
                "parallel_mode": str(self.args.parallel_mode),
                "seen": SEEN,
                "weights": weights,
            }
        )
    )
    return result


MaskedWindows.__getitem__ = recording_getitem
MaskedLMTrainer.train = probing_train

if __name__ == "__main__":
    run_command(run_mlm.main)
