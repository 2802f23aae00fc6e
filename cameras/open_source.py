"""Which source class serves a camera spec (device index, URL, frame folder, video file), and the camera id it gets."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cameras.frame_folder_source import FrameFolderSource
from cameras.source import Source, is_url
from cameras.video_source import VideoSource


def camera_id_for(spec: str | int | os.PathLike[str]) -> str:
    """A short id for output file names: a file's stem, a folder's name, ``cam<N>`` for a device, a URL's last
    path part (or host). Never a path, so ``out_dir / f"{camera_id}.txt"`` stays inside ``out_dir``."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return f"cam{spec}"
    text = os.fspath(spec).rstrip("/")
    if text.isdigit() and not Path(text).exists():
        return f"cam{text}"
    if is_url(text):
        rest = text.split("://", 1)[1].split("?", 1)[0]
        host, _, path = rest.partition("/")
        stem = Path(path).stem if path else host.rsplit("@", 1)[-1].split(":")[0]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "stream"
    path = Path(text)
    return path.name if path.is_dir() else path.stem


def open_source(spec: str | int | os.PathLike[str], fps: float | None = None, retries: int = 3,
                retry_delay: float = 1.0) -> Source:
    """Pick the source for ``spec``: a device index ("0"), a URL (rtsp://, http://...), a folder of frames,
    or a video file. ``fps`` overrides the source's frame rate; ``retries``/``retry_delay`` apply to live
    sources, which reopen that many times after a drop before giving up.
    """
    if isinstance(spec, int) and not isinstance(spec, bool):
        return VideoSource(spec, fps=fps, retries=retries, retry_delay=retry_delay)
    text = os.fspath(spec)
    if is_url(text) or (text.isdigit() and not Path(text).exists()):
        return VideoSource(int(text) if text.isdigit() else text, fps=fps, retries=retries, retry_delay=retry_delay)
    if Path(text).is_dir():
        return FrameFolderSource(text, fps=fps)
    return VideoSource(text, fps=fps, retries=retries, retry_delay=retry_delay)
