"""``fspatch pull-upstream BACKEND REF``: move a backend's pin and replay every layer onto it.

The new REF is fetched (tag, branch or commit) from ``--url`` or the lock's URL and
mirrors, the old stack is rebuilt in memory from the patch files on the old pin,
then each layer is replayed as 3-way tree merges (:mod:`fspatch.core.rebase`).
``stop=True`` stops at the first conflict with the merged state checked out (resume
with continue/skip/abort); ``stop=False`` (bot mode) tries every patch and reports
once.  ``upstream.lock`` changes only when the replay has finished.
"""

from __future__ import annotations

import re
from pathlib import Path

from fspatch.core.journal import in_progress
from fspatch.core.rebase import (
    OperationResult,
    Plan,
    Progress,
    build_old_layer,
    start_operation,
)
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import DirtyCheckoutError, GitError, UsageError
from fspatch.git_adapter import GitRepo

_HEX = re.compile(r"[0-9a-f]{7,40}")


def run(
    ws: Workspace,
    backend: str,
    ref: str,
    *,
    url: str | None = None,
    stop: bool = True,
    drop_upstreamed: bool = False,
    progress: Progress | None = None,
) -> OperationResult:
    s = Session.open(ws, backend, operation_ok=True)
    repo = s.repo
    check_ready(s)
    refs_before = repo.direct_refs()
    new_commit = fetch_ref(ws, repo, s.backend.url, s.backend.mirrors, ref, url)
    b = s.backend
    common = LayerRef(b.name, None)
    layers = [
        build_old_layer(repo, b.commit, b.commit, common.label, None, [s.source(common, e) for e in s.entries(common)])
    ]
    old_top = layers[0].old[-1] if layers[0].old else b.commit
    for layer in ws.vendor_layers(b.name):
        sources = [s.source(layer, e) for e in s.entries(layer)]
        layers.append(build_old_layer(repo, b.commit, old_top, layer.label, layer.vendor, sources))
    plan = Plan("pull-upstream", b.name, b.ref, b.commit, ref, new_commit, drop_upstreamed, stop, layers)
    return start_operation(s, plan, progress, refs_before)


def check_ready(s: Session) -> None:
    """No operation in progress, HEAD on the stack, no local edits (a replay checks out)."""
    pending = in_progress(s.repo)
    if pending is not None:
        raise UsageError(
            f"a {pending.get('operation')} of '{s.backend.name}' is already in progress; "
            "run 'fspatch continue', 'fspatch skip' or 'fspatch abort'"
        )
    if s.state is not None:
        s.require_head_at_stack()
    dirty = s.repo.dirty_paths()
    if dirty:
        more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
        raise DirtyCheckoutError(
            "local changes in the checkout: "
            + ", ".join(dirty[:5])
            + more
            + f"; refresh them into a patch or discard them first (fspatch refresh -b {s.backend.name})",
            path=s.backend.path,
        )


def _fetch_url(ws: Workspace, url: str) -> str:
    if url.startswith("file://") or "://" in url or ":" in url.split("/")[0]:
        return url
    local = Path(url) if Path(url).is_absolute() else ws.root / url
    return str(local.resolve()) if local.exists() else url


def fetch_ref(ws: Workspace, repo: GitRepo, lock_url: str, mirrors: tuple[str, ...], ref: str, url: str | None) -> str:
    """The commit id of REF, fetched from --url, else the lock's URL, else its mirrors."""
    if ref.startswith("-"):
        raise UsageError(f"bad ref {ref!r}")
    if _HEX.fullmatch(ref) and len(ref) == 40 and repo.has_commit(ref):
        return ref
    if repo.read_ref(f"refs/tags/{ref}") is not None:
        got = repo.resolve(f"refs/tags/{ref}")
        if got is not None:
            return got
    errors: list[str] = []
    for u in [url] if url else [lock_url, *mirrors]:
        src = _fetch_url(ws, u)
        specs = [[f"+refs/tags/{ref}:refs/tags/{ref}"], [f"+refs/heads/{ref}:refs/fspatch/upstream/{ref}"]]
        if _HEX.fullmatch(ref):
            specs.append(["+refs/heads/*:refs/fspatch/upstream/*", "+refs/tags/*:refs/tags/*"])
        for spec in specs:
            try:
                repo.fetch(src, spec)
            except GitError as exc:
                errors.append(str(exc))
                continue
            for cand in (f"refs/fspatch/upstream/{ref}", f"refs/tags/{ref}", ref):
                got = repo.resolve(cand)
                if got is not None and (cand != ref or repo.has_commit(got)):
                    return got
    got = repo.resolve(ref)
    if got is not None:
        return got
    raise UsageError(f"ref '{ref}' not found in {url or lock_url}" + (f" ({errors[-1]})" if errors else ""))
