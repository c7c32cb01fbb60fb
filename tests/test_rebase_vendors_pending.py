"""A bot rebase-vendors' conflicts are workspace data: a fresh clone of the bot's branch finishes them.

The workspace: an upstream with Python, C++ and CUDA files; a common patch and four vendor
patches (acme) applied on it; then the common patch is edited by hand, so the vendor layer's
old base (the old common-layer top) exists only in the bot's checkout.  The bot runs
``rebase-vendors --no-stop``, commits, and the branch is cloned afresh.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import resolve
from fspatch.core.layers import common_fingerprint
from fspatch.core.workspace import Workspace
from fspatch.core.yamlio import load_yaml
from fspatch.git_adapter import GitRepo
from scripts.example import git
from tests.rebase_helpers import lines, make_repo, make_ws, text

KERNEL = lines(20, "__device__ int k")
OPS = lines(30, "int op")
LAYER = lines(20, "    x")
VENDOR = "vendors/acme/minillm"
PENDING = "series/minillm/pending.yaml"


def _kernel(line10: str) -> bytes:
    return text(KERNEL[:9] + [line10] + KERNEL[10:])


def _workspace(tmp_path: Path, beta: bool = False) -> Workspace:
    """Common 0001-c edits kernel.cu line 10; acme edits ops.cpp, kernel.cu line 10 twice, layer.py.

    ``beta``: a second vendor layer (layer.py), not applied, so its old commits are built on
    the current common layer.
    """
    up = tmp_path / "up"
    make_repo(up, {"csrc/kernel.cu": text(KERNEL), "csrc/ops.cpp": text(OPS), "model/layer.py": text(LAYER)}, [])
    common = {"csrc/kernel.cu": _kernel("__device__ int k 10 = 1;\n")}
    vendor = [
        ("0001-ops.patch", "Acme op", "d", {"csrc/ops.cpp": text(OPS[:14] + ["int op 15 acme;\n"] + OPS[15:])}),
        ("0002-kern.patch", "Acme kernel", "d", {"csrc/kernel.cu": _kernel("__device__ int k 10 = 2;  // acme\n")}),
        ("0003-tune.patch", "Acme tuning", "d", {"csrc/kernel.cu": _kernel("__device__ int k 10 = 4;  // acme tuned\n")}),
        ("0004-py.patch", "Acme layer", "d", {"model/layer.py": text(LAYER[:4] + ["    x 5 = acme()\n"] + LAYER[5:])}),
    ]
    vendors = {"acme": vendor}
    if beta:
        layer = text(LAYER[:14] + ["    x 15 = beta()\n"] + LAYER[15:])
        vendors["beta"] = [("0001-beta.patch", "Beta layer", "d", {"model/layer.py": layer})]
    ws = make_ws(tmp_path, up, "v1", [("0001-c.patch", "Common kernel", "d", common)], apply=False,
                 vendors=vendors)
    assert _run(ws.root, "apply", "minillm", "--vendor", "acme")[0] == 0
    # The common layer changes: line 10 differently, and two lines at the top of ops.cpp (shifts acme's hunk).
    patch = ws.root / "series/minillm/0001-c.patch"
    body = patch.read_text().replace("+__device__ int k 10 = 1;", "+__device__ int k 10 = 3;")
    ops = (
        "diff --git a/csrc/ops.cpp b/csrc/ops.cpp\n--- a/csrc/ops.cpp\n+++ b/csrc/ops.cpp\n"
        "@@ -1,3 +1,5 @@\n+// common 1\n+// common 2\n int op 1\n int op 2\n int op 3\n"
    )
    patch.write_text(body + ops)
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace: common kernel edited")
    return ws


def _run(root: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main_group, ["-C", str(root), *args])
    return res.exit_code, res.output


def _bot_branch(tmp_path: Path, beta: bool = False) -> tuple[Path, Path]:
    """The bot's run (the installed fspatch under CI=true), committed, and a fresh clone of it."""
    ws = _workspace(tmp_path, beta)
    exe = Path(sys.executable).with_name("fspatch")
    env = dict(os.environ, CI="true")
    res = subprocess.run([str(exe), "-C", str(ws.root), "rebase-vendors", "minillm"], env=env,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.startswith(
        "rebase-vendors: bot mode (CI=true): tries every patch; conflicts are recorded as pending"
    ), res.stderr
    assert (ws.root / PENDING).is_file()
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "bot: rebase vendors")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    return ws.root, clone


def _files(root: Path) -> dict[str, bytes]:
    """The workspace files a replay may write (the lock, series, patches, layer.yaml, pending.yaml)."""
    out = {"upstream.lock": (root / "upstream.lock").read_bytes()}
    for d in ("series/minillm", VENDOR, "vendors/beta/minillm"):
        for p in sorted((root / d).iterdir()) if (root / d).is_dir() else ():
            out[f"{d}/{p.name}"] = p.read_bytes()
    return out


def _resolve_markers(path: Path, line: str) -> None:
    body = path.read_text()
    assert "<<<<<<< common layer" in body and "||||||| old common layer" in body, body
    path.write_text(re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n", line, body, flags=re.S))


def test_bot_records_the_vendor_conflict_and_its_cascade(tmp_path: Path) -> None:
    """The bot's pending file: the lock unmoved, clean patches rewritten, the conflict and the blocked one pending."""
    bot, clone = _bot_branch(tmp_path)
    data = load_yaml(clone / PENDING, "pending")
    assert data["operation"] == "rebase-vendors" and data["old"] == data["new"]
    [layer] = data["layers"]
    assert layer["label"] == "vendor/acme" and "old_base" in layer
    assert [(e["name"], e["status"]) for e in layer["series"]] == [
        ("0001-ops.patch", "clean"),
        ("0002-kern.patch", "conflict"),
        ("0003-tune.patch", "conflict"),
        ("0004-py.patch", "clean"),
    ]
    blocked = {o["patch"]: o.get("blocked_by") or None for o in data["outcomes"] if o["status"] == "conflict"}
    assert blocked == {"0002-kern.patch": None, "0003-tune.patch": "0002-kern.patch"}
    assert data["common_fingerprint"] == common_fingerprint(Workspace.load(clone), "minillm")
    # The clean patch was rewritten onto the new common layer (its hunk moved down two lines).
    assert "@@ -14,7 +14,7 @@" in (clone / VENDOR / "0001-ops.patch").read_text()
    assert "@@ -12,7 +12,7 @@" in git(bot, "show", f"HEAD~1:{VENDOR}/0001-ops.patch")
    assert git(bot, "diff", "HEAD~1", "--stat", "--", "upstream.lock").strip() == ""


def test_fresh_clone_status_check_apply_edit_continue(tmp_path: Path) -> None:
    """status names both pending vendor patches; check fails; apply, edit, continue twice; ordinary again."""
    _bot, root = _bot_branch(tmp_path)
    bot_files = _files(root)
    code, out = _run(root, "status")
    assert code == 0 and "2 patches pending from a bot rebase-vendors onto the common layer on v1" in out, out
    assert "pending  vendor/acme/0002-kern.patch" in out and "pending  vendor/acme/0003-tune.patch" in out
    assert "fspatch apply minillm" in out
    code, out = _run(root, "check")
    assert code == 1 and out.count("pending-patch") == 2 and f"{VENDOR}/0003-tune.patch" in out, out
    code, out = _run(root, "apply", "minillm")
    assert code == 1, out
    kernel = root / "third_party/minillm/csrc/kernel.cu"
    assert ">>>>>>> patch 0002-kern.patch" in kernel.read_text()
    assert "// common 1" in (root / "third_party/minillm/csrc/ops.cpp").read_text()  # the new common layer
    _resolve_markers(kernel, "__device__ int k 10 = 3;  // acme\n")
    r = resolve.run_continue(Workspace.load(root))
    assert r.stopped and ">>>>>>> patch 0003-tune.patch" in kernel.read_text()
    _resolve_markers(kernel, "__device__ int k 10 = 3;  // acme tuned\n")
    r = resolve.run_continue(Workspace.load(root))
    assert r.report.finished and not r.stopped
    assert not (root / PENDING).exists()
    assert "+__device__ int k 10 = 3;  // acme\n" in (root / VENDOR / "0002-kern.patch").read_text()
    assert "+__device__ int k 10 = 3;  // acme tuned\n" in (root / VENDOR / "0003-tune.patch").read_text()
    # Nothing the bot did is lost: its rewritten clean patches stand byte for byte.
    for name in ("0001-ops.patch", "0004-py.patch"):
        assert (root / VENDOR / name).read_bytes() == bot_files[f"{VENDOR}/{name}"]
    assert (root / "upstream.lock").read_bytes() == bot_files["upstream.lock"]
    meta = load_yaml(root / VENDOR / "layer.yaml", "layer")
    assert meta["base"]["common_fingerprint"] == common_fingerprint(Workspace.load(root), "minillm")
    code, out = _run(root, "status")
    assert "pending" not in out, out
    assert "k 10 = 3;  // acme tuned" in kernel.read_text()  # the vendor layer stays checked out
    assert GitRepo.open(root / "third_party/minillm").dirty_paths() == []
    code, out = _run(root, "check")
    assert "pending-patch" not in out and "does-not-apply" not in out, out


def test_fresh_clone_skip_drops_both(tmp_path: Path) -> None:
    """skip at each pending patch drops it from the vendor series; the bot's clean patches stay."""
    _bot, root = _bot_branch(tmp_path)
    bot_files = _files(root)
    assert _run(root, "apply", "minillm")[0] == 1
    r = resolve.run_skip(Workspace.load(root))
    assert r.stopped  # 0003 conflicts on its own once 0002 is gone (its old base had 0002's line)
    r = resolve.run_skip(Workspace.load(root))
    assert r.report.finished and not r.stopped
    assert (root / VENDOR / "series").read_text().split() == ["0001-ops.patch", "0004-py.patch"]
    assert not (root / VENDOR / "0002-kern.patch").exists() and not (root / PENDING).exists()
    assert (root / VENDOR / "0001-ops.patch").read_bytes() == bot_files[f"{VENDOR}/0001-ops.patch"]
    assert "x 5 = acme()" in (root / "third_party/minillm/model/layer.py").read_text()
    assert "pending-patch" not in _run(root, "check")[1]


def test_fresh_clone_abort_returns_to_the_bot_state(tmp_path: Path) -> None:
    """abort after entering puts every bot file back, pending.yaml included; it can be entered again."""
    _bot, root = _bot_branch(tmp_path)
    before = _files(root)
    assert _run(root, "apply", "minillm")[0] == 1
    resolve.run_abort(Workspace.load(root))
    assert _files(root) == before
    assert git(root, "status", "--porcelain").strip() == ""
    shutil.rmtree(root / "third_party/minillm")
    assert _run(root, "apply", "minillm")[0] == 1


def test_a_second_vendor_layer_on_the_current_common_layer_is_kept(tmp_path: Path) -> None:
    """beta (not applied, built on the current common layer) needs no old base; it stays as the bot left it."""
    _bot, root = _bot_branch(tmp_path, beta=True)
    data = load_yaml(root / PENDING, "pending")
    assert [(la["label"], "old_base" in la) for la in data["layers"]] == [("vendor/acme", True), ("vendor/beta", False)]
    bot_files = _files(root)
    assert _run(root, "apply", "minillm")[0] == 1
    assert resolve.run_skip(Workspace.load(root)).stopped
    r = resolve.run_skip(Workspace.load(root))
    assert r.report.finished and not (root / PENDING).exists()
    beta = "vendors/beta/minillm/0001-beta.patch"
    assert (root / beta).read_bytes() == bot_files[beta]
    assert [p.status for p in r.report.patches if p.layer == "vendor/beta"] == ["clean"]


def test_check_fails_in_json_while_pending(tmp_path: Path) -> None:
    """check --format json lists both pending vendor patches as errors and exits 1."""
    _bot, root = _bot_branch(tmp_path)
    res = CliRunner().invoke(main_group, ["-C", str(root), "check", "--format", "json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    found = sorted(f["file"] for f in doc["findings"] if f["rule"] == "pending-patch")
    assert found == [f"{VENDOR}/0002-kern.patch", f"{VENDOR}/0003-tune.patch"], doc


def test_a_changed_common_layer_is_refused_before_resuming(tmp_path: Path) -> None:
    """The bot's vendor patches were rebased onto one common layer; a changed one is refused, nothing moves."""
    _bot, root = _bot_branch(tmp_path)
    patch = root / "series/minillm/0001-c.patch"
    patch.write_text(patch.read_text().replace("+// common 2\n", "+// common 2b\n"))
    before = _files(root)
    code, out = _run(root, "apply", "minillm")
    assert code == 2 and "the common layer changed since the bot's rebase-vendors" in out, out
    assert PENDING in out and _files(root) == before


def test_pending_pull_upstream_and_rebase_vendors_do_not_mix(tmp_path: Path) -> None:
    """While one bot replay is pending the other verb refuses with one line naming it; nothing changes."""
    _bot, root = _bot_branch(tmp_path)
    before = _files(root)
    assert _run(root, "apply", "minillm")[0] == 1
    resolve.run_abort(Workspace.load(root))
    for args in (["pull-upstream", "minillm", "v1", "--no-stop"], ["rebase-vendors", "minillm", "--no-stop"]):
        code, out = _run(root, *args)
        assert code == 2, out
        assert "2 patch(es) of 'minillm' are pending from a bot rebase-vendors" in out, out
        assert "'fspatch apply minillm'" in out
        assert _files(root) == before
    # And the other way round: once finished, a pull-upstream left pending refuses rebase-vendors.
    assert _run(root, "apply", "minillm")[0] == 1
    resolve.run_skip(Workspace.load(root))
    assert resolve.run_skip(Workspace.load(root)).report.finished
    up = Path(Workspace.load(root).backend("minillm").url)
    (up / "csrc/kernel.cu").write_bytes(_kernel("__device__ int k 10 = 9;  // upstream\n"))
    git(up, "commit", "-qam", "Upstream kernel")
    git(up, "tag", "v2")
    code, out = _run(root, "pull-upstream", "minillm", "v2", "--no-stop")
    assert code == 1 and load_yaml(root / PENDING, "pending")["operation"] == "pull-upstream", out
    after_pull = _files(root)
    code, out = _run(root, "rebase-vendors", "minillm", "--no-stop")
    assert code == 2 and "pending from a bot pull-upstream" in out, out
    assert _files(root) == after_pull
    code, out = _run(root, "status")
    assert "pending from a bot replay v1" in out and "-> v2" in out, out
