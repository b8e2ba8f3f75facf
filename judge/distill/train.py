"""Training the fastText classifier: seeded, and robust to fastText's occasional NaN.

fastText's supervised training sometimes diverges ("Encountered NaN", most often with a high
learning rate on small or very separable data); we retry with half the learning rate, a few
times, and record what was used. With one thread (the default) training is reproducible for a
seed; more threads are faster but their updates race, so the model differs run to run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from judge.errors import ConfigError, JudgeError

NAN_RETRIES = 4  # after the first try, each with half the learning rate
# fastText takes one step a row (a document's gradient spread over its ~1,000 words and
# bigrams), so a few thousand long documents need more passes than fastText's 5 to move P(keep)
# off 0.5: auto_epochs gives about this many steps, in 5 to 50 passes.
AUTO_STEPS = 50_000
MIN_EPOCHS, MAX_EPOCHS = 5, 50


def auto_epochs(rows: int) -> int:
    return min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(AUTO_STEPS / max(rows, 1))))


# The hashed n-gram table is most of a model's size (bucket x dim x 4 bytes: 51 MB at 200,000 x
# 64). A training set has at most as many distinct bigrams as words, so a smaller table loses
# nothing on small data: 40 rows made a 51.6 MB model before.
MIN_BUCKET, MAX_BUCKET = 2_000, 200_000


def auto_bucket(words: int) -> int:
    """Rows of the n-gram table for a training file of `words` words."""
    return min(MAX_BUCKET, max(MIN_BUCKET, words))


class TrainingError(JudgeError):
    """fastText could not train a model (exit 1)."""


# The fields of FastTextSettings that fastText names otherwise.
_FASTTEXT_NAMES = {"word_ngrams": "wordNgrams", "min_count": "minCount", "threads": "thread"}


@dataclass(frozen=True)
class FastTextSettings:
    """fastText's supervised settings (its names in `kwargs`). Defaults: word bigrams, as DCLM's
    fastText filter; a hashed bigram table of at most 200k rows x 64 dimensions keeps the model
    under 60 MB (fewer rows on small data: auto_bucket); lr 0.5, as fastText's own default of
    0.1 leaves P(keep) near 0.5 on long documents (the average of 1,000 word and bigram vectors
    moves slowly), which makes --min-prob moot."""

    lr: float = 0.5
    epoch: int | None = None  # None: auto_epochs(training rows)
    dim: int = 64
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int | None = None  # None: auto_bucket(training words)
    threads: int = 1
    seed: int = 0

    def kwargs(self) -> dict[str, Any]:
        """fastText's keyword arguments: the fields, under fastText's names."""
        named = {_FASTTEXT_NAMES.get(k, k): v for k, v in self.to_json().items()}
        return {**named, "loss": "softmax", "verbose": 0}

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fasttext_module() -> Any:
    """The `fasttext` module, or a clear error naming the extra to install."""
    try:
        import fasttext
    except ImportError:
        raise ConfigError(
            "fastText is not installed: pip install 'judge[distill]' (the fasttext-community "
            "wheel, imported as fasttext)"
        ) from None
    return fasttext


def train(
    path: str,
    settings: FastTextSettings,
    *,
    train_fn: Callable[..., Any] | None = None,
) -> tuple[Any, FastTextSettings, int]:
    """Train on a fastText file (`__label__X text` lines): (model, settings used, attempts).

    `train_fn` replaces fasttext.train_supervised (tests use it to make NaN happen).
    """
    fn = train_fn or fasttext_module().train_supervised
    if settings.epoch is None or settings.bucket is None:
        raise ValueError("resolve the epochs and the bucket first (auto_epochs, auto_bucket)")
    current = settings
    for attempt in range(1, NAN_RETRIES + 2):
        try:
            return fn(input=path, **current.kwargs()), current, attempt
        except RuntimeError as exc:
            if "nan" not in str(exc).lower():
                raise TrainingError(f"fastText training failed: {exc}") from None
            if attempt > NAN_RETRIES:
                break
            current = dataclasses.replace(current, lr=current.lr / 2)
    raise TrainingError(
        f"fastText diverged (NaN) {NAN_RETRIES + 1} times, down to learning rate "
        f"{current.lr:g}; give a lower {{opt:lr}}, or fewer {{opt:epoch}}"
    )
