"""Claims on cache keys: two runs over the same items (two processes, even) never pay twice.

A call claims its key in the cache file just before it is sent; another run that needs the same
key waits for the answer instead of calling, and takes the claim over when it expires or its
process is gone. A background task renews the claims of calls still pending every third of their
lifetime, so a call may take hours (a batch job) while a killed run's claims still end soon.
"""

from __future__ import annotations

import asyncio
import random
import time

from judge.backends.base import Response
from judge.engine.cache import Cache, claim_owner, claim_owner_alive

# A claim lasts this long unless renewed.
CLAIM_TTL = 300.0
CLAIM_POLL = 0.25  # seconds between looks at the cache while another process holds a claim


class Claims:
    """This run's claims in one cache."""

    def __init__(self, cache: Cache, ttl: float = CLAIM_TTL) -> None:
        self.cache = cache
        self.ttl = ttl
        self.owner = claim_owner()
        self._held: set[str] = set()  # keys claimed whose call is pending
        self._renewer: asyncio.Task[None] | None = None

    def claim(self, key: str) -> str | None:
        """Claim `key` (None: it is ours now), or the owner of the live claim that holds it."""
        holder = self.cache.claim(key, self.owner, self.ttl)
        if holder is None:
            self.hold(key)
        return holder

    def hold(self, key: str) -> None:
        """Keep `key`'s claim alive while its call is pending, however long it takes."""
        self._held.add(key)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew())

    def done(self, key: str) -> None:
        """The call for `key` ended (its claim stays until the run ends: a claim on a key with an
        answer holds nobody up, since a run claims only keys it cannot read)."""
        self._held.discard(key)

    def release(self, key: str) -> None:
        """The call for `key` failed: another run may try it now."""
        self._held.discard(key)
        self.cache.release_claim(key, self.owner)

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(self.ttl / 3)
            self.cache.renew_claims(list(self._held), self.owner, self.ttl)

    async def wait(self, key: str, holder: str) -> Response | None:
        """Another run holds the claim on `key`: wait for its answer (returned), or until its
        claim expires or its process is gone and the claim is ours (None)."""
        cache, owner = self.cache, self.owner
        while True:
            # First look at once: the holder may have answered already (its claim stays).
            hit = cache.get(key)
            if hit is not None:
                return hit
            state = cache.claim_holder(key)
            if state is None:  # released: the holder failed or ended
                if cache.claim(key, owner, self.ttl) is None:
                    self.hold(key)
                    return None
            else:
                holder, expires = state
                stale = expires < time.time() or not claim_owner_alive(holder)
                taken = holder == owner or (
                    stale and cache.take_over_claim(key, owner, self.ttl, holder)
                )
                if taken:
                    self.hold(key)
                    return None
            await asyncio.sleep(CLAIM_POLL * random.uniform(0.8, 1.2))

    def close(self) -> None:
        """End the renewals, and release every claim of this run (and expired ones of killed
        runs)."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        self.cache.release_claims(self.owner)
