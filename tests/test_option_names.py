"""Library errors of label/, ray/ and rewards/ name their options structurally (`{opt:NAME}`):
an API user reads the keyword (`max_cost=`), the CLI prints the flag (`--max-cost`)."""

from __future__ import annotations

import pytest

from judge.constitution import parse
from judge.errors import ConfigError, InputError, as_flag
from judge.label.select import select
from judge.ray.shards import plan_shards
from judge.rewards import constitution_reward
from tests import reward_judge
from tests.fakes import FakeOpenAIServer


def test_rewards_name_their_keywords_to_api_users() -> None:
    with FakeOpenAIServer() as server, pytest.raises(ConfigError) as info:
        constitution_reward(
            parse(reward_judge.CONSTITUTION),
            model="openai/no-such-price",
            base_url=server.base_url,
            max_cost=1.0,
        )
    assert "--" not in str(info.value) and "max_cost=" in str(info.value)
    assert info.value.options == ["max_cost", "prices", "max_cost"]
    assert "--prices FILE, or drop --max-cost" in info.value.render(as_flag)


def test_label_and_ray_errors_are_spelled_by_their_caller() -> None:
    with pytest.raises(InputError) as info:
        select([], "uncertain", None)
    assert info.value.options == ["select", "judgments"]
    assert info.value.render(as_flag).startswith("--select uncertain needs --judgments FILE")
    with pytest.raises(InputError) as shards:
        plan_shards("in", None)
    assert shards.value.render(as_flag).startswith("with --ray, -o/--output is a folder")
