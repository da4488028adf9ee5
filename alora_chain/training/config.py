"""Training settings: :class:`TrainConfig`, the one place their defaults are set, and the :class:`Schedule`
they resolve to for a file of a given size.

Kept apart from ``train.py`` (which imports torch) so that ``alora-chain train --help`` and
the option defaults it shows load in a fraction of a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidArgumentError

PRECISIONS = ("fp32", "bf16", "bf16-prefill")


@dataclass
class TrainConfig:
    """Hyper-parameters, the one place their defaults are set (``alora-chain train``'s options read them).

    Rank and layers follow the aLoRA paper (rank 32 aLoRA, rank 8 LoRA, q/k/v). The schedule
    adapts to the data's size (:meth:`schedule`): a file of 40 rows is passed over until
    ``min_steps`` steps, and a handful of validation rows only logs a loss.
    """

    kind: Literal["alora", "lora"] = "alora"  # aLoRA (prefix trick) or the standard LoRA baseline
    rank: int | None = None  # None: 32 for aLoRA, 8 for LoRA
    alpha: float | None = None  # None: 2 * rank
    epochs: int | None = None  # passes over the data; None: enough for min_steps steps, at least 2
    min_steps: int = 80  # optimiser steps a small file is repeated to reach (when epochs is None)
    lr: float = 1e-3  # peak learning rate, after warmup; a cosine decays it to a tenth
    batch_size: int = 8
    max_length: int = 1024  # tokens of the whole invocation sequence, target included
    seed: int = 0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")
    warmup_steps: int | None = None  # None: a tenth of the steps, at most 10
    eval_every: int = 0  # steps between validation passes; 0 = once per epoch
    patience: int = 2  # validation passes without improvement before stopping early
    # fewer validation rows than this: no early stopping and the last weights are kept (the loss
    # of a handful of rows is noise; it is logged); from this many on, the best weights are kept
    early_stop_rows: int = 50
    checkpoint_every: int = 25  # steps between resumable checkpoints
    val_fraction: float = 0.2  # held out from the training file when no validation file is given
    cache_prefixes: bool = True  # keep aLoRA prefix caches (fp16) across epochs: ~5 MB per 100-token example
    max_steps: int = 0  # stop (resumably) after this many steps in this run; 0 = run to the end
    # Start from another adapter's weights (an intrinsic or adapter folder with the same rank
    # and target modules) instead of zeros: transfer from a related intrinsic.
    init_from: str | None = None
    # "bf16": forward and backward under CPU autocast to bfloat16 (the adapter's weights and the
    # optimizer stay fp32). 1.3-1.6x faster here (AVX512-BF16: `python -m alora_chain.bench.training`);
    # a CPU without native bf16 may gain nothing. "bf16-prefill" (aLoRA): only the frozen prefix
    # prefill runs under bf16 autocast, most of a first epoch's time when the adapter reads a few
    # tokens; the adapter's forward and backward, and validation, stay fp32 as inference is.
    precision: Literal["fp32", "bf16", "bf16-prefill"] = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InvalidArgumentError(
                f"precision must be one of {', '.join(map(repr, PRECISIONS))}, not {self.precision!r}"
            )
        if self.precision == "bf16-prefill" and self.kind != "alora":
            raise InvalidArgumentError("precision 'bf16-prefill' is for aLoRA: a LoRA baseline has no frozen prefix")

    def resolved_rank(self) -> int:
        return self.rank or (32 if self.kind == "alora" else 8)

    def schedule(self, train_rows: int, val_rows: int) -> Schedule:
        """The run's length, warmup and stopping rule for this many training and validation rows.

        Example: the defaults on 32 training and 8 validation rows -> 4 steps per epoch,
        20 epochs (80 steps), 8 warmup steps, no early stopping; on 4,800 and 64 -> 600 steps
        per epoch, 2 epochs, 10 warmup steps, early stopping.
        """
        steps_per_epoch = max(1, math.ceil(train_rows / self.batch_size))
        epochs = self.epochs or max(2, math.ceil(self.min_steps / steps_per_epoch))
        total = epochs * steps_per_epoch
        warmup = self.warmup_steps if self.warmup_steps is not None else max(1, min(10, total // 10))
        return Schedule(epochs, steps_per_epoch, warmup, early_stopping=val_rows >= self.early_stop_rows)


@dataclass(frozen=True)
class Schedule:
    """How long a run trains, resolved from a :class:`TrainConfig` and the data's size."""

    epochs: int
    steps_per_epoch: int
    warmup_steps: int
    early_stopping: bool  # stop when validation stops improving and keep the best weights; else the last

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch
