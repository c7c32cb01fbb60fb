"""Applying hunks and binary patches to file content in memory (DESIGN §4).

Why exact matching with offsets and nothing else: fuzz and whitespace-blind
matching "applied" conflicting patches in the wrong place on real upstream
bumps.  A hunk goes where its old lines are, byte for byte: at its header
position shifted by the offset of the hunk before it, else at the nearest
position in the whole file (+1, -1, +2, -2, …) that keeps hunk order.  Like GNU
patch without fuzz, a hunk whose context was cut short by the start (end) of
the file must apply at the start (end).

Speed: a hunk is first compared at its expected place; only if it is not there
are the positions of one of its lines looked up (a line -> positions index
kept per file, each entry filled once by C-level scans) and the candidates
compared nearest first, so a 50,000-line file with a hunk 420 lines away costs
a few milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from fspatch.core.patch import CONTEXT, BinaryData, Hunk
from fspatch.errors import ConflictError, HunkFailed, PatchParseError


def split_lines(content: bytes) -> list[bytes]:
    """Split after each ``\\n`` only (never ``str.splitlines``: sources contain form feeds); keep terminators."""
    if b"\r" not in content:
        # bytes.splitlines breaks only at \n, \r and \r\n (not at \f, \v, \x1c-\x1e like str.splitlines):
        # without a CR it is exactly "after each \n", done in C.
        return content.splitlines(keepends=True)
    parts = content.split(b"\n")
    last = parts.pop()
    lines = [part + b"\n" for part in parts]
    if last:
        lines.append(last)
    return lines


def apply_hunks(content: bytes, hunks: Sequence[Hunk], path: str) -> bytes:
    """Apply ``hunks`` in order to ``content``; raise ``HunkFailed`` naming the first that does not fit."""
    if not hunks:
        return content
    text = _Lines(split_lines(content))
    lines = text.lines
    total = len(lines)
    out: list[bytes] = []
    cursor = 0  # end of the previous hunk in ``lines``: no hunk may start before it
    offset = 0
    for number, hunk in enumerate(hunks, 1):
        old = hunk.old_lines()
        size = len(old)
        if size == 0:
            pos = hunk.old_start + offset
            if not cursor <= pos <= total:
                raise HunkFailed(path, number, hunk.header())
        else:
            found = text.locate(old, hunk, hunk.old_start - 1 + offset, cursor)
            if found is None:
                raise HunkFailed(path, number, hunk.header())
            pos = found
            offset = pos - (hunk.old_start - 1)
        out.extend(lines[cursor:pos])
        out.extend(hunk.new_lines())
        cursor = pos + size
    out.extend(lines[cursor:])
    return b"".join(out)


def _anchors(hunk: Hunk) -> tuple[bool, bool]:
    """Whether the hunk must sit at the start / end of the file (its context was cut short there)."""
    kinds = [kind for kind, _ in hunk.lines]
    prefix = 0
    while prefix < len(kinds) and kinds[prefix] == CONTEXT:
        prefix += 1
    if prefix == len(kinds):  # a hunk of context only changes nothing and can sit anywhere
        return False, False
    suffix = 0
    while suffix < len(kinds) - prefix and kinds[-1 - suffix] == CONTEXT:
        suffix += 1
    context = max(prefix, suffix)
    return prefix < context, suffix < context


class _Lines:
    """A file's lines and the index line -> ascending positions, filled once per line on first need."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.index: dict[bytes, list[int]] = {}

    def positions(self, line: bytes) -> list[int]:
        """Every position of ``line``, found by C-level ``list.index`` scans (no per-line Python loop)."""
        found = self.index.get(line)
        if found is None:
            found = []
            lines, pos = self.lines, 0
            try:
                while True:
                    pos = lines.index(line, pos)
                    found.append(pos)
                    pos += 1
            except ValueError:
                pass
            self.index[line] = found
        return found

    def locate(self, old: list[bytes], hunk: Hunk, expected: int, low: int) -> int | None:
        """Where ``old`` sits at or after ``low``, nearest to ``expected`` first (+1 before -1); None if nowhere."""
        lines = self.lines
        size = len(old)
        high = len(lines) - size
        if high < low:
            return None
        at_start, at_end = _anchors(hunk)
        if at_start or at_end:
            pos = 0 if at_start else high
            if at_start and at_end and high != 0:
                return None
            return pos if low <= pos and lines[pos : pos + size] == old else None
        expected = min(max(expected, low), high)
        if lines[expected : expected + size] == old:
            return expected
        # Anchor on the hunk's longest line (the likeliest to be rare), then compare whole slices.
        anchor = max(range(size), key=lambda k: len(old[k]))
        candidates = self.positions(old[anchor])
        target = expected + anchor
        right = bisect_left(candidates, target)
        left = right - 1
        first, last = old[0], old[-1]
        while True:
            right_ok = right < len(candidates) and candidates[right] - anchor <= high
            left_ok = left >= 0 and candidates[left] - anchor >= low
            if not right_ok and not left_ok:
                return None
            if right_ok and (not left_ok or candidates[right] - target <= target - candidates[left]):
                pos = candidates[right] - anchor
                right += 1
            else:
                pos = candidates[left] - anchor
                left -= 1
            if (
                low <= pos <= high
                and lines[pos] == first
                and lines[pos + size - 1] == last
                and lines[pos : pos + size] == old
            ):
                return pos


def apply_binary(old: bytes, binary: BinaryData, path: str) -> bytes:
    """The new content from a binary block: a literal replaces, a delta rebuilds from ``old``."""
    if binary.kind == "literal":
        if len(binary.data) != binary.size:
            raise PatchParseError(
                f"binary literal holds {len(binary.data)} bytes, its header says {binary.size}", path=path
            )
        return binary.data
    if binary.kind == "delta":
        return apply_delta(old, binary.data, path)
    raise PatchParseError(f"unknown binary patch kind {binary.kind!r}", path=path)


def _varint(delta: bytes, pos: int, path: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(delta):
            raise PatchParseError("corrupt binary delta: truncated size header", path=path)
        byte = delta[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def apply_delta(source: bytes, delta: bytes, path: str) -> bytes:
    """Rebuild a blob from git's delta format: source and target sizes, then copy/insert ops."""
    src_size, pos = _varint(delta, 0, path)
    dst_size, pos = _varint(delta, pos, path)
    if src_size != len(source):
        raise ConflictError(
            f"binary delta was made for a {src_size}-byte file, this one has {len(source)} bytes", path=path
        )
    out = bytearray()
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            fields = [0] * 7
            for bit in range(7):
                if op & (1 << bit):
                    if pos >= end:
                        raise PatchParseError("corrupt binary delta: truncated copy instruction", path=path)
                    fields[bit] = delta[pos]
                    pos += 1
            offset = fields[0] | fields[1] << 8 | fields[2] << 16 | fields[3] << 24
            size = fields[4] | fields[5] << 8 | fields[6] << 16
            if size == 0:
                size = 0x10000
            if offset + size > src_size:
                raise PatchParseError("corrupt binary delta: copy beyond the end of the source", path=path)
            out += source[offset : offset + size]
        elif op:
            if pos + op > end:
                raise PatchParseError("corrupt binary delta: truncated insert instruction", path=path)
            out += delta[pos : pos + op]
            pos += op
        else:
            raise PatchParseError("corrupt binary delta: reserved instruction 0", path=path)
        if len(out) > dst_size:
            raise PatchParseError(f"corrupt binary delta: result exceeds its declared {dst_size} bytes", path=path)
    if len(out) != dst_size:
        raise PatchParseError(f"corrupt binary delta: result has {len(out)} bytes, expected {dst_size}", path=path)
    return bytes(out)
