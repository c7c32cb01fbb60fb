"""The command line: exit codes by error class, one clear line, JSON output, the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from tests.wsutil import make_workspace


def test_help_reads_like_git(tmp_path: Path) -> None:
    """Every verb has --help with a one-line summary and usage."""
    r = CliRunner().invoke(main_group, ["--help"])
    assert r.exit_code == 0
    for verb in [
        "init",
        "backend",
        "apply",
        "status",
        "series",
        "new",
        "refresh",
        "push",
        "pop",
        "goto",
        "delete",
        "rename",
        "diff",
    ]:
        assert f"  {verb} " in r.output
        sub = CliRunner().invoke(main_group, [verb, "--help"])
        assert sub.exit_code == 0 and sub.output.startswith("Usage: ")


def test_status_and_series_json(tmp_path: Path) -> None:
    """--format json gives machine-readable state that matches the stack."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm", "--upto", "0002").exit_code == 0
    st = json.loads(w.cli("status", "--format", "json").output)
    layer = st["backends"][0]["layers"][0]
    assert (layer["applied"], layer["total"], layer["top"]) == (2, 3, "0002-rmsnorm-block-size.patch")
    se = json.loads(w.cli("series", "--format", "json").output)
    assert [(p["name"], p["applied"], p["top"]) for p in se["patches"]] == [
        ("0001-enable-flag-gems.patch", True, False),
        ("0002-rmsnorm-block-size.patch", True, True),
        ("0003-device-selection.patch", False, False),
    ]


def test_exit_codes_by_error_class(tmp_path: Path) -> None:
    """0 ok, 1 conflict, 2 usage/input error; one 'error:' line, never a traceback."""
    w = make_workspace(tmp_path)
    r = w.cli("apply", "nosuch")
    assert r.exit_code == 2 and r.output.strip() == "error: unknown backend 'nosuch' (known: minillm)"
    bad = w.series_dir / "0003-device-selection.patch"
    good = bad.read_bytes()
    bad.write_bytes(good.replace(b"@@ -5,6 +5,11 @@", b"@@ -5,6 +5,12 @@"))
    r = w.cli("apply", "minillm")
    assert r.exit_code == 2 and "series/minillm/0003-device-selection.patch:" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    bad.write_bytes(good.replace(b"         self.hidden = hidden\n", b"         self.hidden = hiddenX\n"))
    r = w.cli("apply", "minillm")
    assert r.exit_code == 1 and "does not apply" in r.output
    bad.write_bytes(good)
    assert w.cli("apply", "minillm").exit_code == 0
    r = w.cli("push")
    assert r.exit_code == 2 and "all patches" in r.output
    lock = w.root / "upstream.lock"
    lock.write_text(lock.read_text().replace("commit: ", "commit: zz"))
    r = w.cli("status")
    assert r.exit_code == 2 and r.output.startswith("error: upstream.lock:")


def test_outside_a_workspace_is_a_clear_error(tmp_path: Path) -> None:
    """No upstream.lock anywhere up the tree: exit 2 and a hint to run init."""
    r = CliRunner().invoke(main_group, ["-C", str(tmp_path), "status"])
    assert r.exit_code == 2 and "fspatch init" in r.output


def _fspatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "fspatch"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "fspatch"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy())


def test_installed_script_walks_apply_edit_refresh(tmp_path: Path) -> None:
    """The installed `fspatch` runs the main job end to end as a user would."""
    w = make_workspace(tmp_path)
    assert _fspatch("apply", "minillm", cwd=w.root).returncode == 0
    r = _fspatch("new", "log-batch", "-m", "Log the batch size", cwd=w.root / "third_party" / "minillm")
    assert r.returncode == 0, r.stderr
    runner = w.checkout / "minillm/model_runner.py"
    runner.write_text(
        runner.read_text().replace(
            "        hidden = self.norm(batch)\n",
            "        hidden = self.norm(batch)\n        # --- FLAGSCALE MODIFICATION BEG ---\n        print(len(batch))\n"
            "        # --- FLAGSCALE MODIFICATION END ---\n",
        )
    )
    r = _fspatch("refresh", cwd=w.root)
    assert r.returncode == 0 and "Refreshed series/minillm/0004-log-batch.patch" in r.stdout
    r = _fspatch("series", cwd=w.root)
    assert r.stdout.splitlines()[-1] == "> 0004-log-batch.patch"
    r = _fspatch("pop", "-a", cwd=w.root)
    assert r.returncode == 0
    r = _fspatch("apply", "nosuch", cwd=w.root)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [["rename", "0003", "device"], ["delete", "0002"]])
def test_rename_and_delete_keep_series_consistent(tmp_path: Path, args: list[str]) -> None:
    """rename/delete change the series and files together, and the stack still builds."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    if args[0] == "delete":
        r = w.cli(*args)
        assert r.exit_code == 2 and "pop down to it first" in r.output
        assert w.cli("pop", "0001").exit_code == 0
    r = w.cli(*args)
    assert r.exit_code == 0, r.output
    names = (w.series_dir / "series").read_text().split()
    assert all((w.series_dir / n).exists() for n in names)
    assert w.cli("apply", "minillm").exit_code == 0


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    """Bad flags, values or commands: one 'error:' line pointing at --help, exit 2."""
    w = make_workspace(tmp_path)
    for args in (["apply", "minillm", "--task", "fly"], ["nosuch"], ["vendor", "add"]):
        r = subprocess.run([sys.executable, "-m", "fspatch", "-C", str(w.root), *args], capture_output=True, text=True)
        assert r.returncode == 2, args
        assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "--help" in r.stderr


def test_backend_add_from_a_file_url_and_reusing_a_checkout(tmp_path: Path, upstream: Path) -> None:
    """backend add clones from a file:// URL and pins the tag's full commit; a second workspace reuses a checkout."""
    from scripts.example import git

    ws = tmp_path / "ws"
    assert CliRunner().invoke(main_group, ["init", str(ws)]).exit_code == 0
    r = CliRunner().invoke(main_group, ["-C", str(ws), "backend", "add", "minillm", "--url", f"file://{upstream}", "--ref", "v1.1"])
    assert r.exit_code == 0, r.output
    want = git(upstream, "rev-parse", "v1.1^{commit}").strip()
    assert f"commit: {want}" in (ws / "upstream.lock").read_text()
    assert git(ws / "third_party/minillm", "rev-parse", "HEAD").strip() == want
    other = tmp_path / "other"
    assert CliRunner().invoke(main_group, ["init", str(other)]).exit_code == 0
    git(tmp_path, "clone", "-q", str(upstream), str(other / "vendor/minillm"))
    r = CliRunner().invoke(main_group, ["-C", str(other), "backend", "add", "Minillm", "--url", str(upstream), "--ref", "v1.0", "--path", "vendor/minillm"])
    assert r.exit_code == 0 and "reusing vendor/minillm" in r.output
    r = CliRunner().invoke(main_group, ["-C", str(other), "backend", "add", "x", "--url", "ext::sh -c evil", "--ref", "v1.0"])
    assert r.exit_code == 2 and "command transport" in r.output
