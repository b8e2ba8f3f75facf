"""Who judges a task's items: one model, a panel of judges (all of them) or a cascade (in turn).

`Judges` is the typed description the CLI (-m, --judges, --quorum, --cascade), judge.Session
and Ray workers give; `open_jury` makes its runners; `JudgedBy` is what tasks read of it (the
driver reads `runners`: their lifetime, progress, budget; rows read `model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from judge.cascade.model import Cascade, load
from judge.cascade.run import CascadeRun, check_mode, open_cascade
from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.engine.settings import Settings, make_runner
from judge.errors import ConfigError
from judge.panel.members import Judge, load_judges
from judge.panel.panel import Panel, make_panel

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Judges:
    """Who judges: the settings' one model (the default), a panel (two or more members: model
    names sharing the settings, or Judge specs with their own endpoints, or a judges file), or
    a cascade (cascade.json, or a Cascade), never both."""

    panel: tuple[str | Judge, ...] | str | Path = ()
    quorum: int | None = None
    cascade: str | Path | Cascade | None = None

    @classmethod
    def of(
        cls,
        models: Sequence[str] = (),
        judges: str | Path | Sequence[str | Judge] | None = None,
        quorum: int | None = None,
        cascade: str | Path | Cascade | None = None,
    ) -> Judges:
        """From the keywords: `models` (a panel when two or more), `judges` (a file or a list
        of members), `quorum`, `cascade`; ConfigError naming the options that clash."""
        if judges is not None and len(models) > 1:
            raise ConfigError(
                "give the panel's members with {opt:judges} or with several {opt:model}, not both"
            )
        panel: tuple[str | Judge, ...] | str | Path = tuple(models) if len(models) > 1 else ()
        if judges is not None:
            panel = judges if isinstance(judges, str | Path) else tuple(judges)
        if not panel and quorum is not None:
            raise ConfigError(
                "{opt:quorum} is for a panel: give several {opt:model}, or {opt:judges}"
            )
        if panel and cascade is not None:
            raise ConfigError(
                "{opt:cascade} names its own judges; drop the panel ({opt:model} repeated or "
                "{opt:judges}), or the cascade"
            )
        return cls(panel, quorum, cascade)

    def members(self) -> list[str | Judge]:
        if isinstance(self.panel, str | Path):
            return list(load_judges(self.panel))
        return list(self.panel)


@dataclass
class Jury:
    """Judges opened: the runner a task calls (a panel's or a cascade's first), and the panel or
    the cascade when there is one."""

    runner: Runner
    panel: Panel | None = None
    cascade: CascadeRun | None = None


def open_jury(
    judges: Judges,
    settings: Settings,
    *,
    mode: str = "score",
    constitution: Constitution | None = None,
    warn: Warn = lambda _: None,
) -> Jury:
    """The runners of `judges` (`mode`: score or compare, which a cascade's thresholds must
    match); `warn` hears what is worth saying but not refusing."""
    if judges.cascade is not None:
        where = str(judges.cascade) if not isinstance(judges.cascade, Cascade) else "cascade"
        cascade = judges.cascade if isinstance(judges.cascade, Cascade) else load(judges.cascade)
        check_mode(cascade, mode, where)
        sha = cascade.constitution.get("sha256")
        if constitution is not None and sha and sha != constitution.sha256:
            warn(
                f"warning: {where} was fitted under another constitution (sha256 "
                f"{str(sha)[:12]}, not {constitution.sha256[:12]}): its thresholds may not hold"
            )
        run = open_cascade(cascade, settings, require_key=settings.require_key)
        return Jury(run.runners[0], cascade=run)
    members = judges.members()
    if members:
        panel = make_panel(members, settings, judges.quorum)
        return Jury(panel.runners[0], panel=panel)
    return Jury(make_runner(settings, require_key=settings.require_key))


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
