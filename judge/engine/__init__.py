"""The engine: the runner (concurrency, limits, retries, re-asks, claims), the cache, prices and
the plan of a dry run. Only the engine retries, caches and limits."""
