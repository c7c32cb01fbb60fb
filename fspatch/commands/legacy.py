"""FlagScale's ``tools/patch/{unpatch,patch,merge}.py``, with their flags and meanings, on fspatch verbs.

Every flag of FlagScale's tools (at FlagScale ``da4935ec6``) is accepted.  Each is honoured, or
the result carries a note saying what fspatch does instead (``docs/flagscale-compat.md`` has
the table).  Backend names go through FlagScale's own normalisation (``megatron`` →
``Megatron-LM``, ``llama_cpp`` → ``llama.cpp`` …), then the lock's aliases (``Megatron-LM`` →
backend ``megatron``); a workspace backend FlagScale does not know is accepted as it is.

``unpatch --backend B… [--device-type X --task T…] [--commit C]``
    = ``apply B [--vendor V --task T] [--at C]`` for each backend: upstream + common (+ the layer
    of the vendor whose device type is X) checked out in the backend's checkout.  Without
    ``--commit`` and with a device, the commit is FlagScale's: the newest one
    ``vendors/patch_history.yaml`` lists for the device, tasks and backends (when the workspace
    repository has it), else the current layers.
``patch --backend B… [--device-type X --task T… --commit C --key-path DIR --out DIR]``
    = ``absorb`` into the common layer (no device type) or the vendor's layer: each edit goes
    into the patch that owns it (one patch per file: the file's patch; a new file: a new
    patch named after it); then, for a vendor, ``export`` (diff.yaml ``commit`` = C) and
    ``export --format flagscale --out DIR`` (default the workspace: ``hardware/<X>/<B>/``).
``merge --backend B… --device-type X --task T… --commit C``
    = append C to ``vendors/patch_history.yaml`` as ``merge.py`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.absorb import execute_absorb, plan_absorb
from fspatch.core.apply import apply_layers
from fspatch.core.checkouts import sync_backend
from fspatch.core.export import workspace_repo
from fspatch.core.flagscale import flagscale_backend_name
from fspatch.core.flagscale_export import export_flagscale
from fspatch.core.flagscale_merge import HISTORY_FILE, append, latest
from fspatch.core.publish import export_layers
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo

TASKS = ("train", "inference", "post_train")


@dataclass(frozen=True)
class LegacyStep:
    """What one backend went through: the fspatch command line it ran as, and the outcome."""

    backend: str  # workspace backend
    flagscale: str  # FlagScale's name for it
    vendor: str | None
    mapped_to: str
    detail: str


@dataclass(frozen=True)
class LegacyResult:
    verb: str
    steps: tuple[LegacyStep, ...]
    notes: tuple[str, ...]  # what fspatch does instead of a FlagScale flag, one line each


def flagscale_name(name: str) -> str:
    """FlagScale's normalisation of a ``--backend`` value; an unknown spelling is returned as given."""
    return flagscale_backend_name(name) or name.strip()


def resolve_backends(ws: Workspace, names: Sequence[str]) -> list[tuple[str, str]]:
    """(workspace backend, FlagScale name) per ``--backend`` value, in order, without repeats."""
    if isinstance(names, str):
        names = [names]
    if not names:
        names = ["Megatron-LM"]  # FlagScale's default
    out: list[tuple[str, str]] = []
    for raw in names:
        fs = flagscale_name(raw)
        known = ws.backends()
        try:
            b = ws.backend(fs)
        except UsageError:
            try:
                b = ws.backend(raw)
            except UsageError:
                if fs == "FlagScale":
                    raise UsageError(
                        f"--backend {raw}: FlagScale's self-backend (patches to the host repository itself) is "
                        "not pinned here; pin a FlagScale clone as a backend ('fspatch backend add flagscale "
                        "--url URL --ref REF --alias FlagScale') and its layers take these edits, or commit "
                        f"changes to FlagScale's own files in FlagScale (known: {', '.join(sorted(known)) or 'none'})"
                    ) from None
                raise UsageError(
                    f"--backend {raw}: unsupported backend (FlagScale name {fs!r}); "
                    f"this workspace has no such backend (known: {', '.join(sorted(known)) or 'none'})"
                ) from None
        if b.name not in [x for x, _ in out]:
            out.append((b.name, fs))
    return out


def vendor_for_device(ws: Workspace, device_type: str) -> str:
    """The one vendor whose vendor.yaml names this device type (case-insensitive)."""
    hits = [v for v in ws.vendors() if str(ws.vendor_info(v)["device_type"]).lower() == device_type.lower()]
    if not hits:
        known = ", ".join(str(ws.vendor_info(v)["device_type"]) for v in ws.vendors()) or "none"
        raise UsageError(f"no vendor has device type {device_type!r} (known: {known})")
    if len(hits) > 1:
        raise UsageError(f"several vendors have device type {device_type!r} ({', '.join(hits)}); use --vendor")
    return hits[0]


def _check_tasks(tasks: Sequence[str]) -> None:
    for t in tasks:
        if t not in TASKS:
            raise UsageError(f"--task {t}: invalid choice (choose from {', '.join(TASKS)})")


def _layer_task(ws: Workspace, backend: str, vendor: str, tasks: Sequence[str]) -> str | None:
    """The first of ``tasks`` the vendor's layer declares (FlagScale tries them in order)."""
    if not tasks:
        return None
    meta = ws.layer_meta(LayerRef(backend, vendor)) or {}
    declared = [str(t) for t in meta.get("tasks", [])]
    for t in tasks:
        if t in declared:
            return t
    raise UsageError(
        f"vendor '{vendor}' declares no task {' or '.join(repr(t) for t in tasks)} for {backend} "
        f"(declared: {', '.join(declared) or 'none'})"
    )


def key_file(key_path: Path | None, name: str) -> Path | None:
    """FlagScale's ``--key-path DIR``: DIR/private_key.pem (unpatch) or DIR/public_key.pem (patch)."""
    if key_path is None:
        return None
    path = key_path / name if key_path.is_dir() else key_path
    if not path.is_file():
        raise UsageError(f"--key-path {key_path}: no {name} there")
    return path


def _workspace_commit(ws: Workspace, commit: str, flag: str) -> str:
    repo = workspace_repo(ws)
    full = repo.resolve(commit)
    if full is None:
        raise UsageError(f"{flag} {commit}: no such commit in the workspace repository ({ws.root})")
    return full


def run_unpatch(
    ws: Workspace,
    backends: Sequence[str],
    *,
    device_type: str | None = None,
    tasks: Sequence[str] = (),
    commit: str | None = None,
    force: bool = True,
    init_submodule: bool = True,
    key_path: Path | None = None,
    fs_extension: bool = True,
    backend_commits: Sequence[str] = (),
) -> LegacyResult:
    """Check each backend out with its layers (FlagScale's unpatch.py); validated before anything moves."""
    _check_tasks(tasks)
    if tasks and device_type is None:
        raise UsageError("--task needs --device-type (tasks belong to vendor layers)")
    pairs = resolve_backends(ws, backends)
    if len(backend_commits) > len(pairs):
        raise UsageError(f"--backend-commit: {len(backend_commits)} commits for {len(pairs)} backends")
    vendor = vendor_for_device(ws, device_type) if device_type is not None else None
    task_of = {b: _layer_task(ws, b, vendor, tasks) if vendor else None for b, _ in pairs}
    key = key_file(key_path, "private_key.pem")
    notes: list[str] = []
    at = _workspace_commit(ws, commit, "--commit") if commit is not None else None
    if at is None and vendor is not None and tasks:
        found = latest(ws, str(ws.vendor_info(vendor)["device_type"]), tasks, [fs for _, fs in pairs])
        if found is not None and workspace_repo(ws).resolve(found) is not None:
            at = found
            notes.append(f"--commit not given: {HISTORY_FILE} names {found[:12]} (FlagScale's newest): used")
        elif found is not None:
            notes.append(f"--commit not given: {HISTORY_FILE} names {found[:12]}, not in this repository: current")
    if not fs_extension and vendor is not None:
        notes.append("--no-fs-extension: ignored with --device-type, as in FlagScale")
    if vendor is not None:
        notes.append("fspatch checks the stack out in the backend's checkout (FlagScale: build/<device>/FlagScale)")
    if force:
        notes.append("force (FlagScale's default): rebuilt even if HEAD moved; local edits are still never overwritten")
    want: dict[str, str | None] = {}
    for i, (b, _) in enumerate(pairs):
        sha = backend_commits[i] if i < len(backend_commits) else None
        want[b] = None if sha in (None, "-", "None") else sha
    steps: list[LegacyStep] = []
    for b, fs in pairs:
        backend = ws.backend(b)
        path = ws.checkout_path(backend)
        if not GitRepo.is_repo(path):
            if not init_submodule:
                raise UsageError(f"--no-init-submodule: backend '{b}' has no checkout at {backend.path}")
            item = sync_backend(ws, backend)
            notes.append(f"{backend.path}: {item.action} at the pin {item.commit[:12]} (FlagScale: submodule init)")
        elif not init_submodule:
            notes.append(f"--no-init-submodule: {backend.path} used as it is (fspatch never re-clones)")
        sha = want[b]
        if sha is not None:
            resolved = GitRepo.open(path).resolve(sha)
            if resolved != backend.commit:
                raise UsageError(
                    f"--backend-commit {sha}: {b} is pinned at {backend.commit[:12]} in upstream.lock and its "
                    f"layers are kept for that commit; move the pin with 'fspatch pull-upstream -b {b} {sha}'"
                )
        if not fs_extension and vendor is None:
            s = Session.open(ws, b)
            if s.state is not None and not force:
                s.require_head_at_stack()
            with s.transaction("apply"):
                s.commit(None, reason=f"unpatch {b} --no-fs-extension")
            steps.append(LegacyStep(b, fs, None, f"fspatch pop -a -b {b}", f"pristine upstream {backend.commit[:12]}"))
            continue
        task = task_of[b]
        r = apply_layers(ws, b, vendor=vendor, task=task, at=at, force=force, key=key)
        line = f"fspatch apply {r.backend}" + (f" --vendor {vendor}" if vendor else "")
        line += (f" --task {task}" if task else "") + (f" --at {at[:12]}" if at else "") + (" --force" if force else "")
        steps.append(LegacyStep(b, fs, vendor, line, f"checked out {r.head[:12]}"))
    return LegacyResult("unpatch", tuple(steps), tuple(notes))


def run_patch(
    ws: Workspace,
    backends: Sequence[str],
    *,
    device_type: str | None = None,
    tasks: Sequence[str] = (),
    commit: str | None = None,
    key_path: Path | None = None,
    out: Path | None = None,
) -> LegacyResult:
    """Record each backend's edits where they belong (FlagScale's patch.py), then export a vendor layer.

    A vendor layer is exported twice: fspatch's layered ``diff.patch`` in the layer's folder (what
    fspatch reads back), and FlagScale's form -- relative to the pristine pin, what FlagScale's own
    ``unpatch`` applies -- below ``out`` (default: the workspace) as
    ``hardware/<Device_Type>/<Backend>/`` (:func:`fspatch.core.flagscale_export.export_flagscale`).
    """
    _check_tasks(tasks)
    pairs = resolve_backends(ws, backends)
    vendor = vendor_for_device(ws, device_type) if device_type is not None else None
    if tasks and vendor is None:
        raise UsageError("--task needs --device-type (tasks belong to vendor layers)")
    notes: list[str] = []
    base: str | None = None
    if commit is not None:
        base = _workspace_commit(ws, commit, "--commit")
        head = workspace_repo(ws).head() or ""
        if base != head and not workspace_repo(ws).descends_from(head, base):
            raise UsageError(
                f"--commit {commit}: {base[:12]} is not the workspace HEAD or one of its ancestors; "
                "the layers are recorded in the workspace as checked out: check that commit out first"
            )
        if vendor is None:
            notes.append("--commit without --device-type: nothing to record it in (common layers carry no base)")
    public = key_file(key_path, "public_key.pem") if key_path is not None else None
    has_private = key_path is not None and (key_path / "private_key.pem").is_file()
    private = key_file(key_path, "private_key.pem") if has_private else None
    for b, _ in pairs:
        if vendor is not None:
            _layer_task(ws, b, vendor, tasks)
    if vendor is not None and public is None and workspace_repo(ws).head() is None:  # before any edit moves
        raise UsageError(f"{ws.root}: the workspace repository has no commit yet (diff.yaml's commit); commit first")
    steps: list[LegacyStep] = []
    for b, fs in pairs:
        s = Session.open(ws, b)
        layer = s.layer_ref(vendor)
        empty = not s.entries(layer)
        try:
            plan = plan_absorb(s, layer=layer.label, per_file=True if empty else None)
        except UsageError as exc:
            state = s.state
            if vendor is None and state is not None and f"above layer {layer.label}" in exc.message:
                above = state.layers[-1].layer.removeprefix("vendor/")
                device = ws.vendor_info(above)["device_type"]
                raise UsageError(f"{exc.message}; FlagScale's way: patch --device-type {device}") from None
            if not exc.message.startswith("nothing to absorb"):
                raise
            plan = None
        line = f"fspatch absorb -b {b} --layer {layer.label}"
        if plan is None:
            detail = "No file changes detected. Nothing to patch."
        else:
            with s.transaction("absorb", files=plan.files):
                changed = execute_absorb(s, plan)
            where = sorted({f"{r.layer}/{r.patch}" for r in plan.routes})
            n = len(plan.routes)
            detail = f"{n} hunk{'s' if n != 1 else ''} into {', '.join(where)}" + ("" if changed else " (unchanged)")
        if vendor is not None:
            er = export_layers(ws, b, vendor=vendor, encrypt_to=public, key=private, base_commit=base)
            line += f" && fspatch export -b {b} --vendor {vendor}"
            detail += "; " + ", ".join(x.patch_path for x in er.layers)
            if public is None:
                fr = export_flagscale(ws, b, out=out or ws.root, vendor=vendor, commit=base, write_history=False)
                line += f" && fspatch export -b {b} --vendor {vendor} --format flagscale --out {out or '.'}"
                for x in fr.layers:
                    detail += f"; {x.folder}: not written ({x.skipped})" if x.skipped else f"; {x.folder} ({x.layout})"
        steps.append(LegacyStep(b, fs, vendor, line, detail))
    if vendor is not None and public is not None:
        notes.append(
            "--key-path: FlagScale's form (hardware/<Device_Type>/<Backend>/) is not written, it would hold the "
            "patch decrypted; the layer's encrypted diff.patch.encrypted is the export"
        )
    if vendor is not None:
        notes.append("diff.yaml and the patches are written in the workspace: commit them (FlagScale's patch.py does)")
    return LegacyResult("patch", tuple(steps), tuple(notes))


def run_merge(
    ws: Workspace, backends: Sequence[str], *, device_type: str, tasks: Sequence[str], commit: str
) -> LegacyResult:
    """Append a FlagScale commit to the workspace's FlagScale history, as merge.py does."""
    _check_tasks(tasks)
    if not tasks:
        raise UsageError("--task is required")
    pairs = resolve_backends(ws, backends)
    full = _workspace_commit(ws, commit, "--commit")
    changed = append(ws, device_type, tasks, [fs for _, fs in pairs], full)
    detail = f"{'updated' if changed else 'unchanged'} ({'+'.join(sorted(fs for _, fs in pairs))} {full[:12]})"
    key = "+".join(sorted(fs for _, fs in pairs))
    step = LegacyStep(",".join(b for b, _ in pairs), key, None, f"(write {HISTORY_FILE})", detail)
    return LegacyResult("merge", (step,), (f"Patch history updated in {HISTORY_FILE}.",) if changed else ())
