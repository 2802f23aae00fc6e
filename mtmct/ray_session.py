"""The Ray session of one ``mtmct run``: join a cluster the user names, or start a local one that is this run's
alone and leaves nothing behind when it stops."""

from __future__ import annotations

import os

from mtmct.core.errors import MtmctError


def start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Join ``address`` or start a local Ray; returns True when this call started it (and must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            # a SIGTERM sent to the whole process group kills Ray's GCS too; its default 5 s wait to flush task
            # events to the dead GCS would then hold up the stop (events only a Ray dashboard reads)
            ray.init(num_cpus=num_cpus or os.cpu_count(), _system_config={"task_events_shutdown_flush_timeout_ms": 500},
                     **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MtmctError(f"cannot start or join Ray{' at ' + address if address else ''}: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    return True


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
    """Stop what :func:`start_ray` started."""
    import ray

    ray.shutdown()
