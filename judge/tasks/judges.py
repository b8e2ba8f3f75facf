"""Who judges a task's items: one runner, a panel of judges (all of them) or a cascade (in
turn); the driver reads `runners` (their lifetime, progress, budget) and rows read `model`."""

from __future__ import annotations

from collections.abc import Sequence

from judge.cascade.run import CascadeRun
from judge.engine.runner import Runner
from judge.panel.panel import Panel


class JudgedBy:
    """For a task with the fields `runner`, `panel` and `cascade` (at most one of the last two)."""

    runner: Runner
    panel: Panel | None
    cascade: CascadeRun | None

    @property
    def runners(self) -> Sequence[Runner]:
        if self.cascade is not None:
            return self.cascade.runners
        return [self.runner] if self.panel is None else self.panel.runners

    @property
    def model(self) -> str:
        if self.cascade is not None:
            return self.cascade.name
        return self.runner.backend.name if self.panel is None else self.panel.name
