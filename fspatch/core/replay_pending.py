"""Pending patches: a bot replay's conflicts kept as workspace data (``series/<backend>/pending.yaml``).

Why in the workspace and not only in the backend's git dir: a CI bot commits its result to
a branch and its machine is gone; the maintainer who clones that branch has no journal and
no checkout.  So a ``pull-upstream --no-stop`` that meets conflicts still completes (lock at
the new pin, clean patches rewritten) and writes here, for every patch it could not replay,
what redoing its 3-way merge needs: the old pin (``ref`` and ``commit``, fetched again from
the lock's URL), each layer's old series with the old bytes of every patch the bot rewrote
or dropped (the pending ones keep their old bytes in place, checked by SHA-256), and the
bot's outcomes.  :func:`resume_plan` turns that back into the exact saved plan an
interactive run would hold at its first conflict (``fspatch apply BACKEND``), so
continue/skip/abort work unchanged; when the replay finishes the file is removed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.core.fetch import fetch_ref, fetch_url
from fspatch.core.patch import parse_patch
from fspatch.core.replay_plan import LayerPlan, Plan, build_old_layer
from fspatch.core.replay_report import (
    CLEAN,
    CONFLICT,
    DROPPED,
    UPSTREAMED,
    ReplayStatus,
    outcome_from_dict,
    outcome_to_dict,
)
from fspatch.core.series import SeriesEntry
from fspatch.core.stack import Builder, PatchSource
from fspatch.core.workspace import PENDING_NAME, LayerRef, Workspace
from fspatch.errors import InputError
from fspatch.git_adapter import GitRepo

FORMAT = 1


def pending_rel(backend: str) -> str:
    """Where a backend's pending patches live (workspace-relative)."""
    return f"{LayerRef(backend, None).dir.as_posix()}/{PENDING_NAME}"


@dataclass(frozen=True)
class PendingPatch:
    layer: str  # common | vendor/<name>
    patch: str
    display: str  # workspace path of the patch file


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(ws: Workspace, backend: str) -> Any | None:
    """The validated pending data of a backend, or None when nothing is pending."""
    rel = pending_rel(backend)
    if not (ws.root / rel).is_file():
        return None
    return ws.read_yaml(rel, "pending")


def pending_patches(ws: Workspace, backend: str) -> tuple[PendingPatch, ...]:
    """The patches waiting for a person, in replay order (empty when none)."""
    data = load(ws, backend)
    if data is None:
        return ()
    out = []
    for layer in data["layers"]:
        ref = LayerRef.from_label(backend, str(layer["label"]))
        for e in layer["series"]:
            if e["status"] == CONFLICT.value:
                out.append(PendingPatch(ref.label, str(e["name"]), f"{ref.dir.as_posix()}/{e['name']}"))
    return tuple(out)


@dataclass(frozen=True)
class PendingSummary:
    """What ``status`` tells about a bot replay left pending: from which pin to which, and the patches."""

    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    patches: tuple[PendingPatch, ...]


def summary(ws: Workspace, backend: str) -> PendingSummary | None:
    """The pending replay of a backend in brief, or None (raises InputError on a damaged file)."""
    data = load(ws, backend)
    if data is None:
        return None
    old, new = data["old"], data["new"]
    return PendingSummary(
        str(old["ref"]), str(old["commit"]), str(new["ref"]), str(new["commit"]), pending_patches(ws, backend)
    )


def record(
    ws: Workspace,
    plan: Plan,
    old_series: Mapping[str, Sequence[SeriesEntry]],
    old_bytes: Mapping[tuple[str, str], bytes],
) -> str:
    """Write the pending file after a bot replay that left conflicts (returns its path)."""
    layers = []
    for lp in plan.layers:
        layer = LayerRef(plan.backend, lp.vendor)
        strips = {e.name: e.strip for e in old_series[lp.label]}
        entries = []
        for i, name in enumerate(lp.names):
            status = lp.status[i] if i < len(lp.status) else CONFLICT
            data = old_bytes[(lp.label, name)]
            entry: dict[str, object] = {
                "name": name,
                "strip": strips.get(name, 1),
                "sha256": _sha(data),
                "status": (status if status is not None else CONFLICT).value,
            }
            path = ws.patch_path(layer, name)
            if not path.is_file() or path.read_bytes() != data:
                entry["old_bytes"] = base64.b64encode(data).decode("ascii")
            entries.append(entry)
        layers.append({"label": lp.label, "series": entries})
    doc = {
        "format": FORMAT,
        "operation": plan.operation,
        "backend": plan.backend,
        "old": {"ref": plan.old_ref, "commit": plan.old_commit},
        "new": {"ref": plan.new_ref, "commit": plan.new_commit},
        "drop_upstreamed": plan.drop_upstreamed,
        "layers": layers,
        "outcomes": [outcome_to_dict(o) for o in plan.outcomes],
    }
    rel = pending_rel(plan.backend)
    ws.write_yaml(rel, doc, "pending")
    return rel


def clear(ws: Workspace, backend: str) -> str | None:
    """Remove the pending file when a replay finished (its path, or None when there was none)."""
    path = ws.root / pending_rel(backend)
    if not path.is_file():
        return None
    ws.remove_file(path)
    return pending_rel(backend)


def ensure_checkout(ws: Workspace, backend: str) -> None:
    """A fresh clone of the workspace has no checkout: clone the lock's URL (the engine fetches the pins)."""
    b = ws.backend(backend)
    path = ws.checkout_path(b)
    if GitRepo.is_repo(path):
        return
    if path.exists() and any(path.iterdir()):
        raise InputError(f"{b.path} exists and is not a git checkout; remove it first", path=b.path)
    GitRepo.clone(fetch_url(ws.root, b.url), path)


def _old_commit(ws: Workspace, repo: GitRepo, data: Any) -> str:
    b = ws.backend(str(data["backend"]))
    want = str(data["old"]["commit"])
    if repo.has_commit(want):
        return want
    for ref in (str(data["old"]["ref"]), want):
        try:
            got = fetch_ref(ws.root, repo, b.url, b.mirrors, ref, None)
        except InputError:
            continue
        if got == want or repo.has_commit(want):
            return want
    raise InputError(
        f"the old pin {data['old']['ref']} ({want[:12]}) the pending patches need is not fetchable from {b.url}",
        path=pending_rel(b.name),
    )


def resume_plan(ws: Workspace, repo: GitRepo, backend: str) -> Plan:
    """The saved plan of an interactive replay standing just before the first pending patch.

    Patches before it are taken as the bot wrote them (built from their files, not merged
    again); from the first pending patch on the replay goes on exactly as an interactive one.
    """
    data = load(ws, backend)
    if data is None:
        raise InputError(f"no patches are pending for '{backend}'", path=pending_rel(backend))
    rel = pending_rel(backend)
    old_commit = _old_commit(ws, repo, data)
    new_commit = str(data["new"]["commit"])
    statuses: list[list[ReplayStatus]] = []
    layers: list[LayerPlan] = []
    old_top = old_commit
    for layer_data in data["layers"]:
        layer = LayerRef.from_label(backend, str(layer_data["label"]))
        sources = []
        sts = []
        for e in layer_data["series"]:
            name = str(e["name"])
            display = f"{layer.dir.as_posix()}/{name}"
            if "old_bytes" in e:
                raw = base64.b64decode(str(e["old_bytes"]))
            else:
                path = ws.patch_path(layer, name)
                raw = path.read_bytes() if path.is_file() else b""
            if _sha(raw) != str(e["sha256"]):
                raise InputError(
                    f"{display} changed since the bot run recorded it; restore it (git checkout) "
                    "or drop the pending file and run pull-upstream again",
                    path=rel,
                )
            sources.append(PatchSource(name, display, parse_patch(raw, display, int(e["strip"]))))
            sts.append(ReplayStatus(str(e["status"])))
        base = old_commit if layer.vendor is None else old_top
        lp = build_old_layer(repo, old_commit, base, layer.label, layer.vendor, sources)
        if layer.vendor is None:
            old_top = lp.old[-1] if lp.old else old_commit
        layers.append(lp)
        statuses.append(sts)
    first = next(((li, pi) for li, sts in enumerate(statuses) for pi, st in enumerate(sts) if st == CONFLICT), None)
    if first is None:
        raise InputError("the pending file lists no conflicting patch", path=rel)
    li, pi = first
    builder = Builder(repo, new_commit)
    prefix: set[tuple[str, str]] = set()
    common_top = new_commit
    for i, lp in enumerate(layers[: li + 1]):
        layer = LayerRef(backend, lp.vendor)
        current = {e.name: e for e in ws.read_layer_series(layer)}
        lp.new_base = new_commit if lp.vendor is None else common_top
        lp.top = lp.new_base
        for j in range(pi if i == li else len(lp.names)):
            name, st = lp.names[j], statuses[i][j]
            prefix.add((lp.label, name))
            if st == DROPPED or name not in current:
                lp.new.append(None)
                lp.status.append(DROPPED)
                continue
            path = ws.patch_path(layer, name)
            display = f"{layer.dir.as_posix()}/{name}"
            src = PatchSource(name, display, parse_patch(path.read_bytes(), display, current[name].strip))
            top = builder.build(lp.top, [src])[0].commit
            lp.new.append(top)
            lp.status.append(UPSTREAMED if st == UPSTREAMED else CLEAN)
            lp.top = top
        if lp.vendor is None:
            common_top = lp.top
    outcomes = [o for o in (outcome_from_dict(d) for d in data["outcomes"]) if (o.layer, o.patch) in prefix]
    return Plan(
        "pull-upstream",
        backend,
        str(data["old"]["ref"]),
        old_commit,
        str(data["new"]["ref"]),
        new_commit,
        bool(data.get("drop_upstreamed", False)),
        True,
        layers,
        li,
        pi,
        outcomes,
    )


def pending_path(ws: Workspace, backend: str) -> Path:
    return ws.root / pending_rel(backend)
