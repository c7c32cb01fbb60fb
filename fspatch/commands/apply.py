"""``fspatch apply``: build a backend's stack in memory, then check out its top once."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.session import Session, resolve_patch
from fspatch.core.stack import LayerState, StackState
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class LayerSummary:
    layer: str
    applied: int
    total: int
    top: str | None  # name of the top applied patch


@dataclass(frozen=True)
class ApplyResult:
    backend: str
    upstream: str
    head: str
    layers: tuple[LayerSummary, ...]
    touched: int


def run(
    ws: Workspace,
    backend: str,
    *,
    vendor: str | None = None,
    task: str | None = None,
    upto: str | None = None,
    force: bool = False,
) -> ApplyResult:
    s = Session.open(ws, backend)
    if s.state is not None and not force:
        s.require_head_at_stack()
    layers: list[LayerRef] = [LayerRef(s.backend.name, None)]
    if vendor is not None:
        layers.append(s.layer_ref(vendor))
        if task is not None:
            tasks = list(ws.layer_meta(layers[-1]).get("tasks", []))
            if task not in tasks:
                raise UsageError(
                    f"vendor '{vendor}' declares no task '{task}' for {s.backend.name} "
                    f"(declared: {', '.join(tasks) or 'none'})"
                )
    builder = s.builder()
    base = s.backend.commit
    states: list[LayerState] = []
    summaries: list[LayerSummary] = []
    for i, layer in enumerate(layers):
        entries = s.entries(layer)
        if upto is not None and i == len(layers) - 1:
            name = resolve_patch([e.name for e in entries], upto, layer)
            entries = entries[: [e.name for e in entries].index(name) + 1]
        sources = [s.source(layer, e) for e in entries]
        applied = builder.build(base, sources)
        states.append(LayerState(layer.label, base, tuple(applied)))
        summaries.append(
            LayerSummary(
                layer.label, len(applied), len(s.entries(layer)), applied[-1].name if applied else None
            )
        )
        base = applied[-1].commit if applied else base
    new_state = StackState(s.backend.name, s.backend.commit, tuple(states))
    touched = s.commit(new_state, reason=f"apply {s.backend.name}")
    return ApplyResult(s.backend.name, s.backend.commit, new_state.head, tuple(summaries), len(touched))
