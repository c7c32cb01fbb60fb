"""Building a backend's stack and checking it out (or writing it to a directory): ``apply``.

From the workspace files the stack is built with the session (``--upto`` may stop it
early); with ``--to`` / ``--at`` / ``--key`` the layers come through a layer reader
(:func:`fspatch.core.export.reader_for`: the files, a workspace commit, decrypted
patches).  Either way everything is built in memory first, then one journalled change
moves the checkout and the state ref, or writes the directory ``--to`` names; a kill
at any step is undone by ``fspatch recover``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core.journal import crash_point, transaction
from fspatch.core.session import Session, resolve_patch
from fspatch.core.stack import LayerState, StackState
from fspatch.core.workspace import LAYER_META, OPAQUE_DIR, LayerRef, Workspace
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
    to: str | None = None  # the directory written by --to (the checkout was not touched)
    at: str | None = None  # the workspace commit the layers and lock were read from (--at)
    #: Encrypted patches in an unauthenticated (CBC) format: checked strictly, still worth a warning.
    unauthenticated: tuple[str, ...] = ()


def _unauthenticated(reader: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(getattr(reader, "unauthenticated", ())))


def refuse_opaque(ws: Workspace, layer: LayerRef) -> None:
    """An opaque vendor layer (FlagScale's encrypted files imported without a key) cannot be built:
    say so plainly rather than build the common layer alone as if it were the vendor's tree."""
    meta = ws.layer_meta(layer) if (ws.layer_dir(layer) / LAYER_META).is_file() else {}
    section = meta.get("flagscale") or {}
    if section.get("opaque"):
        raise UsageError(
            f"{layer.dir.as_posix()} is opaque: FlagScale's encrypted files were imported without a key "
            f"and are kept verbatim in {OPAQUE_DIR}/, not applied; re-import them with "
            "'fspatch import flagscale PATH --key PRIVATE_PEM --force'"
        )


def apply_layers(
    ws: Workspace,
    backend: str,
    *,
    vendor: str | None = None,
    task: str | None = None,
    upto: str | None = None,
    force: bool = False,
    to: Path | None = None,
    at: str | None = None,
    key: Path | None = None,
) -> ApplyResult:
    if to is not None or at is not None or key is not None:
        return _apply_read(ws, backend, vendor=vendor, task=task, upto=upto, force=force, to=to, at=at, key=key)
    s = Session.open(ws, backend)
    if s.state is not None and not force:
        s.require_head_at_stack()
    layers: list[LayerRef] = [LayerRef(s.backend.name, None)]
    if vendor is not None:
        layers.append(s.layer_ref(vendor))
        refuse_opaque(ws, layers[-1])
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
            LayerSummary(layer.label, len(applied), len(s.entries(layer)), applied[-1].name if applied else None)
        )
        base = applied[-1].commit if applied else base
    new_state = StackState(s.backend.name, s.backend.commit, tuple(states))
    with s.transaction("apply"):
        touched = s.commit(new_state, reason=f"apply {s.backend.name}")
    return ApplyResult(s.backend.name, s.backend.commit, new_state.head, tuple(summaries), len(touched))


def _apply_read(
    ws: Workspace,
    backend: str,
    *,
    vendor: str | None,
    task: str | None,
    upto: str | None,
    force: bool,
    to: Path | None,
    at: str | None,
    key: Path | None,
) -> ApplyResult:
    """apply with --to (materialise into a plain directory), --at (layers as of a workspace
    commit) or --key (decrypt confidential patches in memory)."""
    from fspatch.core import crypto
    from fspatch.core.export import build_stack, check_task, reader_for
    from fspatch.core.fetch import ensure_commit
    from fspatch.core.journal import refuse_if_pending
    from fspatch.git_adapter import GitRepo

    if upto is not None:
        raise UsageError("--upto cannot be combined with --to, --at or --key")
    private = crypto.load_private_key(key) if key is not None else None
    reader = reader_for(ws, at, private)
    b = reader.backend(backend)
    path = ws.checkout_path(ws.backend(b.name)) if b.name in ws.backends() else ws.checkout_path(b)
    if not GitRepo.is_repo(path):
        raise UsageError(f"backend '{b.name}' has no checkout at {b.path}; run 'fspatch backend add'")
    if to is not None:
        to = to.resolve()
        if to == path.resolve() or path.resolve() in to.parents:
            raise UsageError(f"{to}: --to must not point into the backend checkout")
        if to == ws.root.resolve() or to in ws.root.resolve().parents:
            raise UsageError(f"{to}: --to must not hold the workspace (its undo would sweep the workspace's files)")
        if to.exists() and (not to.is_dir() or any(to.iterdir())) and not force:
            raise UsageError(f"{to}: directory is not empty; use --force to write over it")
    repo = GitRepo.open(path)
    refuse_if_pending(repo.git_dir, b.path, ws.root)
    ensure_commit(repo, b, ws.root)
    if vendor is not None:
        reader.vendor_info(vendor)
        if at is None:
            refuse_opaque(ws, LayerRef(b.name, vendor))
        check_task(reader, LayerRef(b.name, vendor), task)
    stack = build_stack(repo, reader, b.name, vendor)
    common_total = len(stack.common)
    summaries = [LayerSummary("common", common_total, common_total, stack.common[-1].name if stack.common else None)]
    states = [LayerState("common", b.commit, stack.common)]
    if vendor is not None:
        n = len(stack.vendor)
        summaries.append(LayerSummary(f"vendor/{vendor}", n, n, stack.vendor[-1].name if stack.vendor else None))
        states.append(LayerState(f"vendor/{vendor}", stack.common_top, stack.vendor))
    at_commit = getattr(reader, "commit", None)
    if to is not None:
        # The directory is outside the workspace: the journal (in the backend's git dir) names it
        # by its absolute path, saves what --force writes over and removes what it adds.
        with transaction("apply", ws.root, git_dir=repo.git_dir, backend=b.name, dirs=[str(to)]):
            to.mkdir(parents=True, exist_ok=True)
            written = repo.write_tree_to_dir(
                repo.tree_of(stack.top), to, after_file=lambda _path: crash_point("apply:file")
            )
            crash_point("apply:written")
        return ApplyResult(
            b.name, b.commit, stack.top, tuple(summaries), written, str(to), at_commit, _unauthenticated(reader)
        )
    s = Session.open(ws, b.name, fetch=False)
    if s.state is not None and not force:
        s.require_head_at_stack()
    new_state = StackState(b.name, b.commit, tuple(states))
    with s.transaction("apply"):
        touched = s.commit(new_state, reason=f"apply {b.name}" + (f" at {at_commit[:12]}" if at_commit else ""))
    return ApplyResult(
        b.name, b.commit, new_state.head, tuple(summaries), len(touched), None, at_commit, _unauthenticated(reader)
    )
