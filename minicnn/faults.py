"""Crash points for the tests that kill a training run and resume it.

``MINICNN_FAULT=POINT:N`` makes this process kill itself with SIGKILL the Nth
time it reaches ``POINT`` (counting from 1), exactly as ``kill -9`` from
outside would: no exception, no cleanup, no ``finally``.  The points:

``step``
    Inside a training step, after ``loss.backward()`` and before
    ``optimizer.step()`` (the in-memory state is half updated).
``write``
    Inside an atomic write, after the temp file is complete and before it is
    renamed over the target (the temp file is left behind).

Unset (always, outside the tests) it costs one dict lookup per call.
"""
import os
import signal

_counts = {}


def crash_point(point):
    """Kill this process with SIGKILL if ``MINICNN_FAULT`` names this visit of ``point``."""
    spec = os.environ.get("MINICNN_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if str(_counts[point]) == nth:
        os.kill(os.getpid(), signal.SIGKILL)
