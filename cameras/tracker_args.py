"""A tracker config's constructor arguments: from a YAML file or a mapping, ``type`` checked against the tracker
class and dropped, unknown keys refused in one line. Shared by every tracker's ``from_config`` and the registry
(:mod:`cameras.tracker_registry`), and imports no tracker, so neither depends on the other."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mtmct.core.errors import MtmctError


def constructor_keys(cls: type) -> list[str]:
    """The keys a tracker's config may hold: its constructor's arguments."""
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]


def read_tracker_config(config: Mapping | str | Path) -> dict[str, Any]:
    """A tracker config as a plain dict (a mapping, a typed config iterating as pairs, or a YAML file)."""
    if not isinstance(config, (str, Path)):
        return dict(config)
    path = Path(config)
    if not path.is_file():
        raise MtmctError(f"tracker config {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise MtmctError(f"tracker config {path} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(data, dict):
        raise MtmctError(f"tracker config {path} must be a mapping of tracker arguments")
    return data


def tracker_arguments(cls: type, config: Mapping | str | Path) -> dict[str, Any]:
    """``config``'s constructor arguments for ``cls`` (whose ``kind`` a ``type`` key must name; it is dropped)."""
    data = read_tracker_config(config)
    kind = data.pop("type", cls.kind)
    if kind != cls.kind:
        raise MtmctError(f"a tracker config of type {kind!r} given to {cls.__name__} ({cls.kind})")
    unknown = sorted(set(data) - set(constructor_keys(cls)))
    if unknown:
        raise MtmctError(f"{cls.__name__}: unknown tracker key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(constructor_keys(cls))})")
    return data
