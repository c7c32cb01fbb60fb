"""``fspatch check``: the health of a workspace, computed in memory (markers for now).

Every patch of every layer is applied on its real base in memory; each file it
changes is checked against the marker rules (core/markers.py).  Backends
without a checkout cannot be checked and are reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fspatch.core.layers import PatchStep, StepError, walk_layers
from fspatch.core.markers import MarkerConfig, check_file
from fspatch.core.report import Finding, sorted_findings
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import FspatchError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    cases: tuple[str, ...]  # backend/layer pairs that were checked
    skipped: tuple[str, ...] = field(default_factory=tuple)  # "backend: why"
    patches: int = 0
    files: int = 0


def run(ws: Workspace, backends: list[str] | None = None, *, markers: bool = True) -> CheckResult:
    config = MarkerConfig.from_settings(ws.settings())
    names = [ws.backend(b).name for b in backends] if backends else sorted(ws.backends())
    findings: list[Finding] = []
    cases: list[str] = []
    skipped: list[str] = []
    n_patches = n_files = 0
    for name in names:
        b = ws.backend(name)
        if not GitRepo.is_repo(ws.checkout_path(b)):
            skipped.append(f"{name}: no checkout at {b.path}")
            continue
        try:
            s = Session.open(ws, name, fetch=False)
            if not s.repo.has_commit(b.commit):
                skipped.append(f"{name}: pinned commit {b.commit[:12]} not in {b.path}")
                continue
        except FspatchError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        upstream_tree = s.repo.tree_of(b.commit)
        seen_cases = {f"{name}/common"} | {f"{name}/{layer.label}" for layer in ws.vendor_layers(name)}
        cases.extend(sorted(seen_cases))
        for step in walk_layers(s):
            case = f"{name}/{step.layer.label}"
            if isinstance(step, StepError):
                findings.append(Finding(step.display, "", 0, "does-not-apply", step.message, case=case))
                continue
            n_patches += 1
            if markers:
                found = _marker_findings(s, step, upstream_tree, config)
                n_files += len(step.source.patch.files)
                findings.extend(replace(f, case=case) for f in found)
    return CheckResult(tuple(sorted_findings(findings)), tuple(cases), tuple(skipped), n_patches, n_files)


def _marker_findings(s: Session, step: PatchStep, upstream_tree: str, config: MarkerConfig) -> list[Finding]:
    repo = s.repo
    out: list[Finding] = []
    for fd in step.source.patch.files:
        before = repo.read_file(step.parent_tree, fd.old_path) if fd.old_path else None
        after = repo.read_file(step.tree, fd.new_path) if fd.new_path else None
        upstream_path = fd.old_path if fd.status in ("R", "C") else fd.path
        upstream_has = upstream_path is not None and repo.entry(upstream_tree, upstream_path) is not None
        out.extend(
            check_file(
                fd.path,
                before[0] if before else None,
                after[0] if after else None,
                upstream_has_file=upstream_has,
                config=config,
                patch=step.source.display,
                label=step.layer.vendor,
            )
        )
    return out
