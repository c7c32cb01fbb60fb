"""Walk every layer of a backend in memory: each patch's parent tree and patched tree.

Used by checks that look at what each patch does without touching the checkout
(markers now; schema/apply checks of ``fspatch check`` later).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fspatch.core.session import Session
from fspatch.core.stack import PatchSource
from fspatch.core.workspace import LayerRef
from fspatch.errors import ConflictError, InputError


@dataclass(frozen=True)
class PatchStep:
    """One patch of one layer, built: its source and the trees before and after it."""

    layer: LayerRef
    source: PatchSource
    parent_tree: str
    tree: str


@dataclass(frozen=True)
class StepError:
    """A patch that could not be read or applied (the layer's walk stops there)."""

    layer: LayerRef
    display: str
    message: str


def walk_layers(s: Session) -> Iterator[PatchStep | StepError]:
    """Common layer on the pinned upstream, then each vendor layer on the common top."""
    repo = s.repo
    builder = s.builder()
    common = LayerRef(s.backend.name, None)
    layers = [common] + list(s.ws.vendor_layers(s.backend.name))
    common_top = s.backend.commit
    for layer in layers:
        parent = s.backend.commit if layer.vendor is None else common_top
        for entry in s.entries(layer):
            display = f"{layer.dir}/{entry.name}"
            try:
                src = s.source(layer, entry)
                commit = builder.apply(parent, src)
            except (ConflictError, InputError) as exc:
                yield StepError(layer, display, str(exc))
                break
            yield PatchStep(layer, src, repo.tree_of(parent), repo.tree_of(commit))
            parent = commit
        if layer.vendor is None:
            common_top = parent
