"""The saved plan of a replay: which layers, which patches, how far it got, where it stopped.

Why a plan apart from the engine: an interactive stop hands the checkout to a person and
the process ends; ``continue`` / ``skip`` in another process must resume exactly there.
So the whole progress is one typed value that the journal (:mod:`fspatch.core.journal`)
keeps on disk while the replay is paused (``to_dict`` / ``from_dict`` are its JSON form,
documented in ``docs/journal.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fspatch.core.replay_report import (
    PatchOutcome,
    ReplayReport,
    ReplayStatus,
    outcome_from_dict,
    outcome_to_dict,
    summarize,
)
from fspatch.core.stack import Builder, PatchSource
from fspatch.core.workspace import LayerRef
from fspatch.errors import ConflictError, InputError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass
class LayerPlan:
    label: str  # common | vendor/<name>
    vendor: str | None
    old_base: str
    names: list[str]
    old: list[str]  # old commit of each patch
    new_base: str | None = None
    top: str | None = None
    new: list[str | None] = field(default_factory=list)  # new commit per patch (None: not in the new stack)
    status: list[ReplayStatus | None] = field(default_factory=list)  # None: not replayed yet

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "vendor": self.vendor,
            "old_base": self.old_base,
            "names": list(self.names),
            "old": list(self.old),
            "new_base": self.new_base,
            "top": self.top,
            "new": list(self.new),
            "status": [None if st is None else st.value for st in self.status],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerPlan:
        return cls(
            str(d["label"]),
            d["vendor"],
            str(d["old_base"]),
            [str(n) for n in d["names"]],
            [str(c) for c in d["old"]],
            d["new_base"],
            d["top"],
            list(d["new"]),
            [None if st is None else ReplayStatus(st) for st in d["status"]],
        )


@dataclass(frozen=True)
class Stop:
    """An interactive stop: the conflicted patch, the paths left with markers, its outcome."""

    layer: str
    patch: str
    paths: tuple[str, ...]
    outcome: PatchOutcome
    proposal: str = ""  # the tree checked out at the stop (with the ladder's resolutions in it)

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "patch": self.patch,
            "paths": list(self.paths),
            "outcome": outcome_to_dict(self.outcome),
            "proposal": self.proposal,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stop:
        return cls(
            str(d["layer"]),
            str(d["patch"]),
            tuple(d["paths"]),
            outcome_from_dict(d["outcome"]),
            str(d.get("proposal", "")),
        )


@dataclass
class Plan:
    operation: str
    backend: str
    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    drop_upstreamed: bool
    stop: bool
    layers: list[LayerPlan]
    li: int = 0
    pi: int = 0
    outcomes: list[PatchOutcome] = field(default_factory=list)
    stopped: Stop | None = None  # where an interactive replay waits for continue/skip/abort
    resolve: str = "safe"  # the resolution ladder's rules: none | recorded | safe (docs/resolution.md)

    def to_dict(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "backend": self.backend,
            "old_ref": self.old_ref,
            "old_commit": self.old_commit,
            "new_ref": self.new_ref,
            "new_commit": self.new_commit,
            "drop_upstreamed": self.drop_upstreamed,
            "stop": self.stop,
            "layers": [lp.to_dict() for lp in self.layers],
            "li": self.li,
            "pi": self.pi,
            "outcomes": [outcome_to_dict(o) for o in self.outcomes],
            "stopped": None if self.stopped is None else self.stopped.to_dict(),
            "resolve": self.resolve,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        return cls(
            str(d["operation"]),
            str(d["backend"]),
            str(d["old_ref"]),
            str(d["old_commit"]),
            str(d["new_ref"]),
            str(d["new_commit"]),
            bool(d["drop_upstreamed"]),
            bool(d["stop"]),
            [LayerPlan.from_dict(lp) for lp in d["layers"]],
            int(d["li"]),
            int(d["pi"]),
            [outcome_from_dict(o) for o in d["outcomes"]],
            None if d["stopped"] is None else Stop.from_dict(d["stopped"]),
            str(d.get("resolve", "safe")),
        )

    def total(self) -> int:
        return sum(len(lp.names) for lp in self.layers)

    def done(self) -> int:
        return sum(len(lp.names) for lp in self.layers[: self.li]) + self.pi

    def report(self, finished: bool) -> ReplayReport:
        outcomes = list(self.outcomes)
        counts, summary = summarize(outcomes)
        stopped = None
        if self.stopped is not None:
            lp = self.layers[self.li]
            stopped = f"{LayerRef(self.backend, lp.vendor).dir.as_posix()}/{self.stopped.patch}"
        return ReplayReport(
            self.operation,
            self.backend,
            self.old_ref,
            self.old_commit,
            self.new_ref,
            self.new_commit,
            finished,
            stopped,
            tuple(outcomes),
            counts,
            summary,
        )


RESOLVE_MODES = ("none", "recorded", "safe")


def check_resolve(mode: str) -> str:
    """A ``--resolve`` value, checked (none | recorded | safe)."""
    if mode not in RESOLVE_MODES:
        raise UsageError(f"--resolve must be one of {', '.join(RESOLVE_MODES)}, not '{mode}'")
    return mode


def build_old_layer(
    repo: GitRepo, upstream: str, base: str, label: str, vendor: str | None, sources: Sequence[PatchSource]
) -> LayerPlan:
    """The layer's old stack, built in memory from its patch files on the old base."""
    try:
        applied = Builder(repo, upstream).build(base, sources)
    except ConflictError as exc:
        raise InputError(
            f"does not apply to the old base ({exc.message}); fix the layer on the current pin first",
            path=exc.path,
        ) from None
    return LayerPlan(label, vendor, base, [a.name for a in applied], [a.commit for a in applied])
