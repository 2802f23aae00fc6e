"""What `make demo` tells a new user to type must run in their shell as printed.

`make demo` does not activate the venv, so a bare ``mtmct serve ...`` was "command not found". The demo now
prints the command as the user's shell can find it; checked here from the checkout (where it is
``.venv/bin/mtmct``), from elsewhere, and with the venv on PATH (where it is plain ``mtmct``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BIN = str(Path(sys.executable).parent)
BARE_PATH = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != BIN)


def printed_then_typed(cwd: Path, path: str) -> tuple[str, subprocess.CompletedProcess]:
    """The name the demo would print from ``cwd`` with ``path``, and that name typed into /bin/sh there."""
    env = {**os.environ, "PATH": path}
    name = subprocess.run([sys.executable, "-c", "from mtmct.commands.demo import command_name; print(command_name())"],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()
    typed = subprocess.run(["/bin/sh", "-c", f"{name} serve --help"], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=120)
    return name, typed


@pytest.mark.parametrize("where", ["checkout", "elsewhere", "activated"])
def test_printed_command_runs_in_the_users_shell(where: str, tmp_path: Path) -> None:
    cwd = tmp_path if where == "elsewhere" else ROOT
    path = BIN + os.pathsep + BARE_PATH if where == "activated" else BARE_PATH
    name, typed = printed_then_typed(cwd, path)
    assert typed.returncode == 0 and "--db" in typed.stdout, (name, typed.stderr)
    if where == "activated":
        assert name == "mtmct"
    elif where == "checkout" and Path(BIN).parent == ROOT / ".venv":
        assert name == ".venv/bin/mtmct"
