"""Online rewards: a constitution as a reward function for TRL's trainers (`constitution_reward`)
and, through `judge serve`, for trainers in other processes. See docs/rewards.md."""

from judge.rewards.function import ConstitutionReward, constitution_reward

__all__ = ["ConstitutionReward", "constitution_reward"]
