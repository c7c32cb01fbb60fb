"""The health of a workspace: every check of ``fspatch check``, as findings.

Checks (each can be selected alone; none selected means all):

``schemas``
    ``upstream.lock``, ``vendors/history.yaml``, every ``vendors/<v>/vendor.yaml``,
    ``vendors/<v>/<backend>/layer.yaml`` and ``diff.yaml`` against their JSON
    Schemas; every violation with its line, a YAML syntax error too.
``series``
    every layer's ``series``: lines that do not parse, duplicates, listed files
    that are missing, ``*.patch`` files no series lists (orphans); patch files
    that do not parse.
``apply``
    the common layer on the pinned upstream, then every vendor layer on the
    current common top, built in memory in the backend's repository (the
    checkout's HEAD, index and files are never touched).
``markers``
    every file each patch changes against the marker rules (core/markers.py),
    on the trees of the same in-memory build.
``canonical``
    every patch file is byte for byte what fspatch would write for it
    (``format_patch(parse_patch(data)) == data``): otherwise the first
    refresh rewrites it and the diff of an unrelated change gets noisy.

Why one build per layer: the apply and marker checks need the same trees, and
building is the expensive part.  Why findings and not exceptions: a health
check reports everything it finds in one run; only a workspace whose
``upstream.lock`` cannot be read at all stops after the schema check.

Every finding about a workspace file (a YAML file, a series, a patch file) has
``patch=""`` and the workspace-relative path in ``file``, so text output reads
like a compiler diagnostic and SARIF places it under ``SRCROOT``; marker
findings keep the patch in ``patch`` and the upstream path in ``file``.
``line`` 0 means "the whole file".  ``case`` is ``<backend>/<layer label>``
(``vllm/common``, ``vllm/vendor/acme``), or ``workspace`` for the lock,
``history.yaml`` and ``vendor.yaml`` files.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fspatch.core.layers import PatchStep, StepError, walk_layer
from fspatch.core.locate import PatchLines
from fspatch.core.markers import RULES as MARKER_RULES
from fspatch.core.markers import MarkerConfig, check_file
from fspatch.core.patch import format_patch, parse_patch
from fspatch.core.report import Finding, sorted_findings
from fspatch.core.series import SeriesEntry, parse_series
from fspatch.core.stack import Builder, PatchSource
from fspatch.core.workspace import LOCK_NAME, OPAQUE_DIR, RESERVED_NAMES, Backend, LayerRef, Workspace
from fspatch.errors import FspatchError, InputError
from fspatch.git_adapter import GitRepo

CHECKS: tuple[str, ...] = ("schemas", "series", "apply", "markers", "canonical")

RULE_YAML = "yaml-syntax"
RULE_SCHEMA = "schema"
RULE_LOCK = "invalid-lock"
RULE_SERIES_SYNTAX = "series-syntax"
RULE_SERIES_DUPLICATE = "series-duplicate"
RULE_SERIES_MISSING = "series-missing-file"
RULE_SERIES_ORPHAN = "series-orphan-file"
RULE_PATCH_SYNTAX = "patch-syntax"
RULE_NO_UPSTREAM = "no-upstream"
RULE_DOES_NOT_APPLY = "does-not-apply"
RULE_VENDOR_DOES_NOT_APPLY = "vendor-does-not-apply"
RULE_NOT_CANONICAL = "not-canonical"
RULE_PENDING = "pending-patch"
RULE_FLAGSCALE_META = "flagscale-metadata"
RULE_EMPTY_PATCH = "empty-patch"

#: Stable rule ids of the workspace checks and their one-line descriptions (SARIF).
HEALTH_RULES: Mapping[str, str] = MappingProxyType(
    {
        RULE_YAML: "A workspace YAML file does not parse",
        RULE_SCHEMA: "A workspace YAML file violates its JSON Schema",
        RULE_LOCK: "upstream.lock cannot be loaded (e.g. two backends share a checkout path)",
        RULE_SERIES_SYNTAX: "A series line does not parse or names a reserved file",
        RULE_SERIES_DUPLICATE: "A series lists the same patch twice",
        RULE_SERIES_MISSING: "A series lists a patch file that does not exist",
        RULE_SERIES_ORPHAN: "A patch file in a layer directory that its series does not list",
        RULE_PATCH_SYNTAX: "A patch file does not parse",
        RULE_NO_UPSTREAM: "A backend's checkout is missing or lacks the pinned commit; its layers were not built",
        RULE_DOES_NOT_APPLY: "A common-layer patch does not apply on the pinned upstream",
        RULE_VENDOR_DOES_NOT_APPLY: "A vendor-layer patch does not apply on the current common layer",
        RULE_NOT_CANONICAL: "A patch file is not in fspatch's canonical form (a refresh would rewrite it)",
        RULE_PENDING: "A patch a bot replay left pending (series/<backend>/pending.yaml); resolve it: 'fspatch apply'",
        RULE_EMPTY_PATCH: (
            "A patch with a description and no diff: nothing to apply, and quilt cannot push it as it is "
            "(export --format quilt writes it as an empty file); a warning"
        ),
        RULE_FLAGSCALE_META: (
            "A value kept from FlagScale's diff.yaml (layer.yaml flagscale:) that fspatch's diff schema "
            "would refuse: a warning, an error under check --strict"
        ),
    }
)


def all_rules() -> dict[str, str]:
    """Every rule ``check`` can report (workspace checks and marker rules), id → description."""
    return {**HEALTH_RULES, **MARKER_RULES}


WORKSPACE_CASE = "workspace"
#: Files a layer directory keeps besides its patches (never orphans).
_NOT_PATCHES = RESERVED_NAMES | {"diff.patch.encrypted"}
_ENCRYPTED = ".encrypted"


@dataclass(frozen=True)
class HealthReport:
    """What ``check`` found; ``cases`` are what was checked (JUnit test cases), ``skipped`` why some was not."""

    findings: tuple[Finding, ...]
    cases: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    patches: int = 0  # patches built in memory
    files: int = 0  # file changes checked against the marker rules
    checks: tuple[str, ...] = CHECKS

    @property
    def errors(self) -> int:
        """Findings of severity ``error`` (warnings and notes do not fail ``check``)."""
        return sum(1 for f in self.findings if f.severity == "error")


@dataclass
class _Acc:
    """Findings, cases and notes gathered while checking."""

    findings: list[Finding] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    patches: int = 0
    files: int = 0

    def case(self, name: str) -> None:
        if name not in self.cases:
            self.cases.append(name)


def case_of(layer: LayerRef) -> str:
    """The JUnit case of a layer: ``<backend>/common`` or ``<backend>/vendor/<vendor>``."""
    return f"{layer.backend}/{layer.label}"


# --------------------------------------------------------------------------- the whole check


def check_workspace(
    root: Path,
    backends: Sequence[str] | None = None,
    checks: Collection[str] = CHECKS,
    *,
    ws: Workspace | None = None,
) -> HealthReport:
    """Run the selected ``checks`` on the workspace at ``root`` (all backends, or ``backends``).

    Raises only for usage errors (an unknown backend or check), or an unreadable
    ``upstream.lock`` when the schema check is not selected (nothing else can run).
    """
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}")
    acc = _Acc()
    lock_error: InputError | None = None
    if ws is None:
        try:
            ws = Workspace.load(root)
        except InputError as exc:
            if "schemas" not in checks:
                raise
            lock_error = exc
    names = [ws.backend(b).name for b in backends] if (ws is not None and backends) else None
    if "schemas" in checks:
        acc.case(WORKSPACE_CASE)
        acc.findings.extend(schema_findings(root, names))
        acc.findings.extend(_flagscale_history_findings(root))
    if ws is None:
        assert lock_error is not None
        if not any(f.file == LOCK_NAME for f in acc.findings):
            acc.findings.append(
                Finding("", LOCK_NAME, lock_error.line or 0, RULE_LOCK, lock_error.message, case=WORKSPACE_CASE)
            )
        acc.skipped.append(f"everything but the schemas: {LOCK_NAME} cannot be loaded")
        return _report(acc, checks)
    for name in names if names is not None else list(ws.backends()):
        _check_backend(ws, ws.backend(name), checks, acc)
    return _report(acc, checks)


def _report(acc: _Acc, checks: Collection[str]) -> HealthReport:
    return HealthReport(
        tuple(sorted_findings(acc.findings)),
        tuple(acc.cases),
        tuple(acc.skipped),
        acc.patches,
        acc.files,
        tuple(c for c in CHECKS if c in checks),
    )


def _pending_findings(ws: Workspace, b: Backend) -> list[Finding]:
    """A patch a bot replay left pending is a finding until a person resolves or skips it."""
    from fspatch.core.replay_pending import pending_patches, pending_rel

    try:
        pend = pending_patches(ws, b.name)
    except InputError as exc:
        return [
            Finding(
                "", pending_rel(b.name), exc.line or 0, RULE_SCHEMA, exc.message, case=case_of(LayerRef(b.name, None))
            )
        ]
    return [
        Finding(
            "",
            p.display,
            0,
            RULE_PENDING,
            f"pending from a bot replay onto {b.ref} ({p.reason}): "
            f"run 'fspatch apply {b.name}', resolve, 'fspatch continue'",
            case=case_of(LayerRef.from_label(b.name, p.layer)),
        )
        for p in pend
    ]


def _flagscale_history_findings(root: Path) -> list[Finding]:
    """FlagScale's ``patch_history.yaml`` kept by the import (``vendors/patch_history.yaml``): it has
    no JSON Schema (it is FlagScale's format); YAML errors are errors, odd entries warnings."""
    from fspatch.core import flagscale_history

    path = root / flagscale_history.HISTORY_FILE
    if not path.is_file():
        return []
    display = flagscale_history.HISTORY_FILE
    try:
        hist = flagscale_history.load(path.read_bytes(), display)
    except InputError as exc:
        return [Finding("", display, exc.line or 0, RULE_YAML, exc.message, case=WORKSPACE_CASE)]
    return [
        Finding("", display, w.line or 0, RULE_FLAGSCALE_META, w.message, severity="warning", case=WORKSPACE_CASE)
        for w in hist.warnings
    ]


def _flagscale_findings(ws: Workspace, layer: LayerRef, acc: _Acc) -> None:
    """An opaque layer is said to be skipped; values kept from FlagScale's diff.yaml that fspatch's
    schema would refuse are warnings at their layer.yaml line (errors under ``check --strict``)."""
    from fspatch.core.flagscale_meta import kept_value_warnings

    try:
        meta = ws.layer_meta(layer)
    except FspatchError:
        return  # the schema check reports a broken layer.yaml
    section = meta.get("flagscale") if hasattr(meta, "get") else None
    if not section:
        return
    display = f"{layer.dir.as_posix()}/layer.yaml"
    if section.get("opaque"):
        acc.skipped.append(
            f"{layer.dir.as_posix()}: opaque (FlagScale's encrypted files imported without a key, kept in "
            f"{OPAQUE_DIR}/): not built, not checked"
        )
    for line, message in kept_value_warnings(section):
        acc.findings.append(
            Finding("", display, line or 0, RULE_FLAGSCALE_META, message, severity="warning", case=case_of(layer))
        )


def _check_backend(ws: Workspace, b: Backend, checks: Collection[str], acc: _Acc) -> None:
    layers = [LayerRef(b.name, None), *ws.vendor_layers(b.name)]
    for layer in layers:
        acc.case(case_of(layer))
    parsing = bool({"series", "apply", "markers", "canonical"} & set(checks))
    loaded: dict[LayerRef, LoadedLayer] = {}
    for layer in layers:
        got = load_layer(ws, layer)
        loaded[layer] = got
        if "series" in checks:
            acc.findings.extend(got.series_findings)
        if parsing:
            acc.findings.extend(got.patch_findings)
        if "series" in checks:
            acc.findings.extend(empty_patch_findings(got))
        if "canonical" in checks:
            acc.findings.extend(canonical_findings(got))
        for name in got.encrypted:
            acc.skipped.append(f"{layer.dir.as_posix()}/{name}: encrypted, not checked (no key)")
        if layer.vendor is not None:
            _flagscale_findings(ws, layer, acc)
    if "series" in checks:
        acc.findings.extend(_pending_findings(ws, b))
    if not {"apply", "markers"} & set(checks):
        return
    repo, why = open_upstream(ws, b)
    if repo is None:
        acc.findings.append(
            Finding(
                "",
                LOCK_NAME,
                _commit_line(ws.root, b),
                RULE_NO_UPSTREAM,
                f"backend '{b.name}': {why}; its layers were not built: run 'fspatch sync' "
                "(or 'fspatch check --sync') to set the checkout up from upstream.lock",
                case=case_of(layers[0]),
            )
        )
        return
    config = MarkerConfig.from_settings(ws.settings())
    upstream_tree = repo.tree_of(b.commit)
    builder = Builder(repo, b.commit)
    common_top: str | None = None
    for layer in layers:
        got = loaded[layer]
        if layer.vendor is None:
            base: str | None = b.commit
        else:
            base = common_top
        if base is None:
            acc.skipped.append(f"{case_of(layer)}: not built, the common layer does not build")
            continue
        if not got.buildable:
            acc.skipped.append(f"{case_of(layer)}: not built, {got.why_not}")
            continue
        rule = RULE_DOES_NOT_APPLY if layer.vendor is None else RULE_VENDOR_DOES_NOT_APPLY
        top: str | None = base
        for step in walk_layer(repo, builder, layer, base, got.sources):
            if isinstance(step, StepError):
                top = None
                if "apply" in checks:
                    where = "the current common layer"
                    if layer.vendor is None:
                        where = f"the pinned upstream {b.ref} ({b.commit[:12]})"
                    acc.findings.append(
                        Finding("", step.display, step.line, rule, f"{step.message} on {where}", case=case_of(layer))
                    )
                rest = len(got.sources) - acc_index(got, step.display) - 1
                if rest:
                    acc.skipped.append(f"{case_of(layer)}: {rest} patch(es) after {step.display} not built")
                break
            acc.patches += 1
            top = step.commit
            if "markers" in checks:
                found = marker_findings(repo, step, upstream_tree, config)
                acc.files += len(step.source.patch.files)
                if found:  # point each at the patch line showing it: the tracked copy of the line
                    raw = next((data for src, data in got.sources if src.display == step.source.display), b"")
                    lines = PatchLines(raw, step.source.patch)
                    found = [replace(f, patch_line=lines.locate(f.file, f.line)) for f in found]
                acc.findings.extend(replace(f, case=case_of(layer)) for f in found)
        if layer.vendor is None:
            common_top = top


def acc_index(got: LoadedLayer, display: str) -> int:
    """Position of a patch (by display path) in a loaded layer's sources."""
    for i, (src, _) in enumerate(got.sources):
        if src.display == display:
            return i
    return len(got.sources)


def open_upstream(ws: Workspace, b: Backend) -> tuple[GitRepo | None, str]:
    """The backend's repository when it holds the pinned commit, else None and why (nothing is fetched)."""
    path = ws.checkout_path(b)
    if not GitRepo.is_repo(path):
        return None, f"no checkout at {b.path}"
    try:
        repo = GitRepo.open(path)
        if not repo.has_commit(b.commit):
            return None, f"pinned commit {b.commit[:12]} is not in {b.path}"
    except FspatchError as exc:
        return None, str(exc)
    return repo, ""


def _commit_line(root: Path, b: Backend) -> int:
    """Line of the backend's pinned commit id in ``upstream.lock`` (0 if not found)."""
    try:
        lines = (root / LOCK_NAME).read_bytes().split(b"\n")
    except OSError:
        return 0
    needle = b.commit.encode()
    for i, line in enumerate(lines):
        if needle in line:
            return i + 1
    return 0


# --------------------------------------------------------------------------- schemas


def _yaml_files(root: Path, backends: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """(workspace-relative path, schema, case) of every YAML file the schema check reads."""
    out = [(LOCK_NAME, "lock", WORKSPACE_CASE)]
    vendors = root / "vendors"
    if (vendors / "history.yaml").is_file():
        out.append(("vendors/history.yaml", "history", WORKSPACE_CASE))
    if not vendors.is_dir():
        return out
    for vdir in sorted(p for p in vendors.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out.append((f"vendors/{vdir.name}/vendor.yaml", "vendor", WORKSPACE_CASE))
        for bdir in sorted(p for p in vdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if backends is not None and bdir.name not in backends:
                continue
            case = f"{bdir.name}/vendor/{vdir.name}"
            for meta, schema in (("layer.yaml", "layer"), ("diff.yaml", "diff")):
                if (bdir / meta).is_file():
                    out.append((f"vendors/{vdir.name}/{bdir.name}/{meta}", schema, case))
    return out


def schema_findings(root: Path, backends: Sequence[str] | None = None) -> list[Finding]:
    """Every YAML syntax error and schema violation, with lines (``backends`` limits the layer files)."""
    from fspatch.core.schema import iter_errors
    from fspatch.core.yamlio import parse_yaml

    out: list[Finding] = []
    for rel, schema, case in _yaml_files(root, backends):
        path = root / rel
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            what = "every folder under vendors/ needs one (name, device_type)" if schema == "vendor" else "missing"
            out.append(Finding("", rel, 0, RULE_SCHEMA, f"file not found: {what}", case=case))
            continue
        try:
            data = parse_yaml(raw, rel)
        except InputError as exc:
            out.append(Finding("", rel, exc.line or 0, RULE_YAML, exc.message, case=case))
            continue
        for line, message in iter_errors(data, schema):
            out.append(Finding("", rel, line or 0, RULE_SCHEMA, message, case=case))
        if schema == "vendor":
            folder = rel.split("/")[1]
            name = data.get("name")
            if isinstance(name, str) and name != folder:
                line = _key_line(data, "name")
                out.append(
                    Finding(
                        "",
                        rel,
                        line,
                        RULE_SCHEMA,
                        f"name {name!r} does not match the vendor directory {folder!r}",
                        case=case,
                    )
                )
    return out


def _key_line(data: Any, key: str) -> int:
    lc = getattr(data, "lc", None)
    try:
        pos = lc.key(key) if lc is not None else None
    except (KeyError, TypeError):
        pos = None
    return int(pos[0]) + 1 if pos else 0


# --------------------------------------------------------------------------- series and patch files


@dataclass(frozen=True)
class LoadedLayer:
    """A layer's series and patch files as read (once) for every check."""

    layer: LayerRef
    sources: tuple[tuple[PatchSource, bytes], ...]  # parsed patches in series order, with their bytes
    series_findings: tuple[Finding, ...] = ()
    patch_findings: tuple[Finding, ...] = ()
    encrypted: tuple[str, ...] = ()
    why_not: str = ""  # why the layer cannot be built ("" when it can)
    #: patches the series reads with ``-pN`` other than 1: their canonical form (a/ b/ prefixes) would
    #: not suit that strip level, so the canonical check and ``fmt`` leave them alone.
    other_strip: frozenset[str] = frozenset()

    @property
    def buildable(self) -> bool:
        return not self.why_not


def read_series_leniently(data: bytes, display: str) -> tuple[list[SeriesEntry], list[tuple[int, str, str]]]:
    """The entries of a series and every problem in it as ``(line, rule, message)``.

    The series reader stops at the first bad line; each bad line is blanked
    (line numbers kept) and the rest read again, so all problems are reported.
    """
    problems: list[tuple[int, str, str]] = []
    lines = data.split(b"\n")
    for _ in range(len(lines) + 1):
        try:
            return parse_series(b"\n".join(lines), display), problems
        except InputError as exc:
            if not exc.line or exc.line > len(lines):
                problems.append((exc.line or 0, RULE_SERIES_SYNTAX, exc.message))
                return [], problems
            rule = RULE_SERIES_DUPLICATE if "listed twice" in exc.message else RULE_SERIES_SYNTAX
            problems.append((exc.line, rule, exc.message))
            lines[exc.line - 1] = b""
    return [], problems


def load_layer(ws: Workspace, layer: LayerRef) -> LoadedLayer:
    """Read a layer's series, check its files, parse its patches (each problem becomes a finding)."""
    folder = ws.layer_dir(layer)
    base = layer.dir.as_posix()
    case = case_of(layer)
    if not folder.is_dir():
        return LoadedLayer(layer, ())
    series = folder / "series"
    display = f"{base}/series"
    series_findings: list[Finding] = []
    why_not = ""
    entries: list[SeriesEntry] = []
    if series.is_file():
        entries, problems = read_series_leniently(series.read_bytes(), display)
        for line, rule, message in problems:
            series_findings.append(Finding("", display, line, rule, message, case=case))
        if problems:
            why_not = f"{display} has errors"
    listed = {e.name for e in entries}
    for entry in entries:
        if entry.name in RESERVED_NAMES:
            message = f"{entry.name!r} is reserved in a layer directory and cannot be a patch"
            series_findings.append(Finding("", display, entry.line, RULE_SERIES_SYNTAX, message, case=case))
            why_not = why_not or f"{display} has errors"
        elif not (folder / entry.name).is_file():
            series_findings.append(
                Finding(
                    "",
                    display,
                    entry.line,
                    RULE_SERIES_MISSING,
                    f"{entry.name} is listed but {base}/{entry.name} does not exist",
                    case=case,
                )
            )
            why_not = why_not or f"{base}/{entry.name} is missing"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or rel in _NOT_PATCHES:
            continue
        if rel.startswith(OPAQUE_DIR + "/"):  # FlagScale's files of an opaque layer, kept verbatim
            continue
        if not (rel.endswith(".patch") or rel.endswith(".patch" + _ENCRYPTED)) or rel in listed:
            continue
        series_findings.append(
            Finding(
                "",
                f"{base}/{rel}",
                0,
                RULE_SERIES_ORPHAN,
                f"not listed in {display}; add it to the series or delete it",
                case=case,
            )
        )
    sources: list[tuple[PatchSource, bytes]] = []
    patch_findings: list[Finding] = []
    encrypted: list[str] = []
    for entry in entries:
        path = folder / entry.name
        if entry.name in RESERVED_NAMES or not path.is_file():
            continue
        pdisplay = f"{base}/{entry.name}"
        if entry.name.endswith(_ENCRYPTED):
            encrypted.append(entry.name)
            why_not = why_not or f"{pdisplay} is encrypted"
            continue
        data = path.read_bytes()
        try:
            patch = parse_patch(data, pdisplay, entry.strip)
        except InputError as exc:
            patch_findings.append(Finding("", pdisplay, exc.line or 0, RULE_PATCH_SYNTAX, exc.message, case=case))
            why_not = why_not or f"{pdisplay} does not parse"
            continue
        sources.append((PatchSource(entry.name, pdisplay, patch), data))
    other = frozenset(e.name for e in entries if e.strip != 1)
    return LoadedLayer(
        layer, tuple(sources), tuple(series_findings), tuple(patch_findings), tuple(encrypted), why_not, other
    )


# --------------------------------------------------------------------------- canonical form


def empty_patch_findings(loaded: LoadedLayer) -> list[Finding]:
    """A warning for each patch with no diff (``new`` never refreshed, or a description-only file):
    it changes nothing, and GNU patch (so ``quilt push``) refuses such a file."""
    return [
        Finding(
            "",
            src.display,
            1,
            RULE_EMPTY_PATCH,
            "no diff, only a description: the patch changes nothing, and quilt cannot push it "
            "('fspatch refresh' after an edit records one, 'fspatch delete' removes it; "
            "export --format quilt writes it as an empty file)",
            severity="warning",
            case=case_of(loaded.layer),
        )
        for src, _ in loaded.sources
        if not src.patch.files
    ]


def canonical_findings(loaded: LoadedLayer) -> list[Finding]:
    """A finding for each patch file whose bytes differ from its canonical form, at the first differing line."""
    out: list[Finding] = []
    for src, data in loaded.sources:
        if src.name in loaded.other_strip:
            continue
        canonical = format_patch(src.patch)
        if canonical == data:
            continue
        line, found, expected = first_difference(data, canonical)
        out.append(
            Finding(
                "",
                src.display,
                line,
                RULE_NOT_CANONICAL,
                f"not in canonical form from this line (found {found}, fspatch writes {expected}); "
                "'fspatch refresh' keeps an unchanged patch's text, so rewrite it after an edit "
                "or run 'fspatch fmt'",
                case=case_of(loaded.layer),
            )
        )
    return out


def first_difference(data: bytes, canonical: bytes) -> tuple[int, str, str]:
    """1-based first line where the two differ, and both lines shown short (``end of file`` past the end)."""
    a, b = data.split(b"\n"), canonical.split(b"\n")
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x != y:
            return i + 1, _show(x), _show(y)
    return 1, "?", "?"  # pragma: no cover - the bytes differ, so some line does


def _show(line: bytes | None) -> str:
    if line is None:
        return "end of file"
    text = repr(line.decode("utf-8", "replace"))
    return text if len(text) <= 60 else text[:57] + "...'"


# --------------------------------------------------------------------------- markers


def marker_findings(repo: GitRepo, step: PatchStep, upstream_tree: str, config: MarkerConfig) -> list[Finding]:
    """The marker rules on every file one built patch changes."""
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


# --------------------------------------------------------------------------- writing the canonical form


@dataclass(frozen=True)
class Rewrite:
    """A patch file and its canonical bytes (only for files whose bytes differ)."""

    layer: LayerRef
    name: str
    display: str
    data: bytes


def canonical_rewrites(ws: Workspace, backends: Sequence[str] | None = None) -> tuple[list[Rewrite], list[Finding]]:
    """What ``fmt`` would write: every non-canonical patch file of every layer, and the files it cannot
    rewrite (they do not parse).  A rewrite is only offered when the canonical bytes parse back to
    the same patch, so formatting can never change what a patch does."""
    names = [ws.backend(b).name for b in backends] if backends else list(ws.backends())
    rewrites: list[Rewrite] = []
    problems: list[Finding] = []
    for name in names:
        for layer in [LayerRef(name, None), *ws.vendor_layers(name)]:
            got = load_layer(ws, layer)
            problems.extend(got.patch_findings)
            for src, data in got.sources:
                if src.name in got.other_strip:
                    continue
                canonical = format_patch(src.patch)
                if canonical == data:
                    continue
                if parse_patch(canonical, src.display) != src.patch:
                    problems.append(
                        Finding(
                            "",
                            src.display,
                            0,
                            RULE_NOT_CANONICAL,
                            "the canonical form would not read back the same; left as is",
                            case=case_of(layer),
                        )
                    )
                    continue
                rewrites.append(Rewrite(layer, src.name, src.display, canonical))
    return rewrites, problems
