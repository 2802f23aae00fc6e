"""Which source class serves a camera spec (device index, URL, frame folder, video file), and the camera id it gets."""

from __future__ import annotations

import os
from pathlib import Path

from cameras.frame_folder_source import FrameFolderSource
from cameras.source import Source, camera_id_for, is_url
from cameras.video_source import VideoSource

__all__ = ["camera_id_for", "open_source"]  # camera_id_for lives with Source; importable from here as before


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
