"""The calibration report folder: report.md, report.json, reliability.png, scores.png and
judgments.jsonl (every labelled item with the judge's verdict, to read the disagreements)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judge.calibration import plots
from judge.calibration.agreement import DEFINITIONS, LabelScale
from judge.calibration.fitting import Fit
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, PairItem
from judge.io.tempfiles import write_text_atomic
from judge.io.values import _dumps, has_lone_surrogate
from judge.panel.report import markdown as panel_markdown

FILES = ("report.md", "report.json", "reliability.png", "scores.png", "judgments.jsonl")
# Landis and Koch's words for kappa, from the top: the first cut that kappa passes names it.
LANDIS_KOCH = (
    (0.8, "almost perfect"),
    (0.6, "substantial"),
    (0.4, "moderate"),
    (0.2, "fair"),
    (0.0, "slight"),
)


def write_judgments(
    path: Path, judgments: Sequence[Judgment], models: Sequence[str] | None = None
) -> None:
    """judgments.jsonl; `models` (one per judgment) names the judge of each, when several."""
    rows = [j.to_json() for j in judgments]
    for row, model in zip(rows, models or (), strict=False):
        row["model"] = model
    write_text_atomic(path, "".join(_dumps(row) + "\n" for row in rows))


def write_figures(
    folder: Path, fit: Fit, judgments: Sequence[Judgment], scale: LabelScale | None
) -> dict[str, str]:
    """Draw what the data allows; returns figure name -> file name."""
    out: dict[str, str] = {}
    if fit.data is not None and fit.raw is not None and len(fit.data.y):
        curves = [("judge, raw", fit.raw)]
        title = "Reliability: judge as is"
        if fit.calibrated is not None and fit.calibration is not None:
            curves.append(
                (f"calibrated ({fit.calibration.map.method}, out-of-fold)", fit.calibrated)
            )
            title = "Reliability: judge as is and calibrated (held-out folds)"
        plots.reliability_diagram(folder / "reliability.png", fit.data.y, fit.data.w, curves, title)
        out["reliability"] = "reliability.png"
    judged = [j for j in judgments if j.judged]
    if not judged:
        return out
    if isinstance(judged[0].item, AbsoluteItem):
        assert scale is not None
        groups = _absolute_groups(judged, scale)
        plots.score_histograms(
            folder / "scores.png",
            groups,
            xlabel="judge's overall score",
            value_range=(0.0, 1.0),
            title="Judge scores by human label",
        )
    else:
        compare = judged[0].compared
        groups = [
            (f"humans: {p}", [float(j.signal or 0.0) for j in judged if _pref(j) == p])
            for p in ("a", "tie", "b")
        ]
        plots.score_histograms(
            folder / "scores.png",
            groups,
            xlabel="judge's p_a (compare mode)" if compare else "score a - score b",
            value_range=(0.0, 1.0) if compare else (-1.0, 1.0),
            title="Judge's preference by human preference",
        )
    out["scores"] = "scores.png"
    return out


def _pref(j: Judgment) -> str | None:
    return j.item.preference if isinstance(j.item, PairItem) else None


def _absolute_groups(
    judged: Sequence[Judgment], scale: LabelScale
) -> list[tuple[str, list[float]]]:
    if scale.measure == "continuous":
        keys: list[tuple[str, Any]] = [("good", True), ("not good", False)]
        return [
            (f"label {name}", [float(j.score or 0) for j in judged if _good(j, scale) == value])
            for name, value in keys
        ]
    return [
        (f"label {v:g}", [float(j.score or 0) for j in judged if _label(j) == v])
        for v in scale.values
    ]


def _label(j: Judgment) -> float | None:
    return j.item.label if isinstance(j.item, AbsoluteItem) else None


def _good(j: Judgment, scale: LabelScale) -> bool:
    label = _label(j)
    return label is not None and scale.good(label)


def write_json(path: Path, report: dict[str, Any]) -> None:
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if has_lone_surrogate(text):  # not UTF-8: escaped as JSON allows
        text = json.dumps(report, indent=2)
    write_text_atomic(path, text + "\n")


# -- report.md ---------------------------------------------------------------------------------


def _v(x: Any) -> float | None:
    return x.get("value") if isinstance(x, dict) else x


def _ci(x: Any, digits: int = 2) -> str:
    if not isinstance(x, dict) or x.get("value") is None:
        return "n/a"
    if x.get("low") is None:
        return f"{x['value']:.{digits}f}"
    return f"{x['value']:.{digits}f} [{x['low']:.{digits}f}, {x['high']:.{digits}f}]"


def verdict(r: dict[str, Any]) -> list[str]:
    """Plain-language sentences on how far to trust the judge."""
    n = r["n"]
    if n == 0:
        return ["The judge could not judge any item, so nothing can be said about it."]
    out: list[str] = []
    if n < 50:
        out.append(
            f"Only {n} items were judged: the intervals are wide. Label more items (a few hundred) "
            "before relying on these figures."
        )
    kappa = r.get("cohen_kappa")
    if r["kind"] == "pairwise":
        out += _pairwise_verdict(r)
    else:
        stat = kappa if kappa is not None else r.get("spearman")
        name = "Cohen's kappa" if kappa is not None else "Spearman correlation"
        if stat is not None and stat.get("low") is not None and stat["low"] <= 0:
            out.append(
                f"**Not distinguishable from chance** ({name} {_ci(stat)}): do not use its scores "
                "as labels; try a stronger model or a sharper constitution."
            )
            kappa = None  # said: no need for the strength of agreement as well
        share, agree = _v(r.get("positive_rate")), _v(r.get("agreement"))
        scale = r.get("label_scale") or {}
        if scale.get("measure") == "binary" and share is not None and agree is not None:
            common = max(share, 1 - share)
            if agree < common:
                out.append(
                    f"It agrees with the labels less often ({agree:.2f}) than always giving the "
                    f"most common label would ({common:.2f})."
                )
    rho = r.get("spearman") or {}
    if rho.get("high") is not None and rho["high"] < 0:
        out.append(
            f"Its preferences run **against** the humans' (Spearman {_ci(rho)}): on these labels "
            "its verdicts are worse than a coin flip."
        )
    k = _v(kappa)
    if k is not None:
        word = next((w for cut, w in LANDIS_KOCH if k > cut), "none (no better than chance)")
        out.append(f"Chance-corrected agreement is {word} (Cohen's kappa {_ci(kappa)}).")
    human = r.get("human_agreement") or {}
    hh, hj = _v(human.get("mean_pairwise_agreement")), _v(human.get("judge_vs_annotators"))
    if hh is not None and hj is not None:
        out.append(
            f"Annotators agree with each other {_ci(human['mean_pairwise_agreement'])} of the "
            f"time; the judge agrees with a single annotator {_ci(human['judge_vs_annotators'])}: "
            + ("about as well as another annotator would." if hj >= hh - 0.05 else "below that.")
        )
    pc = _v(r.get("position_consistency"))
    if pc is not None and pc < 0.8:
        out.append(
            f"Its verdict changes when the two responses swap places in {1 - pc:.0%} of pairs "
            "(counted as ties): a strong position bias."
        )
    cal = r.get("calibration") or {}
    if cal.get("fitted") and cal.get("raw"):
        held_out = cal["cross_validation"][cal["method"]]["brier"]
        out.append(
            f"Read as probabilities, its raw numbers have a Brier score of "
            f"{cal['raw']['brier']:.3f}; calibrated ({cal['method']}), {held_out:.3f} on held-out "
            "items. Use `--calibration` to get probabilities that mean what they say."
        )
    elif cal and not cal.get("fitted"):
        out.append(f"No calibration was fitted: {cal.get('reason')}")
    return out


def _pairwise_verdict(r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    main = r.get("agreement_without_ties")
    value, low = _v(main), (main or {}).get("low")
    if value is not None and low is not None and low <= 0.5:
        out.append(
            f"**Not distinguishable from a coin flip**: the judge picks the humans' choice "
            f"{_ci(main)} of the time where they had one (chance: 0.50). Do not use its "
            "verdicts as labels; try a stronger model or a sharper constitution."
        )
    elif value is not None:
        out.append(
            f"The judge picks the humans' choice {_ci(main)} of the time where they had one "
            "(chance: 0.50)."
        )
    base = _v(r.get("baseline_longer"))
    if base is not None and value is not None and base >= value:
        out.append(
            "It does **no better than always preferring the longer response** "
            f"({_ci(r['baseline_longer'])})."
        )
    lb, lh = _v(r.get("length_bias")), _v(r.get("length_bias_human"))
    if lb is not None and lh is not None and lb > lh + 0.1:
        out.append(
            f"It favours longer responses more than the humans do (the longer one wins "
            f"{_ci(r['length_bias'])} for the judge, {_ci(r['length_bias_human'])} for the humans)."
        )
    return out


ROWS = (
    ("agreement", "Agreement"),
    ("agreement_without_ties", "Agreement without ties"),
    ("cohen_kappa", "Cohen's kappa"),
    ("spearman", "Spearman"),
    ("kendall_tau", "Kendall's tau-b"),
    ("krippendorff_alpha", "Krippendorff's alpha"),
    ("position_consistency", "Position consistency"),
    ("first_position_rate", "First-position win rate"),
    ("length_bias", "Length bias (judge)"),
    ("length_bias_human", "Length bias (humans)"),
    ("baseline_longer", "Baseline: always the longer"),
    ("judge_tie_rate", "Judge's tie rate"),
    ("human_tie_rate", "Humans' tie rate"),
    ("positive_rate", "Share of good labels"),
)


def markdown(r: dict[str, Any]) -> str:
    lines = ["# Judge calibration report", ""]
    c = r.get("constitution", {})
    options = r.get("options", {})
    if options.get("mode") == "compare":
        how = "compare mode: each pair in both orders"
    else:
        how = "one call per principle" if options.get("per_principle") else "all principles at once"
        how = f"score mode, {how}" if r["kind"] == "pairwise" else how
    lines += [
        f"- judge: `{r.get('model')}` ({how})",
        f"- constitution: `{c.get('name')}` (sha256 `{str(c.get('sha256'))[:12]}`)",
        f"- labels: `{r.get('labels', {}).get('path')}`, {r.get('shape')} "
        f"({r.get('kind')}); fields read: "
        + ", ".join(f"{k} = `{v}`" for k, v in r.get("labels", {}).get("fields", {}).items()),
        f"- items: {r['items']}, judged: {r['n']}, not judged: {r['failed']} "
        "(not judged items are left out of every figure; see judgments.jsonl for the reasons)",
        "",
        "## Verdict",
        "",
    ]
    lines += [f"- {s}" for s in verdict(r)]
    lines += [
        "",
        "## Agreement with the human labels",
        "",
        "95% bootstrap intervals over items.",
        "",
    ]
    lines += ["| figure | value [95% CI] | n |", "|---|---|---|"]
    na = r.get("not_applicable", {})
    for key, name in ROWS:
        if key not in r:
            continue
        x = r[key]
        if x is None:
            lines.append(f"| {name} | n/a: {na.get(key, 'not defined on these items')} | |")
        else:
            lines.append(f"| {name} | {_ci(x)} | {x.get('n', '')} |")
    scale = r.get("label_scale")
    if scale:
        lines += [
            "",
            f"Labels are {scale['measure']} "
            f"(values {', '.join(f'{v:g}' for v in scale['values'])}); "
            f"labels >= {scale['positive_label']:g} count as good. The judge's score is put on the "
            "label scale (nearest label to low + score x (high - low)) for agreement and kappa.",
        ]
    lines += _human_section(r) + _principle_section(r) + _calibration_section(r)
    if r.get("panel"):
        lines += panel_markdown(r["panel"])
    lines += ["", "## Definitions", ""]
    lines += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items() if k in r]
    lines.append("")
    return "\n".join(lines)


def _human_section(r: dict[str, Any]) -> list[str]:
    h = r.get("human_agreement")
    if not h:
        return []
    return [
        "",
        "## The human ceiling",
        "",
        f"{h['items']} items with up to {h['annotators']} annotators each.",
        "",
        "| figure | value [95% CI] |",
        "|---|---|",
        f"| annotators' mean pairwise agreement | {_ci(h.get('mean_pairwise_agreement'))} |",
        f"| each annotator vs the majority of the others | {_ci(h.get('annotator_vs_rest'))} |",
        f"| Krippendorff's alpha among annotators | {_ci(h.get('krippendorff_alpha'))} |",
        f"| judge vs a single annotator (comparable with the first row) | "
        f"{_ci(h.get('judge_vs_annotators'))} |",
    ]


def _principle_section(r: dict[str, Any]) -> list[str]:
    per = r.get("per_principle")
    weights = (r.get("calibration") or {}).get("principle_weights") or {}
    if not per:
        reason = r.get("not_applicable", {}).get("per_principle")
        return ["", "## Per principle", "", reason] if reason else []
    pairwise = r["kind"] == "pairwise"
    if pairwise:
        lines = ["", "## Per principle", ""]
        lines += ["| principle | agreement without ties | Spearman | learned weight |"]
        lines += ["|---|---|---|---|"]
    else:
        lines = ["", "## Per principle", "", "| principle | Spearman | learned weight |"]
        lines += ["|---|---|---|"]
    for pid, figures in per.items():
        weight = f"{weights[pid]:.2f}" if pid in weights else "n/a"
        cells = [pid]
        if pairwise:
            cells.append(_ci(figures.get("agreement_without_ties")))
        cells += [_ci(figures.get("spearman")), weight]
        lines.append("| " + " | ".join(cells) + " |")
    if not weights and (r.get("calibration") or {}).get("fitted"):
        lines += [
            "",
            "Learned weights: none. No principle's score predicts the humans (a non-negative "
            "logistic regression gives every principle weight 0).",
        ]
    if weights:
        lines += [
            "",
            "Learned weights: non-negative logistic regression of the human labels on the "
            "principles' normalized scores (for pairs, their differences), summing to 1. A "
            "principle with weight near 0 does not help predict the humans. To use them, copy them "
            "into the constitution as `weight:` lines (and calibrate again).",
        ]
    return lines


def _calibration_section(r: dict[str, Any]) -> list[str]:
    cal = r.get("calibration") or {}
    lines = ["", "## Calibration", ""]
    if not cal.get("fitted"):
        lines.append(f"Not fitted: {cal.get('reason', 'no judged items')}")
    else:
        what = {
            "score": "overall score -> P(a human rates the item good)",
            "margin": "score a - score b -> P(the humans prefer a)",
            "p_a": "the comparison's p_a -> P(the humans prefer a)",
        }[cal["input"]]
        lines += [
            f"Map: {what}, **{cal['method']}** (lower cross-validated log-loss).",
            "",
            "| | log-loss | Brier |",
            "|---|---|---|",
        ]
        if cal.get("raw"):
            lines.append(
                f"| judge as is | {cal['raw']['log_loss']:.3f} | {cal['raw']['brier']:.3f} |"
            )
        for method, s in cal["cross_validation"].items():
            lines.append(f"| {method} (5-fold) | {s['log_loss']:.3f} | {s['brier']:.3f} |")
    figs = r.get("figures", {})
    if "reliability" in figs:
        lines += ["", "![reliability diagram](reliability.png)"]
    if "scores" in figs:
        lines += ["", "![score histograms](scores.png)"]
    thresholds = r.get("thresholds")
    if thresholds:
        lines += [
            "",
            "Score thresholds for `judge filter --target-precision P --calibration "
            "calibration.json` (the lowest score whose precision on these labels reaches P):",
            "",
            "| target precision | score >= | precision | recall | share kept |",
            "|---|---|---|---|---|",
        ]
        for t in thresholds:
            lines.append(
                f"| {t['target']:.2f} | {t['threshold']:.3f} | {t['precision']:.3f} | "
                f"{t['recall']:.3f} | {t['kept']:.3f} |"
            )
    if cal.get("fitted"):
        lines += [
            "",
            "Apply it: `judge score ... --calibration calibration.json` adds `calibrated_score`; "
            "`judge filter ... --target-precision P --calibration calibration.json` picks the "
            "threshold; `judge pairs ... --calibration calibration.json`.",
        ]
    return lines


def threshold_table(
    curve: Sequence[dict[str, float]] | None, targets: Sequence[float] = (0.6, 0.7, 0.8, 0.9, 0.95)
) -> list[dict[str, float]]:
    """For each target precision, the lowest threshold reaching it (targets no threshold
    reaches are left out)."""
    out = []
    for target in targets:
        reaching = [t for t in curve or [] if t["precision"] >= target - 1e-9]
        if reaching:
            out.append({"target": target, **min(reaching, key=lambda t: t["threshold"])})
    return out


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    write_text_atomic(path, markdown(report))


def headline(r: dict[str, Any]) -> str:
    """One stderr line with the main figures."""
    keys = ("agreement", "agreement_without_ties", "cohen_kappa", "spearman", "length_bias")
    parts = [f"{k} {_ci(r[k])}" for k in keys if r.get(k) is not None]
    h = r.get("human_agreement")
    if h and h.get("mean_pairwise_agreement"):
        parts.append(f"human-human {_ci(h['mean_pairwise_agreement'])}")
    return f"n {r['n']}; " + "; ".join(parts)
