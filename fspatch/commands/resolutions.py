"""``fspatch resolutions list|show|forget``: the recorded resolutions of a backend.

They live in ``series/<backend>/resolutions/`` (one reviewable YAML file a conflict region,
see :mod:`fspatch.core.resolutions`); these verbs read them and delete one.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.auto_resolve import store_for
from fspatch.core.resolutions import Recorded, dumps
from fspatch.core.session import pick_backend
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class ResolutionInfo:
    id: str
    path: str
    recorded: str
    author: str
    patch: str
    context: str
    lines: int  # lines of the resolution


@dataclass(frozen=True)
class ListResult:
    backend: str
    directory: str
    resolutions: tuple[ResolutionInfo, ...]


@dataclass(frozen=True)
class ShowResult:
    backend: str
    file: str
    info: ResolutionInfo
    text: str  # the file as stored


@dataclass(frozen=True)
class ForgetResult:
    backend: str
    removed: str


def _info(r: Recorded) -> ResolutionInfo:
    return ResolutionInfo(r.id, r.path, r.recorded, r.author, r.patch, r.context, len(r.resolution))


def run_list(ws: Workspace, backend: str | None = None) -> ListResult:
    name = pick_backend(ws, backend)
    store = store_for(ws.root, name)
    return ListResult(name, store.display, tuple(_info(r) for r in store.all()))


def run_show(ws: Workspace, ident: str, backend: str | None = None) -> ShowResult:
    name = pick_backend(ws, backend)
    store = store_for(ws.root, name)
    rec = store.find(ident)
    return ShowResult(name, f"{store.display}/{rec.id}.yaml", _info(rec), dumps(rec).decode("utf-8", "replace"))


def run_forget(ws: Workspace, ident: str, backend: str | None = None) -> ForgetResult:
    name = pick_backend(ws, backend)
    store = store_for(ws.root, name)
    return ForgetResult(name, store.forget(store.find(ident)))
