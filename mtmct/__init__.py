"""mtmct: multi-camera, cross-camera tracking.

Nothing heavy is imported here: `import mtmct` stays cheap so the CLI starts fast and a missing optional backend
only fails when it is chosen. ``mtmct.track``, ``mtmct.mot_predict`` and ``mtmct.Module`` load on first use.
"""

from __future__ import annotations

import importlib

from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

__all__ = ["Detections", "MtmctError", "Module", "track", "mot_predict"]
__version__ = "0.1.0"

_LAZY = {"track": "mtmct.tracking", "mot_predict": "mtmct.paddlehub_api", "Module": "mtmct.paddlehub_api"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mtmct' has no attribute {name!r}")
