"""How many CPU threads torch may use while a built-in model trains, samples or embeds, and how
many cores this process may use at all.

One by default: the built-in models are small (matrices of ~100 columns), so a second thread gains
little, and on a busy machine it costs a lot: measured on a 2-core box shared with other jobs, one
thread trained the GPT 3-6x faster than two, whose OpenMP workers spin-wait for a core another
process holds. A fixed count also keeps training bit-for-bit reproducible on a given machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_THREADS = 1


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def torch_threads(count: int = DEFAULT_THREADS) -> Iterator[None]:
    """Run the body with ``count`` intra-op threads, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
