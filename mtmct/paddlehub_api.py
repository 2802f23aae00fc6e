"""``mot_predict``: the PaddleHub tracking modules' function (fairmot_dla34, jde_darknet53), same arguments.

For users moving from ``hub.Module(name="fairmot_dla34").mot_predict(...)``: ``mtmct.Module(name="fairmot_dla34")
.mot_predict(...)`` runs that one-shot model (FairMOT / JDE export, JDE association), and plain ``mot_predict``
tracks with this project's pipeline (detector + ReID + DeepSORT); both write MOTChallenge text plus, with
``visualization``, a video.
"""

from __future__ import annotations

from pathlib import Path

from cameras.source import is_url
from mtmct.core.errors import MtmctError
from mtmct.core.models.registry import REGISTRY
from mtmct.tracking import TrackResult, track


def mot_predict(
    video_stream: str | int,
    output_dir: str = "",
    visualization: bool = True,
    draw_threshold: float = 0.5,
    use_gpu: bool = False,
    from_device: bool = False,
    detector: str | None = None,
    reid: str | None = None,
) -> TrackResult:
    """Track the people in ``video_stream`` (a video path, or a camera index with ``from_device=True``).

    Results go to ``output_dir/mot_outputs/<name>.txt`` (``output_dir`` '' is the current folder) and, with
    ``visualization``, ``<name>.mp4`` beside it with boxes whose score is at least ``draw_threshold``.
    ``detector``/``reid`` default to PaddleDetection's pedestrian models (registry names or paths work).
    """
    if from_device:
        if not str(video_stream).isdigit():
            raise MtmctError(f"from_device=True needs a camera index such as '0', got {video_stream!r}")
        video_stream = int(video_stream)
    elif not Path(str(video_stream)).exists() and not is_url(str(video_stream)):
        raise MtmctError(f"video_stream {video_stream} does not exist")
    out = Path(output_dir or ".") / "mot_outputs"
    return track(str(video_stream), out=out, detector=detector, reid=reid, save_video=visualization,
                 draw_threshold=draw_threshold, device="gpu" if use_gpu else "cpu")


class Module:
    """PaddleHub's ``hub.Module(name=...)`` for its tracking modules: ``Module(name="fairmot_dla34").mot_predict(...)``.

    ``name`` is a registry model (``fairmot_dla34``, ``jde_darknet53_30e_1088x608``, any detector of ``mtmct models
    list``; pulled on first use) or the path of an exported model folder.
    """

    def __init__(self, name: str) -> None:
        if name not in REGISTRY and not Path(name).expanduser().exists():
            raise MtmctError(f"unknown module '{name}': not a model folder, and not one of {', '.join(REGISTRY)}")
        self.name = name

    def mot_predict(self, video_stream: str | int, output_dir: str = "", visualization: bool = True,
                    draw_threshold: float = 0.5, use_gpu: bool = False, from_device: bool = False) -> TrackResult:
        """:func:`mot_predict` with this module's model as the detector (a one-shot model needs no ReID)."""
        return mot_predict(video_stream, output_dir, visualization, draw_threshold, use_gpu, from_device,
                           detector=self.name)
