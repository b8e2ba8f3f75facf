"""The summary's words: plurals, and the embedded model's figure, which must be the measured one."""

from __future__ import annotations

import json
from pathlib import Path

from judge.tasks.summary import EMBEDDED_AGREEMENT, EMBEDDED_JUDGED, embedded_note, plural
from judge.testing import FakeBackend

RESULTS = Path(__file__).parent.parent / "benchmarks" / "results" / "embedded_agreement.json"


def test_plural() -> None:
    assert plural(1, "candidate") == "1 candidate"
    assert plural(2, "candidate") == "2 candidates"
    assert plural(0, "retry", "retries") == "0 retries"


def test_the_embedded_note_quotes_the_measured_agreement() -> None:
    measured = json.loads(RESULTS.read_text())
    assert measured["exit_code"] == 0 and measured["n"] == EMBEDDED_JUDGED
    assert f"{measured['agreement']['value']:.0%}" == EMBEDDED_AGREEMENT


def test_only_the_embedded_default_gets_the_note() -> None:
    local = FakeBackend(model="smollm2")
    local.provider = "local"
    assert embedded_note(local) is not None and EMBEDDED_AGREEMENT in str(embedded_note(local))
    assert embedded_note(FakeBackend(model="smollm2")) is None  # another provider
    other = FakeBackend(model="/models/my-finetune.gguf")
    other.provider = "local"
    assert embedded_note(other) is None


def test_the_summary_shows_input_read_from_the_providers_prompt_cache() -> None:
    from judge.engine.stats import RunStats
    from judge.records import Usage
    from judge.tasks.summary import run_summary

    stats = RunStats(done=2, calls=2)
    stats.spent = Usage(calls=2, input_tokens=4000, cached_input_tokens=3000, output_tokens=80)
    assert "4000 in (3000 from the prompt cache) / 80 out tokens" in run_summary("scored", stats)
    stats.spent = Usage(calls=2, input_tokens=4000, output_tokens=80)
    assert "4000 in / 80 out tokens" in run_summary("scored", stats)
