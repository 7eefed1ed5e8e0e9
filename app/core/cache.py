"""A small in-process cache with expiry, for answers that may be a few seconds old.

Only a cache: every replica keeps its own, nothing depends on a hit, and each entry says
how long it may be trusted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, maxsize: int = 10_000) -> None:
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._maxsize = maxsize

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)  # the oldest insertion goes first

    def discard_where(self, predicate: Callable[[V], bool]) -> None:
        for key in [k for k, (_, value) in self._entries.items() if predicate(value)]:
            del self._entries[key]
