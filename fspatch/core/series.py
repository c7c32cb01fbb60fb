"""quilt ``series`` files: the order of a layer's patches.

Format (quilt's, so quilt and people can read and edit it): one patch file name a line, relative
to the series file's directory; blank lines and ``#`` comments (whole-line, or trailing after
whitespace) are ignored; an optional ``-pN`` after the name gives the strip level (default 1).
Any other option (quilt's ``-R`` for reversed patches, for one) is refused rather than silently
misapplied.

Why :func:`format_series` takes the original bytes: a series file is hand-edited and commented
("# needs upstream PR 1234"); inserting, removing or renaming one patch must keep every other
byte, and writing back an unchanged list must give the identical file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.limits import hint, limit
from fspatch.errors import InputError, PathEscapeError, UsageError

__all__ = ["SeriesEntry", "check_patch_name", "format_series", "parse_series", "read_series"]

_STRIP = re.compile(r"-p([0-9]+)")
# A control character (C0 or DEL) in a patch name: one search, not a test per character.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_TRAILING_COMMENT = re.compile(r"[ \t]#")


@dataclass(frozen=True)
class SeriesEntry:
    """One line of a series: a patch file name, its strip level, and its 1-based line (0 = new)."""

    name: str
    strip: int = 1
    line: int = 0


@dataclass(frozen=True)
class _Line:
    """A parsed series line; ``entry`` is None for blank and comment lines."""

    text: str
    entry: SeriesEntry | None = None
    name_span: tuple[int, int] = (0, 0)
    core_span: tuple[int, int] = (0, 0)  # name and options, without the trailing comment


def check_patch_name(name: str, display: str | None = None, line: int | None = None) -> None:
    """Refuse a patch name that could leave the layer directory or is not a plain relative path.

    Sub-directories are allowed (quilt allows them); absolute names and ``..`` are a
    :class:`PathEscapeError`; empty, ``.`` and backslash parts or a leading ``-`` are input errors.
    """
    if name.startswith("/") or "\\" in name or any(part == ".." for part in name.split("/")):
        raise PathEscapeError(f"patch name {name!r} points outside the layer directory", path=display, line=line)
    if not name or name.startswith("-"):
        raise InputError(f"bad patch name {name!r}", path=display, line=line)
    if any(part in ("", ".") for part in name.split("/")):
        raise InputError(f"patch name {name!r} is not a normalised relative path", path=display, line=line)
    if _CONTROL.search(name):
        raise InputError(f"patch name {name!r} contains control characters", path=display, line=line)
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > limit("FSPATCH_MAX_PATH_BYTES"):
        raise InputError(
            f"patch name of {len(raw)} bytes is over the limit " + hint("FSPATCH_MAX_PATH_BYTES"),
            path=display,
            line=line,
        )
    longest = max(len(part) for part in raw.split(b"/"))
    if longest > limit("FSPATCH_MAX_NAME_BYTES"):
        raise InputError(
            f"patch name {name[:40]!r}... has a {longest}-byte component, over the limit "
            + hint("FSPATCH_MAX_NAME_BYTES"),
            path=display,
            line=line,
        )


def _parse_line(text: str, number: int, display: str) -> _Line:
    """Split one line into name, options and comment; validate the name and options."""
    body = text.rstrip("\r")
    if body.lstrip(" \t").startswith("#"):
        return _Line(text)
    match = _TRAILING_COMMENT.search(body)
    core_end = match.start() if match else len(body)
    tokens = [(m.start(), m.end()) for m in re.finditer(r"[^ \t]+", body[:core_end])]
    if not tokens:
        return _Line(text)
    name_start, name_end = tokens[0]
    name = body[name_start:name_end]
    check_patch_name(name, display, number)
    strip: int | None = None
    for start, end in tokens[1:]:
        option = body[start:end]
        opt = _STRIP.fullmatch(option)
        if opt is None:
            raise InputError(
                f"unsupported option {option!r} for {name!r} (only -pN is supported)",
                path=display,
                line=number,
            )
        if strip is not None:
            raise InputError(f"more than one -p option for {name!r}", path=display, line=number)
        digits = opt.group(1)
        if len(digits) > 6 or int(digits) > limit("FSPATCH_MAX_STRIP"):
            raise InputError(
                f"strip level {option[:24]!r} for {name!r} is over the limit " + hint("FSPATCH_MAX_STRIP"),
                path=display,
                line=number,
            )
        strip = int(digits)
    return _Line(
        text,
        SeriesEntry(name, 1 if strip is None else strip, number),
        (name_start, name_end),
        (name_start, tokens[-1][1]),
    )


def _parse(data: bytes, display: str) -> list[_Line]:
    """All lines of a series file (split on ``\\n`` only; the last element has no newline)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not valid UTF-8", path=display, line=data.count(b"\n", 0, exc.start) + 1) from None
    lines = [_parse_line(raw, number, display) for number, raw in enumerate(text.split("\n"), 1)]
    seen: dict[str, int] = {}
    for item in lines:
        if item.entry is None:
            continue
        first = seen.setdefault(item.entry.name, item.entry.line)
        if first != item.entry.line:
            raise InputError(
                f"patch {item.entry.name!r} is listed twice (first at line {first})",
                path=display,
                line=item.entry.line,
            )
    return lines


def parse_series(data: bytes, display: str) -> list[SeriesEntry]:
    """Parse series bytes; errors name ``display`` and the 1-based line."""
    entries = [item.entry for item in _parse(data, display) if item.entry is not None]
    most = limit("FSPATCH_MAX_SERIES")
    if len(entries) > most:
        raise InputError(
            f"the series lists {len(entries)} patches, over the limit " + hint("FSPATCH_MAX_SERIES"),
            path=display,
            line=entries[most].line,
        )
    return entries


def read_series(path: Path, display: str) -> list[SeriesEntry]:
    """Read a series file; ``display`` is how errors name it (relative to the workspace).

    Only a regular file is read (``O_NONBLOCK`` on open, then ``fstat``): a FIFO or a device
    standing as ``series`` would block a bot forever or feed it without end.
    """
    from fspatch.core.yamlio import read_regular

    return parse_series(read_regular(path, display, "series file"), display)


def _render(entry: SeriesEntry) -> str:
    """The canonical text of an entry: the name, and ``-pN`` only when N is not 1."""
    return entry.name if entry.strip == 1 else f"{entry.name} -p{entry.strip}"


def _check_entries(entries: Sequence[SeriesEntry]) -> None:
    """Refuse bad or repeated names before anything is written."""
    seen: set[str] = set()
    for entry in entries:
        check_patch_name(entry.name)
        if entry.strip < 0:
            raise InputError(f"negative strip level for {entry.name!r}")
        if entry.name in seen:
            raise InputError(f"patch {entry.name!r} would be listed twice in the series")
        seen.add(entry.name)


def format_series(entries: Sequence[SeriesEntry], original: bytes | None = None) -> bytes:
    """Serialise ``entries``; with ``original``, keep its comments, blank lines and layout.

    Matching: an entry keeps the original line its ``line`` number points to (so a rename via
    ``dataclasses.replace(entry, name=...)`` edits that line in place, trailing comment included),
    else the line holding the same name.  Matched lines are re-emitted in the new order through
    the slots the matched lines occupied; unmatched originals are dropped; new entries go right
    after the entry that precedes them in ``entries`` (or before the first kept one, or at the end
    of the file when nothing is kept).  Unchanged entries give the original bytes back.
    """
    _check_entries(entries)
    if original is None:
        return "".join(f"{_render(entry)}\n" for entry in entries).encode("utf-8")

    lines = _parse(original, "series")
    by_line = {item.entry.line: idx for idx, item in enumerate(lines) if item.entry is not None}
    by_name = {item.entry.name: idx for idx, item in enumerate(lines) if item.entry is not None}
    matched: dict[int, int] = {}  # index in entries -> index in lines
    taken: set[int] = set()
    for by_line_first in (True, False):
        for pos, entry in enumerate(entries):
            if pos in matched:
                continue
            idx = by_line.get(entry.line) if by_line_first else by_name.get(entry.name)
            if idx is not None and idx not in taken:
                matched[pos] = idx
                taken.add(idx)

    slots = sorted(matched.values())
    kept_order = sorted(matched)  # positions of the matched entries, in the new order
    placed: dict[int, str] = {}  # slot (line index) -> new text
    slot_of_entry: dict[int, int] = {}
    for slot, pos in zip(slots, kept_order, strict=True):
        placed[slot] = _relabel(lines[matched[pos]], entries[pos])
        slot_of_entry[pos] = slot

    after: dict[int, list[str]] = {}  # line index -> new lines emitted after it
    before: dict[int, list[str]] = {}  # line index -> new lines emitted before it
    tail: list[str] = []
    for pos, entry in enumerate(entries):
        if pos in matched:
            continue
        prev = next((p for p in range(pos - 1, -1, -1) if p in slot_of_entry), None)
        if prev is not None:
            after.setdefault(slot_of_entry[prev], []).append(_render(entry))
            continue
        nxt = next((p for p in range(pos + 1, len(entries)) if p in slot_of_entry), None)
        if nxt is not None:
            before.setdefault(slot_of_entry[nxt], []).append(_render(entry))
        else:
            tail.append(_render(entry))

    out: list[str] = []
    for idx, item in enumerate(lines):
        out.extend(before.get(idx, []))
        if item.entry is None:
            out.append(item.text)
        elif idx in placed:
            out.append(placed[idx])
        out.extend(after.get(idx, []))
    if tail:
        if out and out[-1] == "":  # the file ended with a newline: insert before that end
            out[-1:] = [*tail, ""]
        else:
            out.extend([*tail, ""])
    if out != [item.text for item in lines] and out[-1] != "":
        out.append("")  # an edited file always ends with a newline
    return "\n".join(out).encode("utf-8")


def _relabel(item: _Line, entry: SeriesEntry) -> str:
    """Re-emit an original line for ``entry``: verbatim if unchanged, else edit name/options."""
    assert item.entry is not None
    text = item.text
    if item.entry.strip != entry.strip:
        start, end = item.core_span
        return text[:start] + _render(entry) + text[end:]
    if item.entry.name != entry.name:
        start, end = item.name_span
        return text[:start] + entry.name + text[end:]
    return text


NUMBERED = re.compile(r"^(\d{4})-")  # a patch file name's series number


def patch_file_name(name: str, existing: list[str]) -> str:
    """``enable gems`` → ``0004-enable-gems.patch`` (next number of the layer)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not slug:
        raise UsageError(f"'{name}' is not a usable patch name")
    if not slug.endswith(".patch"):
        slug += ".patch"
    if not NUMBERED.match(slug):
        numbers = [int(m.group(1)) for n in existing if (m := NUMBERED.match(n))]
        slug = f"{(max(numbers) + 1) if numbers else 1:04d}-{slug}"
    return slug
