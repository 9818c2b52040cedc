"""The per-key token bucket, in memory and shared through a file by several processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from aigc_audit.governance.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("shared", [False, True], ids=["in-memory", "file"])
def test_burst_then_refill_at_the_rate_with_the_wait_for_the_next_token(tmp_path: Path, shared: bool) -> None:
    clock = Clock()
    limiter = RateLimiter(60.0, 3, tmp_path / "buckets.sqlite" if shared else None, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)  # one token a second: the next in 1 s
    assert limiter.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.25
    assert limiter.take("a") == pytest.approx(0.75)
    clock.now += 0.75
    assert limiter.take("a") == 0.0 and limiter.take("a") == pytest.approx(1.0)
    clock.now += 3600  # a long pause refills to the burst, not beyond
    assert [limiter.take("a") for _ in range(4)][-2:] == [0.0, pytest.approx(1.0)]
    limiter.close()


def test_a_second_limiter_on_the_same_file_sees_the_tokens_spent(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "buckets.sqlite"
    first, second = RateLimiter(60.0, 2, path, clock=clock), RateLimiter(60.0, 2, path, clock=clock)
    assert first.take("a") == 0.0 and second.take("a") == 0.0
    assert first.take("a") > 0 and second.take("a") > 0
    in_memory = RateLimiter(60.0, 2, clock=clock), RateLimiter(60.0, 2, clock=clock)
    assert [limiter.take("a") for limiter in in_memory for _ in range(2)] == [0.0] * 4  # nothing shared


BURST = 500


def _spend(path: str, attempts: int, start, admitted) -> None:
    # Almost no refill, so that whatever is admitted comes out of the one burst.
    limiter = RateLimiter(1e-6, BURST, path)
    start.wait()
    admitted.put(sum(limiter.take("key") == 0.0 for _ in range(attempts)))


def test_processes_sharing_the_file_admit_one_burst_between_them(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # fresh processes, as uvicorn's workers are
    path = tmp_path / "buckets.sqlite"
    RateLimiter(1e-6, BURST, path).open()
    start, admitted = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_spend, args=(str(path), BURST, start, admitted)) for _ in range(2)]
    for worker in workers:
        worker.start()
    start.wait(timeout=60)
    counts = [admitted.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    # Each asks for the whole burst; with a bucket per process they would get twice it.
    assert sum(counts) == BURST, f"the two processes admitted {counts} of a burst of {BURST}"
