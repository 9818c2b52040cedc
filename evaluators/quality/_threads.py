"""Run the quality metrics' numeric kernels (BLAS, OpenMP in scikit-learn) on one thread.

Their problems are small (a few thousand points, tens to hundreds of dimensions): a second thread
gains little, while on a busy two-core machine spinning threads wait on each other. Measured there:
five k-means fits of 600 points took 7.9 s with the default threads and 0.6 s with one; a
900 x 64 x 900 matrix product 35 ms against 9 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
