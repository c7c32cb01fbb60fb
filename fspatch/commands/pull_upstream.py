"""``fspatch pull-upstream BACKEND REF``: move a backend's pin and replay every layer onto it.

The new REF is fetched (tag, branch or commit) from ``--url`` or the lock's URL and
mirrors, the old stack is rebuilt in memory from the patch files on the old pin,
then each layer is replayed as 3-way tree merges (:mod:`fspatch.core.replay`).
``stop=True`` stops at the first conflict with the merged state checked out (resume
with continue/skip/abort); ``stop=False`` (bot mode) tries every patch and reports
once.  ``upstream.lock`` changes only when the replay has finished.
"""

from __future__ import annotations

from fspatch.core.fetch import fetch_ref, resolve_local
from fspatch.core.patch import patch_paths
from fspatch.core.read_ahead import ReadAhead
from fspatch.core.replay import Progress
from fspatch.core.replay_driver import OperationResult, start_operation, start_ready_check
from fspatch.core.replay_plan import Plan, build_old_layer, check_resolve
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace


def run(
    ws: Workspace,
    backend: str,
    ref: str,
    *,
    url: str | None = None,
    stop: bool = True,
    drop_upstreamed: bool = False,
    resolve: str = "safe",
    progress: Progress | None = None,
) -> OperationResult:
    s = Session.open(ws, backend, operation_ok=True)
    repo = s.repo
    ready = start_ready_check(s)  # the scan for local edits runs beside the reading and the old stacks
    try:
        b = s.backend
        new_commit = resolve_local(repo, ref)
        if new_commit is None:
            ready.wait()  # a fetch writes refs: refused first, with nothing changed
        refs_before = repo.direct_refs()
        if new_commit is None:
            new_commit = fetch_ref(ws.root, repo, b.url, b.mirrors, ref, url)
        common = LayerRef(b.name, None)
        common_sources = [s.source(common, e) for e in s.entries(common)]
        vendors = [(layer, [s.source(layer, e) for e in s.entries(layer)]) for layer in ws.vendor_layers(b.name)]
        # Upstream's range is read beside the old stacks' building and the replay (a second core).
        paths = patch_paths(src.patch for src in common_sources + [x for _layer, xs in vendors for x in xs])
        ahead = ReadAhead(repo, b.commit, new_commit, lambda: paths)
        try:
            # The old stacks are built in memory; refused after all, nothing of them is written.
            with repo.objects_in_memory(on_error=False):
                try:
                    layers = [build_old_layer(repo, b.commit, b.commit, common.label, None, common_sources)]
                    old_top = layers[0].old[-1] if layers[0].old else b.commit
                    for layer, sources in vendors:
                        layers.append(build_old_layer(repo, b.commit, old_top, layer.label, layer.vendor, sources))
                except BaseException:
                    ready.wait()  # local edits are named first, as they were before the layers were read
                    raise
                ready.wait()
            plan = Plan("pull-upstream", b.name, b.ref, b.commit, ref, new_commit, drop_upstreamed, stop, layers)
            plan.resolve = check_resolve(resolve)
            read = {(common.label, src.name): src.patch for src in common_sources}
            read.update(((layer.label, src.name), src.patch) for layer, sources in vendors for src in sources)
            return start_operation(s, plan, progress, refs_before, ahead, read)
        finally:
            ahead.close()
    finally:
        ready.close()
