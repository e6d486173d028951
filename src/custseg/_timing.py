"""Stage timings of a run, as the manifest records them."""

from __future__ import annotations

import time

__all__ = ["StageClock"]


class StageClock:
    """Seconds spent in each stage: ``lap(stage)`` closes the stage running since the last lap."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._since, 4)
        self._since = now
