"""Frames from a folder of images: a MOTChallenge sequence (``img1/`` + ``seqinfo.ini``) or plain images."""

from __future__ import annotations

import configparser
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cameras.source import Source, SourceError, resolve_fps

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _natural_key(path: Path) -> list[object]:
    """Sort ``2.jpg`` before ``10.jpg`` as well as zero-padded MOT names."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class FrameFolderSource(Source):
    """Images sorted by name, numbered from 1 in that order (gaps in file numbering are not kept).

    A folder with ``seqinfo.ini`` reads its ``imDir`` (default ``img1``) and ``frameRate``; a folder that
    has an ``img1/`` but no ini reads that; anything else reads the images in the folder itself. The
    frame count is the images present, not ``seqLength`` (cut-down sequences hold only a few frames).
    """

    def __init__(self, folder: str | os.PathLike[str], fps: float | None = None) -> None:
        root = Path(folder)
        self.name = self.spec = str(root)
        if not root.is_dir():
            raise SourceError(f"{self.name}: no such folder")
        seq = configparser.ConfigParser()
        ini = root / "seqinfo.ini"
        try:
            seq.read(ini)
        except configparser.Error as err:
            raise SourceError(f"{ini}: unreadable seqinfo.ini ({str(err).splitlines()[0]})") from None
        # configparser lower-cases keys: imDir -> imdir
        section = dict(seq["Sequence"]) if seq.has_section("Sequence") else {}
        image_dir = root / section.get("imdir", "img1")
        if not image_dir.is_dir():
            if section:
                raise SourceError(f"{self.name}: seqinfo.ini names image folder '{image_dir.name}', which is absent")
            image_dir = root
        self.paths = sorted((p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                            key=_natural_key)
        if not self.paths:
            raise SourceError(f"{self.name}: no images ({', '.join(IMAGE_EXTENSIONS)}) in {image_dir}")
        try:
            known = float(section["framerate"]) if "framerate" in section else None
        except ValueError:
            raise SourceError(f"{ini}: frameRate is not a number: {section['framerate']!r}") from None
        self.fps = resolve_fps(self.name, fps, known, "seqinfo.ini" if section else "a plain image folder")
        height, width = self._read(self.paths[0]).shape[:2]  # fail at open on an unreadable first image
        self.size = (width, height)
        log.info("%s: %d images, %dx%d at %g fps", self.name, len(self.paths), width, height, self.fps)

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"{path}: cannot read this image (missing, corrupt, or not an image)")
        return image

    def _images(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield self._read(path)
