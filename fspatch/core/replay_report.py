"""What a replay reports: per patch its outcome, per conflicted file the regions and culprits.

Plain frozen values, shared by the replay engine (:mod:`fspatch.core.replay`), its saved
plan (:mod:`fspatch.core.replay_plan`) and every renderer; nothing here touches git.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class ReplayStatus(str, Enum):
    """What became of one patch in a replay (the values are the persisted and reported words)."""

    CLEAN = "clean"
    UPSTREAMED = "upstreamed"
    DROPPED = "dropped"  # upstreamed and dropped (--drop-upstreamed)
    CONFLICT = "conflict"
    RESOLVED = "resolved"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:  # equal to its word, so hashed like it (dict keys, sets of words)
        return str.__hash__(self)


CLEAN = ReplayStatus.CLEAN
UPSTREAMED = ReplayStatus.UPSTREAMED
DROPPED = ReplayStatus.DROPPED
CONFLICT = ReplayStatus.CONFLICT
RESOLVED = ReplayStatus.RESOLVED
SKIPPED = ReplayStatus.SKIPPED


@dataclass(frozen=True)
class Culprit:
    """An upstream commit that changed lines a conflicting patch touches."""

    id: str
    subject: str
    merge: str = ""  # the first-parent merge that brought the commit in ("" when it is on the line itself)
    merge_subject: str = ""
    ref: str = ""  # a PR/MR reference from its subject or the merge message: "group/project!12", "#1234"


@dataclass(frozen=True)
class Region:
    """A conflicting region: (1-based start, line count) in each version of the file."""

    old_upstream: tuple[int, int]
    new_upstream: tuple[int, int]
    patch: tuple[int, int]
    hunk: str = ""  # the patch's own "@@ -a,b +c,d @@ section" header for these lines


@dataclass(frozen=True)
class FileConflict:
    path: str
    kind: str  # content | binary | deleted upstream | deleted by patch | added by both
    regions: tuple[Region, ...] = ()
    culprits: tuple[Culprit, ...] = ()


@dataclass(frozen=True)
class AutoResolution:
    """One conflict region a rule of the resolution ladder resolved (docs/resolution.md)."""

    rule: str  # recorded | carried | structured | relocated
    path: str
    region: int  # 0-based index among the file's conflict regions
    line: int  # first line of the region in upstream's side (1-based)
    detail: str  # what the rule did ("kept both (…) in a class body", "resolved as recorded on … by …")
    before: str  # the region as git left it (diff3 markers)
    after: str
    recorded_id: str = ""


@dataclass(frozen=True)
class PatchOutcome:
    layer: str
    patch: str
    status: ReplayStatus
    conflicts: tuple[FileConflict, ...] = ()
    renamed_upstream: tuple[tuple[str, str], ...] = ()
    deleted_upstream: tuple[str, ...] = ()
    resolutions: tuple[AutoResolution, ...] = ()  # regions the ladder resolved (all of them: status resolved)
    notes: tuple[str, ...] = ()  # regions left, with why every rule refused ("path:line: …")
    resolved_by: str = ""  # for status resolved: the least certain rule it needed, or "by hand"
    blocked_by: str = ""  # a conflict caused only by this earlier conflicting/skipped patch of the layer
    upstream_commit: str = ""  # upstreamed: the upstream commit that carries the change, where known
    upstream_how: str = ""  # upstreamed although the merge conflicted: "patch-id" | "reverse-applies" | "carried"
    kept: str = ""  # resuming a bot run: why its decision was kept, not made again (docs/replay-pending.md)


@dataclass(frozen=True)
class ReplayReport:
    operation: str
    backend: str
    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    finished: bool
    stopped_at: str | None  # "<layer dir>/<patch>" of an interactive stop
    patches: tuple[PatchOutcome, ...]
    counts: dict[str, int]
    summary: str


def outcome_to_dict(o: PatchOutcome) -> dict[str, object]:
    """The outcome as JSON-able values (the journal keeps the outcomes of a paused replay)."""
    d = asdict(o)
    d["status"] = o.status.value
    return d


def outcome_from_dict(d: Mapping[str, Any]) -> PatchOutcome:
    return PatchOutcome(
        layer=d["layer"],
        patch=d["patch"],
        status=ReplayStatus(d["status"]),
        conflicts=tuple(
            FileConflict(
                c["path"],
                c["kind"],
                tuple(
                    Region(tuple(r["old_upstream"]), tuple(r["new_upstream"]), tuple(r["patch"]), r.get("hunk", ""))
                    for r in c["regions"]
                ),
                tuple(
                    Culprit(u["id"], u["subject"], u.get("merge", ""), u.get("merge_subject", ""), u.get("ref", ""))
                    for u in c["culprits"]
                ),
            )
            for c in d["conflicts"]
        ),
        renamed_upstream=tuple((a, b) for a, b in d["renamed_upstream"]),
        deleted_upstream=tuple(d["deleted_upstream"]),
        resolutions=tuple(AutoResolution(**r) for r in d.get("resolutions", ())),
        notes=tuple(d.get("notes", ())),
        resolved_by=str(d.get("resolved_by", "")),
        blocked_by=d.get("blocked_by", ""),
        kept=d.get("kept", ""),
        upstream_commit=d.get("upstream_commit", ""),
        upstream_how=d.get("upstream_how", ""),
    )


RULE_ORDER = ("recorded", "carried", "structured", "relocated")  # most to least certain


def resolved_by(o: PatchOutcome) -> str:
    """How a resolved patch counts in the summary: its rule, or ``by hand``."""
    return o.resolved_by or "by hand"


def category(resolutions: Sequence[AutoResolution]) -> str:
    """The least certain rule a set of resolutions needed (relocated, structured, recorded)."""
    rules = {r.rule for r in resolutions}
    for rule in reversed(RULE_ORDER):
        if rule in rules:
            return rule
    return "by hand"


def summarize(outcomes: Sequence[PatchOutcome], total: int | None = None) -> tuple[dict[str, int], str]:
    """Counts by status and the one-line summary (``72 patches: 58 clean, 3 upstreamed, 11 conflicts``)."""
    counts = {k.value: 0 for k in ReplayStatus}
    for o in outcomes:
        counts[o.status.value] += 1
    parts = [f"{counts[CLEAN]} clean", f"{counts[UPSTREAMED] + counts[DROPPED]} upstreamed"]
    if counts[RESOLVED]:
        how: dict[str, int] = {}
        for o in outcomes:
            if o.status == RESOLVED:
                key = resolved_by(o)
                how[key] = how.get(key, 0) + 1
        for key, n in how.items():
            counts[f"resolved {key}"] = n
        order = [k for k in (*RULE_ORDER, "by hand") if k in how]
        parts.append(f"{counts[RESOLVED]} resolved (" + ", ".join(f"{how[k]} {k}" for k in order) + ")")
    parts.append(f"{counts[CONFLICT]} conflict" + ("" if counts[CONFLICT] == 1 else "s"))
    blocked = sum(1 for o in outcomes if o.status == CONFLICT and o.blocked_by)
    if blocked:
        counts["blocked"] = blocked
        parts[-1] += f" ({blocked} blocked by an earlier patch)"
    if counts[SKIPPED]:
        parts.append(f"{counts[SKIPPED]} skipped")
    n = len(outcomes) if total is None else total
    if n > len(outcomes):
        counts["pending"] = n - len(outcomes)
        parts.append(f"{n - len(outcomes)} not replayed yet")
    return counts, f"{n} patch{'' if n == 1 else 'es'}: " + ", ".join(parts)
