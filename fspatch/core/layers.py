"""Build a layer's patches in memory, one step a patch, with failures located in the patch file.

Used by ``check`` (apply and marker checks share one pass) and ``matrix``: each
step gives the patch's parent tree and patched tree, so a checker can look at
what the patch does without touching the checkout.  A patch that does not apply
ends its layer's walk with a :class:`StepError` that names the line of the
patch file to look at (the failing hunk's ``@@`` line, or the ``diff`` line of
the file that is missing or already exists), because that is what the person
will open in an editor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fspatch.core.stack import Builder, PatchSource, apply_files
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import ConflictError, HunkFailed, InputError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class PatchStep:
    """One patch of one layer, built: its source, the trees before and after it, its commit."""

    layer: LayerRef
    source: PatchSource
    parent_tree: str
    tree: str
    commit: str = ""


@dataclass(frozen=True)
class StepError:
    """A patch that could not be applied (the layer's walk stops there).

    ``line`` is the 1-based line in the patch file to look at (0 when unknown);
    ``message`` names the upstream file and hunk.
    """

    layer: LayerRef
    display: str
    message: str
    line: int = 0


@dataclass(frozen=True)
class ApplyFailure:
    """Why one patch does not apply, and the 1-based line of the patch file to look at (0: unknown)."""

    message: str
    line: int = 0


def apply_step(repo: GitRepo, builder: Builder, parent: str, src: PatchSource, data: bytes) -> str | ApplyFailure:
    """Apply one patch on ``parent``: the new commit, or a located :class:`ApplyFailure`.

    ``data`` is the patch file's bytes (to find the line of the failing hunk).
    Same result as :meth:`Builder.apply`, which does not keep the hunk's place.
    """
    tree = repo.tree_of(parent)
    try:
        new_tree = apply_files(repo, tree, src.patch.files)
    except HunkFailed as exc:
        return ApplyFailure(str(exc), _hunk_line(data, src, exc.file, exc.index))
    except (ConflictError, InputError) as exc:
        return ApplyFailure(exc.message, _diff_line(data, exc.message))
    return builder.commit(new_tree, parent, src.patch)


def walk_layer(
    repo: GitRepo, builder: Builder, layer: LayerRef, base: str, sources: Sequence[tuple[PatchSource, bytes]]
) -> Iterator[PatchStep | StepError]:
    """Each patch of ``sources`` on top of the previous one, starting at ``base``; stops at the first failure."""
    parent = base
    for src, data in sources:
        got = apply_step(repo, builder, parent, src, data)
        if isinstance(got, ApplyFailure):
            yield StepError(layer, src.display, got.message, got.line)
            return
        yield PatchStep(layer, src, repo.tree_of(parent), repo.tree_of(got), got)
        parent = got


# --------------------------------------------------------------------------- locating failures


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")  # "\n" only (DESIGN §4: form feeds are not line breaks)


def _diff_start(lines: Sequence[bytes]) -> int:
    """Index of the first line of the diff part (after the header and description)."""
    for i, line in enumerate(lines):
        if line.startswith((b"diff ", b"--- ", b"Index: ")):
            return i
    return 0


def _hunk_line(data: bytes, src: PatchSource, file: str, index: int) -> int:
    """1-based line of hunk ``index`` (1-based) of ``file`` in the patch file, 0 if not found."""
    ordinal = 0
    for fd in src.patch.files:
        if fd.path == file or fd.old_path == file:
            ordinal += index
            break
        ordinal += len(fd.hunks)
    else:
        return 0
    lines = _lines(data)
    seen = 0
    for i in range(_diff_start(lines), len(lines)):
        if lines[i].startswith(b"@@ -"):
            seen += 1
            if seen == ordinal:
                return i + 1
    return 0


def _diff_line(data: bytes, message: str) -> int:
    """1-based line of the ``diff`` header of the file a message starts with (``path: …``), 0 if none."""
    path = message.split(": ", 1)[0].encode("utf-8", "surrogateescape")
    lines = _lines(data)
    start = _diff_start(lines)
    for i in range(start, len(lines)):
        line = lines[i]
        if line.startswith(b"diff ") and (b"/" + path + b" " in line or line.endswith(b"/" + path)):
            return i + 1
    return start + 1 if lines and start < len(lines) and lines[start] else 0


def common_fingerprint(ws: Workspace, backend: str) -> str:
    """SHA-256 over the common layer's series file and its patch files' bytes (in series order)."""
    layer = LayerRef(ws.backend(backend).name, None)
    h = hashlib.sha256()
    series = ws.series_path(layer)
    data = series.read_bytes() if series.is_file() else b""
    h.update(b"series %d\n" % len(data) + data)
    for entry in ws.read_layer_series(layer) if series.is_file() else []:
        body = ws.read_patch(layer, entry.name)
        h.update(b"patch %s %d\n" % (entry.name.encode(), len(body)) + body)
    return h.hexdigest()
