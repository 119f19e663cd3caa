"""Shared by the benchmark scripts: the best of several timed calls."""

import time

import jax


def best_time(fn, repeats):
    """The fastest of ``repeats`` calls of ``fn``, in seconds, waiting for the device each time
    (a function that returns host values is timed as it is)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)
