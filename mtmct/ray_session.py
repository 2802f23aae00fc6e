"""The Ray session of one ``mtmct run``: join a cluster the user names, or start a local one that is this run's
alone and leaves nothing behind when it stops.

A local session listens on loopback only, keeps its files in its own temp dir (``mtmct-ray-*``), and every one of
its processes carries ``MTMCT_RAY_SESSION=<that dir>`` in its environment or holds a log file open in that dir,
so what belongs to it can be found and stopped. A watchdog process outlives a SIGKILLed driver just long enough to stop what Ray leaves running (its
agents wait 60 s on the dead GCS before they exit) and to remove the dir; the next :func:`start_ray` removes what
a run whose driver and watchdog both died left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

from mtmct.core.errors import MtmctError

if TYPE_CHECKING:
    import psutil

log = logging.getLogger(__name__)

PREFIX = "mtmct-ray-"  # a short dir under the temp dir: Ray's Unix socket paths below it must fit ~107 chars
MARK = "MTMCT_RAY_SESSION"  # environment variable naming the session's dir in each of its processes
DRIVER_FILE = "driver"  # "<pid> <create time>" of the driver that owns the dir
STARTING_GRACE_S = 60.0  # a dir without a driver file is being created for this long at most
STOP_WAIT_S = 0.5  # after ray.shutdown(), how long its workers and agents get to exit before they are killed


@dataclass
class _LocalSession:
    temp_dir: Path
    watchdog: subprocess.Popen
    pipe: int  # write end of the watchdog's pipe: EOF without a word tells it the driver died


_local: _LocalSession | None = None


def start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Join ``address`` or start a local Ray; returns True when this call started it (and must stop it)."""
    import ray

    clean_leftovers()
    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            _start_local(num_cpus, kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MtmctError(f"cannot start or join Ray{' at ' + address if address else ''}: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    return True


def _start_local(num_cpus: int | None, kwargs: dict) -> None:
    """Start a Ray that only this process uses: loopback only, its own temp dir, a watchdog for a hard death."""
    global _local
    import psutil  # Ray's bundled copy, importable once ray is
    import ray
    from ray._private import ray_constants

    temp_dir = Path(tempfile.mkdtemp(prefix=PREFIX))
    (temp_dir / DRIVER_FILE).write_text(f"{os.getpid()} {psutil.Process().create_time()}")
    read_end, write_end = os.pipe()
    watchdog = subprocess.Popen([sys.executable, "-m", "mtmct.ray_session", "--watch", str(temp_dir), str(read_end)],
                                pass_fds=(read_end,), start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL)
    os.close(read_end)
    _local = _LocalSession(temp_dir, watchdog, write_end)
    # Ray binds its gRPC servers and agents to loopback only when the node's IP is loopback, and ray.init turns
    # an explicit 127.0.0.1 into the external address unless clusters are "disabled", as on macOS/Windows; the
    # environment carries both settings to every process Ray starts (they read them at import)
    # environment (set for the start only: not mock.patch.dict, which would also undo what ray.init sets there,
    # such as RAY_AUTH_MODE)
    env = {MARK: str(temp_dir), ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR: "0"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with mock.patch.object(ray_constants, "ENABLE_RAY_CLUSTER", False):
            # a SIGTERM sent to the whole process group kills Ray's GCS too; its default 5 s wait to flush task
            # events to the dead GCS would then hold up the stop (events only a Ray dashboard reads)
            ray.init(num_cpus=num_cpus or os.cpu_count(), _node_ip_address="127.0.0.1", _temp_dir=str(temp_dir),
                     _system_config={"task_events_shutdown_flush_timeout_ms": 500}, **kwargs)
    except BaseException:
        stop_ray()
        raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_reachable(address: str) -> None:
    """Ray retries an unreachable head for minutes; a plain ``host:port`` is probed first so the user hears in
    seconds. ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise MtmctError(f"cannot start or join Ray at {address}: {exc}") from exc


def stop_ray() -> None:
    """Stop what :func:`start_ray` started; a local session's workers, agents and temp dir go with it."""
    global _local
    import ray

    ray.shutdown()
    session, _local = _local, None
    if session is None:
        return
    stop_session(session.temp_dir, wait_s=STOP_WAIT_S)
    try:
        os.write(session.pipe, b"stopped")  # the watchdog leaves without cleaning
    finally:
        os.close(session.pipe)
    try:
        session.watchdog.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("Ray session watchdog %d did not exit; killing it", session.watchdog.pid)
        session.watchdog.kill()
        session.watchdog.wait()


def session_processes(temp_dir: Path) -> list[psutil.Process]:
    """The live processes of the local session kept in ``temp_dir``: those whose environment names it, or, for
    Ray's agents, that hold a file open under it. The agents retitle themselves (setproctitle), which zeroes the
    start of their environment block: the variable is lost there whenever it sat in that part."""
    import psutil

    mark = f"{MARK}={temp_dir}".encode()
    under = f"{temp_dir}{os.sep}"
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            # the raw block: psutil's Process.environ() reads a block with a zeroed start as empty
            if mark in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0") or any(
                    f.path.startswith(under) for f in proc.open_files()):
                found.append(proc)
        except (OSError, psutil.Error):  # gone, or another user's
            continue
    return found


def stop_session(temp_dir: Path, wait_s: float = 0.0, timeout_s: float = 10.0) -> bool:
    """Stop every process of the session in ``temp_dir`` (given ``wait_s`` to exit on its own, then SIGKILL) and
    remove the dir; False when a process survived ``timeout_s``."""
    import psutil

    deadline = time.monotonic() + timeout_s
    procs = session_processes(temp_dir)
    if procs and wait_s:
        procs = psutil.wait_procs(procs, timeout=wait_s)[1]
    while procs:
        log.debug("killing %s", [p.pid for p in procs])
        for proc in procs:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=0.5)
        procs = session_processes(temp_dir)  # a process started meanwhile (a raylet spawning a worker) too
        if procs and time.monotonic() > deadline:
            log.warning("Ray session %s: processes %s survive SIGKILL", temp_dir, [p.pid for p in procs])
            return False
    shutil.rmtree(temp_dir, ignore_errors=True)
    return True


def _driver_alive(temp_dir: Path) -> bool:
    """Whether the driver that owns ``temp_dir`` still runs (same pid and start time, so a reused pid is dead)."""
    import psutil

    try:
        pid, created = (temp_dir / DRIVER_FILE).read_text().split()
        return psutil.Process(int(pid)).create_time() == float(created)
    except FileNotFoundError:
        try:
            return time.time() - temp_dir.stat().st_mtime < STARTING_GRACE_S
        except FileNotFoundError:
            return True  # removed meanwhile: nothing to do
    except (ValueError, psutil.Error):
        return False


def clean_leftovers() -> None:
    """Remove what earlier local sessions of this user left when their driver and watchdog both died: their
    temp dirs and any process still running in them. Other users' dirs and any other Ray are left alone."""
    uid = os.getuid()
    for temp_dir in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            if not temp_dir.is_dir() or temp_dir.is_symlink() or temp_dir.stat().st_uid != uid:
                continue
        except OSError:
            continue
        if not _driver_alive(temp_dir):
            log.info("removing the Ray session %s left by a run that died", temp_dir)
            stop_session(temp_dir)


def _watch(temp_dir: Path, fd: int) -> None:
    """The watchdog: block until the driver closes its pipe; without a word first, the driver died, so stop what
    its Ray left and remove the dir."""
    import importlib.util

    # Ray's bundled psutil, importable now (not after the death) without importing Ray itself (a second of CPU
    # at every run's start on a machine the run needs)
    ray_dir = importlib.util.find_spec("ray").submodule_search_locations[0]
    sys.path.insert(0, os.path.join(ray_dir, "thirdparty_files"))
    import psutil  # noqa: F401

    with os.fdopen(fd, "rb") as pipe:
        said = pipe.read()
    if not said:
        log.info("driver of Ray session %s died; stopping its processes", temp_dir)
        stop_session(temp_dir)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--watch":
    logging.basicConfig(level=os.environ.get("MTMCT_RAY_WATCHDOG_LOG", "WARNING"),
                        format="mtmct ray watchdog: %(message)s")
    _watch(Path(sys.argv[2]), int(sys.argv[3]))
