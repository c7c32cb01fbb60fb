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

``rebase-vendors --no-stop`` writes the same file (the pin does not move): a vendor layer's
old base is an old common-layer top that only the bot's checkout holds, so it is kept as one
diff from the pin (:func:`old_bases`), with the fingerprint of the common layer rebased onto.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.core.fetch import fetch_ref, fetch_url
from fspatch.core.layers import common_fingerprint
from fspatch.core.patch import Patch, format_patch, parse_diff, parse_patch
from fspatch.core.replay_plan import LayerPlan, Plan, build_old_layer
from fspatch.core.replay_report import (
    CLEAN,
    CONFLICT,
    DROPPED,
    RESOLVED,
    UPSTREAMED,
    ReplayStatus,
    outcome_from_dict,
    outcome_to_dict,
)
from fspatch.core.series import SeriesEntry
from fspatch.core.session import read_patch
from fspatch.core.stack import Builder, PatchSource
from fspatch.core.workspace import PENDING_NAME, LayerRef, Workspace
from fspatch.errors import ConflictError, InputError
from fspatch.git_adapter import GitRepo

FORMAT = 1


def pending_rel(backend: str) -> str:
    """Where a backend's pending patches live (workspace-relative)."""
    return f"{LayerRef(backend, None).dir.as_posix()}/{PENDING_NAME}"


CAUSE_CONFLICT = "conflict"  # its own conflict (with upstream, or with the common layer for rebase-vendors)
CAUSE_BLOCKED = "blocked"  # conflicts only because an earlier patch (``blocked_by``) conflicted or was skipped
CAUSE_NOT_REPLAYED = "not-replayed"  # the run ended before it (not written by a bot run today)


@dataclass(frozen=True)
class PendingPatch:
    layer: str  # common | vendor/<name>
    patch: str
    display: str  # workspace path of the patch file
    cause: str = CAUSE_CONFLICT
    blocked_by: str = ""  # with CAUSE_BLOCKED: the earlier patch (``common/<patch>`` from a vendor layer)
    reason: str = "conflicts with upstream"  # the cause in words, as status, check and Markdown say it


def _reason(cause: str, blocked_by: str, operation: str) -> str:
    if cause == CAUSE_BLOCKED:
        return f"blocked by {blocked_by}"
    if cause == CAUSE_NOT_REPLAYED:
        return "not replayed yet"
    return "conflicts with the common layer" if operation == "rebase-vendors" else "conflicts with upstream"


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
    # Files written before causes were recorded (and import-flagscale's): the bot's outcomes say it.
    blocked = {
        (str(o["layer"]), str(o["patch"])): str(o.get("blocked_by", ""))
        for o in data["outcomes"]
        if o.get("status") == CONFLICT.value
    }
    out = []
    for layer in data["layers"]:
        ref = LayerRef.from_label(backend, str(layer["label"]))
        for e in layer["series"]:
            if e["status"] == CONFLICT.value:
                by = str(e.get("blocked_by", blocked.get((ref.label, str(e["name"])), "")))
                cause = str(e.get("cause", CAUSE_BLOCKED if by else CAUSE_CONFLICT))
                display = f"{ref.dir.as_posix()}/{e['name']}"
                by = by if cause == CAUSE_BLOCKED else ""
                why = _reason(cause, by, str(data["operation"]))
                out.append(PendingPatch(ref.label, str(e["name"]), display, cause, by, why))
    return tuple(out)


@dataclass(frozen=True)
class PendingSummary:
    """What ``status`` tells about a bot replay left pending: from which pin to which, and the patches."""

    old_ref: str
    old_commit: str
    new_ref: str
    new_commit: str
    patches: tuple[PendingPatch, ...]
    operation: str = "pull-upstream"  # or rebase-vendors (the pin did not move)


def summary(ws: Workspace, backend: str) -> PendingSummary | None:
    """The pending replay of a backend in brief, or None (raises InputError on a damaged file)."""
    data = load(ws, backend)
    if data is None:
        return None
    old, new = data["old"], data["new"]
    return PendingSummary(
        str(old["ref"]),
        str(old["commit"]),
        str(new["ref"]),
        str(new["commit"]),
        pending_patches(ws, backend),
        str(data["operation"]),
    )


BASE_SUBJECT = "The common layer as the vendor layer's old commits were built on"


def old_bases(repo: GitRepo, plan: Plan) -> dict[str, bytes]:
    """rebase-vendors: each vendor layer's old base (an old common-layer top) as one diff from the pin.

    Why: that commit lives only in the bot's checkout (built from common patches since
    edited); a fresh clone rebuilds it from this diff.  Layers whose old commits were built
    on the current common layer need none.  Checked here, before anything is written: the
    diff applied on the pin must give the old base's tree exactly.
    """
    out: dict[str, bytes] = {}
    if plan.operation != "rebase-vendors":
        return out
    for lp in plan.layers:
        if lp.old_base == lp.new_base:
            continue
        tree = repo.tree_of(lp.old_base)
        display = f"{pending_rel(plan.backend)} ({lp.label} old base)"
        files = parse_diff(repo.diff_trees(repo.tree_of(plan.new_commit), tree), display)
        data = format_patch(Patch(subject=BASE_SUBJECT, files=files))
        if repo.tree_of(_build_base(repo, plan.new_commit, data, display)) != tree:
            raise ConflictError(f"{lp.label}: its old base does not rebuild from a diff; nothing is recorded")
        out[lp.label] = data
    return out


def _build_base(repo: GitRepo, pin: str, data: bytes, display: str) -> str:
    return Builder(repo, pin).build(pin, [PatchSource("old-base", display, parse_patch(data, display))])[0].commit


def record(
    ws: Workspace,
    plan: Plan,
    old_series: Mapping[str, Sequence[SeriesEntry]],
    old_bytes: Mapping[tuple[str, str], bytes],
    bases: Mapping[str, bytes] | None = None,
    decided: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """Write the pending file after a bot replay that left conflicts (returns its path).

    ``bases`` (rebase-vendors, :func:`old_bases`): the old base of a vendor layer built on
    an older common layer; rebase-vendors also records the common layer's fingerprint.
    Each pending patch gets its ``cause`` (and ``blocked_by``); each conflicting patch the bot
    found already upstream gets ``sides`` (``decided``: the key of its merge's three sides,
    :mod:`fspatch.core.replay_sides`) so that resuming keeps that decision.
    """
    conflicts = {(o.layer, o.patch): o for o in plan.outcomes if o.status == CONFLICT}
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
            if entry["status"] == CONFLICT.value:
                got = conflicts.get((lp.label, name))
                if got is None:
                    entry["cause"] = CAUSE_NOT_REPLAYED
                elif got.blocked_by:
                    entry["cause"] = CAUSE_BLOCKED
                    entry["blocked_by"] = got.blocked_by
                else:
                    entry["cause"] = CAUSE_CONFLICT
            elif decided and (lp.label, name) in decided and status in (UPSTREAMED, DROPPED):
                entry["sides"] = decided[(lp.label, name)]
            path = ws.patch_path(layer, name)
            if not path.is_file() or path.read_bytes() != data:
                entry["old_bytes"] = base64.b64encode(data).decode("ascii")
            entries.append(entry)
        layer_doc: dict[str, object] = {"label": lp.label, "series": entries}
        if bases and lp.label in bases:
            layer_doc["old_base"] = base64.b64encode(bases[lp.label]).decode("ascii")
        layers.append(layer_doc)
    doc: dict[str, object] = {
        "format": FORMAT,
        "operation": plan.operation,
        "backend": plan.backend,
        "old": {"ref": plan.old_ref, "commit": plan.old_commit},
        "new": {"ref": plan.new_ref, "commit": plan.new_commit},
        "drop_upstreamed": plan.drop_upstreamed,
        "layers": layers,
        "outcomes": [outcome_to_dict(o) for o in plan.outcomes],
    }
    if plan.operation == "rebase-vendors":
        doc["common_fingerprint"] = common_fingerprint(ws, plan.backend)
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


def _current_common_top(ws: Workspace, repo: GitRepo, backend: str, pin: str, data: Any) -> str:
    """rebase-vendors: the common layer built from its files on the pin, as the bot built it."""
    rel = pending_rel(backend)
    if common_fingerprint(ws, backend) != str(data.get("common_fingerprint", "")):
        raise InputError(
            "the common layer changed since the bot's rebase-vendors recorded these pending patches; "
            "restore it (git checkout series/), finish them, then change it again",
            path=rel,
        )
    layer = LayerRef(backend, None)
    sources = []
    for e in ws.read_layer_series(layer):
        display = f"{layer.dir.as_posix()}/{e.name}"
        patch = read_patch(ws.patch_path(layer, e.name), display, e.strip, ws.root)
        sources.append(PatchSource(e.name, display, patch))
    applied = Builder(repo, pin).build(pin, sources)
    return applied[-1].commit if applied else pin


def resume_plan(ws: Workspace, repo: GitRepo, backend: str) -> Plan:
    """The saved plan of an interactive replay standing just before the first pending patch.

    Patches before it are taken as the bot wrote them (built from their files, not merged
    again); from the first pending patch on the replay goes on exactly as an interactive one.
    A pull-upstream's layers are rebuilt on the old pin; a rebase-vendors' vendor layers on
    their recorded old base (else the current common layer) and replayed onto the current
    common layer, the pin unchanged.
    """
    data = load(ws, backend)
    if data is None:
        raise InputError(f"no patches are pending for '{backend}'", path=pending_rel(backend))
    rel = pending_rel(backend)
    operation = str(data["operation"])
    old_commit = _old_commit(ws, repo, data)
    new_commit = str(data["new"]["commit"])
    rebase = operation == "rebase-vendors"
    common_now = _current_common_top(ws, repo, backend, new_commit, data) if rebase else new_commit
    statuses: list[list[ReplayStatus]] = []
    layers: list[LayerPlan] = []
    own_base: set[str] = set()
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
                    f"or drop the pending file and run {operation} again",
                    path=rel,
                )
            sources.append(PatchSource(name, display, parse_patch(raw, display, int(e["strip"]))))
            sts.append(ReplayStatus(str(e["status"])))
        own = layer_data.get("base")
        if own is not None:  # import-flagscale: the layer's own base, not the plan's old pin
            own_commit = _base_commit(ws, repo, backend, str(own["commit"]), rel)
            base = _own_common_top(repo, own_commit, own, rel)
            lp = build_old_layer(repo, own_commit, base, layer.label, layer.vendor, sources)
            own_base.add(layer.label)
        else:
            if rebase:
                base = common_now
                if "old_base" in layer_data:
                    diff = base64.b64decode(str(layer_data["old_base"]))
                    base = _build_base(repo, old_commit, diff, f"{rel} ({layer.label} old base)")
            else:
                base = old_commit if layer.vendor is None else old_top
            lp = build_old_layer(repo, old_commit, base, layer.label, layer.vendor, sources)
        if layer.vendor is None:
            old_top = lp.old[-1] if lp.old else old_commit
        if rebase:
            lp.new_base = lp.top = common_now
        layers.append(lp)
        statuses.append(sts)
    first = next(((li, pi) for li, sts in enumerate(statuses) for pi, st in enumerate(sts) if st == CONFLICT), None)
    if first is None:
        raise InputError("the pending file lists no conflicting patch", path=rel)
    li, pi = first
    builder = Builder(repo, new_commit)
    prefix: set[tuple[str, str]] = set()
    common_top = common_now
    if own_base:  # the current common layer (not part of this replay) is the new base
        common_sources = _current_sources(ws, LayerRef(backend, None))
        built = builder.build(new_commit, common_sources)
        common_top = built[-1].commit if built else new_commit
        for lp in layers:
            if lp.label in own_base:
                lp.new_base = lp.top = common_top
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
            lp.status.append(st if st in (UPSTREAMED, RESOLVED) else CLEAN)
            lp.top = top
        if lp.vendor is None:
            common_top = lp.top
    outcomes = [o for o in (outcome_from_dict(d) for d in data["outcomes"]) if (o.layer, o.patch) in prefix]
    return Plan(
        operation,
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


def _current_sources(ws: Workspace, layer: LayerRef) -> list[PatchSource]:
    out = []
    for e in ws.read_layer_series(layer):
        display = f"{layer.dir.as_posix()}/{e.name}"
        out.append(
            PatchSource(e.name, display, parse_patch(ws.patch_path(layer, e.name).read_bytes(), display, e.strip))
        )
    return out


def _base_commit(ws: Workspace, repo: GitRepo, backend: str, want: str, rel: str) -> str:
    """A layer's own upstream base, fetched by id from the lock's URL when the checkout lacks it."""
    if repo.has_commit(want):
        return want
    b = ws.backend(backend)
    with contextlib.suppress(InputError):
        fetch_ref(ws.root, repo, b.url, b.mirrors, want, None)
    if not repo.has_commit(want):
        raise InputError(
            f"the upstream commit {want[:12]} a pending layer was made on is not fetchable from {b.url}", path=rel
        )
    return want


def _own_common_top(repo: GitRepo, commit: str, own: Any, rel: str) -> str:
    """The layer's own upstream commit + the common layer of its time (kept inline in the pending file)."""
    files = []
    for c in own["common"]:
        raw = base64.b64decode(str(c["bytes"]))
        if _sha(raw) != str(c["sha256"]):
            raise InputError(f"common patch {c['name']} of a pending layer's base is damaged", path=rel)
        files.append((str(c["name"]), raw))
    # Imported here: vendor_base brings the FlagScale splitter (~6 ms), only import-flagscale's layers need it.
    from fspatch.core.vendor_base import build_common

    top = build_common(repo, commit, files, "flagscale/backends")
    if top is None:
        raise InputError(f"the common layer kept for a pending layer's base does not apply on {commit[:12]}", path=rel)
    return top
