"""Marker-guided relocation: re-anchor a FLAGSCALE MODIFICATION block where its context still is.

The rule, for one conflict region: every line the patch changed in the region lies inside
``FLAGSCALE MODIFICATION BEG … END`` blocks (the markers fence exactly what is ours), and
each block's *context* -- the ``ANCHOR`` lines the patch left unchanged before and after it
in the old patched file, plus the upstream lines the block replaced, i.e. the exact base
lines the patch rewrote -- occurs exactly once in the new upstream file and exactly once
in git's merged text outside other conflicts.  Then the region takes upstream's side and
each block is put back where its context is, replacing the lines it replaced.

Refusals: no comment syntax for the file, or no marker pair in the patch's side; a patch
change outside the markers (or a block cut by the region, or nested/unbalanced markers);
an anchor line the patch itself changed; the context not found in the new upstream
("upstream changed lines inside the block's context"); found more than once ("not unique");
the place found inside another conflict region.

This catches conflicts git reports only because its line alignment glued an upstream change
to ours (repeated ``}``/blank lines), and blocks whose surrounding code upstream moved
within the file.  Pure bytes in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from fspatch.core.conflict_regions import ConflictRegion, Lines, MergedFile, split_lines
from fspatch.core.markers import MarkerConfig, parse_markers, syntax_for

RULE = "relocated"
ANCHOR = 3  # unchanged lines required on each side of a block (fewer at the file's start/end)


@dataclass(frozen=True)
class Move:
    """Put ``block`` in place of ``replaced`` lines right after ``before`` (and before ``after``)."""

    before: Lines
    replaced: Lines
    after: Lines
    block: Lines


@dataclass(frozen=True)
class Relocation:
    """A region's answer: its lines (upstream's side, perhaps with blocks in it) and edits elsewhere."""

    lines: Lines | None
    reason: str
    region_lines: Lines | None = None  # region text (ours side with the blocks that land inside it)
    clean_edits: tuple[tuple[int, int, int, Lines], ...] = ()  # (clean run, start, end, new lines)


def relocate_region(
    path: str,
    base_file: bytes,
    theirs_file: bytes,
    ours_file: bytes,
    merged: MergedFile,
    region: ConflictRegion,
    config: MarkerConfig | None = None,
) -> Relocation:
    config = config or MarkerConfig()
    syntax = syntax_for(path, config)
    if syntax is None:
        return Relocation(None, "no comment syntax for this file type")
    blocks = _blocks(region.theirs, syntax, config)
    if isinstance(blocks, str):
        return Relocation(None, blocks)
    # Every change the patch made in the region must sit inside a block.
    inside: set[int] = set()
    for b0, b1 in blocks:
        inside.update(range(b0, b1 + 1))
    for tag, _i1, _i2, j1, j2 in SequenceMatcher(None, region.base, region.theirs, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if j1 == j2:  # a deletion: must sit right at a block's edge (the block replaced those lines)
            if not any(j1 == b0 or j1 == b1 + 1 for b0, b1 in blocks):
                return Relocation(None, "the patch deletes lines outside its markers")
            continue
        if not all(j in inside for j in range(j1, j2)):
            return Relocation(None, "the patch changes lines outside its markers")
    moves = []
    t_lines = split_lines(theirs_file)
    b_lines = split_lines(base_file)
    ops = SequenceMatcher(None, b_lines, t_lines, autojunk=False).get_opcodes()
    for b0, b1 in blocks:
        block = region.theirs[b0 : b1 + 1]
        at = _find_all(t_lines, block)
        if len(at) != 1:
            return Relocation(None, "the marked block is not unique in the patched file")
        got = _context(ops, b_lines, t_lines, at[0], at[0] + len(block))
        if isinstance(got, str):
            return Relocation(None, got)
        before, replaced, after = got
        moves.append(Move(before, replaced, after, block))
    # Search in the merged text: clean runs and this region's upstream side; other regions are walls.
    wall = b"\0fspatch-conflict-wall\0\n"
    seq: list[bytes] = []
    where: list[tuple[int, int]] = []  # (-1 - region | clean run, offset) of each line
    for k, run in enumerate(merged.clean):
        for off, line in enumerate(run):
            seq.append(line)
            where.append((k, off))
        if k < len(merged.regions):
            r = merged.regions[k]
            if r.index == region.index:
                for off, line in enumerate(r.ours):
                    seq.append(line)
                    where.append((-1, off))
            else:
                seq.append(wall)
                where.append((-2, 0))
    o_lines = split_lines(ours_file)
    region_lines = list(region.ours)
    region_edits: list[tuple[int, int, Lines]] = []
    edits: list[tuple[int, int, int, Lines]] = []
    for mv in moves:
        needle = mv.before + mv.replaced + mv.after
        if not needle:
            return Relocation(None, "the block has no context to anchor on")
        if len(_find_all(o_lines, needle)) == 0:
            return Relocation(None, "upstream changed lines inside the block's context")
        if len(_find_all(o_lines, needle)) > 1:
            return Relocation(None, "the block's context is not unique in the new upstream")
        hits = _find_all(seq, needle)
        if len(hits) != 1:
            return Relocation(None, "the block's context is not unique in the merged file")
        lo = hits[0] + len(mv.before)
        hi = lo + len(mv.replaced)
        place = _place(where, lo, hi)
        if isinstance(place, str):
            return Relocation(None, place)
        k, off = place
        if k == -1:
            region_edits.append((off, off + len(mv.replaced), mv.block))
        else:
            edits.append((k, off, off + len(mv.replaced), mv.block))
    for start, end, new in sorted(region_edits, reverse=True):
        region_lines[start:end] = new
    n = sum(len(m.block) for m in moves)
    reason = f"re-anchored {len(moves)} marked block{'s' if len(moves) != 1 else ''} ({n} lines) on unchanged context"
    return Relocation(tuple(region_lines), reason, tuple(region_lines), tuple(edits))


def _place(where: Sequence[tuple[int, int]], lo: int, hi: int) -> tuple[int, int] | str:
    """Which piece (-1: this region's upstream side, k: clean run k) holds lines [lo, hi), and where."""
    if hi > lo:
        kinds = {w[0] for w in where[lo:hi]}
        if -2 in kinds:
            return "the block's place is inside another conflict"
        if len(kinds) != 1 or any(where[i][1] != where[lo][1] + (i - lo) for i in range(lo, hi)):
            return "the block's place straddles the conflict"
        return where[lo]
    prev = where[lo - 1] if lo > 0 else None
    nxt = where[lo] if lo < len(where) else None
    if nxt is not None and nxt[0] == -1:
        return nxt
    if prev is not None and prev[0] == -1:
        return (-1, prev[1] + 1)
    if prev is not None and nxt is not None and prev[0] >= 0 and nxt[0] == prev[0] + 1:
        return (-1, 0)  # between two clean runs: exactly where this (empty upstream side) region is
    if nxt is not None and nxt[0] >= 0:
        return nxt
    if prev is not None and prev[0] >= 0:
        return (prev[0], prev[1] + 1)
    return "the block's place is inside another conflict"


def _blocks(lines: Lines, syntax: object, config: MarkerConfig) -> list[tuple[int, int]] | str:
    """0-based inclusive (BEG, END) line pairs in the patch's side of the region."""
    bare = [line[:-1] if line.endswith(b"\n") else line for line in lines]
    markers = parse_markers(bare, syntax, config)  # type: ignore[arg-type]
    out: list[tuple[int, int]] = []
    open_at: int | None = None
    for m in markers:
        if m.kind == "single":
            return "single-line markers are not relocated"
        if m.kind == "beg":
            if open_at is not None:
                return "nested markers"
            open_at = m.line - 1
        else:
            if open_at is None:
                return "a marked block is cut by the conflict (END without BEG)"
            out.append((open_at, m.line - 1))
            open_at = None
    if open_at is not None:
        return "a marked block is cut by the conflict (BEG without END)"
    if not out:
        return "no FLAGSCALE MODIFICATION block in the patch's side"
    return out


def _find_all(hay: Sequence[bytes], needle: Sequence[bytes]) -> list[int]:
    n = len(needle)
    if n == 0:
        return []
    first = needle[0]
    out = []
    for i in range(len(hay) - n + 1):
        if hay[i] == first and list(hay[i : i + n]) == list(needle):
            out.append(i)
    return out


def _context(
    ops: Sequence[tuple[str, int, int, int, int]], b_lines: Lines, t_lines: Lines, t0: int, t1: int
) -> tuple[Lines, Lines, Lines] | str:
    """Anchors and replaced base lines of the block at patched lines [t0, t1)."""

    def to_base(j: int) -> int | None:
        for tag, i1, _i2, j1, j2 in ops:
            if tag == "equal" and j1 <= j < j2:
                return i1 + (j - j1)
        return None

    k0 = max(0, t0 - ANCHOR)
    k1 = min(len(t_lines), t1 + ANCHOR)
    before = [to_base(j) for j in range(k0, t0)]
    after = [to_base(j) for j in range(t1, k1)]
    if any(b is None for b in before) or any(a is None for a in after):
        return "an anchor line next to the block was changed by the patch"
    bb = [b for b in before if b is not None]
    aa = [a for a in after if a is not None]
    if bb != list(range(bb[0], bb[0] + len(bb))) if bb else False:
        return "the anchors are not contiguous upstream"
    if aa != list(range(aa[0], aa[0] + len(aa))) if aa else False:
        return "the anchors are not contiguous upstream"
    lo = bb[-1] + 1 if bb else 0
    hi = aa[0] if aa else len(b_lines)
    if hi < lo:
        return "the anchors cross"
    before_l = list(t_lines[k0:t0])
    after_l = list(t_lines[t1:k1])
    # Blank lines at the outer ends carry no position (and vanish at a file's end): drop them;
    # uniqueness is still required of what is left.
    while before_l and not before_l[0].strip():
        before_l.pop(0)
    while after_l and not after_l[-1].strip():
        after_l.pop()
    return tuple(before_l), tuple(b_lines[lo:hi]), tuple(after_l)
