"""A run's stop after SIGINT / SIGTERM is bounded: when the clean stop hangs (a Ray call waiting on Ray processes the
same signal stopped), the process still exits within the grace, with the caller's one line and the shell's code;
a stop that finishes in time raises as before and leaves the process running (the watchdog is cancelled).

The hang is played by a deferred block that sleeps, in a child process, so the test needs neither Ray nor models."""

from __future__ import annotations

import subprocess
import sys
import time

SCRIPT = """
import os, signal, time
from mtmct.pipeline import RunInterrupted, _SignalStop

stop = _SignalStop(grace_s={grace}, announce=lambda s: print(f"announced {{s.exit_code}}", flush=True))
try:
    with stop:
        with stop.deferred():
            os.kill(os.getpid(), signal.{sig})
            time.sleep({hang})  # the stuck teardown
        stop.check()
except RunInterrupted as s:
    print(f"raised {{s.exit_code}}", flush=True)
time.sleep({after})  # still alive after the grace: the watchdog was cancelled
print("alive", flush=True)
"""


def _child(sig: str, hang: float, after: float, grace: float = 1.0) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(grace=grace, sig=sig, hang=hang, after=after)],
                          capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - began


def test_a_stop_that_hangs_exits_after_the_grace_with_the_signals_code():
    done, took = _child("SIGTERM", hang=30, after=0)
    assert done.returncode == 143, done.stderr
    assert done.stdout.splitlines() == ["announced 143"]
    assert took < 20  # the 30 s hang was cut at the 1 s grace (plus the interpreter's start)


def test_a_stop_in_time_raises_and_the_process_lives_on():
    done, _ = _child("SIGINT", hang=0.1, after=2)  # 2 s: past the 1 s grace
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["raised 130", "alive"]
