"""The resolution ladder applied to one patch's conflicted tree merge, and what it leaves behind.

This is the glue between the replay engine and :mod:`fspatch.core.ladder`: after git's tree
merge reports conflicts, each conflicted text file is read from git's diff3 output and
resolved as far as the rules allow.  Only conflicted files are touched -- every path git
merged cleanly keeps git's bytes, so a resolution never changes what git merges cleanly.

What it returns is data for the report, the journal (JSON) and the rewritten patch:

* one :class:`AutoResolution` per resolved region: rule, file, region, first line, why,
  and the region before (git's markers) and after;
* the patch's trailers (``Fspatch-Resolved: structured megatron/x.py:12``), so the rewritten
  patch says in its own header which regions a rule settled;
* (the summary's category, ``4 resolved (3 recorded, 1 structured)``, is
  ``replay_report.category``: the least certain rule a patch needed).

And :func:`record_person`: after ``continue``, the person's file is compared with git's
regions and each region whose resolution can be told exactly is stored (rerere).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.conflict_regions import ConflictRegion, marked, parse_diff3, resolved_regions
from fspatch.core.ladder import NONE, Ladder, RegionResult
from fspatch.core.markers import MarkerConfig
from fspatch.core.replay_report import AutoResolution
from fspatch.core.resolutions import DIR_NAME, ResolutionStore, record_for
from fspatch.git_adapter import Entry, FileMerge, GitRepo

TRAILER = "Fspatch-Resolved"


@dataclass(frozen=True)
class MergeOutcome:
    tree: str | None  # every conflict resolved: the patch's merged tree
    partial_tree: str  # git's conflict tree with the resolved regions applied
    resolutions: tuple[AutoResolution, ...]
    left: tuple[str, ...]  # paths still conflicting
    notes: tuple[str, ...]  # why regions were left (per file and region), near matches


def store_for(root: Path, backend: str) -> ResolutionStore:
    """The backend's store: ``series/<backend>/resolutions/`` of the workspace at ``root``."""
    rel = f"series/{backend}/{DIR_NAME}"
    return ResolutionStore(root / rel, rel)


def ladder_for(root: Path, backend: str, mode: str, settings: object = None) -> Ladder:
    config = MarkerConfig.from_settings(settings) if isinstance(settings, dict) else MarkerConfig()
    return Ladder(mode, store_for(root, backend) if mode != NONE else None, config)


def _text(lines: Sequence[bytes]) -> str:
    return b"".join(lines).decode("utf-8", "replace")


def apply_ladder(
    repo: GitRepo, conflict_tree: str, files: Sequence[FileMerge], labels: tuple[str, str, str], ladder: Ladder
) -> MergeOutcome:
    """Resolve what the rules prove in a conflicted merge (files and tree from ``merge_conflicts``)."""
    changes: dict[str, Entry | None] = {}
    done: list[AutoResolution] = []
    left: list[str] = []
    notes: list[str] = []
    for f in files:
        if ladder.mode == NONE or f.merged is None or f.ancestor is None or f.ours is None or f.theirs is None:
            left.append(f.path)
            continue
        base = repo.read_blob(f.ancestor[1].id)
        ours = repo.read_blob(f.ours[1].id)
        theirs = repo.read_blob(f.theirs[1].id)
        fr = ladder.resolve_file(f.ours[0], base, ours, theirs, f.merged, labels)
        if fr is None:
            left.append(f.path)
            continue
        for r in fr.regions:
            if r.rule is None:
                notes.append(f"{f.path}:{r.start}: {r.reason}")
                continue
            region_text = marked(_region(r), labels)
            done.append(
                AutoResolution(
                    r.rule,
                    f.path,
                    r.index,
                    r.start,
                    r.reason,
                    _text(region_text),
                    _text(r.after or ()),
                    r.recorded.id if r.recorded is not None else "",
                )
            )
        if fr.text != f.merged:
            changes[f.ours[0]] = Entry(repo.write_blob(fr.text), f.ours[1].mode)
        if not fr.resolved:
            left.append(f.path)
    partial = repo.update_tree(conflict_tree, changes) if changes else conflict_tree
    tree = partial if not left and done else None
    return MergeOutcome(tree, partial, tuple(done), tuple(left), tuple(notes))


def _region(r: RegionResult) -> ConflictRegion:
    return ConflictRegion(r.index, r.start, r.base, r.ours, r.theirs)


def trailers(resolutions: Sequence[AutoResolution]) -> tuple[tuple[str, str], ...]:
    """One trailer per resolved region, in file order."""
    return tuple((TRAILER, f"{r.rule} {r.path}:{r.line}") for r in resolutions)


def with_trailers(
    existing: Sequence[tuple[str, str]], resolutions: Sequence[AutoResolution]
) -> tuple[tuple[str, str], ...]:
    """A patch's trailers with this replay's resolutions (those of an earlier replay replaced)."""
    kept = tuple(t for t in existing if t[0] != TRAILER)
    return kept + trailers(resolutions)


def record_person(
    repo: GitRepo,
    store: ResolutionStore,
    files: Sequence[FileMerge],
    labels: tuple[str, str, str],
    final_of: Callable[[str], bytes | None],
    *,
    author: str,
    patch: str,
    context: str,
    proposed: Mapping[tuple[str, int], str] | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Store how the person resolved each region of each conflicted file (exact ones only).

    ``final_of(path)`` reads the person's file (None: deleted or not a file: nothing recorded).
    A region the person left as a rule proposed it (``proposed``: (path, region) -> text) is not
    recorded: the rule will prove it again.  Returns the display paths written.
    """
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    written: list[str] = []
    for f in files:
        if f.merged is None or f.ours is None:
            continue
        merged = parse_diff3(f.merged, labels)
        final = final_of(f.path)
        if merged is None or final is None:
            continue
        for region, lines in zip(merged.regions, resolved_regions(merged, final), strict=True):
            if lines is None:
                continue
            if proposed and proposed.get((f.path, region.index)) == _text(lines):
                continue
            rec = record_for(f.ours[0], region, lines, recorded=stamp, author=author, patch=patch, context=context)
            old = store.lookup(f.ours[0], region)
            if old is not None and old.resolution == rec.resolution:
                continue  # the same resolution again: keep the first date and author
            written.append(store.save(rec))
    return written
