"""``fspatch patch --device-type D`` writes what FlagScale's own tools consume (issue 14, gap 2).

FlagScale's ``patch.py`` leaves ``hardware/<Device_Type>/<Backend>/diff.patch`` + ``diff.yaml``
relative to the pristine ``backends_commit``; its ``unpatch`` resets the submodule there and
applies every ``*.patch``.  fspatch keeps its layered export in the vendor's layer folder and
writes FlagScale's form beside it (``--out``, default the workspace).  Here FlagScale's own
``apply_patches_from_directory`` (tests/data/flagscale/tools/patch/unpatch.py, run as is) applies
it on a pristine clone of the pin, and must give the checkout's tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fspatch.cli import main_group
from fspatch.core.workspace import Workspace
from fspatch.core.yamlio import parse_yaml
from tests.fsflow import make_flagscale_workspace

TOOLS = Path(__file__).parent / "data" / "flagscale" / "tools" / "patch"
NEW_CU = "csrc/npu_ops.cu"


def cli(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(main_group, ["-C", str(ws.root), *args])


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def flagscale_unpatch(upstream: Path, commit: str, folder: Path, dest: Path) -> dict[str, bytes]:
    """Pristine ``commit``, then FlagScale's own ``apply_patches_from_directory(folder, dest)``."""
    subprocess.run(["git", "clone", "-q", str(upstream), str(dest)], check=True)
    git(dest, "checkout", "-q", commit)
    code = "import sys; sys.path.insert(0, sys.argv[1]); from unpatch import apply_patches_from_directory as a; a(sys.argv[2], sys.argv[3])"
    subprocess.run(
        [sys.executable, "-c", code, str(TOOLS), str(folder), str(dest)],
        check=True,
        capture_output=True,
        cwd=dest.parent,
    )
    return files(dest)


def test_patch_device_type_writes_the_flagscale_form_that_unpatch_applies(tmp_path: Path) -> None:
    pytest.importorskip("git")
    pytest.importorskip("yaml")
    ws = make_flagscale_workspace(tmp_path)
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    checkout = ws.checkout_path("megatron")
    timers = checkout / "megatron/core/timers.py"
    timers.write_text(timers.read_text().replace("    return 5\n", "    return 55\n", 1))
    (checkout / NEW_CU).write_text("__global__ void npu(float* x) {\n    x[0] = 1.0f;\n}\n")
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train")
    assert r.exit_code == 0, r.output
    assert "hardware/Acme_NPU/Megatron-LM (diff)" in r.output and "--format flagscale" in r.output, r.output
    layered = (ws.root / "vendors/acme/megatron/diff.patch").read_text()  # fspatch's own export is kept
    assert "return 3 * 10  # flagscale" not in layered  # relative to upstream + common
    folder = ws.root / "hardware/Acme_NPU/Megatron-LM"
    flagscale = (folder / "diff.patch").read_text()
    assert "return 3 * 10  # flagscale" in flagscale and "+    return 55" in flagscale and NEW_CU in flagscale
    pin = ws.backend("megatron").commit
    meta = parse_yaml((folder / "diff.yaml").read_bytes(), "diff.yaml")
    assert dict(meta["backends_commit"]) == {"Megatron-LM": pin}
    assert meta["commit"] == git(ws.root, "rev-parse", "HEAD").strip() and list(meta["task"]) == ["train"]
    assert not (ws.root / "hardware/patch_history.yaml").exists()  # patch.py leaves it to merge.py
    want = files(checkout)
    assert want["megatron/core/timers.py"].count(b"return 55") == 1 and NEW_CU in want
    got = flagscale_unpatch(tmp_path / "Megatron-LM", pin, folder, tmp_path / "unpatched")
    assert got == want
    # again through the installed entry point, with --out (a FlagScale checkout elsewhere): same bytes
    other = tmp_path / "FlagScale-checkout"
    exe = Path(sys.executable).parent / "fspatch"
    args = ["-C", str(ws.root), "patch", "--device-type", "Acme_NPU", "--task", "train", "--out", str(other)]
    run = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "No file changes detected. Nothing to patch." in run.stdout, run.stdout + run.stderr
    assert files(other / "hardware/Acme_NPU/Megatron-LM") == files(folder)
    before = files(ws.root / "hardware")
    assert cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    assert files(ws.root / "hardware") == before  # byte-stable


def test_patch_with_a_key_does_not_write_a_decrypted_flagscale_form(tmp_path: Path) -> None:
    """--key-path: the layer's export is encrypted; FlagScale's form would be plaintext, so it is not written."""
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ws = make_flagscale_workspace(tmp_path)
    keys = tmp_path / "keys"
    keys.mkdir()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (keys / "public_key.pem").write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert cli(ws, "unpatch", "--device-type", "Acme_NPU", "--task", "train").exit_code == 0
    timers = ws.checkout_path("megatron") / "megatron/core/timers.py"
    timers.write_text(timers.read_text().replace("    return 5\n", "    return 55\n", 1))
    r = cli(ws, "patch", "--device-type", "Acme_NPU", "--task", "train", "--key-path", str(keys))
    assert r.exit_code == 0, r.output
    assert "note: --key-path: FlagScale's form (hardware/<Device_Type>/<Backend>/) is not written" in r.output
    assert not (ws.root / "hardware").exists()
    assert (ws.root / "vendors/acme/megatron/diff.patch.encrypted").is_file()


def test_flagscale_self_backend_once_pinned_takes_patch_backend_flagscale(tmp_path: Path) -> None:
    """Unpinned, ``--backend FlagScale`` is refused with the line that says what to do; after
    ``backend add flagscale --alias FlagScale`` the edit is recorded in its common layer, per file."""
    ws = make_flagscale_workspace(tmp_path)
    r = cli(ws, "patch", "--backend", "FlagScale")
    assert r.exit_code == 2 and "backend add flagscale --url URL --ref REF --alias FlagScale" in r.output, r.output
    host = tmp_path / "FlagScale-host"
    host.mkdir()
    git(host, "init", "-q", "-b", "main")
    (host / "flagscale" / "runner").mkdir(parents=True)
    (host / "flagscale/runner/launch.py").write_text("def launch(cfg):\n    return cfg['nodes']\n")
    git(host, "add", "-A")
    git(host, "-c", "user.name=F", "-c", "user.email=f@example.org", "commit", "-qm", "FlagScale host")
    git(host, "tag", "v1.0")
    r = cli(ws, "backend", "add", "flagscale", "--url", str(host), "--ref", "v1.0", "--alias", "FlagScale")
    assert r.exit_code == 0, r.output
    assert cli(ws, "unpatch", "--backend", "fs").exit_code == 0  # FlagScale's 'fs' spelling
    launch = Workspace.load(ws.root).checkout_path("flagscale") / "flagscale/runner/launch.py"
    launch.write_text(launch.read_text().replace("cfg['nodes']", "cfg.get('nodes', 1)"))
    r = cli(ws, "patch", "--backend", "FlagScale")
    assert r.exit_code == 0, r.output
    assert "common/0001-flagscale-runner-launch.py.patch" in r.output, r.output
    body = (ws.root / "series/flagscale/0001-flagscale-runner-launch.py.patch").read_text()
    assert "+    return cfg.get('nodes', 1)" in body
