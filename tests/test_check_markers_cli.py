"""`fspatch check --markers` and `refresh --mark` on real stacks in Python, C++ and CUDA."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from fspatch.commands import apply as apply_cmd
from fspatch.commands import check as check_cmd
from fspatch.commands import mark as mark_cmd
from fspatch.commands import new as new_cmd
from fspatch.commands import refresh as refresh_cmd
from tests.wsutil import WS, make_workspace

DATA = Path(__file__).parent / "data"


def _unmarked_patch(w: WS) -> None:
    apply_cmd.run(w.ws(), "minillm")
    new_cmd.run(w.ws(), "minillm", "unmarked", message="Unmarked changes")
    co = w.checkout
    cu = co / "csrc/kernels/rmsnorm.cu"
    cu.write_text(
        cu.read_text().replace("  int row = blockIdx.x;\n", "  int row = blockIdx.x;\n  if (row < 0) return;\n")
    )
    cpp = co / "csrc/ops.cpp"
    cpp.write_text(cpp.read_text().replace("  return out;\n", "  out.fill_(0);\n  return out;\n"))
    py = co / "minillm/model_runner.py"
    py.write_text(py.read_text().replace("        return self.weights\n", ""))  # a pure deletion
    refresh_cmd.run(w.ws(), "minillm")


def test_example_series_is_clean(tmp_path: Path) -> None:
    """The embedded example's common layer passes the marker check: exit 0 and no finding."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    r = check_cmd.run(w.ws())
    assert r.findings == () and r.patches == 3
    assert w.cli("check", "--markers").exit_code == 0


def test_unmarked_cpp_cuda_and_deletion_are_found_then_fixed_by_mark(tmp_path: Path) -> None:
    """Unmarked C++/CUDA lines and a bare deletion are findings; --mark wraps them; check is clean; twice is a no-op."""
    w = make_workspace(tmp_path)
    _unmarked_patch(w)
    r = check_cmd.run(w.ws())
    got = {(f.file, f.rule) for f in r.findings}
    assert got == {
        ("csrc/kernels/rmsnorm.cu", "unmarked-change"),
        ("csrc/ops.cpp", "unmarked-change"),
        ("minillm/model_runner.py", "unmarked-deletion"),
    }
    assert all(f.patch == "series/minillm/0004-unmarked.patch" for f in r.findings)
    res = w.cli("check")
    assert res.exit_code == 1
    assert re.search(r"^series/minillm/0004-unmarked\.patch:\d+: unmarked-change: csrc/ops\.cpp:\d+: ", res.output, re.M)
    m = mark_cmd.run(w.ws(), "minillm")
    assert set(m.wrapped) == {"csrc/kernels/rmsnorm.cu", "csrc/ops.cpp", "minillm/model_runner.py"}
    cu = (w.checkout / "csrc/kernels/rmsnorm.cu").read_text()
    assert (
        "  // --- FLAGSCALE MODIFICATION BEG ---\n  if (row < 0) return;\n  // --- FLAGSCALE MODIFICATION END ---\n"
        in cu
    )
    assert check_cmd.run(w.ws()).findings == ()
    patch_bytes = (w.series_dir / "0004-unmarked.patch").read_bytes()
    again = mark_cmd.run(w.ws(), "minillm")
    assert again.wrapped == () and not again.file_changed
    assert (w.series_dir / "0004-unmarked.patch").read_bytes() == patch_bytes


def test_reports_junit_sarif_json(tmp_path: Path) -> None:
    """--junit parses with one case per backend/layer, --sarif validates against SARIF 2.1.0, json has the findings."""
    w = make_workspace(tmp_path)
    _unmarked_patch(w)
    res = w.cli(
        "check",
        "--markers",
        "--format",
        "json",
        "--junit",
        str(tmp_path / "j.xml"),
        "--sarif",
        str(tmp_path / "s.sarif"),
    )
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert len(data["findings"]) == 3
    suite = ET.parse(tmp_path / "j.xml").getroot()
    cases = list(suite.iter("testcase"))
    assert len(cases) == 3 and {c.get("classname") for c in cases} == {"minillm/common"}  # one case per finding
    patch = (w.series_dir / "0004-unmarked.patch").read_text().split("\n")
    for c in cases:  # each names the patch line that shows the offending change
        path, line, _rule = c.get("name", "").split(":")
        assert path == "series/minillm/0004-unmarked.patch"
        assert patch[int(line) - 1][:1] in "+ -"
    sarif = json.loads((tmp_path / "s.sarif").read_text())
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator(schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == 3


def test_mark_a_lower_patch_keeps_the_stack(tmp_path: Path) -> None:
    """mark PATCH below the top wraps that patch and leaves the stack top where it was."""
    w = make_workspace(tmp_path)
    _unmarked_patch(w)
    new_cmd.run(w.ws(), "minillm", "later", message="A later patch")
    r = mark_cmd.run(w.ws(), "minillm", patch="0004")
    assert r.patch == "0004-unmarked.patch" and r.file_changed
    series = w.cli("series").output.splitlines()
    assert series[-1] == "> 0005-later.patch"
    # no marker finding left; only the warning that 0005-later.patch has no diff yet
    assert [(f.rule, f.severity, f.file) for f in check_cmd.run(w.ws()).findings] == [
        ("empty-patch", "warning", "series/minillm/0005-later.patch")
    ]
