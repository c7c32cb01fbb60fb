"""Run the real git CLI hermetically: no system or user config, fixed identity and dates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.org",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_EDITOR": "false",
    "LC_ALL": "C",
}


def git(cwd: Path, *args: str, input: bytes | None = None, home: Path | None = None) -> bytes:
    """Run ``git args`` in ``cwd`` with a hermetic environment; return stdout, raise on failure."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_ENV}
    env["HOME"] = str(home if home is not None else cwd)
    env["GIT_CONFIG_GLOBAL"] = str(Path(env["HOME"]) / ".gitconfig")
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr.decode(errors='replace')}")
    return result.stdout
