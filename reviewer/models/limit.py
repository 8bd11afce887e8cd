"""How many calls go out at once: a ceiling that an ordinary rate limit halves, that
successes win back one call at a time, and that a retry-after pauses for everyone."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager


class AdaptiveLimit:
    def __init__(self, ceiling: int):
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        #: The lowest the limit went, for the run's record.
        self.lowest = self.ceiling
        self.active = 0
        self._successes = 0
        # A 429 lowers the limit only if the call was sent under the current limit: the calls
        # already in flight when it dropped answer for the old one.
        self._epoch = 0
        self._paused_until = 0.0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self):
        """Hold one of the ``limit`` places for the duration of a call; yields its ticket."""
        async with self._changed:
            while True:
                wait = self._paused_until - time.monotonic()
                if wait <= 0 and self.active < self.limit:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=wait if wait > 0 else None)
                except asyncio.TimeoutError:
                    pass
            self.active += 1
            ticket = self._epoch
        try:
            yield ticket
        finally:
            async with self._changed:
                self.active -= 1
                self._changed.notify_all()

    def succeeded(self, ticket: int) -> None:
        """Additive increase: one more place after ``limit`` successes in a row, counting only
        calls sent under the current limit."""
        if ticket != self._epoch:
            return
        self._successes += 1
        if self.limit < self.ceiling and self._successes >= self.limit:
            self.limit += 1
            self._successes = 0

    def throttled(self, ticket: int, retry_after: float | None) -> None:
        """An ordinary 429: halve the limit (once per limit) and pause everyone for retry-after."""
        self._successes = 0
        if ticket == self._epoch:
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self._epoch += 1
        if retry_after:
            self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
