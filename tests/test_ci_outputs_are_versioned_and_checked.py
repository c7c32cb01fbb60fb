"""CI outputs (issue 16, item 10): one versioned JSON envelope, unwritable output paths are input
errors (exit 2), and ``skip`` says what it removes.  Real workspaces, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.wsutil import WS, make_workspace


@pytest.fixture
def w(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    return w


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["backend", "list"], "backend-list"),
        (["status"], "status"),
        (["check"], "check"),
        (["review", "minillm"], "review"),
        (["blame", "minillm", "minillm/model_runner.py"], "blame"),
        (["matrix"], "matrix"),
    ],
)
def test_every_json_output_is_in_the_versioned_envelope(w: WS, args: list[str], kind: str) -> None:
    """--format json: an object whose 'format' is fspatch/<kind> and whose 'version' is 1."""
    r = w.cli(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert isinstance(data, dict)
    assert (data["format"], data["version"]) == (f"fspatch/{kind}", 1)


def test_backend_list_is_an_object_with_backends(w: WS) -> None:
    """backend list --format json: the backends under 'backends', not a bare list."""
    data = json.loads(w.cli("backend", "list", "--format", "json").output)
    assert [b["name"] for b in data["backends"]] == ["minillm"]


def test_review_json_leaves_out_the_hunks(w: WS) -> None:
    """review --format json lists each patch's changes without the diff lines."""
    data = json.loads(w.cli("review", "minillm", "--format", "json").output)
    change = data["layers"][0]["patches"][0]["changes"][0]
    assert change["path"] == "minillm/model_runner.py" and "hunks" not in change


@pytest.mark.parametrize("option", ["--junit", "--sarif"])
def test_unwritable_check_report_path_is_an_input_error(w: WS, tmp_path: Path, option: str) -> None:
    """A --junit/--sarif path whose parent is a file: exit 2 and one 'error: cannot write' line."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    r = w.cli("check", option, str(blocker / "report.xml"))
    assert r.exit_code == 2, r.output
    assert f"error: cannot write {option} {blocker / 'report.xml'}" in r.output
    assert "internal error" not in r.output and "Traceback" not in r.output


def test_unwritable_review_html_and_export_out_are_input_errors(w: WS, tmp_path: Path) -> None:
    """review --html and export --out into a path under a regular file: exit 2, not an internal error."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    r = w.cli("review", "minillm", "--html", str(blocker / "page.html"))
    assert r.exit_code == 2 and "error: cannot write --html" in r.output, r.output
    r = w.cli("export", "minillm", "--format", "quilt", "--out", str(blocker / "out"))
    assert r.exit_code == 2 and "error: cannot write below --out" in r.output, r.output
    assert "internal error" not in r.output


def test_skip_says_what_it_removes(w: WS) -> None:
    """skip at a stop names the patch whose series line and file it removes; the file is gone after."""
    r = w.cli("pull-upstream", "minillm", "v1.1", "--stop")
    assert r.exit_code == 1, r.output
    stopped = next(p for p in sorted(w.series_dir.glob("0002-*.patch")))
    r = w.cli("skip")
    assert r.exit_code in (0, 1), r.output
    assert f"skipped common/{stopped.name}: its series line and patch file are removed from the layer" in r.output
    assert not stopped.exists()
    assert stopped.name not in (w.series_dir / "series").read_text()
