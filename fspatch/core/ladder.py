"""The resolution ladder for one conflicting file: recorded, carried, structured, relocated.

Input: what git's 3-way merge left for one file (its diff3-marked text with the replay's
labels) and the file's three full versions.  Each conflict region is tried rule by rule,
in the order of ``--resolve``:

* ``none``      -- nothing: the region stays a conflict, exactly as git leaves it;
* ``recorded``  -- a resolution recorded for exactly this region (:mod:`resolutions`);
* ``safe``      -- recorded, then upstream's side where it already carries the patch's change
  (:mod:`carried`), then structured merge of insertions into unordered contexts
  (:mod:`structured_merge`), then marker-guided relocation (:mod:`relocate`).

Every rule refuses rather than guesses; the first that answers wins, and each region says
which rule resolved it (with its before and after) or why every rule refused.  Text git
merged cleanly is never touched (a relocation may put a marked block back into it, at
the one place its unchanged context is).  A file is resolved only when all its regions are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fspatch.core import argparse_options, carried, relocate, structured_merge
from fspatch.core.conflict_regions import ConflictRegion, Lines, MergedFile, marked, parse_diff3
from fspatch.core.markers import MarkerConfig
from fspatch.core.resolutions import Recorded, ResolutionStore

NONE = "none"
RECORDED = "recorded"
SAFE = "safe"
MODES = (NONE, RECORDED, SAFE)


@dataclass(frozen=True)
class RegionResult:
    """One conflict region: the rule that resolved it (None: left to a person) and why."""

    index: int
    start: int  # first line of the region in upstream's side (1-based)
    rule: str | None
    reason: str
    base: Lines
    ours: Lines
    theirs: Lines
    after: Lines | None
    recorded: Recorded | None = None
    near: tuple[str, ...] = ()  # ids of recorded resolutions of similar conflicts (not applied)


@dataclass(frozen=True)
class FileResolution:
    path: str
    regions: tuple[RegionResult, ...]
    text: bytes  # resolved regions replaced, the others with git's markers
    resolved: bool  # every region resolved: ``text`` has no markers

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.regions if r.rule is not None)


@dataclass
class Ladder:
    """The rules to try and what they need (the store, the marker settings)."""

    mode: str = SAFE
    store: ResolutionStore | None = None
    markers: MarkerConfig = field(default_factory=MarkerConfig)

    def resolve_file(
        self,
        path: str,
        base: bytes,
        ours: bytes,
        theirs: bytes,
        diff3: bytes,
        labels: tuple[str, str, str],
    ) -> FileResolution | None:
        """Resolve what can be proven in one file; None when git's text is not diff3 (leave it)."""
        merged = parse_diff3(diff3, labels)
        if merged is None or not merged.regions:
            return None
        results: list[RegionResult] = []
        chosen: list[Lines | None] = []
        edits: list[tuple[int, int, int, Lines]] = []
        for region in merged.regions:
            res, more = self._region(path, base, ours, theirs, merged, region, edits)
            results.append(res)
            chosen.append(res.after)
            edits.extend(more)
        text = _render(merged, chosen, edits, labels)
        return FileResolution(path, tuple(results), text, all(c is not None for c in chosen))

    def _region(
        self,
        path: str,
        base: bytes,
        ours: bytes,
        theirs: bytes,
        merged: MergedFile,
        region: ConflictRegion,
        taken: Sequence[tuple[int, int, int, Lines]],
    ) -> tuple[RegionResult, list[tuple[int, int, int, Lines]]]:
        def result(
            rule: str | None,
            reason: str,
            after: Lines | None,
            recorded: Recorded | None = None,
            near: tuple[str, ...] = (),
        ) -> RegionResult:
            return RegionResult(
                region.index, region.start, rule, reason, region.base, region.ours, region.theirs, after, recorded, near
            )

        if self.mode == NONE:
            return result(None, "--resolve none", None), []
        why: list[str] = []
        near: tuple[str, ...] = ()
        if self.store is not None:
            rec = self.store.lookup(path, region)
            if rec is not None:
                return result(
                    RECORDED, f"resolved as recorded on {rec.recorded} by {rec.author}", rec.resolution, recorded=rec
                ), []
            near = tuple(r.id for r in self.store.near(path, region))
            why.append("recorded: none for this exact conflict" + (f" (similar: {', '.join(near)})" if near else ""))
        if self.mode == RECORDED:
            return result(None, "; ".join(why) or "no recorded resolutions", None, near=near), []
        took = carried.carried_region(region)
        if took.lines is not None:
            return result(carried.RULE, took.reason, took.lines, near=near), []
        why.append(f"carried: {took.reason}")
        got = structured_merge.merge_region(path, merged, region, base, ours)
        if got.lines is not None:
            return result(structured_merge.RULE, got.reason, got.lines, near=near), []
        opts = argparse_options.merge_region(path, region, ours, theirs)
        if opts.lines is not None:
            return result(structured_merge.RULE, opts.reason, opts.lines, near=near), []
        why.append(f"structured: {got.reason} (argparse options: {opts.reason})")
        moved = relocate.relocate_region(path, base, theirs, ours, merged, region, self.markers)
        if moved.lines is not None:
            clash = [e for e in moved.clean_edits for t in taken if e[0] == t[0] and e[1] < t[2] and t[1] < e[2]]
            if not clash:
                return result(relocate.RULE, moved.reason, moved.lines, near=near), list(moved.clean_edits)
            why.append("relocated: two blocks want the same place")
        else:
            why.append(f"relocated: {moved.reason}")
        return result(None, "; ".join(why), None, near=near), []


def _render(
    merged: MergedFile,
    chosen: Sequence[Lines | None],
    edits: Sequence[tuple[int, int, int, Lines]],
    labels: tuple[str, str, str],
) -> bytes:
    runs = [list(run) for run in merged.clean]
    for k, start, end, new in sorted(edits, key=lambda e: (e[0], -e[1])):
        runs[k][start:end] = new
    out: list[bytes] = list(runs[0])
    for r, pick, after in zip(merged.regions, chosen, runs[1:], strict=True):
        out.extend(pick if pick is not None else marked(r, labels))
        out.extend(after)
    return b"".join(out)


def summary_of(files: Sequence[FileResolution]) -> dict[str, int]:
    """Regions by rule (and ``left``) over some files, for reports."""
    counts: dict[str, int] = {}
    for f in files:
        for r in f.regions:
            key = r.rule or "left"
            counts[key] = counts.get(key, 0) + 1
    return counts


__all__ = [
    "MODES",
    "NONE",
    "RECORDED",
    "SAFE",
    "FileResolution",
    "Ladder",
    "RegionResult",
    "summary_of",
]
