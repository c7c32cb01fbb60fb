"""``fspatch rebase-vendors BACKEND``: replay every vendor layer onto the current common layer.

The common layer is built from its files on the pinned upstream (the new base).  Each
vendor layer's old commits come from the applied stack when that layer is applied in
full (the real old base, so a changed common layer is a true 3-way merge), else from
its patch files applied on the new base (then the replay only refreshes context).
Same engine, report, stops and continue/skip/abort as pull-upstream; every vendor
``layer.yaml`` ``base`` is updated after a clean rebase.  As a bot (``stop=False``) its
conflicts are recorded as pending (``series/<backend>/pending.yaml``, resumed by ``fspatch
apply BACKEND``), like pull-upstream's.
"""

from __future__ import annotations

from fspatch.core.replay import Progress
from fspatch.core.replay_driver import OperationResult, check_ready, start_operation
from fspatch.core.replay_plan import LayerPlan, Plan, build_old_layer, check_resolve
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError


def run(
    ws: Workspace, backend: str, *, stop: bool = True, resolve: str = "safe", progress: Progress | None = None
) -> OperationResult:
    s = Session.open(ws, backend, operation_ok=True)
    check_ready(s)
    b = s.backend
    repo = s.repo
    vendors = ws.vendor_layers(b.name)
    if not vendors:
        raise UsageError(f"backend '{b.name}' has no vendor layers (vendors/<vendor>/{b.name}/)")
    common = LayerRef(b.name, None)
    built = build_old_layer(
        repo, b.commit, b.commit, common.label, None, [s.source(common, e) for e in s.entries(common)]
    )
    common_top = built.old[-1] if built.old else b.commit
    layers: list[LayerPlan] = []
    for layer in vendors:
        entries = s.entries(layer)
        names = [e.name for e in entries]
        ls = s.layer_state(layer)
        if ls is not None and ls.names() == names and s.state is not None and s.state.upstream == b.commit:
            lp = LayerPlan(layer.label, layer.vendor, ls.base, names, [p.commit for p in ls.applied])
        else:
            lp = build_old_layer(
                repo, b.commit, common_top, layer.label, layer.vendor, [s.source(layer, e) for e in entries]
            )
        lp.new_base = common_top
        lp.top = common_top
        layers.append(lp)
    plan = Plan("rebase-vendors", b.name, b.ref, b.commit, b.ref, b.commit, False, stop, layers)
    plan.resolve = check_resolve(resolve)
    return start_operation(s, plan, progress)
