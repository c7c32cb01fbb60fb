"""import flagscale: one bad vendor directory does not stop the rest; --strict is all or nothing.

On a generated FlagScale repository (real git upstreams, real patches: the fixture of
tests/test_import_flagscale.py) plus directories cut from FlagScale's own repository
(tests/data/flagscale): a patch that does not apply, a backend the workspace does not pin, the
FlagScale self-backend, an encrypted directory without its key, the real patch_history.yaml.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import apply, check, import_flagscale
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import ConflictError, UsageError
from tests.test_import_flagscale import Gen
from tests.test_vendor_kit import make_workspace, tree_files

DATA = Path(__file__).parent / "data" / "flagscale"

BAD_PATCH = b"""\
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,2 +1,2 @@
-this line is not in minillm's README
+so the hunk cannot apply
 nor is this one
"""

DIRTY_YAML = """\
backends_commit:
  MLLM: {commit}
backends_version:
  FlagScale: main 
  MLLM: v1.0
commit: {fs}
contact: ''
device_type: Broken_Dev
models:
- qwen3 
task:
- train
"""


@dataclasses.dataclass
class Setup:
    ws: Workspace
    gen: Gen


@pytest.fixture
def s(tmp_path: Path) -> Setup:
    ws = make_workspace(tmp_path, common=False)
    b = ws.backends()["minillm"]
    ws.set_backend(dataclasses.replace(b, aliases=("MLLM",)))
    ws.save_lock()
    ws = Workspace.load(ws.root)
    gen = Gen(tmp_path, ws)
    hw = gen.root / "hardware"
    bad = hw / "Broken_Dev" / "MLLM"  # maps to minillm only through the lock's alias
    bad.mkdir(parents=True)
    (bad / "diff.patch").write_bytes(BAD_PATCH)
    (bad / "diff.yaml").write_text(DIRTY_YAML.format(commit=b.commit, fs="cd" * 20))
    shutil.copytree(DATA / "per-file/hardware", hw, dirs_exist_ok=True)  # Megatron-LM (not pinned), FlagScale
    shutil.copy(DATA / "da4935ec6/hardware/patch_history.yaml", hw / "patch_history.yaml")
    return Setup(ws, gen)


def _dirs(r: import_flagscale.ImportResult) -> dict[str, import_flagscale.DirReport]:
    return {d.source: d for d in r.dirs}


def test_a_bad_dir_is_reported_with_patch_file_and_hunk_and_the_rest_imported(s: Setup) -> None:
    """The layer that does not apply is 'failed' naming patch, file and hunk; the good layers are imported."""
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    d = _dirs(r)
    bad = d["hardware/Broken_Dev/MLLM"]
    assert bad.status == "failed" and bad.backend == "minillm"
    assert "hardware/Broken_Dev/MLLM/diff.patch" in bad.reason and "README.md" in bad.reason and "hunk 1" in bad.reason
    assert [x.path for x in bad.listed] == ["diff.patch"]
    assert not (s.ws.root / "vendors/broken_dev").exists()
    assert {v.vendor for v in r.vendors} == {"cambricon_mlu", "metax_c550", "kunlun_xpu"}
    assert d["hardware/Cambricon_MLU/MiniLLM"].status == "imported"
    assert s.ws.read_layer_series(LayerRef("minillm", "metax_c550"))


def test_unpinned_backends_and_the_self_backend_are_listed_file_by_file(s: Setup) -> None:
    """A Megatron-LM dir in a workspace without megatron, and hardware/<V>/FlagScale, are skipped with
    the reason, each of their files listed; nothing of them is written."""
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    d = _dirs(r)
    meg = d["hardware/Cambricon_MLU/Megatron-LM"]
    assert meg.status == "skipped" and "'megatron'" in meg.reason and "not pinned" in meg.reason
    assert len(meg.listed) == 3 == meg.files_found - 1  # every patch file; diff.yaml was read
    fs = d["hardware/Huawei_Atlas800TA3/FlagScale"]
    assert fs.status == "skipped" and "FlagScale itself" in fs.reason
    assert {x.path for x in fs.listed} == {"hostfile.patch", "model.tex.patch"}
    assert not (s.ws.root / "vendors/cambricon_mlu/megatron").exists()


def test_encrypted_dir_without_key_is_carried_opaque_and_apply_and_check_say_so(s: Setup) -> None:
    """No --key: the encrypted files are kept byte for byte under opaque/, layer.yaml says opaque,
    apply refuses the layer by name and check lists it as not checked."""
    r = import_flagscale.run(s.ws, s.gen.root)
    kun = _dirs(r)["hardware/Kunlun_XPU/TinyServe"]
    assert kun.status == "opaque" and kun.imported == ("diff.patch.encrypted",)
    layer = LayerRef("tinyserve", "kunlun_xpu")
    kept = s.ws.layer_dir(layer) / "opaque" / "diff.patch.encrypted"
    assert kept.read_bytes() == (s.gen.root / "hardware/Kunlun_XPU/TinyServe/diff.patch.encrypted").read_bytes()
    meta = s.ws.layer_meta(layer)
    assert meta["flagscale"]["opaque"] is True and list(meta["flagscale"]["files"]) == ["diff.patch.encrypted"]
    assert s.ws.read_layer_series(layer) == []
    with pytest.raises(UsageError, match="opaque"):
        apply.run(s.ws, "tinyserve", vendor="kunlun_xpu")
    rep = check.run(s.ws, ["tinyserve"])
    assert any("kunlun_xpu/tinyserve: opaque" in x for x in rep.skipped)
    assert not [f for f in rep.findings if f.rule == "series-orphan-file"]


def test_skip_encrypted_leaves_no_trace_of_the_encrypted_dir(s: Setup) -> None:
    r = import_flagscale.run(s.ws, s.gen.root, skip_encrypted=True)
    kun = _dirs(r)["hardware/Kunlun_XPU/TinyServe"]
    assert kun.status == "skipped" and "--skip-encrypted" in kun.reason
    assert not (s.ws.root / "vendors/kunlun_xpu").exists()
    assert {v.vendor for v in r.vendors} == {"cambricon_mlu", "metax_c550"}


def test_strict_is_all_or_nothing(s: Setup) -> None:
    """--strict: the first directory that is not imported is the error (a conflict: exit 1), and the
    workspace is exactly as before."""
    before = tree_files(s.ws.root)
    with pytest.raises(ConflictError, match="Broken_Dev/MLLM/diff.patch"):
        import_flagscale.run(s.ws, s.gen.root, key=s.gen.key, strict=True)
    assert tree_files(s.ws.root) == before


def test_real_metadata_is_kept_in_layer_yaml_and_warnings_name_file_and_line(s: Setup) -> None:
    """backends_version and FlagScale's commit are kept as spelled; the dirty values warn with
    file:line at import, and stay warnings for check (errors only under check --strict)."""
    shutil.rmtree(s.gen.root / "hardware/Broken_Dev/MLLM")
    good = s.gen.root / "hardware/Dirty_Dev/MLLM"
    good.mkdir(parents=True)
    shutil.copy(s.gen.root / "hardware/Metax_C550/minillm/ops.h.patch", good / "ops.h.patch")
    (good / "diff.yaml").write_text(DIRTY_YAML.format(commit=s.ws.backends()["minillm"].commit, fs="cd" * 20))
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    d = _dirs(r)["hardware/Dirty_Dev/MLLM"]
    assert d.status == "imported"
    y = "hardware/Dirty_Dev/MLLM/diff.yaml"
    assert f"{y}:4: trailing blank after 'FlagScale: main' (YAML drops it; FlagScale wrote it)" in d.warnings
    assert any(w.startswith(f"{y}:5: backends_version.MLLM: 'v1.0' has a 'v' prefix") for w in d.warnings)
    meta = s.ws.layer_meta(LayerRef("minillm", "dirty_dev"))
    fs = meta["flagscale"]
    assert fs["commit"] == "cd" * 20 and dict(fs["backends_version"]) == {"FlagScale": "main", "MLLM": "v1.0"}
    assert fs["backend"] == "MLLM" and fs["layout"] == "per-file" and fs["contact"] == ""
    assert list(meta["models"]) == ["qwen3"] and list(meta["tasks"]) == ["train"]
    vendor = s.ws.vendor_info("dirty_dev")
    assert vendor["device_type"] == "Broken_Dev" and "contact" not in vendor
    root = ["-C", str(s.ws.root)]
    loose = CliRunner().invoke(main_group, [*root, "check", "minillm", "--schemas"])
    strict = CliRunner().invoke(main_group, [*root, "check", "minillm", "--schemas", "--strict"])
    assert "flagscale-metadata" in loose.output and "vendors/dirty_dev/minillm/layer.yaml" in loose.output
    assert loose.exit_code == 0, loose.output
    assert strict.exit_code == 1, strict.output


def test_real_patch_history_is_kept_byte_for_byte_beside_the_derived_one(s: Setup) -> None:
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    assert r.history
    real = (DATA / "da4935ec6/hardware/patch_history.yaml").read_bytes()
    assert (s.ws.root / "vendors/patch_history.yaml").read_bytes() == real
    seed = s.ws.read_yaml("vendors/history.import.yaml", "history")
    assert [list(e["backends"]) for e in seed["cambricon_mlu"]["train"]] == [["flagscale", "megatron"], ["megatron"], ["flagscale"]]


def test_cli_text_and_json_report_every_dir(s: Setup) -> None:
    """Text names each directory with its status; --format json carries the same per-directory report."""
    root = ["-C", str(s.ws.root)]
    res = CliRunner().invoke(main_group, [*root, "import", "flagscale", str(s.gen.root), "--key", str(s.gen.key)])
    assert res.exit_code == 0, res.output
    assert "hardware/Broken_Dev/MLLM [diff]: failed, 0 of 2 files" in res.output
    assert "hardware/Cambricon_MLU/Megatron-LM [per-file]: skipped, 0 of 4 files" in res.output
    assert "not imported: hardware/README.md" not in res.output  # no such file in this repository
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    exe = Path(sys.executable).parent / "fspatch"
    out = subprocess.run(
        [str(exe), *root, "import", "flagscale", str(s.gen.root), "--key", str(s.gen.key), "--force", "--format", "json"],
        capture_output=True,
        env=env,
        check=True,
    )
    data = json.loads(out.stdout)
    statuses = {d["source"]: d["status"] for d in data["dirs"]}
    assert statuses["hardware/Broken_Dev/MLLM"] == "failed"
    assert statuses["hardware/Huawei_Atlas800TA3/FlagScale"] == "skipped"
    assert sum(1 for v in statuses.values() if v == "imported") == 3


def test_real_task_llama3_takes_its_tasks_from_patch_history(tmp_path: Path) -> None:
    """5cb1800d1's MUSA_S5000/Megatron-LM/diff.yaml says task [llama3]: the layer is imported with the
    task patch_history.yaml records for MUSA_S5000 + Megatron-LM (train), and llama3 is kept as written."""
    ws = make_workspace(tmp_path, common=False)
    ws.set_backend(dataclasses.replace(ws.backends()["minillm"], aliases=("Megatron-LM",)))
    ws.save_lock()
    ws = Workspace.load(ws.root)
    gen = Gen(tmp_path, ws)
    root = tmp_path / "FS2"
    d = root / "hardware/MUSA_S5000/Megatron-LM"
    d.mkdir(parents=True)
    shutil.copy(gen.root / "hardware/Metax_C550/minillm/ops.h.patch", d / "diff.patch")
    shutil.copy(DATA / "5cb1800d1/hardware/MUSA_S5000/Megatron-LM/diff.yaml", d / "diff.yaml")
    shutil.copy(DATA / "da4935ec6/hardware/patch_history.yaml", root / "hardware/patch_history.yaml")
    r = import_flagscale.run(ws, root)
    rep = _dirs(r)["hardware/MUSA_S5000/Megatron-LM"]
    assert rep.status == "imported" and rep.backend == "minillm"
    assert "hardware/MUSA_S5000/Megatron-LM/diff.yaml:12: task 'llama3' is not one of train, inference, post_train (kept as spelled)" in rep.warnings
    assert any("using train from patch_history.yaml" in w for w in rep.warnings)
    meta = ws.layer_meta(LayerRef("minillm", "musa_s5000"))
    assert list(meta["tasks"]) == ["train"] and list(meta["flagscale"]["task"]) == ["llama3"]
    assert dict(meta["flagscale"]["backends_commit"]) == {"Megatron-LM": "fdfcef87004205eca69ea462b375578185ea01f6"}


def _mail(up: Path, work: Path, change: bytes, subject: str, date: str) -> bytes:
    """git format-patch of one commit changing README.md on a clone of the upstream at v1.0."""
    from tests.gitutil import git

    git(up.parent, "clone", "-q", str(up), str(work))
    git(work, "checkout", "-q", "v1.0")
    (work / "README.md").write_bytes((work / "README.md").read_bytes() + change)
    git(work, "commit", "-q", "-am", subject)
    out = git(work, "format-patch", "-1", "--stdout")
    return out.replace(b"Date: Tue, 2 Jan 2024 03:04:05 +0000", f"Date: {date}".encode())


def test_2024_mbox_layout_imports_the_newest_mail_with_its_author_and_subject(tmp_path: Path) -> None:
    """hardware/<device>/<commit8>/<commit8>.patch (git format-patch of FlagScale itself): with the
    self-backend pinned as 'flagscale', the newest mail becomes the layer, its header kept; the older
    one is listed as superseded."""
    from fspatch.commands import backend as backend_cmd

    ws = make_workspace(tmp_path, common=False, tiny=False)
    backend_cmd.run_add(ws, "flagscale", url=str(tmp_path / "up_minillm"), ref="v1.0")
    ws = Workspace.load(ws.root)
    root = tmp_path / "FS3"
    old = _mail(tmp_path / "up_minillm", tmp_path / "m1", b"old notes\n", "[kunlunxin] first try", "Thu, 17 Oct 2024 16:07:21 +0800")
    new = _mail(tmp_path / "up_minillm", tmp_path / "m2", b"XPU notes\n", "[kunlunxin] add patch for mixtral", "Sun, 24 Nov 2024 19:12:03 +0800")
    for c8, data in (("085811f4", old), ("237377e9", new)):
        (root / "hardware/kunlunxin_R300p" / c8).mkdir(parents=True)
        (root / "hardware/kunlunxin_R300p" / c8 / f"{c8}.patch").write_bytes(data)
    r = import_flagscale.run(ws, root)
    d = _dirs(r)
    assert d["hardware/kunlunxin_R300p/237377e9"].status == "imported"
    sup = d["hardware/kunlunxin_R300p/085811f4"]
    assert sup.status == "skipped" and "superseded by hardware/kunlunxin_R300p/237377e9" in sup.reason
    layer = LayerRef("flagscale", "kunlunxin_r300p")
    (entry,) = ws.read_layer_series(layer)
    text = ws.read_patch(layer, entry.name)
    assert b"Subject: [kunlunxin] add patch for mixtral" in text and b"From: Test Author <author@example.org>" in text
    assert b"+XPU notes" in text and b"old notes" not in text
    meta = ws.layer_meta(layer)
    assert meta["flagscale"]["layout"] == "mbox" and meta["flagscale"]["commit"] == "237377e9"


def test_an_opaque_layer_exports_as_it_came(s: Setup, tmp_path: Path) -> None:
    """export --out of an opaque layer writes FlagScale's encrypted files back byte for byte (no empty
    diff.patch), with its diff.yaml; the layered export of the other layers is unchanged."""
    from fspatch.commands import export
    from tests.test_vendor_kit import commit_all

    import_flagscale.run(s.ws, s.gen.root)
    commit_all(s.ws.root, "import")
    out = tmp_path / "out"
    r = export.run(s.ws, vendor="kunlun_xpu", out=out)
    (layer,) = r.layers
    src = (s.gen.root / "hardware/Kunlun_XPU/TinyServe/diff.patch.encrypted").read_bytes()
    assert (out / "kunlun_xpu/tinyserve/diff.patch.encrypted").read_bytes() == src
    assert not (out / "kunlun_xpu/tinyserve/diff.patch").exists()
    assert (out / "kunlun_xpu/tinyserve/diff.yaml").is_file() and layer.files == 1


def test_a_dir_with_a_broken_patch_file_is_not_imported_in_part(s: Setup) -> None:
    """An empty or unreadable *.patch in a per-file dir fails that dir (an incomplete layer is worse
    than none), naming the file; a stray non-patch file is only listed."""
    m = s.gen.root / "hardware/Metax_C550/minillm"
    (m / "notes.txt").write_text("not a patch\n")
    (m / "broken.py.patch").write_bytes(b"")
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    d = _dirs(r)["hardware/Metax_C550/minillm"]
    assert d.status == "failed" and d.reason == "hardware/Metax_C550/minillm/broken.py.patch: empty: no diff in it"
    assert {x.path for x in d.listed} == {"broken.py.patch", "notes.txt", "model_runner.py.patch", "ops.h.patch"}
    assert not (s.ws.root / "vendors/metax_c550").exists()
    (m / "broken.py.patch").unlink()
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key, force=True)
    d = _dirs(r)["hardware/Metax_C550/minillm"]
    assert d.status == "imported" and [(x.path, x.reason[:10]) for x in d.listed] == [("notes.txt", "not a patc")]


def test_reimport_with_the_key_replaces_the_opaque_files(s: Setup) -> None:
    """Opaque first (no key), then --key --force: the layer holds real (re-encrypted) patches and no
    stale copy of FlagScale's ciphertext is left under opaque/."""
    import_flagscale.run(s.ws, s.gen.root)
    layer = LayerRef("tinyserve", "kunlun_xpu")
    assert (s.ws.layer_dir(layer) / "opaque").is_dir()
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key, force=True)
    assert _dirs(r)["hardware/Kunlun_XPU/TinyServe"].status == "imported"
    assert not (s.ws.layer_dir(layer) / "opaque").exists()
    assert [e.name for e in s.ws.read_layer_series(layer)] == ["0001-tinyserve-sched.py.patch.encrypted"]  # the diff.patch, per file
    assert "opaque" not in s.ws.layer_meta(layer)["flagscale"]


def test_a_common_layer_that_does_not_import_stops_only_its_backend(s: Setup) -> None:
    """A broken flagscale/backends/TinyServe patch: tinyserve's common layer and the vendor layer that
    needs it fail with the reason, an encrypted one without key is still carried opaque, minillm imports."""
    common = s.gen.root / "flagscale/backends/TinyServe"
    first = sorted(common.rglob("*.patch"))[0]
    head, hunks = first.read_bytes().split(b"\n@@", 1)
    body = hunks.split(b"\n", 1)
    first.write_bytes(head + b"\n@@" + body[0] + b"\n" + body[1].replace(b"\n", b" (not upstream's)\n", 1))
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    assert [c.backend for c in r.common] == ["minillm"]
    assert all("the common layer does not import" in x.reason for x in r.skipped if x.path.startswith("flagscale/"))
    kun = _dirs(r)["hardware/Kunlun_XPU/TinyServe"]
    assert kun.status == "failed" and kun.reason.startswith("the common layer of 'tinyserve' does not import")
    assert _dirs(r)["hardware/Cambricon_MLU/MiniLLM"].status == "imported"
    r2 = import_flagscale.run(s.ws, s.gen.root, force=True)
    assert _dirs(r2)["hardware/Kunlun_XPU/TinyServe"].status == "opaque"
    with pytest.raises(ConflictError):
        import_flagscale.run(s.ws, s.gen.root, key=s.gen.key, force=True, strict=True)


def test_verbose_text_lists_every_file_not_imported(s: Setup) -> None:
    """Without -v a skipped directory shows its reason once; with -v each of its files is listed too."""
    root = ["-C", str(s.ws.root)]
    args = ["import", "flagscale", str(s.gen.root), "--key", str(s.gen.key)]
    quiet = CliRunner().invoke(main_group, [*root, *args])
    loud = CliRunner().invoke(main_group, [*root, "-v", *args, "--force"])
    line = "  not imported: megatron/accelerator/pre_config.py.patch: backend 'megatron'"
    assert quiet.exit_code == loud.exit_code == 0, loud.output
    assert line not in quiet.output and line in loud.output


def test_check_reads_the_kept_patch_history_in_flagscales_format(s: Setup) -> None:
    """vendors/patch_history.yaml (FlagScale's format, no JSON Schema): clean as imported; an odd
    entry is a flagscale-metadata warning at its line, broken YAML a yaml-syntax error."""
    import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    kept = s.ws.root / "vendors/patch_history.yaml"
    assert not [f for f in check.run(s.ws, checks=["schemas"]).findings if f.file == "vendors/patch_history.yaml"]
    kept.write_bytes(kept.read_bytes() + b"Odd_Dev:\n  train: 5\n")
    (f,) = [f for f in check.run(s.ws, checks=["schemas"]).findings if f.file == "vendors/patch_history.yaml"]
    assert (f.rule, f.severity, f.line) == ("flagscale-metadata", "warning", kept.read_text().count("\n"))
    kept.write_bytes(b"Odd_Dev: [\n")
    (f,) = [f for f in check.run(s.ws, checks=["schemas"]).findings if f.file == "vendors/patch_history.yaml"]
    assert f.rule == "yaml-syntax" and f.severity == "error"


def test_flagscale_cbc_per_file_encrypted_dir_imports_with_the_key(s: Setup) -> None:
    """A per-file dir of FlagScale-format files (iv | rsa(key) | data, at depth) imports with --key:
    decrypted in memory, stored re-encrypted (authenticated format), no plaintext in the workspace."""
    from fspatch.core import crypto

    key = crypto.load_private_key(s.gen.key)
    d = s.gen.root / "hardware/Hygon_BW1000/TinyServe/tinyserve"
    d.mkdir(parents=True)
    (d / "sched.py.patch.encrypted").write_bytes(crypto.encrypt_cbc(s.gen.c_plain, key.public_key(), flagscale=True))
    shutil.copy(s.gen.root / "hardware/Kunlun_XPU/TinyServe/diff.yaml", d.parent / "diff.yaml")
    r = import_flagscale.run(s.ws, s.gen.root, key=s.gen.key)
    rep = _dirs(r)["hardware/Hygon_BW1000/TinyServe"]
    assert rep.status == "imported" and rep.layout == "per-file" and rep.imported == ("tinyserve/sched.py.patch.encrypted",)
    layer = LayerRef("tinyserve", "hygon_bw1000")
    (entry,) = s.ws.read_layer_series(layer)
    stored = s.ws.read_patch(layer, entry.name)
    assert entry.name.endswith(".patch.encrypted") and stored.startswith(crypto.MAGIC)
    assert b"reverse=True" in crypto.decrypt(stored, key)
    assert all(b"reverse=True" not in p.read_bytes() for p in s.ws.layer_dir(layer).rglob("*") if p.is_file())


def test_backend_add_alias_is_kept_in_the_lock_and_resolves(tmp_path: Path) -> None:
    """backend add --alias Megatron-LM: the lock keeps it, names resolve through it (any case), a
    re-add keeps it, and an alias already naming another backend is refused before anything is cloned."""
    from tests.test_vendor_kit import make_tiny_upstream

    ws = make_workspace(tmp_path, tiny=False, common=False)
    make_tiny_upstream(tmp_path / "up_tiny")
    root = ["-C", str(ws.root)]
    up = str(tmp_path / "up_tiny")
    res = CliRunner().invoke(main_group, [*root, "backend", "add", "tinyserve", "--url", up, "--ref", "v0.1", "--alias", "Megatron-LM"])
    assert res.exit_code == 0, res.output
    assert "    aliases:\n    - Megatron-LM\n" in (ws.root / "upstream.lock").read_text()
    ws = Workspace.load(ws.root)
    assert ws.backend("Megatron-LM").name == ws.backend("megatron-lm").name == "tinyserve"
    assert ws.aliases() == {"Megatron-LM": "tinyserve"}
    res = CliRunner().invoke(main_group, [*root, "backend", "add", "tinyserve", "--url", up, "--ref", "v0.1"])
    assert res.exit_code == 0 and Workspace.load(ws.root).backends()["tinyserve"].aliases == ("Megatron-LM",)
    res = CliRunner().invoke(main_group, [*root, "backend", "add", "other", "--url", up, "--ref", "v0.1", "--alias", "Megatron-LM"])
    assert res.exit_code == 2 and "alias 'Megatron-LM' already names backend 'tinyserve'" in res.output
    assert not (ws.root / "third_party/other").exists()
