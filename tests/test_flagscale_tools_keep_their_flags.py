"""FlagScale's tools/patch/{unpatch,patch,merge}.py flags, with their meanings, on fspatch (issue 14 item 7).

Each FlagScale flag (FlagScale da4935ec6) is exercised through the real CLI (CliRunner) on a
FlagScale-shaped workspace (tests/fsflow.py: per-file common layers, vendor acme = Acme_NPU), and
the shim scripts are run unchanged as ``python tools/patch/<tool>.py`` in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fspatch.cli import main_group
from fspatch.core.workspace import Workspace
from tests.fsflow import UPSTREAM, make_flagscale_workspace
from tests.wsutil import snapshot

PATCH_0002 = "series/megatron/0002-megatron-core-timers.py.patch"
PATCH_0003 = "series/megatron/0003-tools-preprocess_data.py.patch"
VENDOR_0001 = "vendors/acme/megatron/0001-megatron-core-timers.py.patch"


def cli(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(main_group, ["-C", str(ws.root), *args])


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_flagscale_workspace(tmp_path)


def timers(ws: Workspace) -> Path:
    return ws.checkout_path("megatron") / "megatron/core/timers.py"


# -- backend names -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["megatron", "Megatron-LM", "MEGATRON-LM"])
def test_backend_spellings_are_normalised_as_flagscale_does(ws: Workspace, spelling: str) -> None:
    r = cli(ws, "unpatch", "--backend", spelling)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("fspatch apply megatron --force: checked out ")


def test_default_backend_is_megatron_and_unknown_ones_are_refused(ws: Workspace) -> None:
    """No --backend means Megatron-LM (FlagScale's default); an unknown name is one line, exit 2."""
    assert cli(ws, "unpatch").output.startswith("fspatch apply megatron")
    r = cli(ws, "unpatch", "--backend", "Megatron-LM", "bogus")
    assert r.exit_code == 2
    assert "error: --backend bogus: unsupported backend" in r.output and "known: megatron" in r.output
    r = cli(ws, "patch", "--backend", "FlagScale")
    assert r.exit_code == 2 and "FlagScale's self-backend (patches to the host repository itself)" in r.output
    assert "'fspatch backend add flagscale --url URL --ref REF --alias FlagScale'" in r.output
    r = cli(ws, "unpatch", "--backend", "megatron", "--bogus")
    assert r.exit_code == 2 and "unrecognized arguments: --bogus" in r.output
    r = cli(ws, "unpatch", "--task", "pretrain", "--device-type", "Acme_NPU")
    assert r.exit_code == 2 and "invalid choice: 'pretrain'" in r.output


def test_several_backends_and_tasks_in_one_call(tmp_path: Path) -> None:
    """--backend Megatron-LM vllm --task train inference: each backend gets the vendor layer with
    the first task its layer declares."""
    w = make_flagscale_workspace(tmp_path, vllm=True)
    r = cli(w, "unpatch", "--backend", "Megatron-LM", "vllm", "--device-type", "Acme_NPU", "--task", "train", "inference")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("fspatch apply megatron --vendor acme --task train --force: checked out")
    assert lines[1].startswith("fspatch apply vllm --vendor acme --task inference --force: checked out")
    assert "# npu" in timers(w).read_text()
    assert "1.0f" in (w.checkout_path("vllm") / "csrc/attention.cu").read_text()
    r = cli(w, "unpatch", "--backend", "vllm", "--device-type", "Acme_NPU", "--task", "train")
    assert r.exit_code == 2 and "vendor 'acme' declares no task 'train' for vllm (declared: inference)" in r.output


# -- unpatch flags -------------------------------------------------------------------------


def test_unpatch_commit_applies_the_layers_as_of_that_workspace_commit(ws: Workspace) -> None:
    first = git(ws.root, "rev-parse", "HEAD").strip()
    assert cli(ws, "unpatch").exit_code == 0
    edit(timers(ws), "    return 5\n", "    return 55\n")
    assert cli(ws, "patch").exit_code == 0
    git(ws.root, "commit", "-qam", "timers: 55")
    r = cli(ws, "unpatch", "--commit", first[:10])
    assert r.exit_code == 0, r.output
    assert f"--at {first[:12]}" in r.output
    assert "return 55" not in timers(ws).read_text()
    r = cli(ws, "unpatch", "--commit", "feedface")
    assert r.exit_code == 2 and "--commit feedface: no such commit in the workspace repository" in r.output


def test_unpatch_without_commit_takes_flagscales_newest_history_commit(ws: Workspace) -> None:
    """With --device-type and --task and no --commit, FlagScale unpatches at the newest commit
    patch_history.yaml lists for them; so does fspatch (after 'merge' recorded it)."""
    first = git(ws.root, "rev-parse", "HEAD").strip()
    assert cli(ws, "merge", "--backend", "Megatron-LM", "--device-type", "Acme_NPU", "--task", "train", "--commit", first).exit_code == 0
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "history")
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    edit(timers(ws), "    return 9  # npu\n", "    return 9  # npu, tuned\n")
    assert cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "tuned")
    r = cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train")
    assert r.exit_code == 0, r.output
    assert f"note: --commit not given: vendors/patch_history.yaml names {first[:12]}" in r.output
    assert "tuned" not in timers(ws).read_text()


def test_no_force_refuses_a_moved_head_and_force_rebuilds(ws: Workspace) -> None:
    co = ws.checkout_path("megatron")
    assert cli(ws, "unpatch").exit_code == 0
    (co / "scratch.txt").write_text("mine\n")
    git(co, "add", "scratch.txt")
    git(co, "commit", "-qm", "a commit on top of the stack")
    r = cli(ws, "unpatch", "--no-force")
    assert r.exit_code == 2 and "is not the top of the fspatch stack" in r.output
    r = cli(ws, "unpatch")
    assert r.exit_code == 0, r.output
    assert "note: force (FlagScale's default)" in r.output


def test_force_never_overwrites_local_edits(ws: Workspace) -> None:
    """FlagScale's force restores the submodule 'regardless of any modifications'; fspatch refuses."""
    assert cli(ws, "unpatch").exit_code == 0
    edit(timers(ws), "    return 5\n", "    return 55\n")
    r = cli(ws, "unpatch", "--device-type", "Acme_NPU")
    assert r.exit_code == 2
    assert "return 55" in timers(ws).read_text()


def test_no_init_submodule_never_clones_and_the_default_does(ws: Workspace) -> None:
    shutil.rmtree(ws.checkout_path("megatron"))
    r = cli(ws, "unpatch", "--no-init-submodule")
    assert r.exit_code == 2
    assert r.output.strip() == "error: --no-init-submodule: backend 'megatron' has no checkout at third_party/megatron"
    r = cli(ws, "unpatch")
    assert r.exit_code == 0, r.output
    assert "note: third_party/megatron: cloned at the pin" in r.output
    assert "3 * 10" in timers(ws).read_text()


def test_no_fs_extension_checks_out_the_pristine_pin(ws: Workspace) -> None:
    assert cli(ws, "unpatch").exit_code == 0
    r = cli(ws, "unpatch", "--no-fs-extension")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("fspatch pop -a -b megatron: pristine upstream")
    files = {k: v for k, v in snapshot(ws.checkout_path("megatron")).items()}
    assert files == {k: v for k, v in UPSTREAM.items() if v is not None}


def test_backend_commit_must_be_the_pin(ws: Workspace) -> None:
    pin = ws.backend("megatron").commit
    r = cli(ws, "unpatch", "--backend", "Megatron-LM", "--backend-commit", pin[:8])
    assert r.exit_code == 0, r.output
    r = cli(ws, "unpatch", "--backend", "Megatron-LM", "--backend-commit", "1234567")
    assert r.exit_code == 2
    assert f"--backend-commit 1234567: megatron is pinned at {pin[:12]}" in r.output
    assert "fspatch pull-upstream -b megatron 1234567" in r.output
    r = cli(ws, "unpatch", "--backend", "Megatron-LM", "--backend-commit", pin, pin)
    assert r.exit_code == 2 and "2 commits for 1 backends" in r.output


def _keys(folder: Path) -> Path:
    folder.mkdir()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (folder / "private_key.pem").write_bytes(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (folder / "public_key.pem").write_bytes(pub)
    return folder


def test_key_path_names_flagscales_key_files(ws: Workspace, tmp_path: Path) -> None:
    """--key-path DIR: unpatch reads DIR/private_key.pem; patch encrypts the export to DIR/public_key.pem."""
    empty = tmp_path / "nokeys"
    empty.mkdir()
    r = cli(ws, "unpatch", "--key-path", str(empty))
    assert r.exit_code == 2 and f"--key-path {empty}: no private_key.pem there" in r.output
    keys = _keys(tmp_path / "keys")
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train", "--key-path", str(keys)).exit_code == 0
    edit(timers(ws), "    return 9  # npu\n", "    return 9  # npu, tuned\n")
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train", "--key-path", str(keys))
    assert r.exit_code == 0, r.output
    assert "vendors/acme/megatron/diff.patch.encrypted" in r.output
    blob = (ws.root / "vendors/acme/megatron/diff.patch.encrypted").read_bytes()
    assert b"npu, tuned" not in blob


# -- patch --------------------------------------------------------------------------------


def test_patch_records_an_edit_into_its_files_patch_not_the_top_patch(ws: Workspace) -> None:
    """The issue's case: an edit to timers.py lands in 0002-megatron-core-timers.py.patch, not in
    the top patch 0003-tools-preprocess_data.py.patch; a new file gets a new patch after it."""
    assert cli(ws, "unpatch", "--backend", "Megatron-LM").exit_code == 0
    edit(timers(ws), "    return 5\n", "    return 55\n")  # a line no patch changed
    edit(timers(ws), "return 3 * 10  # flagscale", "return 3 * 100  # flagscale")  # 0002's own line
    (timers(ws).parent / "new_op.py").write_text("def new_op():\n    return 1\n")
    top = (ws.root / PATCH_0003).read_bytes()
    r = cli(ws, "patch", "--backend", "Megatron-LM")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "fspatch absorb -b megatron --layer common: 3 hunks into common/0002-megatron-core-timers.py.patch, "
        "common/0004-megatron-core-new_op.py.patch"
    ]
    text = (ws.root / PATCH_0002).read_text()
    assert "+    return 55" in text and "+    return 3 * 100  # flagscale" in text
    assert (ws.root / PATCH_0003).read_bytes() == top
    assert "+def new_op():" in (ws.root / "series/megatron/0004-megatron-core-new_op.py.patch").read_text()
    assert git(ws.checkout_path("megatron"), "status", "--porcelain") == ""
    r = cli(ws, "patch", "--backend", "Megatron-LM")
    assert r.output.strip() == "fspatch absorb -b megatron --layer common: No file changes detected. Nothing to patch."


def test_patch_without_device_type_records_into_the_common_layer_under_a_vendor(ws: Workspace) -> None:
    """With the vendor layer applied, no --device-type means the common layer (not the vendor's)."""
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    vendor_before = (ws.root / VENDOR_0001).read_bytes()
    edit(timers(ws), "    return 5\n", "    return 55\n")
    r = cli(ws, "patch", "--backend", "Megatron-LM")
    assert r.exit_code == 0, r.output
    assert "+    return 55" in (ws.root / PATCH_0002).read_text()
    assert (ws.root / VENDOR_0001).read_bytes() == vendor_before
    assert "return 55" in timers(ws).read_text() and "# npu" in timers(ws).read_text()
    edit(timers(ws), "    return 9  # npu\n", "    return 9  # npu, tuned\n")  # a vendor patch's line
    before = snapshot(ws.root)
    r = cli(ws, "patch", "--backend", "Megatron-LM")
    assert r.exit_code == 2
    assert "the lines belong to vendor/acme/0001-megatron-core-timers.py.patch, above layer common" in r.output
    assert r.output.rstrip().endswith("FlagScale's way: patch --device-type Acme_NPU")
    assert snapshot(ws.root) == before


def test_patch_with_device_type_records_into_the_vendor_layer_and_exports(ws: Workspace) -> None:
    """--device-type --task --commit: the vendor's file patch, then diff.patch + diff.yaml with
    FlagScale's commit (an ancestor of HEAD) as diff.yaml's commit."""
    base = git(ws.root, "rev-parse", "HEAD").strip()
    git(ws.root, "commit", "-q", "--allow-empty", "-m", "later")
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    edit(timers(ws), "    return 5\n", "    return 55\n")
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train", "--commit", base[:9])
    assert r.exit_code == 0, r.output
    assert "+    return 55" in (ws.root / VENDOR_0001).read_text()
    assert "return 55" not in (ws.root / PATCH_0002).read_text()
    assert f"commit: {base}" in (ws.root / "vendors/acme/megatron/diff.yaml").read_text()
    assert "+    return 55" in (ws.root / "vendors/acme/megatron/diff.patch").read_text()
    other = git(ws.root, "commit-tree", "-m", "unrelated", git(ws.root, "rev-parse", "HEAD^{tree}").strip()).strip()
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--commit", other)
    assert r.exit_code == 2 and "is not the workspace HEAD or one of its ancestors" in r.output
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "inference")
    assert r.exit_code == 2 and "declares no task 'inference'" in r.output


# -- merge --------------------------------------------------------------------------------


def test_merge_appends_to_patch_history_as_flagscale_does(tmp_path: Path) -> None:
    """device → task → sorted 'A+B' key and each backend alone → commits, never twice."""
    w = make_flagscale_workspace(tmp_path, vllm=True)
    c1 = git(w.root, "rev-parse", "HEAD").strip()
    r = cli(w, "merge", "--backend", "vllm", "Megatron-LM", "--device-type", "Acme_NPU", "--task", "train", "inference", "--commit", c1)
    assert r.exit_code == 0, r.output
    assert "Patch history updated in vendors/patch_history.yaml." in r.output
    c2 = git(w.root, "commit-tree", "-p", c1, "-m", "next", git(w.root, "rev-parse", "HEAD^{tree}").strip()).strip()
    git(w.root, "update-ref", "HEAD", c2)
    assert cli(w, "merge", "--backend", "megatron", "--device-type", "Acme_NPU", "--task", "train", "--commit", c2).exit_code == 0
    assert cli(w, "merge", "--backend", "megatron", "--device-type", "Acme_NPU", "--task", "train", "--commit", c2).exit_code == 0
    assert (w.root / "vendors/patch_history.yaml").read_text() == (
        "Acme_NPU:\n"
        "  train:\n"
        f"    Megatron-LM+vllm:\n    - {c1}\n"
        f"    vllm:\n    - {c1}\n"
        f"    Megatron-LM:\n    - {c1}\n    - {c2}\n"
        "  inference:\n"
        f"    Megatron-LM+vllm:\n    - {c1}\n"
        f"    vllm:\n    - {c1}\n"
        f"    Megatron-LM:\n    - {c1}\n"
    )
    r = cli(w, "merge", "--backend", "megatron", "--task", "train", "--commit", c2)
    assert r.exit_code == 2 and "the following arguments are required: --device-type" in r.output


# -- the shim scripts, run unchanged --------------------------------------------------------


def _python(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSPATCH_")}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=script.parent)


def test_tools_patch_shims_run_as_flagscales_scripts(ws: Workspace) -> None:
    """'fspatch compat install' writes tools/patch/{patch,unpatch,merge}.py; called as FlagScale
    calls them, they do what fspatch's verbs do (exit codes included)."""
    tools = ws.root / "tools" / "patch"
    tools.mkdir(parents=True)
    (tools / "patch.py").write_text("# FlagScale's own script\n")
    r = cli(ws, "compat", "install", str(ws.root))
    assert r.exit_code == 2 and "tools/patch/patch.py: exists with other content" in r.output
    r = cli(ws, "compat", "install", str(ws.root), "--force")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["wrote tools/patch/patch.py", "wrote tools/patch/unpatch.py", "wrote tools/patch/merge.py"]
    assert cli(ws, "compat", "install", str(ws.root)).output.count("unchanged") == 3
    p = _python(tools / "unpatch.py", "--backend", "Megatron-LM", "--device-type", "Acme_NPU", "--task", "train")
    assert p.returncode == 0, p.stderr
    assert "fspatch apply megatron --vendor acme --task train --force" in p.stdout
    edit(timers(ws), "    return 5\n", "    return 55\n")
    p = _python(tools / "patch.py", "--backend", "megatron")
    assert p.returncode == 0, p.stderr
    assert "+    return 55" in (ws.root / PATCH_0002).read_text()
    head = git(ws.root, "rev-parse", "HEAD").strip()
    p = _python(tools / "merge.py", "--backend", "Megatron-LM", "--device-type", "Acme_NPU", "--task", "train", "--commit", head)
    assert p.returncode == 0, p.stderr
    assert head in (ws.root / "vendors/patch_history.yaml").read_text()
    p = _python(tools / "unpatch.py", "--backend", "nonesuch")
    assert p.returncode == 2
    assert p.stderr.startswith("error: --backend nonesuch: unsupported backend") and p.stderr.count("\n") == 1
