"""Motion continuity within one camera: does a later tracklet start where an earlier one, still moving as it was,
would be after the gap?

A tracker breaks one person's track when an occlusion or a missed detection outlasts what it can bridge (its
appearance or motion gate refuses the re-found box); the two pieces are then a short gap apart and the second
starts near where the first, extrapolated at its last velocity, would be. That is evidence of identity that
does not rest on appearance, which at low resolution separates look-alikes poorly. Positions are foot points
(bottom-centre, where the person stands) in the camera's own pixels, and errors are measured in box heights, so
one tolerance fits near and far people and any resolution without knowing the scene.

All functions work on row-aligned arrays; :func:`end_states` is the one loop over tracklets (it reads their
boxes), everything after it is vectorised over pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mtmct.core.boxes import foot_points, tlwh_to_xyxy
from mtmct.core.tracklet import Tracklet


@dataclass(frozen=True)
class EndStates:
    """Per tracklet (rows as given): foot point, velocity (px/s) and box height at its start and at its end."""

    start_pos: np.ndarray  # (n, 2)
    start_vel: np.ndarray  # (n, 2)
    start_h: np.ndarray  # (n,)
    end_pos: np.ndarray
    end_vel: np.ndarray
    end_h: np.ndarray


def _state(boxes: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Foot points of the window's samples, velocity over the window, median height.

    The velocity is the displacement between the means of the first and last thirds of the window over the
    time between them: steadier against box jitter than two single samples, and one cheap expression."""
    feet = foot_points(tlwh_to_xyxy(boxes))  # tracklet boxes are tlwh
    height = float(np.median(boxes[:, 3]))
    m = len(times)
    if m < 2 or times[-1] <= times[0]:
        return feet, np.zeros(2), height
    third = max(1, m // 3)
    dt = float(times[-third:].mean() - times[:third].mean())
    vel = (feet[-third:].mean(0) - feet[:third].mean(0)) / dt if dt > 0 else np.zeros(2)
    return feet, vel, height


def end_states(tracklets: Sequence[Tracklet], window: int = 10) -> EndStates:
    """Start and end states of each tracklet, from its first and last ``window`` samples."""
    n = len(tracklets)
    out = {k: np.zeros((n, 2)) for k in ("start_pos", "start_vel", "end_pos", "end_vel")}
    out["start_h"], out["end_h"] = np.zeros(n), np.zeros(n)
    for r, t in enumerate(tracklets):
        feet, vel, h = _state(t.boxes[:window], t.times[:window])
        out["start_pos"][r], out["start_vel"][r], out["start_h"][r] = feet[0], vel, h
        feet, vel, h = _state(t.boxes[-window:], t.times[-window:])
        out["end_pos"][r], out["end_vel"][r], out["end_h"][r] = feet[-1], vel, h
    return EndStates(**out)


def continuity_error(states: EndStates, first: np.ndarray, second: np.ndarray, gap_s: np.ndarray) -> np.ndarray:
    """For pairs where row ``second`` starts ``gap_s`` seconds after row ``first`` ends: the distance between
    ``second``'s start and ``first``'s end extrapolated over the gap (and, the better of the two, ``first``'s
    end and ``second``'s start extrapolated back), in mean box heights. 0 is a perfect continuation; about 1
    is a body height off."""
    gap = np.asarray(gap_s, np.float64)[:, None]
    forward = states.end_pos[first] + states.end_vel[first] * gap - states.start_pos[second]
    backward = states.start_pos[second] - states.start_vel[second] * gap - states.end_pos[first]
    dist = np.minimum(np.linalg.norm(forward, axis=1), np.linalg.norm(backward, axis=1))
    height = np.maximum((states.end_h[first] + states.start_h[second]) / 2, 1e-6)
    return dist / height
