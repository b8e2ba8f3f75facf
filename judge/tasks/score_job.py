"""judge score and judge filter (with a judge) as one typed, picklable job: what the CLI makes
of its flags, what a --ray worker is sent (no click there), and what builds the task
(judge.tasks.build.score_task) for a whole input or for one shard."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from judge.calibration import Calibration
from judge.constitution import Constitution
from judge.engine.settings import Settings
from judge.io import FieldMap
from judge.judging.scoring import ScoreOptions
from judge.tasks.build import Source, score_task
from judge.tasks.judges import Judges, Warn
from judge.tasks.score import ScoreTask


@dataclass
class ScoreJob:
    """Everything a scoring task needs but its input."""

    cls: type[ScoreTask]
    constitution: Constitution
    settings: Settings
    judges: Judges
    options: ScoreOptions
    fields: FieldMap
    calibration: Calibration | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # FilterTask's rule and output

    def task(self, path: str, warn: Warn = lambda _: None) -> ScoreTask:
        return score_task(
            self.cls,
            self.constitution,
            Source(path),
            self.settings,
            self.judges,
            options=self.options,
            fields=self.fields,
            calibration=self.calibration,
            warn=warn,
            **self.extra,
        )

    def with_shared(self, shared: Any) -> ScoreJob:
        """The job with limits shared by a cluster's workers (judge.ray.permits)."""
        runner = replace(self.settings.runner, shared=shared)
        return replace(self, settings=replace(self.settings, runner=runner))
