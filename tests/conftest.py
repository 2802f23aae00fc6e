"""Shared fixtures: where ../shared is, and a sandboxed $HOME so Paddle/Ray/matplotlib never write to the user's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Paddle bundles its own zlib symbols; a Cython module (scipy, sklearn, lap) imported after paddle then
# crashes in inflateReset2 unless Python's zlib module was loaded first. mtmct.paddle_backend does the same.
import zlib  # noqa: F401  (must precede any paddle import)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MTMCT_SHARED", ROOT.parent / "shared")).resolve()

_home = tempfile.mkdtemp(prefix="mtmct-test-home-")
os.environ["HOME"] = _home
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_home, "mpl"))
os.environ.setdefault("MTMCT_MODEL_HOME", os.path.join(_home, "models"))
os.environ.setdefault("RAY_TMPDIR", os.path.join(_home, "ray"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail under CI=true) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent: put the project's shared/ folder beside the checkout"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: shared data is required)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def test_output() -> Path:
    """A folder kept after the run for artefacts a person may want to look at (videos, screenshots)."""
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out
