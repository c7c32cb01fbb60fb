"""The workspace model: ``upstream.lock``, the layers, the vendors (DESIGN sections 1-2).

Why one module: every read and write of a workspace file goes through here (and
:mod:`fspatch.core.yamlio`), so paths are checked in one place, every YAML file is validated
against its schema, and every write is atomic and keeps the file's comments.

Layout (format version 1)::

    upstream.lock                       format: 1, backends: {name: url, mirrors, ref, commit,
                                        path, version}, settings: {markers: …}
    series/<backend>/series             the common layer (quilt series) + its *.patch files
    vendors/<vendor>/vendor.yaml        name, device_type, contact, description
    vendors/<vendor>/<backend>/series   a vendor layer + its patches, layer.yaml,
                                        diff.patch and diff.yaml (the exported form)
    vendors/history.yaml                derived index of published exports
    schemas/*.schema.json               copies of the packaged schemas, for editors

The loaded lock is kept as ruamel round-trip data: :meth:`Workspace.set_backend` and
:meth:`Workspace.remove_backend` edit it in memory and :meth:`Workspace.save_lock` writes it
back with comments and key order intact (and writes nothing when nothing changed).
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fspatch.core.schema import SCHEMA_NAMES, errors_cached, schema_text, validate
from fspatch.core.series import (
    SeriesEntry,
    check_patch_name,
    format_series,
    read_series,
)
from fspatch.core.yamlio import (
    atomic_write,
    display_path,
    dump_yaml,
    load_yaml,
    overwrite,
    parse_yaml,
    read_regular,
    real_inside,
)
from fspatch.errors import InputError, PathEscapeError, UsageError

__all__ = [
    "DEFAULT_SETTINGS",
    "LOCK_NAME",
    "Backend",
    "LayerRef",
    "Workspace",
    "find_root",
    "init_workspace",
    "max_patch_bytes",
    "normalize_backend",
    "read_patch_bytes",
    "valid_name",
    "valid_vendor",
]

LOCK_NAME = "upstream.lock"
SERIES_NAME = "series"
LAYER_META = "layer.yaml"
VENDOR_META = "vendor.yaml"
#: File names a layer directory keeps for itself; a patch may not use them.
PENDING_NAME = "pending.yaml"
RESERVED_NAMES = frozenset({SERIES_NAME, LAYER_META, VENDOR_META, PENDING_NAME, "diff.patch", "diff.yaml"})
#: Folder of a vendor layer holding FlagScale's files verbatim when the layer is *opaque*
#: (imported encrypted without a key; ``flagscale.opaque`` in layer.yaml): never patches of the series.
OPAQUE_DIR = "opaque"

#: ``settings`` as they are when ``upstream.lock`` says nothing.  ``syntaxes`` only holds the
#: workspace's overrides; the marker checker merges them over its built-in table.
DEFAULT_SETTINGS: dict[str, Any] = {
    "markers": {"tag": "FLAGSCALE MODIFICATION", "syntaxes": {}, "exempt_new_files": True},
}

_NAME = re.compile(r"[a-z0-9_]+")
_VENDOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_ALIASES = {
    "megatron-lm": "megatron",
    "megatron_lm": "megatron",
    "megatron.lm": "megatron",
    "llama.cpp": "llama_cpp",
    "llama-cpp": "llama_cpp",
    "llamacpp": "llama_cpp",
}

_LOCK_TEMPLATE = b"""\
# fspatch upstream lock: the pinned upstream commit of every backend this workspace patches.
# Changed by fspatch commands (comments and order are kept); schema: schemas/lock.schema.json
# yaml-language-server: $schema=schemas/lock.schema.json
format: 1
backends: {}
"""


# --------------------------------------------------------------------------- patch files

#: Largest patch file fspatch reads (64 MiB); ``FSPATCH_MAX_PATCH_BYTES`` overrides it.
DEFAULT_MAX_PATCH_BYTES = 64 << 20


def max_patch_bytes() -> int:
    """The patch size limit: ``FSPATCH_MAX_PATCH_BYTES`` (bytes, > 0) or 64 MiB."""
    from fspatch.core.limits import limit

    return limit("FSPATCH_MAX_PATCH_BYTES")


def read_patch_bytes(path: Path, display: str, root: Path | None = None) -> bytes:
    """Read one patch file, refusing what is not a plain patch file of the workspace.

    Why: a layer directory comes from other people.  A patch file that is a symlink (to
    ``/etc/passwd``, to a file of another checkout) is refused, as is a path whose real location
    leaves ``root``; a directory or a device is not a patch; and a file over the size limit
    (:func:`max_patch_bytes`) is refused from its size, before a byte of it is read, so a
    200 MB mistake costs nothing.
    """
    limit = max_patch_bytes()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InputError("patch file not found", path=display) from None
    except OSError as exc:
        raise InputError(f"cannot read patch file: {exc.strerror}", path=display) from None
    if stat.S_ISLNK(st.st_mode):
        raise PathEscapeError("patch file is a symlink; fspatch reads only regular files", path=display)
    if stat.S_ISDIR(st.st_mode):
        raise InputError("patch file is a directory, not a file", path=display)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("patch file is not a regular file", path=display)
    if root is not None:
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([real, real_root]) != real_root:
            raise PathEscapeError("patch file lies outside the workspace (through a symlink)", path=display)
    if st.st_size > limit:
        raise InputError(
            f"patch file is {st.st_size} bytes, over the {limit}-byte limit (set FSPATCH_MAX_PATCH_BYTES to raise it)",
            path=display,
        )
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"cannot read patch file: {exc.strerror}", path=display) from None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(
            f"patch file is over the {limit}-byte limit (set FSPATCH_MAX_PATCH_BYTES to raise it)",
            path=display,
        )
    return data


# --------------------------------------------------------------------------- names

#: Top-level folders fspatch owns in a workspace: no backend checkout may live in them.
OWN_DIRS = frozenset({"series", "vendors", "schemas"})


def check_checkout_path(ws: Workspace, name: str, rel: str) -> Path:
    """Where a new backend's checkout goes, refused (before anything is cloned) unless it is a
    clean relative path inside the workspace, outside ``.git`` and fspatch's own folders, not
    inside (nor around) another backend's checkout, without control bytes, and not reached
    through a symlink that leaves the workspace."""
    from fspatch.core.limits import hint, limit

    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(part in ("..",) for part in parts):
        raise UsageError(f"checkout path {rel!r} is outside the workspace (give a relative path inside it)")
    if not rel or any(part in ("", ".") for part in parts):
        raise UsageError(f"checkout path {rel!r} is not a clean relative path")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in rel):
        raise UsageError(f"checkout path {rel!r} contains control characters")
    if any(part.lower() == ".git" for part in parts):
        raise UsageError(f"checkout path {rel!r} points into a .git directory")
    if parts[0] in OWN_DIRS or parts[0] == LOCK_NAME:
        raise UsageError(f"checkout path {rel!r} is inside {parts[0]}/, which fspatch keeps for its own files")
    if any(len(part.encode("utf-8", "surrogateescape")) > limit("FSPATCH_MAX_NAME_BYTES") for part in parts):
        raise UsageError(
            f"checkout path {rel[:60]!r}... has a component over the limit " + hint("FSPATCH_MAX_NAME_BYTES")
        )
    full = ws.root.joinpath(*parts)
    real_root = Path(os.path.realpath(ws.root))
    real = Path(os.path.realpath(full))
    if real_root not in real.parents:
        raise UsageError(f"checkout path {rel} is outside the workspace (through a symlink)")
    for other in ws.backends().values():
        a, b = PurePosixPath(other.path), PurePosixPath(rel)
        if other.name != name and (a == b or a in b.parents or b in a.parents):
            raise UsageError(
                f"backend {name!r} cannot use checkout path {rel!r}: backend {other.name!r} uses {other.path!r}"
            )
    return full


def normalize_backend(name: str) -> str:
    """Map a user's spelling to the backend name: ``Megatron-LM`` → ``megatron``, ``llama.cpp``
    → ``llama_cpp``, ``vLLM`` → ``vllm``; otherwise lowercase with ``-``/``.`` → ``_``."""
    lowered = name.strip().lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    return lowered.replace("-", "_").replace(".", "_")


def valid_name(name: str) -> bool:
    """True for a backend name as stored: ``^[a-z0-9_]+$``."""
    return bool(_NAME.fullmatch(name))


def valid_vendor(name: str) -> bool:
    """True for a vendor directory name that is also safe inside a git ref name."""
    return bool(_VENDOR.fullmatch(name))


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Backend:
    """One backend's pinned upstream, as ``upstream.lock`` records it."""

    name: str
    url: str
    ref: str
    commit: str
    path: str
    mirrors: tuple[str, ...] = ()
    version: str | None = None
    #: Other spellings of the name (FlagScale's ``Megatron-LM``), for importers and compat flags.
    aliases: tuple[str, ...] = ()


TASKS = ("train", "inference", "post_train")
"""What a vendor layer can be for, in the order reports list them: the one definition
(the JSON Schemas' enums are pinned equal to it by ``tests/test_names_defined_once.py``)."""


@dataclass(frozen=True)
class LayerRef:
    """Names one layer: the common layer of ``backend`` (``vendor=None``) or a vendor's layer."""

    backend: str
    vendor: str | None = None

    def __post_init__(self) -> None:
        if not valid_name(self.backend):
            raise UsageError(f"bad backend name {self.backend!r} (lowercase [a-z0-9_]+)")
        if self.vendor is not None and not valid_vendor(self.vendor):
            raise UsageError(
                f"bad vendor name {self.vendor!r} (letters, digits, '_' and '-', starting with a letter or digit)"
            )

    @property
    def dir(self) -> Path:
        """The layer's directory relative to the workspace root."""
        if self.vendor is None:
            return Path("series", self.backend)
        return Path("vendors", self.vendor, self.backend)

    @property
    def label(self) -> str:
        """How reports name the layer: ``common`` or ``vendor/<name>``."""
        return "common" if self.vendor is None else f"vendor/{self.vendor}"

    @property
    def id(self) -> str:
        """The layer as one git ref component: ``common`` or ``vendor-<name>``."""
        return "common" if self.vendor is None else f"vendor-{self.vendor}"

    @classmethod
    def from_label(cls, backend: str, label: str) -> LayerRef:
        """The layer a label names (``common`` or ``vendor/<name>``): the one place labels are parsed."""
        return cls(backend, vendor_of_label(label))


def vendor_of_label(label: str) -> str | None:
    """The vendor a layer label names (``vendor/<name>``), or None for ``common``."""
    if label == "common":
        return None
    if label.startswith("vendor/"):
        return label.split("/", 1)[1]
    raise UsageError(f"bad layer label {label!r} (common or vendor/<name>)")


# --------------------------------------------------------------------------- finding and creating


def find_root(start: Path, explicit: Path | None = None) -> Path:
    """The workspace root: ``explicit`` (``-C DIR``) if given, else the nearest folder at or above
    ``start`` that holds ``upstream.lock``."""
    if explicit is not None:
        root = explicit.resolve()
        if not root.is_dir():
            raise UsageError(f"{explicit}: no such directory")
        if not (root / LOCK_NAME).is_file():
            raise UsageError(f"{explicit}: not an fspatch workspace (no {LOCK_NAME}); run 'fspatch init'")
        return root
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / LOCK_NAME).is_file():
            return folder
    raise UsageError(f"not an fspatch workspace (no {LOCK_NAME} here or in any parent); run 'fspatch init'")


def init_workspace(root: Path) -> list[Path]:
    """Create a new workspace in ``root``; return the paths it created.

    Refuses when ``upstream.lock`` exists: an existing workspace is never re-initialised.
    """
    lock = root / LOCK_NAME
    if lock.exists():
        raise UsageError(f"{lock}: already an fspatch workspace; nothing was changed")
    created: list[Path] = []
    if not root.exists():
        root.mkdir(parents=True)
        created.append(root)
    atomic_write(lock, _LOCK_TEMPLATE)
    created.append(lock)
    for name in ("series", "vendors", "schemas"):
        folder = root / name
        if not folder.is_dir():
            folder.mkdir()
            created.append(folder)
    for name in SCHEMA_NAMES:
        target = root / "schemas" / f"{name}.schema.json"
        data = schema_text(name).encode("utf-8")
        if not target.is_file() or target.read_bytes() != data:
            atomic_write(target, data)
            created.append(target)
    return created


# --------------------------------------------------------------------------- the workspace


def _plain(value: Any) -> Any:
    """ruamel containers and scalars as plain dicts, lists, str, int… (for values handed out)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


class Workspace:
    """A loaded workspace: the root, the round-trip lock data, and every file below it."""

    def __init__(self, root: Path, lock: Any) -> None:
        """Use :meth:`load`; this only stores an already validated lock."""
        self.root = root
        self._lock = lock

    # ---- lock

    @classmethod
    def load(cls, root: Path) -> Workspace:
        """Read and validate ``upstream.lock`` of the workspace at ``root``."""
        lock = load_yaml(root / LOCK_NAME, "lock", root=root)
        ws = cls(root, lock)
        ws._check_paths()
        return ws

    def _display(self, path: Path) -> str:
        """A file's name in messages: relative to the root."""
        return display_path(path, self.root)

    def _lock_line(self, *keys: str) -> int | None:
        """1-based line of a key in ``upstream.lock`` (``None`` for keys added in memory)."""
        node: Any = self._lock
        line: int | None = None
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                break
            lc = getattr(node, "lc", None)
            try:
                pos = lc.key(key) if lc is not None else None
            except (KeyError, TypeError):
                pos = None
            line = int(pos[0]) + 1 if pos else line
            node = node[key]
        return line

    def _check_paths(self) -> None:
        """Two backends cannot share a checkout path (nor nest one inside the other)."""
        seen: dict[PurePosixPath, str] = {}
        for backend in self.backends().values():
            path = PurePosixPath(backend.path)
            for other_path, other in seen.items():
                if path == other_path or other_path in path.parents or path in other_path.parents:
                    raise InputError(
                        f"backends {other!r} and {backend.name!r} share checkout path {other_path} / {path}",
                        path=LOCK_NAME,
                        line=self._lock_line("backends", backend.name, "path"),
                    )
            seen[path] = backend.name

    def backends(self) -> dict[str, Backend]:
        """Every backend in lock order."""
        out: dict[str, Backend] = {}
        for name, entry in (self._lock.get("backends") or {}).items():
            version = entry.get("version")
            out[str(name)] = Backend(
                name=str(name),
                url=str(entry["url"]),
                ref=str(entry["ref"]),
                commit=str(entry["commit"]),
                path=str(entry["path"]),
                mirrors=tuple(str(m) for m in entry.get("mirrors") or ()),
                version=None if version is None else str(version),
                aliases=tuple(str(a) for a in entry.get("aliases") or ()),
            )
        return out

    def aliases(self) -> dict[str, str]:
        """Every alias the lock declares → its backend (``Megatron-LM`` → ``megatron``)."""
        return {a: b.name for b in self.backends().values() for a in b.aliases}

    def backend(self, name: str) -> Backend:
        """One backend by name or alias; an unknown one is a usage error listing the known ones."""
        known = self.backends()
        key = normalize_backend(name)
        if key not in known:
            folded = {a.lower(): b for a, b in self.aliases().items()}
            key = folded.get(name.strip().lower(), key)
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise UsageError(f"unknown backend {name!r} (known: {names})")
        return known[key]

    def set_backend(self, backend: Backend) -> None:
        """Add or update a backend in the in-memory lock, comments kept (:meth:`save_lock` writes).

        Only changed fields are touched, so an unchanged field keeps its quoting and comment.
        """
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        if not valid_name(backend.name):
            raise UsageError(f"bad backend name {backend.name!r} (lowercase [a-z0-9_]+)")
        fields: dict[str, Any] = {
            "url": backend.url,
            "mirrors": list(backend.mirrors) or None,
            "ref": backend.ref,
            "commit": backend.commit,
            "path": backend.path,
            "version": backend.version,
            "aliases": list(backend.aliases) or None,
        }
        candidate = {k: v for k, v in fields.items() if v is not None}
        data = {"format": 1, "backends": {backend.name: candidate}}
        problems = errors_cached(data, "lock", json.dumps(data, sort_keys=True).encode())
        if problems:
            raise UsageError(f"invalid backend {backend.name!r}: {problems[0][1]}")
        for other in self.backends().values():
            a, b = PurePosixPath(other.path), PurePosixPath(backend.path)
            if other.name != backend.name and (a == b or a in b.parents or b in a.parents):
                raise UsageError(
                    f"backend {backend.name!r} cannot use checkout path {backend.path!r}: "
                    f"backend {other.name!r} uses {other.path!r}"
                )

        backends = self._lock.get("backends")
        if not isinstance(backends, CommentedMap):
            backends = CommentedMap()
            self._lock["backends"] = backends
        if backends.fa.flow_style():
            backends.fa.set_block_style()  # "backends: {}" from init becomes a block mapping
        entry = backends.get(backend.name)
        if not isinstance(entry, CommentedMap):
            entry = CommentedMap()
            backends[backend.name] = entry
        for key, value in fields.items():
            if value is None:
                entry.pop(key, None)
            elif isinstance(value, list):
                if [str(v) for v in entry.get(key) or ()] != value:
                    entry[key] = CommentedSeq(value)
            elif entry.get(key) != value:
                entry[key] = value

    def remove_backend(self, name: str) -> None:
        """Drop a backend from the in-memory lock; :meth:`save_lock` writes."""
        key = self.backend(name).name
        del self._lock["backends"][key]

    def save_lock(self) -> None:
        """Validate and write ``upstream.lock`` atomically, comments kept; no change, no write."""
        text = dump_yaml(self._lock)
        if errors_cached(self._lock, "lock", text):  # the bytes every later read checks (cached alike)
            validate(self._lock, "lock", LOCK_NAME)
        atomic_write(self.root / LOCK_NAME, text, self.root)

    def settings(self) -> dict[str, Any]:
        """The lock's ``settings`` as plain data, with :data:`DEFAULT_SETTINGS` filled in."""
        out = copy.deepcopy(DEFAULT_SETTINGS)
        given = _plain(self._lock.get("settings") or {})
        for section, values in given.items():
            out.setdefault(section, {}).update(values)
        return out

    def checkout_path(self, backend: Backend | str) -> Path:
        """Where a backend's checkout lives; the lock's ``path`` must stay inside the root.

        The check is lexical (no ``..``, not absolute, not the root itself): a symlinked
        ``third_party`` is the workspace's own business.
        """
        if isinstance(backend, str):
            backend = self.backend(backend)
        rel = PurePosixPath(backend.path)
        if (
            rel.is_absolute()
            or "\\" in backend.path
            or any(part in ("..", ".") for part in backend.path.split("/"))
            or not rel.parts
        ):
            raise InputError(
                f"checkout path {backend.path!r} of backend {backend.name!r} must be a relative "
                "path inside the workspace",
                path=LOCK_NAME,
                line=self._lock_line("backends", backend.name, "path"),
            )
        return self.root.joinpath(*rel.parts)

    # ---- layers

    def layer_dir(self, layer: LayerRef) -> Path:
        """The layer's directory (it may not exist yet)."""
        return self.root / layer.dir

    def ensure_layer_dir(self, layer: LayerRef | str) -> Path:
        """Create a layer's directory with an empty series file if missing (a backend name means
        its common layer); git does not track empty folders, so the series file keeps it."""
        if isinstance(layer, str):
            layer = LayerRef(self.backend(layer).name)
        folder = real_inside(self.layer_dir(layer), self.root)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / SERIES_NAME).exists():
            atomic_write(folder / SERIES_NAME, b"", self.root)
        return folder

    def series_path(self, layer: LayerRef) -> Path:
        """The layer's quilt ``series`` file."""
        return self.layer_dir(layer) / SERIES_NAME

    def read_layer_series(self, layer: LayerRef) -> list[SeriesEntry]:
        """The layer's patches in order, each checked to exist.

        A common layer without a directory, or a layer directory without a series file, is empty;
        a vendor layer whose directory is missing is a usage error (that vendor does not carry
        this backend), and so is a backend the lock does not know.
        """
        self.backend(layer.backend)
        folder = self.layer_dir(layer)
        if not folder.is_dir():
            if layer.vendor is None:
                return []
            raise UsageError(
                f"vendor {layer.vendor!r} has no layer for backend {layer.backend!r} "
                f"({layer.dir.as_posix()}/ does not exist)"
            )
        series = folder / SERIES_NAME
        if not series.exists():
            return []
        display = self._display(series)
        real_inside(series, self.root)
        entries = read_series(series, display)
        for entry in entries:
            if entry.name in RESERVED_NAMES:
                raise InputError(
                    f"{entry.name!r} is reserved in a layer directory and cannot be a patch",
                    path=display,
                    line=entry.line,
                )
            if (folder / entry.name).is_dir():
                raise InputError(
                    f"patch {entry.name!r} listed in the series is a directory, not a file",
                    path=display,
                    line=entry.line,
                )
            if not (folder / entry.name).is_file():
                raise InputError(
                    f"patch file {entry.name!r} listed in the series does not exist",
                    path=display,
                    line=entry.line,
                )
        return entries

    def write_layer_series(self, layer: LayerRef, entries: Sequence[SeriesEntry]) -> None:
        """Write the layer's series atomically, keeping the existing file's comments and layout."""
        for entry in entries:
            if entry.name in RESERVED_NAMES:
                raise UsageError(f"{entry.name!r} is reserved in a layer directory")
        series = self.series_path(layer)
        original = read_regular(series, self._display(series), "series file", self.root) if series.exists() else None
        atomic_write(series, format_series(entries, original), self.root)

    def patch_path(self, layer: LayerRef, name: str) -> Path:
        """Where patch ``name`` of the layer lives; a name escaping the layer is refused."""
        check_patch_name(name)
        if name in RESERVED_NAMES:
            raise UsageError(f"{name!r} is reserved in a layer directory")
        return self.layer_dir(layer).joinpath(*name.split("/"))

    def read_patch(self, layer: LayerRef, name: str) -> bytes:
        """A patch file's bytes (size-limited, never through a symlink: see :func:`read_patch_bytes`)."""
        path = self.patch_path(layer, name)
        return read_patch_bytes(path, self._display(path), self.root)

    def write_patch(self, layer: LayerRef, name: str, data: bytes) -> Path:
        """Write a patch file atomically (nothing happens when the bytes are the same)."""
        path = self.patch_path(layer, name)
        atomic_write(path, data, self.root)
        return path

    def rewrite_patch(self, layer: LayerRef, name: str, data: bytes) -> bool:
        """Rewrite an existing patch file in place; only under a journal that saved it (:func:`overwrite`)."""
        return overwrite(self.patch_path(layer, name), data, self.root)

    def put_patch(self, layer: LayerRef, name: str, data: bytes) -> bool:
        """Write a patch file atomically; whether its bytes changed (a no-op refresh writes nothing)."""
        return atomic_write(self.patch_path(layer, name), data, self.root)

    def rename_patch(self, layer: LayerRef, old: str, new: str) -> None:
        """Rename a patch file in its layer (its series line is the caller's to change)."""
        src, dst = self.patch_path(layer, old), self.patch_path(layer, new)
        real_inside(src.parent, self.root)
        real_inside(dst.parent, self.root)
        os.replace(src, dst)

    def write_file(self, path: Path, data: bytes) -> bool:
        """Write one file atomically (a workspace path, or where ``--out`` points); whether it changed.

        A workspace path is never written through a symlink that leads out of the workspace.
        """
        inside = self.root in path.parents
        return atomic_write(path, data, self.root if inside else None)

    def remove_file(self, path: Path) -> None:
        """Remove one file this workspace's verbs wrote (a stale exported patch)."""
        path.unlink(missing_ok=True)

    def delete_patch(self, layer: LayerRef, name: str) -> None:
        """Remove a patch file (its series line is the caller's to drop); never through a link out."""
        path = self.patch_path(layer, name)
        real_inside(path.parent, self.root)
        path.unlink(missing_ok=True)

    # ---- vendors

    def vendors(self) -> list[str]:
        """Sorted names of the folders under ``vendors/`` that hold a ``vendor.yaml``."""
        folder = self.root / "vendors"
        if not folder.is_dir():
            return []
        return sorted(d.name for d in folder.iterdir() if d.is_dir() and (d / VENDOR_META).is_file())

    def _known_vendor(self, name: str) -> str:
        """``name`` if it is a vendor, else a usage error listing the vendors."""
        known = self.vendors()
        if name not in known:
            raise UsageError(f"unknown vendor {name!r} (known: {', '.join(known) or 'none'})")
        return name

    def vendor_info(self, name: str) -> Any:
        """A vendor's validated ``vendor.yaml`` (round-trip mapping); its name must be its dir's."""
        self._known_vendor(name)
        path = self.root / "vendors" / name / VENDOR_META
        data = load_yaml(path, "vendor", root=self.root)
        if data.get("name") != name:
            line = int(data.lc.key("name")[0]) + 1 if "name" in data else None
            raise InputError(
                f"name {data.get('name')!r} does not match the vendor directory {name!r}",
                path=self._display(path),
                line=line,
            )
        return data

    def save_vendor_info(self, name: str, data: Any) -> None:
        """Validate and write ``vendors/<name>/vendor.yaml`` (keeping comments of loaded data)."""
        if not valid_vendor(name) or data.get("name") != name:
            raise UsageError(f"vendor.yaml for {name!r} must say name: {name}")
        self.write_yaml(Path("vendors", name, VENDOR_META), data, "vendor")

    def vendor_layers(self, backend: str) -> list[LayerRef]:
        """Every vendor layer of a backend, by vendor name."""
        name = normalize_backend(backend)
        return [LayerRef(name, vendor) for vendor in self.vendors() if (self.root / "vendors" / vendor / name).is_dir()]

    def layer_meta(self, layer: LayerRef) -> Any:
        """A vendor layer's validated ``layer.yaml``, or an empty dict when it has none yet."""
        if layer.vendor is None:
            raise UsageError("the common layer has no layer.yaml (only vendor layers do)")
        path = self.layer_dir(layer) / LAYER_META
        if not path.is_file():
            return {}
        return load_yaml(path, "layer", root=self.root)

    def save_layer_meta(self, layer: LayerRef, data: Any) -> None:
        """Validate and write a vendor layer's ``layer.yaml``."""
        if layer.vendor is None:
            raise UsageError("the common layer has no layer.yaml (only vendor layers do)")
        self.write_yaml(layer.dir / LAYER_META, data, "layer")

    # ---- other YAML files (diff.yaml, history.yaml)

    def read_yaml(self, rel: Path | str, schema: str | None) -> Any:
        """Read and validate a YAML file given relative to the root."""
        return load_yaml(self._inside(rel), schema, root=self.root)

    def write_yaml(self, rel: Path | str, data: Any, schema: str | None) -> None:
        """Validate ``data`` against ``schema`` (errors name the target file), then write it."""
        path = self._inside(rel)
        text = dump_yaml(data)
        if schema is not None:
            display = self._display(path)
            # Keyed by the bytes written, as reads are: text that passed once (this write's
            # warm-up, or the same lock written again) is not checked again, and the next
            # read of this file finds it checked too.
            if errors_cached(data, schema, text):
                # Plain data has no line info: only when it fails does a round trip through the
                # text give lines to the errors (and decide, as tuples are no JSON arrays).
                validate(data if hasattr(data, "lc") else parse_yaml(text, display), schema, display)
        atomic_write(path, text, self.root)

    def _inside(self, rel: Path | str) -> Path:
        """``root / rel`` after checking that ``rel`` is relative and has no ``..``."""
        parts = PurePosixPath(Path(rel).as_posix())
        if parts.is_absolute() or ".." in parts.parts:
            raise UsageError(f"{rel}: path must stay inside the workspace")
        return self.root.joinpath(*parts.parts)
