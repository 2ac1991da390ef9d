"""The background loop the scheduler, the webhook forwarder and both refreshers run on: a pass
that fails does not end it, a wake cuts its sleep short (also one that arrives during a pass),
and stopping ends it — at once for most loops, after the pass in progress for graceful ones."""

from __future__ import annotations

import asyncio
import logging

import pytest
from connector_service.platform.loops import Loop

log = logging.getLogger("test.loops")
LONG = 3600.0  # a sleep no test waits out: only a wake or a stop ends it


async def _until(predicate: object, *, limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    passes: list[int] = []

    async def flaky() -> float:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("database went away")
        return LONG

    loop = Loop("flaky", flaky, retry_seconds=0.01, log=log)
    with caplog.at_level(logging.WARNING, logger="test.loops"):
        loop.start()
        await _until(lambda: len(passes) >= 2)
        await loop.stop()
    assert passes == [0, 1]
    assert [r.getMessage() for r in caplog.records] == ["flaky pass failed; retrying"]


async def test_wake_runs_the_next_pass_before_the_sleep_ends() -> None:
    passes = 0

    async def one() -> float:
        nonlocal passes
        passes += 1
        return LONG

    loop = Loop("sleepy", one, retry_seconds=LONG, log=log)
    loop.start()
    await _until(lambda: passes == 1)
    loop.wake()
    await _until(lambda: passes == 2)
    await loop.stop()


async def test_a_wake_during_a_pass_is_not_lost() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    passes = 0

    async def slow() -> float:
        nonlocal passes
        passes += 1
        if passes == 1:
            entered.set()
            await release.wait()
        return LONG

    loop = Loop("slow", slow, retry_seconds=LONG, log=log)
    loop.start()
    await entered.wait()
    loop.wake()  # something this process wrote while the first pass was reading
    release.set()
    await _until(lambda: passes == 2)
    await loop.stop()


async def test_a_pass_answering_zero_goes_again_at_once() -> None:
    backlog = [3, 2, 1]

    async def drain() -> float:
        if backlog:
            backlog.pop()
            return 0.0
        return LONG

    loop = Loop("drain", drain, retry_seconds=LONG, log=log)
    loop.start()
    await _until(lambda: not backlog)
    await loop.stop()


@pytest.mark.parametrize(
    ("graceful", "finished"), [pytest.param(True, True, id="graceful"), pytest.param(False, False, id="cancelled")]
)
async def test_stop_during_a_pass(graceful: bool, finished: bool) -> None:
    entered = asyncio.Event()
    done: list[bool] = []

    async def long_pass() -> float:
        entered.set()
        await asyncio.sleep(0.2)
        done.append(True)
        return LONG

    loop = Loop("busy", long_pass, retry_seconds=LONG, log=log, graceful=graceful)
    loop.start()
    await entered.wait()
    await loop.stop()
    assert bool(done) is finished
    assert loop.stopping
