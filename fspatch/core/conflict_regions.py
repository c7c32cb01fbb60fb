"""git's diff3 output of one conflicting file, as data: clean text and conflict regions.

Why a parser of git's output rather than a merge of our own: the resolution ladder works
*after* git's line merge, only on what git left (Mergiraf's rule: line merge first, syntax
only on what remains).  Everything git merged cleanly is kept byte for byte, so a
resolution can never change what git merges cleanly.

Input is the text libgit2 (or ``git merge-file --diff3``) writes for one file with the
three labels the replay passed (``<<<<<<< ours`` / ``||||||| base`` / ``=======`` /
``>>>>>>> theirs``).  In fspatch's replay *ours* is the new upstream (or the new common
layer for a vendor replay) and *theirs* is the patch.  Only marker lines carrying exactly
those labels open and close a region, so a file that itself contains ``<<<<<<<`` lines is
read correctly.  Lines keep their ``\\n`` (split on ``\\n`` only, DESIGN §4), so joining the
pieces gives back the exact bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Lines = tuple[bytes, ...]


def split_lines(data: bytes) -> Lines:
    """Lines with their ``\\n`` kept (the last one may lack it); ``b""`` gives no lines."""
    if not data:
        return ()
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return tuple(out)


@dataclass(frozen=True)
class ConflictRegion:
    """One region git could not merge: the base, ours (upstream) and theirs (patch) lines.

    ``index`` counts regions from 0 in file order; ``start`` is the region's first line
    (1-based) in the ours side of the merge, for reports.
    """

    index: int
    start: int
    base: Lines
    ours: Lines
    theirs: Lines

    @property
    def kind(self) -> str:
        """``insert/insert`` when both sides only add lines at one spot, else ``edit/edit``."""
        return "insert/insert" if not self.base else "edit/edit"


@dataclass(frozen=True)
class MergedFile:
    """Alternating clean runs and regions: ``clean[0], regions[0], clean[1], …, clean[-1]``."""

    clean: tuple[Lines, ...]
    regions: tuple[ConflictRegion, ...]

    def render(self, chosen: Sequence[Lines | None], labels: tuple[str, str, str]) -> bytes:
        """The file with each region replaced by its chosen lines (None keeps git's markers)."""
        out: list[bytes] = list(self.clean[0])
        for r, pick, after in zip(self.regions, chosen, self.clean[1:], strict=True):
            out.extend(pick if pick is not None else marked(r, labels))
            out.extend(after)
        return b"".join(out)

    def side(self, name: str) -> bytes:
        """The whole file with every region taken from one side (``base``, ``ours``, ``theirs``)."""
        return self.render([getattr(r, name) for r in self.regions], ("", "", ""))

    def before(self, index: int) -> Lines:
        """Every line of the file before region ``index`` (earlier regions taken as ours)."""
        out: list[bytes] = []
        for i in range(index):
            out.extend(self.clean[i])
            out.extend(self.regions[i].ours)
        out.extend(self.clean[index])
        return tuple(out)

    def after(self, index: int) -> Lines:
        """Every line of the file after region ``index`` (later regions taken as ours)."""
        out: list[bytes] = list(self.clean[index + 1])
        for i in range(index + 1, len(self.regions)):
            out.extend(self.regions[i].ours)
            out.extend(self.clean[i + 1])
        return tuple(out)


def marked(r: ConflictRegion, labels: tuple[str, str, str]) -> Lines:
    """A region written back with diff3 markers, as git writes it."""
    base_l, ours_l, theirs_l = (label.encode("utf-8", "surrogateescape") for label in labels)

    def _term(lines: Lines) -> Lines:
        if lines and not lines[-1].endswith(b"\n"):
            return (*lines[:-1], lines[-1] + b"\n")
        return lines

    return (
        b"<<<<<<< " + ours_l + b"\n",
        *_term(r.ours),
        b"||||||| " + base_l + b"\n",
        *_term(r.base),
        b"=======\n",
        *_term(r.theirs),
        b">>>>>>> " + theirs_l + b"\n",
    )


def parse_diff3(data: bytes, labels: tuple[str, str, str]) -> MergedFile | None:
    """git's diff3-marked text → :class:`MergedFile`; None when it is not well-formed diff3.

    ``labels`` are (base, ours, theirs) as given to the merge.  None means a region was not
    closed or had no base section (a merge style other than diff3): the caller then treats the
    file as a conflict nobody may resolve automatically.
    """
    base_l, ours_l, theirs_l = (label.encode("utf-8", "surrogateescape") for label in labels)
    # A marker line is the marker with or without its newline (the file's last line may lack it);
    # comparing whole lines with both spellings spares slicing every line of the file.
    open_m = (b"<<<<<<< " + ours_l, b"<<<<<<< " + ours_l + b"\n")
    base_m = (b"||||||| " + base_l, b"||||||| " + base_l + b"\n")
    close_m = (b">>>>>>> " + theirs_l, b">>>>>>> " + theirs_l + b"\n")
    sep_m = (b"=======", b"=======\n")
    clean: list[Lines] = []
    regions: list[ConflictRegion] = []
    run: list[bytes] = []
    sides: dict[str, list[bytes]] = {}
    state = "clean"
    ours_line = 1  # 1-based line number in the ours side
    for line in split_lines(data):
        if state == "clean":
            if line in open_m:
                clean.append(tuple(run))
                ours_line += len(run)
                run = []
                sides = {"ours": [], "base": [], "theirs": []}
                state = "ours"
            else:
                run.append(line)
        elif state == "ours" and line in base_m:
            state = "base"
        elif state == "base" and line in sep_m:
            state = "theirs"
        elif state == "theirs" and line in close_m:
            regions.append(
                ConflictRegion(
                    len(regions), ours_line, tuple(sides["base"]), tuple(sides["ours"]), tuple(sides["theirs"])
                )
            )
            ours_line += len(sides["ours"])
            state = "clean"
        elif state == "ours" and line in sep_m:
            return None  # no base section: not diff3 style
        else:
            sides[state].append(line)
    if state != "clean":
        return None
    clean.append(tuple(run))
    return MergedFile(tuple(clean), tuple(regions))


def resolved_regions(merged: MergedFile, final: bytes) -> list[Lines | None]:
    """How a finished file resolved each region (None where that cannot be told exactly).

    Why: ``continue`` records what a person did, region by region, and the truth benchmark
    reads what maintainers did.  The clean runs are aligned with the final text (line diff,
    each region a unique placeholder line); a region's resolution is the final text between
    the two clean lines around it, and is known only when those neighbours survived unchanged
    (an edit that touches the region's neighbours makes it unknown rather than guessed).
    """
    from difflib import SequenceMatcher

    template: list[bytes] = []
    slots: list[int] = []
    for k, run in enumerate(merged.clean):
        template.extend(run)
        if k < len(merged.regions):
            slots.append(len(template))
            template.append(b"\0fspatch-region-%d\0\n" % k)
    done = split_lines(final)
    # Strip the common head and tail first (cheap), align only the middle.
    head = 0
    limit = min(len(template), len(done))
    while head < limit and template[head] == done[head]:
        head += 1
    tail = 0
    while tail < limit - head and template[-1 - tail] == done[-1 - tail]:
        tail += 1
    mid_t = template[head : len(template) - tail]
    mid_d = done[head : len(done) - tail]
    sm = SequenceMatcher(None, mid_t, mid_d, autojunk=False)
    eq_t: dict[int, int] = {}  # template line -> final line, for lines kept unchanged
    for tag, i1, i2, j1, _j2 in sm.get_opcodes():
        if tag == "equal":
            for off in range(i2 - i1):
                eq_t[head + i1 + off] = head + j1 + off
    for i in range(head):
        eq_t[i] = i
    for off in range(tail):
        eq_t[len(template) - 1 - off] = len(done) - 1 - off
    out: list[Lines | None] = []
    for slot in slots:
        before = slot - 1
        after = slot + 1
        lo = eq_t.get(before, -1) + 1 if before >= 0 else 0
        if before >= 0 and before not in eq_t:
            out.append(None)
            continue
        if after < len(template):
            if after not in eq_t:
                out.append(None)
                continue
            hi = eq_t[after]
        else:
            hi = len(done)
        if hi < lo or (before >= 0 and after < len(template) and template[after].startswith(b"\0fspatch-region-")):
            out.append(None)
            continue
        out.append(tuple(done[lo:hi]))
    return out
