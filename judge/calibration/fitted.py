"""A calibration: what the judge's numbers mean in terms of human labels.

Fitted by `judge calibrate`, saved as `calibration.json`, applied by `--calibration FILE`:

- a map from the judge's number to a probability: for absolute labels, from the overall score to
  P(a human rates the item good); for pairwise labels, from the score margin (score a - score b)
  or the comparison's p_a to P(a human prefers a). Isotonic or logistic (Platt), whichever has the
  lower log-loss in cross-validation. Outputs stay within [0.001, 0.999]: a finite label set
  cannot justify certainty.
- principle weights: which principles predict the humans (non-negative logistic regression on the
  normalized principle scores, or their differences for pairs; the weights sum to 1). They can be
  copied into the constitution as `weight:` lines.
- absolute labels only: the precision the labels give to each score threshold, so that
  `judge filter --target-precision P` can pick the lowest threshold whose precision is >= P.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from judge.errors import ConfigError, InputError
from judge.io.tempfiles import write_text_atomic

FORMAT = "judge-calibration"
VERSION = 1
EPS = 1e-3  # probabilities are clipped to [EPS, 1 - EPS]
MIN_ITEMS = 10
TIE_TOLERANCE = 1e-9  # a score equal to a threshold up to this counts as reaching it


class CalibrationError(ConfigError):
    """A calibration that cannot be fitted, read or used here."""


@dataclass(frozen=True)
class ProbabilityMap:
    method: str  # "isotonic" | "logistic"
    x: tuple[float, ...] = ()  # isotonic: the step function's knots (linear in between)
    y: tuple[float, ...] = ()
    coef: float = 0.0  # logistic: p = 1 / (1 + exp(-(coef * x + intercept)))
    intercept: float = 0.0

    def __call__(self, x: Any) -> np.ndarray:
        values = np.asarray(x, dtype=float)
        if self.method == "isotonic":
            p = np.interp(values, self.x, self.y)  # constant beyond the ends, as sklearn's clip
        else:
            p = 1.0 / (1.0 + np.exp(-(self.coef * values + self.intercept)))
        return np.clip(p, EPS, 1.0 - EPS)

    def to_json(self) -> dict[str, Any]:
        if self.method == "isotonic":
            return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}
        return {"method": "logistic", "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbabilityMap:
        if data.get("method") == "isotonic":
            x, y = tuple(map(float, data["x"])), tuple(map(float, data["y"]))
            if not x or len(x) != len(y):
                raise ValueError("isotonic map needs x and y of the same, non-zero length")
            return cls("isotonic", x=x, y=y)
        if data.get("method") == "logistic":
            return cls("logistic", coef=float(data["coef"]), intercept=float(data["intercept"]))
        raise ValueError(f"unknown map method {data.get('method')!r}")


def _logit(p: float) -> float:
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def fit_map(x: np.ndarray, y: np.ndarray, w: np.ndarray, method: str) -> ProbabilityMap:
    """Fit one map to targets y in [0, 1] with weights w."""
    mean = float(np.average(y, weights=w))
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(x, y, sample_weight=w)
        return ProbabilityMap(
            "isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )
    if len(set(np.unique(y).tolist()) - {0.5}) < 2 or np.ptp(x) == 0:
        return ProbabilityMap("logistic", coef=0.0, intercept=_logit(mean))  # nothing to separate
    from sklearn.linear_model import LogisticRegression

    # Targets of 0.5 (human ties) become half a positive and half a negative.
    xs = np.concatenate([x, x])
    ys = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    ws = np.concatenate([w * y, w * (1.0 - y)])
    keep = ws > 0
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit(xs[keep].reshape(-1, 1), ys[keep], sample_weight=ws[keep])
    return ProbabilityMap(
        "logistic", coef=float(model.coef_[0][0]), intercept=float(model.intercept_[0])
    )


def log_loss(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(np.average(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)), weights=w))


def brier(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(np.average((p - y) ** 2, weights=w))


@dataclass
class FitData:
    """Rows to fit on; `group` ties the rows of one labelled item (ties and mirror images) so
    that cross-validation never trains on one copy of an item and tests on another."""

    x: np.ndarray
    y: np.ndarray  # 1: the human agrees / prefers a; 0: not; 0.5: a human tie
    w: np.ndarray
    group: np.ndarray

    @property
    def items(self) -> int:
        return len(np.unique(self.group))


def cross_validate(
    data: FitData, *, folds: int = 5, seed: int = 0
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Out-of-fold log-loss and Brier score of each method, and the out-of-fold predictions."""
    groups = np.unique(data.group)
    k = max(2, min(folds, len(groups)))
    order = np.random.default_rng(seed).permutation(len(groups)) % k
    fold_of_group = dict(zip(groups.tolist(), order.tolist(), strict=True))
    fold = np.array([fold_of_group[g] for g in data.group.tolist()])
    scores: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {}
    for method in ("isotonic", "logistic"):
        p = np.zeros_like(data.y)
        for f in range(k):
            test, train = fold == f, fold != f
            m = fit_map(data.x[train], data.y[train], data.w[train], method)
            p[test] = m(data.x[test])
        predictions[method] = p
        scores[method] = {
            "log_loss": log_loss(p, data.y, data.w),
            "brier": brier(p, data.y, data.w),
        }
    return scores, predictions


def choose_map(
    data: FitData, *, seed: int = 0
) -> tuple[ProbabilityMap, dict[str, dict[str, float]], np.ndarray]:
    """The method with the lower cross-validated log-loss (Brier breaks a tie), fitted on all
    the data; also the CV scores and that method's out-of-fold predictions."""
    if data.items < MIN_ITEMS:
        raise CalibrationError(
            f"too few judged items to fit a calibration ({data.items}; need {MIN_ITEMS}); "
            "label more items"
        )
    if len(set(np.unique(data.y).tolist()) - {0.5}) < 2:
        raise CalibrationError(
            "every label says the same thing, so there is nothing to calibrate against; "
            "the label set needs both good and bad items (or both preferences)"
        )
    cv, predictions = cross_validate(data, seed=seed)
    method = min(cv, key=lambda m: (round(cv[m]["log_loss"], 9), cv[m]["brier"]))
    return fit_map(data.x, data.y, data.w, method), cv, predictions[method]


def principle_weights(
    features: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    names: Sequence[str],
    *,
    intercept: bool,
    l2: float = 1e-3,
) -> dict[str, float] | None:
    """Non-negative logistic weights of each feature column, normalized to sum to 1.

    None when no principle carries any signal (every weight is zero). `intercept` is off for
    pairwise differences, where swapping a and b must swap the prediction.
    """
    from scipy.optimize import minimize

    n, p = features.shape
    if n == 0 or p == 0:
        return None
    total = float(w.sum())

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b0 = theta[:p], (theta[p] if intercept else 0.0)
        z = features @ beta + b0
        q = 1.0 / (1.0 + np.exp(-z))
        value = -np.sum(w * (y * _log_sigmoid(z) + (1.0 - y) * _log_sigmoid(-z))) / total
        value += l2 * float(beta @ beta)
        residual = w * (q - y) / total
        grad = np.concatenate([features.T @ residual + 2 * l2 * beta, [residual.sum()]])
        return value, grad if intercept else grad[:p]

    start = np.zeros(p + (1 if intercept else 0))
    bounds = [(0.0, None)] * p + ([(None, None)] if intercept else [])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    beta = np.maximum(result.x[:p], 0.0)
    if beta.sum() <= 1e-6:
        return None
    return {name: float(b / beta.sum()) for name, b in zip(names, beta, strict=True)}


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


@dataclass
class Calibration:
    kind: str  # "absolute" | "pairwise"
    input: str  # what the map reads: "score", "margin" (score a - score b) or "p_a"
    map: ProbabilityMap
    n: int  # judged items it was fitted on
    model: str
    constitution: dict[str, str]  # name, sha256
    cv: dict[str, dict[str, float]] = field(default_factory=dict)
    principle_weights: dict[str, float] | None = None
    thresholds: list[dict[str, float]] | None = None  # precision curve (absolute only)
    positive_label: float | None = None  # absolute: labels >= this count as good
    options: dict[str, Any] = field(default_factory=dict)  # how the judge was run
    created: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )
    source: str | None = None  # the file it was loaded from

    def probability(self, x: float | None) -> float | None:
        return None if x is None else float(self.map(x))

    def apply_score(self, score: float | None) -> float | None:
        """P(a human rates it good) for an overall score; absolute calibrations only."""
        if self.kind != "absolute":
            raise CalibrationError(
                f"{self.where}: this calibration was fitted on pairwise labels and maps score "
                "differences, not scores; use it with `judge pairs`, or calibrate on absolute "
                "labels (a response or text with a numeric label) for score and filter"
            )
        return self.probability(score)

    def apply_pair(
        self,
        *,
        score_a: float | None = None,
        score_b: float | None = None,
        p_a: float | None = None,
    ) -> float | None:
        """P(a human prefers a): from the two scores (score-mode calibrations) or from a
        comparison's p_a (compare-mode ones). None when the input is missing (unjudged)."""
        if self.kind != "pairwise":
            raise CalibrationError(
                f"{self.where}: this calibration was fitted on absolute labels; for pairs "
                "use apply_score on each response, or calibrate on pairwise labels"
            )
        if self.input == "p_a":
            if score_a is not None or score_b is not None:
                raise CalibrationError(
                    f"{self.where}: this calibration maps the comparison's p_a (calibrate "
                    "{opt:mode} compare); give p_a, or calibrate with {opt:mode} score for scores"
                )
            return self.probability(p_a)
        if p_a is not None:
            raise CalibrationError(
                f"{self.where}: this calibration maps score differences (calibrate {{opt:mode}} "
                "score); give the two scores, or calibrate with {opt:mode} compare for p_a"
            )
        if score_a is None or score_b is None:
            return None
        return self.probability(score_a - score_b)

    def threshold(self, precision: float) -> dict[str, float]:
        """The lowest score threshold whose precision on the labels is >= `precision`."""
        if self.kind != "absolute" or not self.thresholds:
            raise CalibrationError(
                f"{self.where}: {{opt:target_precision}} needs a calibration fitted on absolute "
                "labels (a response or text with a numeric label)"
            )
        reaching = [t for t in self.thresholds if t["precision"] >= precision - TIE_TOLERANCE]
        if not reaching:
            best = max(self.thresholds, key=lambda t: (t["precision"], -t["threshold"]))
            raise CalibrationError(
                f"no score threshold reaches precision {precision:g} on the labels of "
                f"{self.where} (the best is {best['precision']:.3f}, at score >= "
                f"{best['threshold']:.3f}); lower {{opt:target_precision}}, or give "
                f"{{opt:min_score}}"
            )
        return min(reaching, key=lambda t: t["threshold"])

    def check_use(
        self, *, sha256: str | None = None, model: str | None = None, force: bool = False
    ) -> list[str]:
        """Refuse a calibration fitted under another constitution (its probabilities are about
        other questions) unless `force`; return the warnings to show (another model's judge)."""
        fitted = str(self.constitution.get("sha256"))
        if sha256 is not None and sha256 != fitted and not force:
            raise CalibrationError(
                f"{self.where} was fitted under another constitution (sha256 {fitted}), not the "
                f"one given (sha256 {sha256}), so its probabilities do not hold for these scores: "
                "run judge calibrate again with this constitution, or add {opt:force} to apply it "
                "anyway"
            )
        return self.warnings(sha256=sha256, model=model)

    def warnings(self, *, sha256: str | None = None, model: str | None = None) -> list[str]:
        """What differs between the calibrated judge and the one about to be used."""
        out = []
        if sha256 is not None and sha256 != self.constitution.get("sha256"):
            out.append(
                f"the calibration {self.where} was fitted with another version of the "
                f"constitution (sha256 {str(self.constitution.get('sha256'))[:12]}, now "
                f"{sha256[:12]}); its probabilities may not hold: run judge calibrate again"
            )
        if model is not None and model != self.model:
            out.append(
                f"the calibration {self.where} was fitted for the judge {self.model}, not "
                f"{model}; its probabilities may not hold for another model"
            )
        return out

    @property
    def where(self) -> str:
        return self.source or "calibration"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created": self.created,
            "kind": self.kind,
            "input": self.input,
            "model": self.model,
            "constitution": self.constitution,
            "options": self.options,
            "n": self.n,
            "map": self.map.to_json(),
            "cross_validation": self.cv,
            "principle_weights": self.principle_weights,
            "positive_label": self.positive_label,
            "thresholds": self.thresholds,
        }

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> Calibration:
        where = source or "calibration"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError("not a calibration file (made by `judge calibrate`)", where=where)
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise InputError(
                f"calibration format version {data.get('version')!r} is newer than this judge "
                f"reads ({VERSION}); upgrade judge",
                where=where,
            )
        try:
            return cls(
                kind=str(data["kind"]),
                input=str(data["input"]),
                map=ProbabilityMap.from_json(data["map"]),
                n=int(data["n"]),
                model=str(data["model"]),
                constitution=dict(data["constitution"]),
                cv=dict(data.get("cross_validation") or {}),
                principle_weights=data.get("principle_weights"),
                thresholds=data.get("thresholds"),
                positive_label=data.get("positive_label"),
                options=dict(data.get("options") or {}),
                created=str(data.get("created", "")),
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"damaged calibration file ({type(exc).__name__}: {exc}); "
                "run judge calibrate again",
                where=where,
            ) from None


def save(calibration: Calibration, path: str | Path) -> None:
    """Write atomically: a crash never leaves half a calibration."""
    text = json.dumps(calibration.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(path, text)


def load_calibration(path: str | Path) -> Calibration:
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InputError("no such calibration file", where=path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the calibration file: {exc}", where=path) from None
    return Calibration.from_json(data, source=path)


def load_for(
    path: str | Path,
    *,
    kind: str | None = None,
    sha256: str | None = None,
    model: str | None = None,
    force: bool = False,
) -> tuple[Calibration, list[str]]:
    """Load a calibration for use (the `--calibration FILE` option): refuses one of the wrong
    kind or (unless `force`) of another constitution, and returns the warnings to show."""
    calibration = load_calibration(path)
    if kind is not None and calibration.kind != kind:
        use = {
            "absolute": "judge score and judge filter (scores of single responses)",
            "pairwise": "judge pairs (preferences between two responses)",
        }
        raise CalibrationError(
            f"{calibration.where}: this calibration was fitted on {calibration.kind} labels, "
            f"for {use.get(calibration.kind, calibration.kind)}; here it needs {kind} labels: "
            f"run judge calibrate on {kind} labels"
        )
    return calibration, calibration.check_use(sha256=sha256, model=model, force=force)
