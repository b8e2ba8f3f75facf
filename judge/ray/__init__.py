"""Ray Data scale-out (the optional extra: pip install 'judge[ray]').

- `judge score/filter ... --ray auto|ADDRESS`: a folder of shards, one Ray task a shard
  (judge.cli.ray_run, judge.ray.cluster, judge.ray.shards).
- `BatchScorer`: a callable class for `Dataset.map_batches` in your own pipelines
  (judge.ray.batches).
- `Limits`: one rate limit and one --max-cost budget for every worker (judge.ray.permits).

Importing this package does not import Ray; its names do when first used. Nothing else in
`judge` imports it, so the default path never loads Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.ray.batches import BatchScorer
    from judge.ray.permits import Limits

__all__ = ["BatchScorer", "Limits"]


def __getattr__(name: str) -> Any:
    if name == "BatchScorer":
        from judge.ray.batches import BatchScorer

        return BatchScorer
    if name == "Limits":
        from judge.ray.permits import Limits

        return Limits
    raise AttributeError(f"module 'judge.ray' has no attribute {name!r}")
