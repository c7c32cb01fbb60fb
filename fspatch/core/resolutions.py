"""Recorded resolutions: git rerere for patch queues, stored in the workspace as reviewable text.

Where: ``series/<backend>/resolutions/<id>.yaml``, one file a conflict region, committed with
the series.  Per backend because paths are paths of the backend's tree; beside the common
layer so a vendor layer's replay, the next bot run, the next backend version and any other
workspace sharing the directory all find them; inside a layer directory so a replay's
journal saves and ``abort`` restores them with the patches.

Key: SHA-256 over the file's path and the exact bytes of the region's three sides (base,
ours = the new upstream or common layer, theirs = the patch).  A recorded resolution is
applied only to a region with the same key, so it can never land on a different conflict
(Electron's upgrade guide warns that stale rerere records "can silently apply wrong
merges").  A *near* match -- same file and same patch side but another upstream side, or
the same three sides in another file -- is offered in the report, never applied.  The
file's ``key`` is checked against its sides when it is read; a file whose sides were edited
by hand no longer matches anything and is reported as an input error.  The ``resolution``
text may be edited in review: it is what gets applied.

Format 1 (YAML)::

    format: 1
    key: <64 hex>            # sha256, see region_key()
    path: megatron/core/models/gpt/gpt_model.py
    recorded: 2026-12-02T07:31:00Z
    author: Jane Doe <jane@example.com>
    patch: 0003-add-router.patch
    context: pull-upstream v0.10.0 -> v0.11.0
    base: |                  # each side as a literal block when exact, else a quoted string
      ...
    ours: |
    theirs: |
    resolution: |

This module reads and writes only that directory, atomically (``yamlio.atomic_write``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.conflict_regions import ConflictRegion, Lines, split_lines
from fspatch.core.yamlio import atomic_write
from fspatch.errors import InputError, UsageError

RULE = "recorded"
FORMAT = 1
DIR_NAME = "resolutions"
_SIDES = ("base", "ours", "theirs", "resolution")


def region_key(path: str, base: Lines, ours: Lines, theirs: Lines) -> str:
    """The exact-content key: path and the three sides, each length-prefixed."""
    h = hashlib.sha256(b"fspatch-resolution 1\0")
    raw = path.encode("utf-8", "surrogateescape")
    h.update(b"%d:" % len(raw) + raw)
    for side in (base, ours, theirs):
        data = b"".join(side)
        h.update(b"%d:" % len(data) + data)
    return h.hexdigest()


@dataclass(frozen=True)
class Recorded:
    """One recorded resolution of one conflict region."""

    key: str
    path: str
    base: Lines
    ours: Lines
    theirs: Lines
    resolution: Lines
    recorded: str  # ISO-8601 UTC
    author: str
    patch: str = ""
    context: str = ""

    @property
    def id(self) -> str:
        """The short id (file name, and what list/show/forget take)."""
        return self.key[:16]


def record_for(
    path: str, region: ConflictRegion, resolution: Lines, *, recorded: str, author: str, patch: str, context: str
) -> Recorded:
    return Recorded(
        region_key(path, region.base, region.ours, region.theirs),
        path,
        region.base,
        region.ours,
        region.theirs,
        tuple(resolution),
        recorded,
        author,
        patch,
        context,
    )


# --------------------------------------------------------------------------- text form


def _block(name: str, lines: Lines) -> str:
    """A side as a YAML literal block when that is exact, else quoted (or base64 if not UTF-8)."""
    data = b"".join(lines)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        return f"{name}_base64: {base64.b64encode(data).decode()}\n"
    if not _literal_ok(text):
        return f"{name}: {_quoted(text)}\n"
    parts = text.split("\n")
    if text.endswith("\n"):
        parts.pop()
        chomp = "+" if text.endswith("\n\n") else ""
    else:
        chomp = "-"
    body = "".join(("  " + line if line else "") + "\n" for line in parts)
    return f"{name}: |2{chomp}\n{body}"


def _literal_ok(text: str) -> bool:
    """Literal blocks keep text exactly unless it has control characters or trailing blanks."""
    if text == "" or text.startswith("\n"):
        return False
    if any((ord(ch) < 0x20 and ch not in "\n\t") or ch in "\x7f\x85\ufeff\u2028\u2029" for ch in text):
        return False
    return all(line == line.rstrip(" \t") for line in text.split("\n"))


def _quoted(text: str) -> str:
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F or ch in "\x85\ufeff\u2028\u2029":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(rec: Recorded) -> bytes:
    head = (
        f"# fspatch recorded resolution (format {FORMAT}): applied only to this exact conflict.\n"
        f"# Review or edit 'resolution'; delete the file (fspatch resolutions forget {rec.id}) to drop it.\n"
        f"format: {FORMAT}\n"
        f"key: {_quoted(rec.key)}\n"
        f"path: {_quoted(rec.path)}\n"
        f"recorded: {_quoted(rec.recorded)}\n"
        f"author: {_quoted(rec.author)}\n"
        f"patch: {_quoted(rec.patch)}\n"
        f"context: {_quoted(rec.context)}\n"
    )
    body = "".join(_block(n, getattr(rec, n)) for n in _SIDES)
    return (head + body).encode("utf-8", "surrogateescape")


def loads(data: bytes, display: str) -> Recorded:
    """Parse and check one resolution file; errors name the file."""
    from fspatch.core.yamlio import parse_yaml

    doc = parse_yaml(data, display)
    if doc.get("format") != FORMAT:
        raise InputError(f"unknown resolution format {doc.get('format')!r} (this fspatch reads {FORMAT})", path=display)
    fields: dict[str, str] = {}
    sides: dict[str, Lines] = {}
    for name in ("key", "path", "recorded", "author", "patch", "context", *_SIDES):
        value = doc.get(name, "" if name in ("patch", "context", *_SIDES) else None)
        if value is None:
            raise InputError(f"missing '{name}'", path=display)
        if name in _SIDES and f"{name}_base64" in doc:
            sides[name] = split_lines(_b64(doc[f"{name}_base64"], name, display))
        elif not isinstance(value, str):
            raise InputError(f"'{name}' must be text", path=display)
        elif name in _SIDES:
            sides[name] = split_lines(value.encode("utf-8", "surrogateescape"))
        else:
            fields[name] = value

    rec = Recorded(
        fields["key"],
        fields["path"],
        sides["base"],
        sides["ours"],
        sides["theirs"],
        sides["resolution"],
        fields["recorded"],
        fields["author"],
        fields["patch"],
        fields["context"],
    )
    if region_key(rec.path, rec.base, rec.ours, rec.theirs) != rec.key:
        raise InputError(
            "its base/ours/theirs sides do not match its key (edited by hand?); re-record it or forget it",
            path=display,
        )
    return rec


def _b64(value: object, name: str, display: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"'{name}_base64' is not base64", path=display) from None


# --------------------------------------------------------------------------- the store


class ResolutionStore:
    """The recorded resolutions of one backend: ``series/<backend>/resolutions/``."""

    def __init__(self, directory: Path, display: str) -> None:
        self.directory = directory
        self.display = display
        self._all: dict[str, Recorded] | None = None

    def _load(self) -> dict[str, Recorded]:
        if self._all is None:
            found: dict[str, Recorded] = {}
            if self.directory.is_dir():
                for f in sorted(self.directory.glob("*.yaml")):
                    rec = loads(f.read_bytes(), f"{self.display}/{f.name}")
                    found[rec.key] = rec
            self._all = found
        return self._all

    def all(self) -> list[Recorded]:
        return sorted(self._load().values(), key=lambda r: (r.path, r.recorded, r.key))

    def lookup(self, path: str, region: ConflictRegion) -> Recorded | None:
        """The resolution recorded for exactly this conflict, or None."""
        return self._load().get(region_key(path, region.base, region.ours, region.theirs))

    def near(self, path: str, region: ConflictRegion) -> list[Recorded]:
        """Resolutions of a similar conflict (offered, never applied)."""
        out = []
        for rec in self.all():
            same_patch = rec.path == path and rec.theirs == region.theirs
            same_sides = (rec.base, rec.ours, rec.theirs) == (region.base, region.ours, region.theirs)
            if (same_patch or same_sides) and rec.key != region_key(path, region.base, region.ours, region.theirs):
                out.append(rec)
        return out

    def find(self, ident: str) -> Recorded:
        """By id prefix (at least 4 hex digits), for show and forget."""
        if len(ident) < 4:
            raise UsageError(f"resolution id '{ident}' is too short (give at least 4 characters)")
        hits = [r for r in self.all() if r.key.startswith(ident.lower())]
        if not hits:
            raise UsageError(f"no recorded resolution '{ident}' in {self.display}")
        if len(hits) > 1:
            raise UsageError(f"resolution id '{ident}' is ambiguous ({', '.join(r.id for r in hits)})")
        return hits[0]

    def file_of(self, rec: Recorded) -> Path:
        return self.directory / f"{rec.id}.yaml"

    def save(self, rec: Recorded) -> str:
        """Write one resolution (atomic; the same bytes twice write nothing); its display path."""
        atomic_write(self.file_of(rec), dumps(rec))
        self._load()[rec.key] = rec
        return f"{self.display}/{rec.id}.yaml"

    def forget(self, rec: Recorded) -> str:
        self.file_of(rec).unlink(missing_ok=True)
        self._load().pop(rec.key, None)
        return f"{self.display}/{rec.id}.yaml"
