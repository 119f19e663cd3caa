"""Shared by the benchmark scripts: the best of several timed calls, and the line of a report
that says where and how it was measured."""

import datetime
import os
import platform
import time

import jax

from jaxdis.runs import provenance


def best_time(fn, repeats):
    """The fastest of ``repeats`` calls of ``fn``, in seconds, waiting for the device each time
    (a function that returns host values is timed as it is)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def measured_on(command: str, noise: str) -> str:
    """A report's provenance line: the device, the machine, the date, the commit, the command that
    wrote the report, and the load average when it finished (``noise`` says why the ratio can be
    trusted on a shared machine)."""
    device = jax.devices()[0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Device: **{device.platform}: {device.device_kind}** ({platform.machine()}, "
            f"{os.cpu_count()} logical CPUs). Date {datetime.date.today()}, commit "
            f"{provenance()['commit']}. Command: `{command}`. Load average when it finished: "
            f"{load:.1f} (a shared machine: absolute times are noisy; {noise}).")
