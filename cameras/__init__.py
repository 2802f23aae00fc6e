"""One camera's work: sources, detectors, ReID embedders, trackers."""
