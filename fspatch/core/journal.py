"""The journal of an operation in progress (pull-upstream, rebase-vendors).

Why a journal: an interactive replay stops at a conflict and hands the checkout to a
person; ``fspatch continue`` / ``skip`` must resume exactly where it stopped and
``fspatch abort`` must put back every byte the operation could have changed.  So
before anything changes, the original bytes are saved inside the backend's git
dir (never in ad-hoc workspace files, DESIGN §2) and the replay's progress is kept
next to them.

On-disk format, version 1
-------------------------
``<backend git dir>/fspatch/operation.json`` (written atomically)::

    {"format": 1,
     "operation": "pull-upstream" | "rebase-vendors",
     "backend": "<name>",
     "saved": {"files": {"<workspace-relative path>": "<blob name>" | null, ...},
               "dirs": ["series/<backend>", "vendors/<v>/<backend>", ...],
               "head": {"commit": "<40-hex>", "ref": "refs/heads/x" | null} | null,
               "index": "<blob name>" | null,
               "refs": {"<ref name>": "<40-hex>", ...}},
     "plan": {...}}          # the replay's progress, see fspatch.core.rebase.Plan

``<backend git dir>/fspatch/saved/<blob name>`` holds the original bytes of one
saved file (``null`` means the file did not exist).  ``files`` covers
``upstream.lock`` and every file below the backend's layer directories (``dirs``);
abort rewrites those, deletes files created below ``dirs`` since, restores the
git index file byte for byte, every direct ref (refs created since are deleted),
HEAD (branch or detached) and the working tree of the checkout.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fspatch.core.yamlio import atomic_write
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo

JOURNAL_FORMAT = 1
_DIR = "fspatch"
_FILE = "operation.json"


def journal_dir(repo: GitRepo) -> Path:
    return repo.git_dir / _DIR


def journal_path(repo: GitRepo) -> Path:
    return journal_dir(repo) / _FILE


def in_progress(repo: GitRepo) -> dict[str, Any] | None:
    """The journal of the operation in progress, or None."""
    path = journal_path(repo)
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_bytes())
    if data.get("format") != JOURNAL_FORMAT:
        raise UsageError(f"{path}: unknown journal format {data.get('format')!r}; upgrade fspatch")
    return data


def write(repo: GitRepo, data: dict[str, Any]) -> None:
    data = dict(data, format=JOURNAL_FORMAT)
    atomic_write(journal_path(repo), (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def save_originals(root: Path, repo: GitRepo, files: Iterable[str], dirs: Iterable[str]) -> dict[str, Any]:
    """Copy the original bytes of files (and of everything under dirs) into the journal dir."""
    saved_dir = journal_dir(repo) / "saved"
    if saved_dir.exists():
        shutil.rmtree(saved_dir)
    saved_dir.mkdir(parents=True)
    dirs = sorted(set(dirs))
    names: set[str] = set(files)
    for d in dirs:
        folder = root / d
        if folder.is_dir():
            for p in folder.rglob("*"):
                if p.is_file() and not p.is_symlink():
                    names.add(p.relative_to(root).as_posix())
    table: dict[str, str | None] = {}
    for i, rel in enumerate(sorted(names)):
        src = root / rel
        if src.is_file():
            blob = f"f{i:05d}"
            (saved_dir / blob).write_bytes(src.read_bytes())
            table[rel] = blob
        else:
            table[rel] = None
    index_file = repo.git_dir / "index"
    index_blob = None
    if index_file.is_file():
        index_blob = "index"
        (saved_dir / index_blob).write_bytes(index_file.read_bytes())
    head = repo.head()
    return {
        "files": table,
        "dirs": dirs,
        "head": None if head is None else {"commit": head, "ref": repo.head_ref()},
        "index": index_blob,
        "refs": repo.direct_refs(),
    }


def restore(root: Path, repo: GitRepo, saved: dict[str, Any]) -> list[str]:
    """Put back every saved byte (workspace files, checkout, index, refs, HEAD); the paths restored."""
    saved_dir = journal_dir(repo) / "saved"
    table: dict[str, str | None] = saved["files"]
    touched: list[str] = []
    # The checkout first: its files, then HEAD, index and refs.
    head = saved.get("head")
    if head is not None:
        repo.reset_hard(head["commit"])
    for rel, blob in sorted(table.items()):
        path = root / rel
        if blob is None:
            if path.exists():
                path.unlink()
                touched.append(rel)
        elif atomic_write(path, (saved_dir / blob).read_bytes()):
            touched.append(rel)
    for d in saved.get("dirs", []):
        folder = root / d
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and rel not in table:
                    p.unlink()
                    touched.append(rel)
    current = repo.direct_refs()
    want: dict[str, str] = saved["refs"]
    for name in sorted(set(current) | set(want)):
        if current.get(name) != want.get(name):
            repo.force_ref(name, want.get(name))
    if head is not None and head.get("ref"):
        repo.set_head_ref(head["ref"])
    if saved.get("index") is not None:
        index_bytes = (saved_dir / saved["index"]).read_bytes()
        (repo.git_dir / "index").write_bytes(index_bytes)
    return touched


def clear(repo: GitRepo) -> None:
    """Forget the operation (its journal and saved bytes)."""
    d = journal_dir(repo)
    path = journal_path(repo)
    if path.exists():
        path.unlink()
    if (d / "saved").exists():
        shutil.rmtree(d / "saved")
