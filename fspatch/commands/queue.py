"""The quilt questions about a stack: ``top``, ``next``, ``previous``, ``applied``, ``unapplied``,
``files [PATCH]`` and ``patches FILE``.  Read-only: nothing is fetched, built or written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core.lookup import all_layers, find_patch, layer_of, working_layer
from fspatch.core.session import Session, read_patch
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class NamesResult:
    """Patch names of one layer (``top``/``next``/``previous`` give one, ``applied``/``unapplied`` many)."""

    backend: str
    layer: str
    dir: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class FilesResult:
    backend: str
    layer: str
    patch: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class PatchesResult:
    """Patches touching FILE, each as ``layer/name`` (the form every verb accepts back)."""

    backend: str
    file: str
    patches: tuple[str, ...]


def _open(ws: Workspace, backend: str) -> Session:
    return Session.open(ws, backend, fetch=False, read_only=True)


def _split(s: Session, layer_option: str | None) -> tuple[LayerRef, list[str], list[str]]:
    layer = working_layer(s, layer_option)
    names = [e.name for e in s.entries(layer)]
    ls = s.layer_state(layer)
    applied = ls.names() if ls is not None else []
    return layer, applied, names[len(applied) :]


def run_position(ws: Workspace, backend: str, which: str, *, layer: str | None = None) -> NamesResult:
    """``top``, ``next`` or ``previous`` of the working layer."""
    s = _open(ws, backend)
    ref, applied, unapplied = _split(s, layer)
    d = ref.dir.as_posix()
    if which == "next":
        if not unapplied:
            raise UsageError(f"all patches of {d} are applied")
        picked = unapplied[0]
    elif not applied:
        raise UsageError(f"no patches of {d} are applied")
    elif which == "top":
        picked = applied[-1]
    elif which == "previous":
        if len(applied) < 2:
            raise UsageError(f"{applied[-1]} is the bottom patch of {d}; there is no previous one")
        picked = applied[-2]
    else:
        raise UsageError(f"unknown position {which!r}")
    return NamesResult(s.backend.name, ref.label, d, (picked,))


def run_list(ws: Workspace, backend: str, which: str, *, layer: str | None = None) -> NamesResult:
    """``applied`` or ``unapplied`` patches of the working layer, in series order."""
    s = _open(ws, backend)
    ref, applied, unapplied = _split(s, layer)
    names = applied if which == "applied" else unapplied
    return NamesResult(s.backend.name, ref.label, ref.dir.as_posix(), tuple(names))


def run_files(ws: Workspace, backend: str, patch: str | None = None, *, layer: str | None = None) -> FilesResult:
    """The files a patch changes (default: the top patch of the working layer), sorted."""
    s = _open(ws, backend)
    if patch is None:
        ref, applied, _ = _split(s, layer)
        if not applied:
            raise UsageError(f"no patches of {ref.dir.as_posix()} are applied; name one: 'fspatch files PATCH'")
        name = applied[-1]
    else:
        ref, name = find_patch(s, patch, layer)
    entry = next(e for e in s.entries(ref) if e.name == name)
    parsed = read_patch(ws.patch_path(ref, name), f"{ref.dir.as_posix()}/{name}", entry.strip, ws.root)
    files = sorted({p for fd in parsed.files for p in (fd.old_path, fd.new_path) if p is not None})
    return FilesResult(s.backend.name, ref.label, name, tuple(files))


def backend_path(ws: Workspace, backend: str, file: str, cwd: Path) -> str:
    """FILE as a path inside the backend tree: as given, or through the checkout (relative to cwd or the root)."""
    checkout = ws.checkout_path(ws.backend(backend)).resolve()
    for base in (cwd, ws.root):
        full = (base / file).resolve()
        if checkout == full or checkout in full.parents:
            return full.relative_to(checkout).as_posix()
    return Path(file).as_posix().removeprefix("./")


def run_patches(
    ws: Workspace, backend: str, file: str, *, layer: str | None = None, cwd: Path | None = None
) -> PatchesResult:
    """Every patch (of every layer of the backend, or of the one named) that touches FILE, in stack order."""
    b = ws.backend(backend)
    path = backend_path(ws, b.name, file, cwd or Path.cwd())
    named = layer_of(ws, b.name, layer)
    layers = [named] if named is not None else all_layers(ws, b.name)
    hits: list[str] = []
    for ref in layers:
        for e in ws.read_layer_series(ref):
            display = f"{ref.dir.as_posix()}/{e.name}"
            parsed = read_patch(ws.patch_path(ref, e.name), display, e.strip, ws.root)
            if any(path in (fd.old_path, fd.new_path) for fd in parsed.files):
                hits.append(f"{ref.label}/{e.name}")
    return PatchesResult(b.name, path, tuple(hits))
