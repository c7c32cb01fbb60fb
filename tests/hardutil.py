"""Helpers for the hardening tests (issue 15): exact snapshots, a scratch-clone diff, the CLI in one call."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from fspatch.cli import main_group
from scripts.example import git, git_bytes


def tree_snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under root with its mode and content hash (link target for symlinks).

    The checkout's ``.git`` is included (HEAD, index, refs, fspatch journals) except its object
    store: an in-memory build may leave unreachable objects, never a moved ref.
    """
    out: dict[str, tuple[int, str]] = {}
    for folder, dirs, files in os.walk(root):
        parts = Path(folder).relative_to(root).parts
        if ".git" in parts and "objects" in parts[parts.index(".git") :]:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(folder, name)
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = (st.st_mode, "-> " + os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = (st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = (st.st_mode, "")
    return out


def without_locks(snap: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """A snapshot without lock files: a killed verb's lock is stale, the next verb takes it over and removes it."""
    return {k: v for k, v in snap.items() if not (k.endswith("fspatch/lock") or k.endswith(".fspatch.lock"))}


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The real CLI, errors caught as the console script would (one line, an exit code)."""
    return CliRunner().invoke(main_group, ["-C", str(root), *args], env=env)


def one_error_line(result: Result) -> str:
    """The single ``error:`` line of a refused command (and no traceback, no internal error)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    lines = [line for line in out.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    return lines[0]


def git_diff_of(upstream: Path, ref: str, edit: Callable[[Path], None], *args: str) -> bytes:
    """``git diff`` (with ``args``) of an edit made in a scratch clone of ``upstream`` at ``ref``."""
    scratch = upstream.parent / (upstream.name + ".scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    git(upstream.parent, "clone", "-q", str(upstream), str(scratch))
    try:
        git(scratch, "checkout", "-q", ref)
        edit(scratch)
        git(scratch, "add", "-A")
        return git_bytes(scratch, "diff", "--cached", *args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
