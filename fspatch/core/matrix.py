"""The layer matrix: for every backend × layer, does it apply, and would it survive an upstream bump?

Rows are ``backend × (common + each vendor layer)``.  Columns:

``pinned``
    the common layer builds on the pinned upstream (for a vendor row too: it is
    the base the vendor layer sits on);
``common``
    the vendor layer builds on the current common top (``n/a`` for the common
    row, ``blocked`` when the common layer itself does not build);
``onto``
    only with a target ref: a trial of ``pull-upstream`` onto it — every patch
    replayed as a 3-way tree merge by :class:`fspatch.core.replay.Replayer`, the
    engine ``pull-upstream`` itself uses, without stopping at conflicts — with
    the clean / upstreamed / conflicting patch counts.  A vendor layer is
    replayed onto the replayed common top; when the common layer has conflicts
    a clean vendor layer is ``blocked`` (its base is not final).

Everything is built in memory in the backend's repository: no ref, journal,
checkout or workspace file changes (only new git objects are written).  The
matrix reports; it never fails on what it finds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fspatch.core.health import LoadedLayer, load_layer, open_upstream
from fspatch.core.layers import StepError, walk_layer
from fspatch.core.patch import Patch
from fspatch.core.stack import Builder
from fspatch.core.workspace import Backend, LayerRef, Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo

if TYPE_CHECKING:
    from fspatch.core.replay_report import PatchOutcome

OK = "ok"
FAILS = "fails"
BLOCKED = "blocked"
UNKNOWN = "unknown"
NA = "n/a"
CLEAN = "clean"
CONFLICT = "conflict"


@dataclass(frozen=True)
class Cell:
    """One yes/no column: ``ok``, ``fails``, ``blocked``, ``unknown`` or ``n/a``, and why."""

    status: str
    detail: str = ""


@dataclass(frozen=True)
class OntoCell:
    """A layer's trial replay onto the target: ``clean``, ``conflict``, ``blocked`` or ``unknown``."""

    status: str
    clean: int = 0
    upstreamed: int = 0
    conflicts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class MatrixRow:
    backend: str
    vendor: str | None
    layer: str  # common | vendor/<name>
    patches: int
    pinned: Cell
    common: Cell
    onto: OntoCell | None = None


@dataclass(frozen=True)
class Matrix:
    rows: tuple[MatrixRow, ...]
    onto: tuple[tuple[str, str], ...] = ()  # (backend, ref) pairs asked for
    onto_commits: tuple[tuple[str, str], ...] = ()  # (backend, resolved commit)


def parse_onto(values: Sequence[str], backends: Sequence[str]) -> dict[str, str]:
    """``REF`` (every backend) and ``BACKEND=REF`` (one backend, wins) → backend → ref."""
    out: dict[str, str] = {}
    default: str | None = None
    for value in values:
        name, sep, ref = value.partition("=")
        if sep and name in backends:
            out[name] = ref
        elif sep and name and "/" not in name and ":" not in name:
            raise UsageError(f"--onto {value}: unknown backend {name!r} (known: {', '.join(backends)})")
        else:
            default = value
    if default is not None:
        for name in backends:
            out.setdefault(name, default)
    return out


def layer_rows(
    ws: Workspace, backends: Sequence[str] | None = None, vendors: Sequence[str] | None = None
) -> list[LayerRef]:
    """The matrix's rows as layers, without building anything (for ``--github-matrix``)."""
    names = [ws.backend(b).name for b in backends] if backends else list(ws.backends())
    known = ws.vendors()
    for v in vendors or ():
        if v not in known:
            raise UsageError(f"unknown vendor {v!r} (known: {', '.join(known) or 'none'})")
    out: list[LayerRef] = []
    for name in names:
        out.append(LayerRef(name, None))
        out.extend(layer for layer in ws.vendor_layers(name) if not vendors or layer.vendor in vendors)
    return out


def compute_matrix(
    ws: Workspace,
    backends: Sequence[str] | None = None,
    vendors: Sequence[str] | None = None,
    onto: Mapping[str, str] | None = None,
) -> Matrix:
    """Every row of the matrix; ``onto`` maps a backend to the ref of its trial replay."""
    layers = layer_rows(ws, backends, vendors)
    rows: list[MatrixRow] = []
    commits: list[tuple[str, str]] = []
    for name in dict.fromkeys(layer.backend for layer in layers):
        mine = [layer for layer in layers if layer.backend == name]
        got, commit = _backend_rows(ws, ws.backend(name), mine, (onto or {}).get(name))
        rows.extend(got)
        if commit is not None:
            commits.append((name, commit))
    asked = tuple(sorted((onto or {}).items()))
    return Matrix(tuple(rows), asked, tuple(commits))


@dataclass
class _Built:
    loaded: LoadedLayer
    cell: Cell
    base: str | None = None
    commits: tuple[str, ...] = ()


def _build(repo: GitRepo, builder: Builder, loaded: LoadedLayer, base: str) -> _Built:
    if not loaded.buildable:
        return _Built(loaded, Cell(FAILS, loaded.why_not), base)
    commits: list[str] = []
    for step in walk_layer(repo, builder, loaded.layer, base, loaded.sources):
        if isinstance(step, StepError):
            where = f"{step.display}:{step.line}" if step.line else step.display
            return _Built(loaded, Cell(FAILS, f"{where}: {step.message}"), base)
        commits.append(step.commit)
    return _Built(loaded, Cell(OK), base, tuple(commits))


def _backend_rows(
    ws: Workspace, b: Backend, layers: Sequence[LayerRef], onto_ref: str | None
) -> tuple[list[MatrixRow], str | None]:
    loaded = {layer: load_layer(ws, layer) for layer in layers}
    common_ref = LayerRef(b.name, None)
    if common_ref not in loaded:
        loaded[common_ref] = load_layer(ws, common_ref)
    repo, why = open_upstream(ws, b)
    if repo is None:
        unknown = Cell(UNKNOWN, why)
        onto_cell = OntoCell(UNKNOWN, detail=why) if onto_ref else None
        return [
            MatrixRow(
                b.name,
                layer.vendor,
                layer.label,
                _count(loaded[layer]),
                unknown,
                Cell(NA) if layer.vendor is None else unknown,
                onto_cell,
            )
            for layer in layers
        ], None
    builder = Builder(repo, b.commit)
    common = _build(repo, builder, loaded[common_ref], b.commit)
    common_top = (common.commits[-1] if common.commits else b.commit) if common.cell.status == OK else None
    built: dict[LayerRef, _Built] = {common_ref: common}
    for layer in layers:
        if layer.vendor is None:
            continue
        if common_top is None:
            built[layer] = _Built(loaded[layer], Cell(BLOCKED, "the common layer does not build"))
        else:
            built[layer] = _build(repo, builder, loaded[layer], common_top)

    onto_cells: dict[LayerRef, OntoCell] = {}
    target: str | None = None
    if onto_ref is not None:
        target = repo.resolve(onto_ref) or repo.resolve(f"refs/tags/{onto_ref}")
        if target is None:
            why = f"{onto_ref} not found in {b.path} (fetch it first)"
            onto_cells = {layer: OntoCell(UNKNOWN, detail=why) for layer in layers}
        else:
            onto_cells = _trial(repo, b, onto_ref, target, common_ref, built, common_top)

    rows = []
    for layer in layers:
        got = built[layer]
        common_cell = Cell(NA) if layer.vendor is None else got.cell
        rows.append(
            MatrixRow(
                b.name,
                layer.vendor,
                layer.label,
                _count(loaded[layer]),
                common.cell,
                common_cell,
                onto_cells.get(layer) if onto_ref is not None else None,
            )
        )
    return rows, target


def _count(loaded: LoadedLayer) -> int:
    return len(loaded.sources) + len(loaded.encrypted)


def _trial(
    repo: GitRepo,
    b: Backend,
    ref: str,
    target: str,
    common_ref: LayerRef,
    built: Mapping[LayerRef, _Built],
    common_top: str | None,
) -> dict[LayerRef, OntoCell]:
    """Replay every layer that builds onto ``target`` with pull-upstream's engine, never stopping."""
    from fspatch.core.replay import Replayer
    from fspatch.core.replay_plan import LayerPlan, Plan
    from fspatch.core.replay_report import CONFLICT as R_CONFLICT
    from fspatch.core.replay_report import UPSTREAMED

    out: dict[LayerRef, OntoCell] = {}
    if common_top is None:
        why = "the layers do not build on the pinned upstream"
        return {layer: OntoCell(UNKNOWN, detail=why) for layer in built}
    plans: list[LayerPlan] = []
    patches: dict[str, dict[str, Patch]] = {}
    layers_of: dict[str, LayerRef] = {}
    for layer, got in built.items():
        if got.cell.status != OK:
            out[layer] = OntoCell(UNKNOWN, detail=f"{layer.label} does not build on the pinned layers")
            continue
        names = [src.name for src, _ in got.loaded.sources]
        base = b.commit if layer.vendor is None else common_top
        lp = LayerPlan(layer.label, layer.vendor, base, names, list(got.commits))
        plans.append(lp)
        patches[layer.label] = {src.name: src.patch for src, _ in got.loaded.sources}
        layers_of[layer.label] = layer
    plans.sort(key=lambda lp: lp.vendor is not None)  # the common layer first: vendor layers go onto its top
    plan = Plan("pull-upstream", b.name, b.ref, b.commit, ref, target, drop_upstreamed=False, stop=False, layers=plans)
    Replayer(repo, plan).run(lambda lp, name: patches[lp.label][name])
    by_layer: dict[str, list[PatchOutcome]] = {}
    for outcome in plan.outcomes:
        by_layer.setdefault(outcome.layer, []).append(outcome)
    common_conflicts = sum(1 for o in by_layer.get(common_ref.label, []) if o.status == R_CONFLICT)
    for label, layer in layers_of.items():
        outcomes = by_layer.get(label, [])
        conflicted = [o for o in outcomes if o.status == R_CONFLICT]
        upstreamed = sum(1 for o in outcomes if o.status == UPSTREAMED)
        clean = len(outcomes) - len(conflicted) - upstreamed
        if conflicted:
            first = conflicted[0]
            files = ", ".join(c.path for c in first.conflicts) or "?"
            status, detail = CONFLICT, f"{layer.dir.as_posix()}/{first.patch}: {files}"
        elif layer.vendor is not None and common_conflicts:
            status, detail = BLOCKED, "the common layer has conflicts"
        else:
            status, detail = CLEAN, ""
        out[layer] = OntoCell(status, clean, upstreamed, len(conflicted), detail)
    return out


# --------------------------------------------------------------------------- renderings


def _onto_text(cell: OntoCell | None) -> str:
    if cell is None:
        return ""
    if cell.status in (CLEAN, CONFLICT, BLOCKED) and (cell.clean or cell.upstreamed or cell.conflicts):
        parts = [f"{cell.clean} clean"]
        if cell.upstreamed:
            parts.append(f"{cell.upstreamed} upstreamed")
        if cell.conflicts:
            parts.append(f"{cell.conflicts} conflict{'s' if cell.conflicts != 1 else ''}")
        return f"{cell.status} ({', '.join(parts)})"
    return cell.status


def _onto_header(m: Matrix) -> str | None:
    refs = sorted({ref for _, ref in m.onto})
    if not refs:
        return None
    return "onto " + (refs[0] if len(refs) == 1 else "REF")


def _details(m: Matrix) -> list[str]:
    """One line per non-empty detail: ``backend layer column: detail``."""
    out = []
    for r in m.rows:
        cells: list[tuple[str, str]] = [("pinned", r.pinned.detail)]
        if r.vendor is not None:
            cells.append(("common", r.common.detail))
        if r.onto is not None:
            cells.append(("onto", r.onto.detail))
        seen = set()
        for column, detail in cells:
            if detail and detail not in seen:
                seen.add(detail)
                out.append(f"{r.backend} {r.layer} {column}: {detail}")
    return out


def render_matrix_text(m: Matrix) -> str:
    """An aligned table, then the details (why a cell is not ok) one a line."""
    header = ["backend", "layer", "patches", "pinned", "common"]
    onto = _onto_header(m)
    if onto:
        header.append(onto)
    rows = [header]
    for r in m.rows:
        row = [r.backend, r.layer, str(r.patches), r.pinned.status, r.common.status]
        if onto:
            row.append(_onto_text(r.onto))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    details = _details(m)
    if details:
        lines.append("")
        lines.extend(details)
    return "\n".join(lines) + "\n"


_MD = {
    OK: "✅ ok",
    FAILS: "❌ fails",
    BLOCKED: "⛔ blocked",
    UNKNOWN: "❔ unknown",
    NA: "–",
    CLEAN: "✅ clean",
    CONFLICT: "❌ conflict",
}


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_matrix_markdown(m: Matrix) -> str:
    """A GitHub-flavoured Markdown table (for a job summary or a PR comment), details as a list."""
    onto = _onto_header(m)
    header = ["backend", "layer", "patches", "pinned", "common"] + ([onto] if onto else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in m.rows:
        row = [
            r.backend,
            r.layer,
            str(r.patches),
            _MD.get(r.pinned.status, r.pinned.status),
            _MD.get(r.common.status, r.common.status),
        ]
        if onto:
            text = _onto_text(r.onto)
            status = r.onto.status if r.onto is not None else ""
            row.append(text.replace(status, _MD.get(status, status), 1) if status else text)
        lines.append("| " + " | ".join(_md(c) for c in row) + " |")
    details = _details(m)
    if details:
        lines.append("")
        lines.extend(f"- {_md(d)}" for d in details)
    return "\n".join(lines) + "\n"


def matrix_dict(m: Matrix) -> dict[str, object]:
    """The JSON form: ``{"format": "fspatch/matrix", "version": 1, "onto", "rows": [...]}`` (docs/json.md)."""

    def cell(c: Cell) -> dict[str, str]:
        return {"status": c.status, "detail": c.detail}

    rows = []
    for r in m.rows:
        onto = None
        if r.onto is not None:
            onto = {
                "status": r.onto.status,
                "clean": r.onto.clean,
                "upstreamed": r.onto.upstreamed,
                "conflicts": r.onto.conflicts,
                "detail": r.onto.detail,
            }
        rows.append(
            {
                "backend": r.backend,
                "vendor": r.vendor,
                "layer": r.layer,
                "patches": r.patches,
                "pinned": cell(r.pinned),
                "common": cell(r.common),
                "onto": onto,
            }
        )
    commits = dict(m.onto_commits)
    from fspatch.core.envelope import envelope

    return envelope(
        "matrix", {"onto": {b: {"ref": ref, "commit": commits.get(b)} for b, ref in m.onto}, "rows": rows}
    )
