"""``fspatch matrix``: vendor × backend × {applies on the pinned upstream, on the current common
layer, after a trial rebase onto ``--onto REF``}; see :mod:`fspatch.core.matrix`.

Read-only like ``check``; unlike ``check`` it reports and does not fail (exit 0 whatever it
finds), so a CI job can publish the table and fan out over ``--github-matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fspatch.core.matrix import Matrix, compute_matrix, layer_rows, parse_onto
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class FanOut:
    """One CI job of ``--github-matrix``: a backend and a layer (``vendor`` is ``""`` for common)."""

    backend: str
    vendor: str
    layer: str


@dataclass(frozen=True)
class BackendJob:
    """One CI job of ``--github-matrix --by backend``: a backend and its layers (the bump's unit)."""

    backend: str
    layers: tuple[str, ...]


def run(
    ws: Workspace,
    backends: Sequence[str] | None = None,
    *,
    vendors: Sequence[str] | None = None,
    onto: Sequence[str] = (),
) -> Matrix:
    """The matrix of the selected backends and vendors; ``onto`` holds ``REF`` or ``BACKEND=REF`` values."""
    names = [ws.backend(b).name for b in backends] if backends else list(ws.backends())
    return compute_matrix(ws, names, vendors, parse_onto(onto, names) if onto else None)


def fan_out(
    ws: Workspace, backends: Sequence[str] | None = None, *, vendors: Sequence[str] | None = None
) -> list[FanOut]:
    """The rows as CI jobs, without building anything (fast, needs no checkout)."""
    return [FanOut(layer.backend, layer.vendor or "", layer.label) for layer in layer_rows(ws, backends, vendors)]


def fan_out_backends(
    ws: Workspace, backends: Sequence[str] | None = None, *, vendors: Sequence[str] | None = None
) -> list[BackendJob]:
    """The rows grouped by backend: a bump moves one backend's pin and replays all its layers at once."""
    jobs: dict[str, list[str]] = {}
    for job in fan_out(ws, backends, vendors=vendors):
        jobs.setdefault(job.backend, []).append(job.layer)
    return [BackendJob(name, tuple(layers)) for name, layers in jobs.items()]
