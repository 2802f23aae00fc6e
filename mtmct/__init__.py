"""mtmct: multi-camera, cross-camera tracking.

Nothing heavy is imported here: `import mtmct` must stay cheap so the CLI starts fast and a missing optional
backend only fails when it is chosen.
"""

from mtmct.detections import Detections
from mtmct.errors import MtmctError

__all__ = ["Detections", "MtmctError"]
__version__ = "0.1.0"
