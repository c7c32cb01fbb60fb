"""``check --junit/--sarif`` on a committed workspace: one failed case per finding, SARIF in tracked files.

A CI server shows JUnit cases as tests and SARIF results as annotations on the files of the pushed
commit, so every finding must be its own failed case, and every SARIF location must be a file git
tracks in the workspace (a patch file, the lock), never the git-ignored checkout; the line is the
patch file's line, at least 1 (an orphan patch file is reported at its first line, not ``:0``).
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.gitutil import git
from tests.wsutil import WS, make_workspace


def _broken_committed_workspace(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    assert w.cli("new", "unmarked", "-m", "Two unmarked lines").exit_code == 0
    with (w.checkout / "minillm" / "model_runner.py").open("a") as f:
        f.write("DEBUG = True\n")
    with (w.checkout / "minillm" / "layers" / "norm.py").open("a") as f:
        f.write("TRACE = False\n")
    assert w.cli("refresh").exit_code == 0
    shutil.copy(w.series_dir / "0001-enable-flag-gems.patch", w.series_dir / "0009-stray.patch")
    git(w.root, "init", "-q", "-b", "main")
    git(w.root, "add", "-A")
    git(w.root, "commit", "-q", "-m", "workspace")
    return w


def test_each_finding_is_a_failed_case_and_every_sarif_location_is_tracked(tmp_path: Path) -> None:
    w = _broken_committed_workspace(tmp_path)
    junit, sarif = tmp_path / "out" / "j.xml", tmp_path / "out" / "s.sarif"
    (tmp_path / "out").mkdir()
    r = w.cli("check", "--format", "json", "--junit", str(junit), "--sarif", str(sarif))
    assert r.exit_code == 1, r.output
    findings = json.loads(r.output)["findings"]
    assert sorted(f["rule"] for f in findings) == ["series-orphan-file", "unmarked-change", "unmarked-change"]

    failed = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert len(failed) == len(findings)
    assert sorted(c.get("name") or "" for c in failed) == sorted(
        f"{f['location']['path']}:{f['location']['line']}: {f['rule']}" for f in findings
    )

    tracked = set(git(w.root, "ls-files").decode().split())
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert len(results) == len(findings)
    for res in results:
        for loc in res["locations"]:
            where = loc["physicalLocation"]
            assert where["artifactLocation"]["uri"] in tracked, where
            assert not where["artifactLocation"]["uri"].startswith("third_party/")
            assert where["region"]["startLine"] >= 1
    first = sorted(
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    )
    assert first == sorted((f["location"]["path"], f["location"]["line"]) for f in findings)
    assert {uri for uri, _ in first} == {"series/minillm/0004-unmarked.patch", "series/minillm/0009-stray.patch"}


def test_check_help_says_what_the_reports_hold() -> None:
    from click.testing import CliRunner

    from fspatch.cli import main_group

    out = " ".join(CliRunner().invoke(main_group, ["check", "--help"]).output.split())
    assert "one failed test case per finding" in out
    assert "locations in the workspace's patch and lock files" in out
