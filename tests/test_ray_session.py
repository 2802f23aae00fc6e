"""The local Ray that ``mtmct run`` starts is the run's alone: it listens on loopback only, ``stop_ray`` leaves no
process and no temp dir behind, and a SIGKILLed driver's Ray is gone within seconds (its watchdog), or, when the
watchdog died too, at the next ``start_ray``.

Ray's processes are found as the driver's descendants, not through mtmct's own bookkeeping, so these tests hold
whatever ``mtmct.ray_session`` does inside. One in-process session and two driver subprocesses, started side by
side, serve the whole module (a Ray start takes 5-20 s on a busy 2-core machine). ``test_stop_ray_...`` stops the
in-process session, so it comes last.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import psutil  # noqa: E402  (Ray's bundled copy, importable once ray is)

from mtmct.ray_session import start_ray, stop_ray  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# measured on a loaded 2-core machine: every process gone 0.2 s after the driver's SIGKILL (the watchdog itself
# exits after 1.2 s, the temp dir gone with it); Ray alone leaves its two agents for 60 s
GONE_WITHIN_S = 8.0
DRIVER = """
import sys, time
import ray
from mtmct.ray_session import start_ray
start_ray(None, 1)
ray.get(ray.remote(lambda: 1).remote())  # a worker too
print(ray._private.worker._global_node.get_session_dir_path(), flush=True)
time.sleep(300)
"""


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _own_ray(drivers: list[Driver]) -> list[psutil.Process]:
    """This process's Ray processes: its descendants, less the driver subprocesses' trees."""
    skip = {d.proc.pid for d in drivers}
    return [p for child in psutil.Process().children() if child.pid not in skip
            for p in (child, *child.children(recursive=True))]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running; a zombie counts as gone (it holds no socket, file or memory)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def _describe(procs: list[psutil.Process]) -> list[str]:
    out = []
    for proc in procs:
        try:
            out.append(f"{proc.pid} {proc.name()}")
        except psutil.Error:
            out.append(str(proc.pid))
    return out


def _is_loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    mapped = getattr(addr, "ipv4_mapped", None)  # ::ffff:127.0.0.1, as gRPC's dual-stack sockets show it
    return addr.is_loopback or bool(mapped and mapped.is_loopback)


class Driver:
    """A subprocess that called start_ray(None, 1), ran a task, and sleeps; its Ray processes noted."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def ready(self) -> None:
        line = self.proc.stdout.readline().strip()
        assert line, f"driver {self.proc.pid} exited with {self.proc.wait()}"
        self.session_dir = Path(line)
        self.ray_procs = _descendants(self.proc.pid)
        names = {p.name() for p in self.ray_procs}
        assert {"gcs_server", "raylet"} <= names and any("Agent" in n for n in names), names

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.proc.stdout.close()
        for proc in _alive(self.ray_procs):  # what a failed test left
            proc.kill()


@pytest.fixture(scope="module")
def drivers():
    """Two driver subprocesses, started before the in-process session so the three Ray starts overlap."""
    pair = [Driver(), Driver()]
    yield pair
    for driver in pair:
        driver.close()


@pytest.fixture(scope="module")
def local_ray(drivers):
    """The in-process session (start_ray as ``mtmct run`` calls it) with a worker, and its session dir."""
    assert start_ray(None, 1)
    ray.get(ray.remote(lambda: 1).remote())
    yield Path(ray._private.worker._global_node.get_session_dir_path())
    stop_ray()


def test_local_ray_listens_on_loopback_only(drivers, local_ray):
    procs = [psutil.Process(), *_own_ray(drivers)]
    listening = {}
    for proc in procs:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                listening[f"{proc.pid} {proc.name()} {conn.laddr.ip}:{conn.laddr.port}"] = conn.laddr.ip
    names = {p.name() for p in procs}
    assert {"gcs_server", "raylet"} <= names and any("IDLE" in n or "::" in n for n in names), names
    assert len(listening) >= 4, listening  # driver, GCS, raylet, worker at least: the check is not vacuous
    wide = [where for where, ip in listening.items() if not _is_loopback(ip)]
    assert not wide, f"listening beyond loopback: {wide}"


def test_sigkilled_driver_leaves_nothing_within_seconds(drivers, local_ray):
    driver = drivers[0]
    driver.ready()
    driver.kill()
    start = time.monotonic()
    while (_alive(driver.ray_procs) or driver.session_dir.exists()) and time.monotonic() - start < GONE_WITHIN_S:
        time.sleep(0.1)
    left = _alive(driver.ray_procs)
    assert not left, f"alive {GONE_WITHIN_S} s after the driver's SIGKILL: {_describe(left)}"
    assert not driver.session_dir.exists() and not driver.session_dir.parent.exists(), driver.session_dir
    print(f"gone {time.monotonic() - start:.1f} s after SIGKILL")


def test_next_start_ray_removes_what_a_killed_driver_and_watchdog_left(drivers, local_ray):
    driver = drivers[1]
    driver.ready()
    watchdogs = [p for p in driver.ray_procs if "mtmct.ray_session" in " ".join(p.cmdline())]
    for proc in watchdogs:
        proc.kill()
    driver.kill()
    psutil.wait_procs(watchdogs, timeout=5)
    time.sleep(0.5)  # what Ray fate-shares (GCS, raylet) is gone by now; its agents live on for 60 s
    assert _alive(driver.ray_procs), "nothing left to clean: the test would prove nothing"

    assert start_ray(None, 1) is False  # this process's session is up: it is joined, not started, but cleaning runs
    psutil.wait_procs(_alive(driver.ray_procs), timeout=1)
    left = _alive(driver.ray_procs)
    assert not left, f"alive after the next start_ray: {_describe(left)}"
    assert not driver.session_dir.exists() and not driver.session_dir.parent.exists(), driver.session_dir
    assert local_ray.exists(), "the live session's own dir was removed"


def test_stop_ray_leaves_no_process_and_no_temp_dir(drivers, local_ray):
    procs = _own_ray(drivers)
    assert procs
    stop_ray()
    left = _alive(procs)
    assert not left, f"alive after stop_ray: {_describe(left)}"
    assert not local_ray.exists() and not local_ray.parent.exists(), local_ray
