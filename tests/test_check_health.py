"""`fspatch check` on a healthy and on broken workspaces: each breakage gives its rule, file, line and exit code."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from fspatch.commands import apply as apply_cmd
from fspatch.commands import check as check_cmd
from fspatch.core.health import all_rules
from fspatch.core.report import Finding
from scripts.example import git
from tests.test_check_fixtures import two_backends
from tests.wsutil import WS, snapshot

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
ALL_CASES = [
    "workspace",
    "minillm/common", "minillm/vendor/acme", "minillm/vendor/bolt",
    "tinyllm/common", "tinyllm/vendor/acme", "tinyllm/vendor/bolt",
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> WS:
    return two_backends(tmp_path_factory.mktemp("tpl"))


@pytest.fixture
def w(template: WS, tmp_path: Path) -> WS:
    """A private copy of the two-backend, two-vendor workspace (repos included)."""
    dest = tmp_path / "copy"
    shutil.copytree(template.root.parent, dest, symlinks=True)
    return WS(dest / "ws", template.upstream)


def _json(w: WS, *args: str) -> tuple[int, dict[str, Any]]:
    r = w.cli("check", "--format", "json", *args)
    return r.exit_code, json.loads(r.output)


def _only(findings: tuple[Finding, ...], rule: str) -> Finding:
    hits = [f for f in findings if f.rule == rule]
    assert len(hits) == 1, findings
    return hits[0]


def _hunk_line(path: Path, nth: int = 1) -> int:
    """1-based line of the nth '@@ -' line of a patch file."""
    hits = [i + 1 for i, line in enumerate(path.read_bytes().split(b"\n")) if line.startswith(b"@@ -")]
    return hits[nth - 1]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _break_bolt(w: WS) -> Path:
    """Make bolt's minillm patch expect a line the common layer does not have."""
    p = w.root / "vendors/bolt/minillm/0001-bolt-device.patch"
    _replace(p, "-    return os.environ", "-    return os.environX")
    return p


# --------------------------------------------------------------------------- healthy


def test_healthy_workspace_has_no_findings_and_exits_0(w: WS, tmp_path: Path) -> None:
    """Every check passes on the two-backend, two-vendor workspace: exit 0, no finding, every layer built."""
    r = check_cmd.run(w.root)
    assert r.findings == () and r.skipped == ()
    assert r.patches == 3 + 1 + 4  # minillm common 3, tinyllm common 1, four vendor layers of 1
    assert list(r.cases) == ALL_CASES
    res = w.cli("check", "--junit", str(tmp_path / "j.xml"))
    assert res.exit_code == 0, res.output
    assert res.output.endswith("0 findings\n")
    cases = [c.get("name") for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")]
    assert cases == ALL_CASES  # no finding: one passing test case per checked case


def test_check_leaves_the_checkout_head_index_refs_and_files_untouched(w: WS) -> None:
    """check builds in memory only: an applied, dirty checkout keeps HEAD, index, refs and every file."""
    apply_cmd.run(w.ws(), "minillm", vendor="acme")
    co = w.checkout
    (co / "minillm/layers/norm.py").write_text("# local edit\n")
    git(co, "add", "minillm/layers/norm.py")
    (co / "README.md").write_text("unstaged edit\n")
    (co / "untracked.txt").write_text("new\n")
    def state() -> tuple[object, ...]:
        return ((co / ".git/index").read_bytes(), git(co, "rev-parse", "HEAD"), git(co, "for-each-ref"),
                snapshot(co), git(co, "--no-optional-locks", "status", "--porcelain"))

    before = state()
    _break_bolt(w)
    r = check_cmd.run(w.root)
    assert {f.rule for f in r.findings} == {"vendor-does-not-apply"}
    assert state() == before


# --------------------------------------------------------------------------- schemas


def test_schema_violation_names_file_line_and_exits_1(w: WS) -> None:
    """A layer.yaml value outside its schema is a 'schema' finding at its line, in that layer's case."""
    (w.root / "vendors/acme/minillm/layer.yaml").write_text("models: []\ntasks: [cooking]\n")
    code, doc = _json(w)
    assert code == 1
    [f] = doc["findings"]
    where = (f["rule"], f["file"], f["line"], f["case"])
    assert where == ("schema", "vendors/acme/minillm/layer.yaml", 2, "minillm/vendor/acme")
    assert "cooking" in f["message"]


def test_yaml_syntax_error_is_a_finding_with_its_line(w: WS) -> None:
    """A vendor.yaml that is not YAML is a 'yaml-syntax' finding at the line the parser names."""
    (w.root / "vendors/bolt/vendor.yaml").write_text("name: bolt\ndevice_type: [Bolt\ncontact: x\n")
    r = check_cmd.run(w.root)
    f = _only(r.findings, "yaml-syntax")
    assert (f.file, f.line, f.case) == ("vendors/bolt/vendor.yaml", 3, "workspace")
    assert w.cli("check", "--schemas").exit_code == 1


def test_vendor_name_must_match_its_directory(w: WS) -> None:
    """vendor.yaml's name differing from its folder is a 'schema' finding at the name line."""
    (w.root / "vendors/bolt/vendor.yaml").write_text("device_type: Bolt_GPU\nname: bolts\n")
    f = _only(check_cmd.run(w.root, checks=["schemas"]).findings, "schema")
    assert (f.file, f.line) == ("vendors/bolt/vendor.yaml", 2)


def test_unreadable_lock_is_a_check_finding_but_an_input_error_elsewhere(w: WS) -> None:
    """A lock violating its schema: check reports it (exit 1) and stops; verbs needing the lock exit 2."""
    lock = w.root / "upstream.lock"
    line = next(i + 1 for i, t in enumerate(lock.read_text().split("\n")) if "commit:" in t and "#" not in t)
    lock.write_text(re.sub(r"commit: [0-9a-f]{40}", "commit: abc123", lock.read_text(), count=1))
    code, doc = _json(w)
    assert code == 1
    [f] = doc["findings"]
    assert (f["rule"], f["file"], f["line"]) == ("schema", "upstream.lock", line)
    assert doc["summary"]["skipped"] == ["everything but the schemas: upstream.lock cannot be loaded"]
    res = w.cli("check", "--markers")
    assert res.exit_code == 2 and "upstream.lock:" in res.output
    assert w.cli("series").exit_code == 2


# --------------------------------------------------------------------------- series


def test_listed_but_missing_patch_file_is_found_at_its_series_line(w: WS) -> None:
    """A series line naming a missing file: 'series-missing-file' at that line; the layer is not built."""
    (w.series_dir / "0002-rmsnorm-block-size.patch").unlink()
    r = check_cmd.run(w.root)
    f = _only(r.findings, "series-missing-file")
    assert (f.file, f.line, f.case) == ("series/minillm/series", 2, "minillm/common")
    assert "minillm/common: not built, series/minillm/0002-rmsnorm-block-size.patch is missing" in r.skipped
    assert {x.rule for x in r.findings} == {"series-missing-file"}
    assert w.cli("check").exit_code == 1


def test_unlisted_patch_file_is_an_orphan(w: WS) -> None:
    """A *.patch file no series lists is 'series-orphan-file'; other files and diff.patch are not."""
    shutil.copy(w.series_dir / "0001-enable-flag-gems.patch", w.series_dir / "0009-stray.patch")
    (w.series_dir / "NOTES.txt").write_text("not a patch\n")
    (w.root / "vendors/acme/minillm/diff.patch").write_text("")
    r = check_cmd.run(w.root)
    f = _only(r.findings, "series-orphan-file")
    assert (f.file, f.line, f.case) == ("series/minillm/0009-stray.patch", 0, "minillm/common")
    assert len(r.findings) == 1
    assert w.cli("check", "--series").exit_code == 1


def test_patch_listed_twice_is_found_at_the_second_line(w: WS) -> None:
    """A duplicate series entry is 'series-duplicate' at its second line."""
    series = w.root / "vendors/acme/tinyllm/series"
    series.write_text(series.read_text() + "# again\n0001-acme-kernels.patch\n")
    r = check_cmd.run(w.root)
    f = _only(r.findings, "series-duplicate")
    assert (f.file, f.line, f.case) == ("vendors/acme/tinyllm/series", 3, "tinyllm/vendor/acme")
    assert "first at line 1" in f.message
    assert w.cli("check").exit_code == 1


def test_patch_file_that_does_not_parse_is_a_finding(w: WS) -> None:
    """A corrupt hunk header is 'patch-syntax' in the patch file, at a line."""
    p = w.series_dir / "0003-device-selection.patch"
    _replace(p, "@@ -", "@@ -x")
    f = _only(check_cmd.run(w.root).findings, "patch-syntax")
    assert f.file == "series/minillm/0003-device-selection.patch" and f.line > 0
    assert w.cli("check", "--series").exit_code == 1


# --------------------------------------------------------------------------- apply


def test_common_patch_that_does_not_apply_is_found_at_its_hunk(w: WS) -> None:
    """A common patch whose context is not upstream's: 'does-not-apply' at the failing @@ line; vendors not built."""
    p = w.series_dir / "0002-rmsnorm-block-size.patch"
    _replace(p, "-  dim3 block(256);", "-  dim3 block(128);")
    r = check_cmd.run(w.root)
    f = _only(r.findings, "does-not-apply")
    assert (f.file, f.line, f.case) == (p.relative_to(w.root).as_posix(), _hunk_line(p), "minillm/common")
    assert "csrc/kernels/rmsnorm.cu: hunk 1" in f.message and "pinned upstream v1.0" in f.message
    assert len(r.findings) == 1
    assert "minillm/vendor/acme: not built, the common layer does not build" in r.skipped
    assert "minillm/common: 1 patch(es) after series/minillm/0002-rmsnorm-block-size.patch not built" in r.skipped
    res = w.cli("check", "--apply")
    assert res.exit_code == 1
    assert f"series/minillm/0002-rmsnorm-block-size.patch:{f.line}: does-not-apply: " in res.output


def test_vendor_patch_must_apply_on_the_current_common_layer(w: WS) -> None:
    """A vendor patch made against an older common layer: 'vendor-does-not-apply' at its @@ line."""
    p = w.root / "vendors/bolt/minillm/0001-bolt-device.patch"
    _replace(p, '-    return os.environ', '-    return os.environX')
    r = check_cmd.run(w.root)
    f = _only(r.findings, "vendor-does-not-apply")
    assert (f.file, f.line, f.case) == (p.relative_to(w.root).as_posix(), _hunk_line(p), "minillm/vendor/bolt")
    assert "the current common layer" in f.message
    assert len(r.findings) == 1
    assert w.cli("check", "minillm").exit_code == 1
    assert w.cli("check", "tinyllm").exit_code == 0


def test_missing_checkout_is_an_error_and_git_free_checks_still_run(w: WS) -> None:
    """No checkout: 'no-upstream' error at the lock's commit line, exit 1 (issue 16: a fresh clone never
    passes); the series checks still run."""
    lock_lines = (w.root / "upstream.lock").read_text().split("\n")
    commit = w.ws().backend("tinyllm").commit
    line = next(i + 1 for i, t in enumerate(lock_lines) if commit in t)
    shutil.rmtree(w.root / "third_party/tinyllm")
    r = check_cmd.run(w.root)
    f = _only(r.findings, "no-upstream")
    assert (f.file, f.line, f.severity, f.case) == ("upstream.lock", line, "error", "tinyllm/common")
    assert len(r.findings) == 1
    res = w.cli("check")
    assert res.exit_code == 1
    assert "no-upstream: backend 'tinyllm': no checkout at third_party/tinyllm" in res.output
    assert "run 'fspatch sync'" in res.output
    shutil.copy(w.root / "series/tinyllm/0001-tiny-device.patch", w.root / "series/tinyllm/0002-stray.patch")
    assert {x.rule for x in check_cmd.run(w.root).findings} == {"no-upstream", "series-orphan-file"}
    assert w.cli("check").exit_code == 1


# --------------------------------------------------------------------------- canonical and selectors


def test_non_canonical_patch_is_found_at_its_first_differing_line(w: WS) -> None:
    """A patch file fspatch would write differently is 'not-canonical' at the first differing line."""
    p = w.series_dir / "0001-enable-flag-gems.patch"
    _replace(p, "in the model runner\n", "in the model runner  \n")
    f = _only(check_cmd.run(w.root).findings, "not-canonical")
    assert (f.file, f.line) == ("series/minillm/0001-enable-flag-gems.patch", 2)
    assert "fspatch refresh" in f.message
    assert w.cli("check", "--canonical").exit_code == 1


def test_fmt_writes_the_canonical_form_and_nothing_else(w: WS) -> None:
    """fmt rewrites only non-canonical files, to bytes check accepts; --dry-run writes nothing and exits 1."""
    p = w.series_dir / "0001-enable-flag-gems.patch"
    good = p.read_bytes()
    _replace(p, "in the model runner\n", "in the model runner  \n")
    others = {q: q.read_bytes() for q in w.root.rglob("*.patch") if q != p and "third_party" not in q.parts}
    res = w.cli("fmt", "--dry-run")
    assert res.exit_code == 1 and res.output == "would rewrite series/minillm/0001-enable-flag-gems.patch\n"
    assert p.read_bytes() != good
    res = w.cli("fmt")
    assert res.exit_code == 0 and res.output == "rewrote series/minillm/0001-enable-flag-gems.patch\n"
    assert p.read_bytes() == good
    assert {q: q.read_bytes() for q in others} == others
    assert w.cli("check").exit_code == 0
    assert w.cli("fmt").output == ""


def test_selectors_run_only_the_named_checks(w: WS) -> None:
    """--series, --canonical, --schemas each report their own rules only; none named means all."""
    shutil.copy(w.series_dir / "0001-enable-flag-gems.patch", w.series_dir / "0009-stray.patch")
    _replace(w.series_dir / "0001-enable-flag-gems.patch", "in the model runner\n", "in the model runner  \n")
    (w.root / "vendors/acme/minillm/layer.yaml").write_text("tasks: []\nmodels: []\n")
    rules = {
        sel: sorted({f["rule"] for f in _json(w, f"--{sel}")[1]["findings"]})
        for sel in ("series", "canonical", "schemas", "apply", "markers")
    }
    assert rules == {"series": ["series-orphan-file"], "canonical": ["not-canonical"], "schemas": ["schema"],
                     "apply": [], "markers": []}
    code, doc = _json(w)
    assert code == 1 and doc["summary"]["checks"] == ["schemas", "series", "apply", "markers", "canonical"]
    assert doc["counts"]["by_rule"] == {"not-canonical": 1, "schema": 1, "series-orphan-file": 1}
    assert w.cli("check", "--apply", "--markers").exit_code == 0


def test_unknown_backend_is_a_usage_error(w: WS) -> None:
    """Naming a backend the lock does not know exits 2."""
    assert w.cli("check", "nosuch").exit_code == 2


# --------------------------------------------------------------------------- reports


def test_junit_parses_and_sarif_validates_on_a_broken_workspace(w: WS, tmp_path: Path) -> None:
    """Every kind of finding goes into JUnit (one failed case per finding) and into schema-valid SARIF."""
    (w.root / "vendors/acme/minillm/layer.yaml").write_text("tasks: [cooking]\nmodels: []\n")
    shutil.copy(w.series_dir / "0001-enable-flag-gems.patch", w.series_dir / "0009-stray.patch")
    _break_bolt(w)
    end = "+        # --- FLAGSCALE MODIFICATION END ---"
    _replace(w.root / "series/tinyllm/0001-tiny-device.patch", end, "+        # end")
    junit, sarif = tmp_path / "j.xml", tmp_path / "s.sarif"
    res = w.cli("check", "--junit", str(junit), "--sarif", str(sarif))
    assert res.exit_code == 1
    root = ET.parse(junit).getroot()
    by_case: dict[str, list[str]] = {}
    for c in root.iter("testcase"):
        by_case.setdefault(c.get("classname") or "", []).extend(x.get("type") or "" for x in c.iter("failure"))
    assert sorted(by_case) == sorted(ALL_CASES)
    assert by_case["minillm/common"] == ["series-orphan-file"]
    assert by_case["minillm/vendor/acme"] == ["schema"]
    assert by_case["minillm/vendor/bolt"] == ["vendor-does-not-apply"]
    assert "unbalanced-marker" in by_case["tinyllm/common"]
    failures = sum(len(v) for v in by_case.values())
    clean = [k for k, v in by_case.items() if not v]
    assert root.get("failures") == str(failures) and root.get("tests") == str(failures + len(clean))
    orphan = next(c for c in root.iter("testcase") if c.find("failure") is not None
                  and c.find("failure").get("type") == "series-orphan-file")  # type: ignore[union-attr]
    assert orphan.get("name") == "series/minillm/0009-stray.patch:1: series-orphan-file"  # never file:0
    log = json.loads(sarif.read_text())
    jsonschema.Draft7Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text())).validate(log)
    run = log["runs"][0]
    described = {r["id"]: r["shortDescription"]["text"] for r in run["tool"]["driver"]["rules"]}
    assert set(all_rules()) <= set(described) and described["does-not-apply"] != "does-not-apply"
    locations = {r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]}
    assert all(loc["uriBaseId"] == "SRCROOT" for loc in locations.values())
    assert locations["unbalanced-marker"]["uri"] == "series/tinyllm/0001-tiny-device.patch"  # tracked, not third_party/
    assert not any(loc["uri"].startswith("third_party/") for loc in locations.values())


def test_pre_commit_hook_runs_check_on_workspace_files() -> None:
    """.pre-commit-hooks.yaml declares fspatch-check: whole-workspace run, triggered by lock, series and vendors."""
    hooks = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in hooks if h["id"] == "fspatch-check"]
    assert hook["entry"] == "fspatch check" and hook["language"] == "python" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("upstream.lock", "series/vllm/series", "series/vllm/0001-x.patch", "vendors/acme/vllm/layer.yaml",
                 "vendors/history.yaml"):
        assert files.search(path), path
    for path in ("README.md", "fspatch/cli.py", "third_party/vllm/setup.py", "docs/series/x.md"):
        assert not files.search(path), path
