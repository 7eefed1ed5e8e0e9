"""A fixed set of long-lived workers that run submitted calls, at most `size` at a time.

Used for the delivery engine's sends. The alternative, a task per call waiting on a
semaphore, costs more than it seems with an HTTP client: a worker that finishes a send
takes the next one at once, on the connection it just freed, while a call handed a slot
through a semaphore wakes later, after other callbacks, and the connection pool then
makes more assignment passes per request (each polls every idle connection). Measured
with 8 sends in flight to one receiver, on httpcore's pool (Hearth's sends went through it
before `core.http1`): about 180 µs less CPU per send.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Call = Callable[[], Awaitable[Any]]


class WorkPool:
    """Calls are taken in the order submitted. Each answers a Future: its result, or its
    exception. Cancelling a Future before its call starts skips the call; once started
    (`started`), the call runs to its end and its result is dropped. A call that raises
    CancelledError itself cancels its Future; the worker goes on."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Call, asyncio.Future[Any]]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Future[Any]] = set()
        self._closed = False

    def submit(self, call: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        if self._closed:
            raise RuntimeError("The work pool is closed.")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or another event loop (tests run several)
            self._start(loop)
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put_nowait((call, future))
        return future

    def started(self, future: asyncio.Future[Any]) -> bool:
        """Whether the call behind `future` is running now."""
        return future in self._running

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._queue = loop, asyncio.Queue()
        # Each worker in a context of its own: not the context variables (a job's log
        # fields) of whichever caller happened to start the pool.
        self._workers = [
            loop.create_task(self._work(self._queue), context=contextvars.Context())
            for _ in range(self.size)
        ]

    async def _work(self, queue: asyncio.Queue[tuple[Call, asyncio.Future[Any]]]) -> None:
        while True:
            call, future = await queue.get()
            if future.done():  # cancelled while it waited
                continue
            self._running.add(future)
            try:
                result = await call()
            except asyncio.CancelledError:
                future.cancel()
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise  # the pool is closing
                continue  # the call cancelled itself: this worker goes on
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            finally:
                self._running.discard(future)
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Stop the workers (a call under way is cancelled); calls still waiting are
        cancelled. A closed pool takes no more calls."""
        self._closed = True
        if self._loop is not asyncio.get_running_loop():
            return  # workers of another loop, gone with it
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait()[1].cancel()
        self._workers = []
