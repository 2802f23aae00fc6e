"""The camera-set YAML format (:data:`REFERENCE`) and its loader, the entry point of :mod:`mtmct.core.config`.

Every key is a field of the typed model it loads into (``mtmct/core/config/``, one file per component) and nothing
else, so a typo is an error that names the file and the key instead of a silently ignored option. Each field's
description (``mtmct config schema``) states its trade-off; REFERENCE below is the annotated example.
"""

from __future__ import annotations

from mtmct.core.config.camera_set import CameraConfig, CameraSetConfig, Zone, load_camera_config, schema
from mtmct.core.config.floor_plan import FloorPlanConfig
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.config.models import ModelsConfig
from mtmct.core.config.topology import Link, LinkConfig, TopologyConfig
from mtmct.core.config.tracker import TrackerConfig
from mtmct.core.config.tracklets import TrackletsConfig

__all__ = ["REFERENCE", "CameraConfig", "CameraSetConfig", "FloorPlanConfig", "FusionConfig", "Link", "LinkConfig",
           "ModelsConfig", "TopologyConfig", "TrackerConfig", "TrackletsConfig", "Zone", "load_camera_config",
           "schema"]

# The documented format: every key below is a model field and every field is documented here (tested).
REFERENCE = """\
name: pets09-overlap                # a label for runs and the database; default: the file's name
models:                             # the detector and ReID model every camera uses
  detector: models/yolox-nano-coco  # registry name, or a model folder/file (relative to this file)
  reid: models/omz-person-reid-0277 # registry name, model path, or null for motion-only tracking
  device: cpu                       # cpu, gpu, gpu:1 ...
  conf: 0.3                         # detector threshold: lower finds more people and more clutter
  classes: null                     # class ids to keep; null: the model's default (person)
  embed_every_frame: false          # true: ReID on every box of every frame (slower); false: only where the
                                    # tracker's association needs it (its embed_interval, ambiguity_iou)
tracker: ../trackers/deepsort.yaml  # DeepSort arguments (TrackerConfig): a YAML path or an inline mapping;
                                    # null: the shipped preset (deepsort.yaml; deepsort_motion.yaml without reid)
tracklets:                          # how tracks become tracklets (TrackletBuilder arguments)
  min_frames: 10                    # shorter tracklets are flagged 'short': fusion attaches them, never bridges
  min_height: 50                    # px; tracklets of smaller people are flagged 'small' (weak ReID)
  n_crops: 3                        # representative crops kept per tracklet (review; storage)
  crop_height: 128                  # px the crops are resized to
  jpeg_quality: 90                  # 0-100, crops' JPEG quality
cameras:                            # one entry per camera; each runs in its own actor
  - id: c1                          # unique; names the output file <id>.txt
    source: c1/video.mp4            # video file, frame folder, device index, or rtsp:// / http:// URL
    fps: 10                         # overrides the source's frame rate; null: the source's own
    det_conf: null                  # a det:PATH source's score threshold; null: models.conf
    clock_offset: 0.0               # seconds added to this camera's timestamps to reach the shared clock
    zones:                          # named image regions (hand-over areas) for fusion and dashboards
      - name: door                  # unique within the camera
        polygon: [[0, 0], [50, 0], [50, 80]]  # at least 3 [x, y] points in the camera's pixels
    homography: [[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1]]  # image to ground plane (3x3); null: none
  - id: c2
    source: c2/video.mp4
    calibration:                    # ground plane in METRES, the full form of homography; exactly one of: homography,
                                    # points {image: [[u, v], ...], ground: [[X, Y], ...]} (4+ pairs, fit by OpenCV),
                                    # K + R + t (+ dist), or file + view (calibration.json or WILDTRACK/MultiviewX XML)
      homography: [[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1]]  # undistorted image pixel -> ground metres
      image_size: [288, 360]        # the [width, height] these numbers are for; frames of another size are scaled
topology:                           # a list of links, or this mapping of links and the time rules' knobs
  links:                            # which camera pairs a person can pass between (unlisted pairs: see unlisted)
    - a: c1                         # the two cameras of the link (either order)
      b: c2                         # the other camera
      overlap: true                 # the views overlap: the same person is seen in both at the same time
      min_s: null                   # windowed links only: fewest seconds from leaving a to entering b; null/auto: learned
      max_s: null                   # windowed links only: most seconds; null/auto: learned from confident matches
  unlisted: auto                    # pairs with no link: auto = linked when the run's evidence is strong; never
  auto_max_s: 60.0                  # longest transit searched when a window is learned
  overlap_gap_s: 2.0                # longest gap between tracklets of overlapping cameras that share no time
  reentry_max_s: null               # longest gap for a re-entry in one camera; null: any
  max_ground_distance: 1.5          # homographies: most ground distance (m) between one person's two views
  max_ground_speed: 3.0             # calibrated: fastest walk (m/s) from one tracklet's exit to the next's entry
  sync_tolerance_s: 0.2             # homographies: how close in time two samples must be to compare positions
fusion:                             # how tracklets become global identities (FusionConfig)
  similarity: auto                  # minimum appearance similarity of a link on looks alone; auto: calibrated
  overlap_similarity: auto          # minimum similarity of a simultaneous pair in overlapping views
  motion_gap_s: 2.0                 # longest gap (s) for a motion continuation in one camera; 0 disables
  motion_tolerance: 1.0             # box heights between the extrapolated end and the next start
  ground_distance: 1.0              # calibrated views: metres within which simultaneous sightings are one person
  ground_min_samples: 3             # fewest common moments for that
  ground_transit_s: 10.0            # longest blind gap (s) a person is carried through on the ground
  estimate_clock_offset: false      # estimate small clock offsets of calibrated cameras from the ground, apply, report
  max_clock_offset_s: 1.0           # largest offset (s) searched for that
  motion_similarity: auto           # minimum similarity of a motion continuation (a veto)
  false_merge_rate: 0.001           # calibration: share of different-person pairs that reach similarity
  veto_false_rate: 0.1              # calibration: share of different-person pairs that pass the vetoes
  competitors: true                 # thresholds rise with the tracklets competing across a gap
  min_evidence: 10                  # fewest different-person pairs to calibrate from (else defaults)
  transit_matches: 4                # fewest confident matches to learn a transit window from
  k: 10                             # appearance neighbours per tracklet
  linkage: average                  # average (resists chaining) or single (merges eagerly)
  rerank: false                     # order merges by k-reciprocal re-ranked distance
  rerank_k1: 20                     # re-ranking neighbourhood
  rerank_k2: 6                      # re-ranking query expansion
  rerank_lambda: 0.3                # re-ranking weight of the original distance
  rerank_max_n: 5000                # most tracklets re-ranked (memory grows with the square)
  min_quality: 0.0                  # tracklets below this quality only attach, never bridge
  low_quality_flags: [short, small] # flags that make a tracklet attach-only
  exact_max_n: 20000                # exact neighbour search up to this many tracklets, IVF beyond
  nprobe: 16                        # IVF lists searched per query
  use_gpu: null                     # neighbour search on GPU; null: when one is present
floor_plan:                         # an image under the dashboard's ground map; null: none (drawn only, never used
                                    # to place anyone). Image x runs along ground +X, image y along -Y (Y up)
  image: plans/ground_floor.png     # PNG, JPEG, WebP, GIF or BMP (relative to this file); a missing file is an error
  metres_per_pixel: 0.05            # the plan's scale: ground metres one image pixel spans, on both axes
  origin: [-20.0, 9.0]              # ground [X, Y] in metres of the image's top-left corner
"""
