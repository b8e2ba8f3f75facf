"""judge distill and judge filter --classifier for the Python API (judge.Session.distill and
.classify): records, a DataFrame or a Dataset in, the same kind out. No model is called."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson

from judge.by_kind import Filtered
from judge.commands import fields_of
from judge.io import RowWriter
from judge.io.tables import Kind, like, records_of
from judge.options import options_of


@contextmanager
def _as_file(data: Any) -> Iterator[tuple[str, Kind]]:
    """`data` as a JSON Lines file (the commands stream files), and the kind of table it was."""
    rows, kind = records_of(data)
    with tempfile.TemporaryDirectory(prefix=".judge-api-") as tmp:
        path = os.path.join(tmp, "rows.jsonl")
        with open(path, "wb") as f:
            for row in rows:
                f.write(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        yield path, kind


def distill(data: Any, output_dir: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    """Train the classifier on scored rows and write MODEL_DIR; its meta.json as a dict."""
    from judge.calibration import load_for
    from judge.distill import DistillOptions, FastTextSettings, choose_rule
    from judge.distill import distill as run

    calibration = kw.get("calibration")
    if isinstance(calibration, str | Path):
        calibration, _ = load_for(calibration, kind="absolute")
    rule = choose_rule(
        min_score=kw.get("min_score"),
        keep_top=kw.get("keep_top"),
        target_precision=kw.get("target_precision"),
        calibration=calibration,
    )
    fasttext = options_of(FastTextSettings, kw)
    options = options_of(DistillOptions, kw, rule=rule, fields=fields_of(kw), fasttext=fasttext)
    with _as_file(data) as (path, _):
        return run(path, output_dir, options).meta


def classify(data: Any, model_dir: str, kw: Mapping[str, Any]) -> Any:
    """The rows a distilled classifier keeps (`min_prob` or `keep_top`), each with
    `classifier_prob`; `rejected=True`: a Filtered, the kept rows and the dropped ones."""
    from judge.distill import model_dir as models
    from judge.distill.classify import ClassifierFilter
    from judge.tasks.driver import RowList

    model = models.load(os.path.abspath(model_dir))
    learnt = model.meta.get("text", {}).get("fields", {})
    # Field names not given are the ones the classifier was distilled with.
    parts = ("text", "prompt", "response")
    names = {f"{part}_field": learnt[part] for part in parts if part in learnt}
    job = ClassifierFilter(
        model,
        min_prob=kw.get("min_prob"),
        keep_top=kw.get("keep_top"),
        fields=fields_of({**names, **kw}),
        processes=kw.get("processes") or 1,
    )
    kept, dropped = RowList(), RowList()
    with _as_file(data) as (path, kind):
        job.run(path, cast(RowWriter, kept), cast(RowWriter, dropped))
    if not kw.get("rejected"):
        return like(kept.rows, kind)
    return Filtered(like(kept.rows, kind), like(dropped.rows, kind))
