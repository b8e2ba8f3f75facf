"""The cascade benchmark's true agreement (benchmarks/cascade_truth.py) is what judge does: on a
fitted cascade, every held-out pair is decided (or abstained) by the judge the model predicts,
with the agreement it predicts, and the population figures match the model's own integrals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cascade_fidelity import clopper_pearson, one_seed
from benchmarks.cascade_sim import SimJudge, Simulation
from benchmarks.cascade_truth import confidence, predict, truth


def test_truth_of_one_judge_matches_sampling_its_beliefs() -> None:
    judge = SimJudge(0.4, 1.0, flip=0.3)
    sim = Simulation({"weak": judge}, salt="t")
    tags = [f"x{i}" for i in range(40_000)]
    for threshold in (0.0, 0.4, 0.7, 0.95):
        got = [predict(sim, [("weak", threshold)], t) for t in tags]
        decided = [agree for model, agree in got if model is not None]
        true = truth([(judge, threshold)])
        assert len(decided) / len(tags) == pytest.approx(true["coverage"], abs=0.01)
        if decided:
            assert sum(decided) / len(decided) == pytest.approx(true["agreement"], abs=0.01)
    everything = truth([(judge, 0.0)])  # every item decided, biased ones as ties (never agree)
    assert everything["coverage"] == pytest.approx(1.0)
    assert truth([(judge, None)]) == {"coverage": 0.0, "agreement": None}
    assert confidence(1.0, False) == pytest.approx(0.99**2)


@pytest.mark.slow
def test_a_cascade_decides_as_the_truth_model_predicts(tmp_path: Path) -> None:
    row = one_seed(0, tmp_path)
    assert row["fit_exit"] == 0  # seed 0 certifies a cascade (benchmarks/results)
    assert row["held_items_as_predicted"] == 150
    assert 0.0 < row["true_coverage"] <= 1.0 and row["true_agreement"] is not None
    judged = [json.loads(line) for line in (tmp_path / "held" / "judgments.jsonl").open()]
    decided = [j for j in judged if j.get("decided_by")]
    assert len(decided) / len(judged) == pytest.approx(row["held_coverage"])


def test_clopper_pearson_interval() -> None:
    low, high = clopper_pearson(35, 38) or [0.0, 0.0]
    assert low == pytest.approx(0.7864, abs=1e-3) and high == pytest.approx(0.9834, abs=1e-3)
    assert clopper_pearson(0, 0) is None


def test_the_simulated_judge_answers_a_list_of_scores_and_finds_a_defanged_response() -> None:
    """--rationale none asks for {"scores": [...]}: the simulation answers in that shape (it used
    to answer per principle, which judge re-asked until it gave up), and it finds a real
    response whatever judge did to its punctuation."""
    import json as _json

    sim = Simulation({"strong": SimJudge(0.6, 0.95)}, salt="t")
    sim.know("I can't help with <that>: it's unsafe.", good=False)
    schema = {
        "type": "object",
        "properties": {"scores": {"type": "array", "minItems": 4, "items": {"enum": [1, 5]}}},
        "required": ["scores"],
    }
    body = {
        "model": "strong",
        "messages": [
            {"role": "user", "content": "<r_1f3a>I can't help with ‹that›: it's unsafe.</r_1f3a>"}
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}},
    }
    reply = sim.handler(body)
    scores = _json.loads(reply.text)["scores"]
    assert len(scores) == 4 and set(scores) <= {1, 5}
    assert reply.logprobs is not None
