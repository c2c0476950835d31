"""Data-parallel training on CPUs: what the Trainer needs to be told when no GPU is present."""

import os

import torch


def data_parallel_on_cpu(args) -> None:
    """Under a multi-process launcher (accelerate, torchrun) on a machine without CUDA, set ``args.use_cpu``.

    transformers' Trainer stays in ParallelMode.NOT_DISTRIBUTED on CPU unless ``use_cpu`` is set, and every process
    then trains alone on the whole data. With it, the processes form one DDP run over gloo. Call before
    ``TrainingArguments.__post_init__``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        args.use_cpu = True
