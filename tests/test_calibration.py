"""Calibration: simulated judges with a known bias are corrected; the file round-trips."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from judge.calibration import (
    Calibration,
    CalibrationError,
    ProbabilityMap,
    load_calibration,
    load_for,
    save,
)
from judge.calibration.agreement import label_scale
from judge.calibration.fitted import (
    EPS,
    FORMAT,
    FitData,
    brier,
    choose_map,
    fit_map,
    principle_weights,
)
from judge.calibration.fitting import fit
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, PairItem
from judge.calibration.metrics import precision_curve
from judge.constitution import parse
from judge.errors import InputError, as_flag

CONSTITUTION = parse(
    "name: two\nscale: 1-5\n\n## useful\nIs it useful?\n\n## polite\nIs it polite?\n"
)
GRID = np.linspace(0.05, 0.95, 19)


def simulate(n: int, distort: object, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities p; the judge reports distort(p); the humans agree with probability p."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(float)
    return distort(p), y  # type: ignore[operator]


def data(x: np.ndarray, y: np.ndarray) -> FitData:
    return FitData(x, y, np.ones(len(x)), np.arange(len(x)))


def test_isotonic_recovers_a_monotone_distortion() -> None:
    # An overconfident judge at the low end: it says p^3 when the truth is p.
    x, y = simulate(4000, lambda p: p**3)
    fitted, cv, out_of_fold = choose_map(data(x, y))
    assert fitted.method == "isotonic"
    assert cv["isotonic"]["log_loss"] < cv["logistic"]["log_loss"]
    assert np.abs(fitted(GRID**3) - GRID).max() < 0.08
    # Held-out calibrated probabilities beat the raw ones.
    assert brier(out_of_fold, y, np.ones(len(y))) < brier(x, y, np.ones(len(y))) - 0.01


def test_logistic_recovers_a_logistic_judge() -> None:
    # The truth is sigmoid(6 s - 3) of the judge's score s.
    rng = np.random.default_rng(1)
    s = rng.random(5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(6 * s - 3)))).astype(float)
    m = fit_map(s, y, np.ones(len(s)), "logistic")
    assert m.coef == pytest.approx(6, abs=0.6) and m.intercept == pytest.approx(-3, abs=0.35)
    chosen, _, _ = choose_map(data(s, y))
    assert np.abs(chosen(GRID) - 1 / (1 + np.exp(-(6 * GRID - 3)))).max() < 0.08


def test_map_outputs_stay_off_certainty_and_round_trip() -> None:
    iso = ProbabilityMap("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))
    assert iso(-5) == pytest.approx(EPS) and iso(5) == pytest.approx(1 - EPS)
    assert iso(0.25) == pytest.approx(0.25)  # linear between knots
    logistic = ProbabilityMap("logistic", coef=2.0, intercept=-1.0)
    assert logistic(0.5) == pytest.approx(0.5)
    for mp in (iso, logistic):
        assert ProbabilityMap.from_json(json.loads(json.dumps(mp.to_json()))) == mp


def test_too_few_items_or_one_class_cannot_be_calibrated() -> None:
    with pytest.raises(CalibrationError, match="too few"):
        choose_map(data(np.arange(5) / 5, np.array([0, 1, 0, 1, 1.0])))
    with pytest.raises(CalibrationError, match="same thing"):
        choose_map(data(np.arange(20) / 20, np.ones(20)))


def test_principle_weights_find_the_principle_that_predicts_the_humans() -> None:
    rng = np.random.default_rng(2)
    useful, polite = rng.normal(size=3000), rng.normal(size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-2 * useful))).astype(float)
    w = principle_weights(
        np.c_[useful, polite], y, np.ones(3000), ["useful", "polite"], intercept=False
    )
    assert w is not None and w["useful"] > 0.95 and sum(w.values()) == pytest.approx(1)
    # A principle that goes against the humans gets weight 0, not a negative one.
    w = principle_weights(
        np.c_[useful, -useful + 0.1 * polite], y, np.ones(3000), ["u", "anti"], intercept=True
    )
    assert w == {"u": 1.0, "anti": 0.0}


def test_precision_curve_and_threshold_by_hand() -> None:
    curve = precision_curve([0.2, 0.4, 0.6, 0.8], [False, True, True, True])
    assert [(c["threshold"], c["precision"], c["recall"], c["kept"]) for c in curve] == [
        (0.8, 1.0, 1 / 3, 0.25),
        (0.6, 1.0, 2 / 3, 0.5),
        (0.4, 1.0, 1.0, 0.75),
        (0.2, 0.75, 1.0, 1.0),
    ]
    cal = calibration(thresholds=curve)
    assert cal.threshold(0.9)["threshold"] == 0.4  # the lowest threshold reaching 0.9
    assert cal.threshold(0.75)["threshold"] == 0.2  # exactly 0.75 reaches 0.75
    curve = precision_curve([0.3, 0.5, 0.9], [True, False, False])
    with pytest.raises(CalibrationError, match=r"best is 0\.333"):
        calibration(thresholds=curve).threshold(0.5)


def calibration(**kw: object) -> Calibration:
    base: dict[str, object] = {
        "kind": "absolute",
        "input": "score",
        "map": ProbabilityMap("logistic", coef=4.0, intercept=-2.0),
        "n": 50,
        "model": "fake/j",
        "constitution": {"name": "two", "sha256": CONSTITUTION.sha256},
    }
    base.update(kw)
    return Calibration(**base)  # type: ignore[arg-type]


def test_apply_hooks() -> None:
    absolute = calibration()
    assert absolute.apply_score(0.5) == pytest.approx(0.5)
    assert absolute.apply_score(None) is None
    with pytest.raises(CalibrationError, match="absolute labels"):
        absolute.apply_pair(score_a=0.5, score_b=0.2)
    margin = calibration(kind="pairwise", input="margin")
    assert margin.apply_pair(score_a=0.75, score_b=0.25) == pytest.approx(float(margin.map(0.5)))
    assert margin.apply_pair(score_a=0.75, score_b=None) is None
    with pytest.raises(CalibrationError, match="score differences"):
        margin.apply_pair(p_a=0.7)
    with pytest.raises(CalibrationError, match="pairwise labels"):
        margin.apply_score(0.5)
    p_a = calibration(kind="pairwise", input="p_a")
    assert p_a.apply_pair(p_a=0.5) == pytest.approx(0.5)
    with pytest.raises(CalibrationError, match="p_a"):
        p_a.apply_pair(score_a=0.1, score_b=0.2)


def test_file_round_trip_and_warnings(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    cal = calibration(principle_weights={"useful": 0.7, "polite": 0.3}, positive_label=1.0)
    save(cal, path)
    loaded = load_calibration(path)
    assert loaded.to_json() == cal.to_json()
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["version"] == 1
    assert loaded.warnings(sha256=CONSTITUTION.sha256, model="fake/j") == []
    warnings = loaded.warnings(sha256="0" * 64, model="openai/gpt-4o")
    assert len(warnings) == 2
    assert "another version of the constitution" in warnings[0] and str(path) in warnings[0]
    assert "fake/j, not openai/gpt-4o" in warnings[1]
    with pytest.raises(CalibrationError, match="fitted on absolute labels"):
        load_for(path, kind="pairwise")
    # Another constitution's calibration is refused, naming both sha256s and the way out.
    with pytest.raises(CalibrationError) as refused:
        load_for(path, kind="absolute", sha256="1" * 64)
    assert CONSTITUTION.sha256 in str(refused.value) and "1" * 64 in str(refused.value)
    assert "force=" in str(refused.value) and refused.value.exit_code == 2
    assert "--force" in refused.value.render(as_flag)  # as the CLI says it
    same, found = load_for(path, kind="absolute", sha256="1" * 64, force=True)
    assert same.kind == "absolute" and len(found) == 1
    # Another model only warns.
    assert len(loaded.check_use(sha256=CONSTITUTION.sha256, model="openai/gpt-4o")) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "not a calibration file"),
        (json.dumps({"format": FORMAT, "version": 99}), "newer than this judge reads"),
        (json.dumps({"format": FORMAT, "version": 1, "kind": "absolute"}), "damaged"),
        ("not json", "cannot read"),
    ],
)
def test_bad_calibration_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        load_calibration(path)
    assert info.value.where == str(path)
    with pytest.raises(InputError, match="no such calibration file"):
        load_calibration(tmp_path / "missing.json")


def pair_judgments(n: int, seed: int = 0) -> list[Judgment]:
    """A score-mode judge whose margin m gives P(humans prefer a) = sigmoid(5 m); principle
    `useful` carries the signal and `polite` is noise."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        ua, ub, pa, pb = (int(v) for v in rng.integers(1, 6, 4))
        margin = ((ua - 1) + (pa - 1) - (ub - 1) - (pb - 1)) / 8
        p = 1 / (1 + np.exp(-5 * (ua - ub) / 4))
        human = "a" if rng.random() < p else "b"
        item = PairItem(k, f"f:{k}", "q", "x", "y", human)
        out.append(
            Judgment(
                item,
                preference="a" if margin > 0 else "b" if margin < 0 else "tie",
                signal=margin,
                scores_a={"useful": ua, "polite": pa},
                scores_b={"useful": ub, "polite": pb},
            )
        )
    return out


def test_fit_on_pairwise_judgments_is_symmetric_and_weights_the_signal() -> None:
    judgments = pair_judgments(1500)
    result = fit(
        judgments,
        kind="pairwise",
        mode="score",
        constitution=CONSTITUTION,
        model="fake/j",
        options={"mode": "score"},
    )
    cal = result.calibration
    assert cal is not None and cal.input == "margin" and cal.n == 1500
    for m in (0.125, 0.25, 0.5):
        up = cal.probability(m)
        down = cal.probability(-m)
        assert up is not None and down is not None
        assert up == pytest.approx(1 - down, abs=0.02)  # a and b are treated alike
        assert up > 0.5
    assert cal.principle_weights is not None and cal.principle_weights["useful"] > 0.9
    assert cal.thresholds is None
    assert result.to_json()["fitted"] is True and result.raw_scores is not None


def test_fit_on_absolute_judgments_gives_thresholds() -> None:
    rng = np.random.default_rng(3)
    judgments = []
    for k in range(400):
        s = float(rng.integers(0, 5)) / 4
        label = float(rng.random() < 0.1 + 0.8 * s)
        item = AbsoluteItem(k, f"f:{k}", "q", "r", label)
        judgments.append(Judgment(item, score=s, scores={"useful": 1 + 4 * s, "polite": 3.0}))
    judgments.append(Judgment(AbsoluteItem(400, "f:400", "q", "r", 1.0), error="unjudged"))
    scale = label_scale([0, 1])
    result = fit(
        judgments,
        kind="absolute",
        mode="score",
        constitution=CONSTITUTION,
        model="fake/j",
        options={},
        scale=scale,
    )
    cal = result.calibration
    assert cal is not None and cal.n == 400 and cal.positive_label == 1.0
    assert cal.thresholds is not None and [t["threshold"] for t in cal.thresholds] == [
        1.0,
        0.75,
        0.5,
        0.25,
        0.0,
    ]
    low, high = cal.probability(0.0), cal.probability(1.0)
    assert low is not None and high is not None
    assert low == pytest.approx(0.1, abs=0.06) and high == pytest.approx(0.9, abs=0.06)
    assert cal.principle_weights == {"useful": pytest.approx(1.0), "polite": pytest.approx(0.0)}


def test_fit_without_both_classes_explains_itself() -> None:
    item = AbsoluteItem(0, "f:1", "q", "r", 1.0)
    judgments = [Judgment(item, score=0.5) for _ in range(20)]
    result = fit(
        judgments,
        kind="absolute",
        mode="score",
        constitution=CONSTITUTION,
        model="fake/j",
        options={},
        scale=label_scale([1.0]),
    )
    assert result.calibration is None and "same thing" in str(result.reason)
    assert result.to_json() == {"fitted": False, "reason": result.reason}


def absolute_judgments(slope: float, n: int = 400) -> list[Judgment]:
    """Judged items whose chance of a good label moves with the score by `slope`."""
    rng = np.random.default_rng(5)
    out = []
    for k in range(n):
        s = float(rng.integers(0, 5)) / 4
        label = float(rng.random() < 0.5 + slope * (s - 0.5))
        out.append(Judgment(AbsoluteItem(k, f"f:{k}", "q", "r", label), score=s))
    return out


@pytest.mark.parametrize(
    ("slope", "refused", "says"),
    [(-0.8, "inverted", "run against the humans"), (0.8, None, None)],
)
def test_a_judge_that_runs_against_the_humans_gets_no_calibration(
    slope: float, refused: str | None, says: str | None
) -> None:
    result = fit(
        absolute_judgments(slope),
        kind="absolute",
        mode="score",
        constitution=CONSTITUTION,
        model="fake/j",
        options={},
        scale=label_scale([0, 1]),
    )
    if refused is None:
        assert result.calibration is not None and result.refused is None
        assert result.calibration.map(1.0) > result.calibration.map(0.0)
        return
    assert result.calibration is None and result.refused == refused
    assert says in str(result.reason) and result.to_json()["refused"] == refused


def test_inverted_and_flat_maps_by_method() -> None:
    from judge.calibration.fitting import direction

    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0] * 4)
    rising = data(x, (x > 0.4).astype(float))
    falling = data(x, (x < 0.6).astype(float))
    flat = data(x, np.array([1.0, 0.0] * 10))
    for method in ("isotonic", "logistic"):
        assert direction(fit_map(rising.x, rising.y, rising.w, method), rising) is None
        assert direction(fit_map(falling.x, falling.y, falling.w, method), falling) == "inverted"
    assert direction(ProbabilityMap("isotonic", x=(0.0, 1.0), y=(0.5, 0.5)), flat) == "flat"
    assert direction(ProbabilityMap("logistic", coef=0.0), flat) == "flat"
    assert direction(ProbabilityMap("logistic", coef=-0.1), rising) == "inverted"


def test_figures_keep_every_mark_visible(tmp_path: Path) -> None:
    """scores.png: bars side by side, none over another; reliability.png: the legend outside
    the axes, over no point."""
    from judge.calibration import plots

    rng = np.random.default_rng(0)
    groups = [(f"label {k}", rng.uniform(0, 1, 40).tolist()) for k in range(1, 6)]
    fig = plots.score_figure(groups, xlabel="score", value_range=(0.0, 1.0), title="t")
    fig.canvas.draw()
    (ax,) = fig.axes
    spans = sorted((b.get_x(), b.get_x() + b.get_width()) for b in ax.patches if b.get_height())
    assert len(spans) > 10
    assert all(end <= start + 1e-12 for (_, end), (start, _) in itertools.pairwise(spans))

    y = (rng.random(500) < 0.7).astype(float)
    curves = [("raw", rng.random(500)), ("calibrated", np.full(500, 0.7))]
    fig = plots.reliability_figure(y, np.ones(500), curves, "t")
    fig.canvas.draw()
    (ax,) = fig.axes
    legend_box = fig.legends[0].get_window_extent()
    assert not legend_box.overlaps(ax.get_window_extent())
    plots.reliability_diagram(tmp_path / "r.png", y, np.ones(500), curves, "t")
    plots.score_histograms(tmp_path / "s.png", groups, xlabel="x", value_range=(0, 1), title="t")
    assert sorted(os.listdir(tmp_path)) == ["r.png", "s.png"]  # no temp file left
