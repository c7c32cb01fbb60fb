"""Reading FlagScale's repository: the real diff.yaml files, every layout, patch_history.yaml.

Fixtures are cut from FlagScale's public repository (tests/data/flagscale/NOTICE).  The scanner
must account for every file under ``hardware/``: imported, or listed with a reason.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fspatch.core import crypto
from fspatch.core import flagscale_history as fh
from fspatch.core.flagscale import DirSource, FlagScaleRepo, TreeSource, map_backend, scan, scan_source
from fspatch.core.flagscale_meta import read_diff_yaml
from fspatch.core.yamlio import parse_yaml
from fspatch.errors import InputError
from fspatch.git_adapter import GitRepo
from tests.gitutil import git

DATA = Path(__file__).parent / "data" / "flagscale"
REAL = DATA / "da4935ec6"
TASK_LLAMA3 = DATA / "5cb1800d1"


def _real_yamls() -> list[Path]:
    return sorted([*REAL.rglob("diff.yaml"), *TASK_LLAMA3.rglob("diff.yaml")])


# --------------------------------------------------------------------------- diff.yaml


def test_all_26_real_diff_yaml_files_are_in_the_fixtures() -> None:
    """The fixture holds every diff.yaml of FlagScale main da4935ec6 (26 vendor directories)."""
    assert len(list(REAL.rglob("diff.yaml"))) == 26


@pytest.mark.parametrize("path", _real_yamls(), ids=lambda p: p.relative_to(DATA).as_posix())
def test_every_real_diff_yaml_loads_and_each_warning_points_at_its_line(path: Path) -> None:
    """Each real file loads; every warning names file:line, and that line holds what it quotes."""
    display = path.relative_to(DATA).as_posix()
    meta = read_diff_yaml(path.read_bytes(), display, device_dir=path.parent.parent.name)
    assert meta.device_type == path.parent.parent.name
    assert meta.commit is not None and len(meta.commit) == 40
    assert meta.backends_commit and all(len(c) == 40 for c in meta.backends_commit.values())
    lines = path.read_text().split("\n")
    for w in meta.warnings:
        assert w.path == display and w.line is not None, w
        quoted = str(w).split("'")[1]
        assert quoted.strip() in lines[w.line - 1], (w, lines[w.line - 1])


def test_fspatch_strict_schema_still_refuses_flagscale_spellings() -> None:
    """The lenient reader is for FlagScale's files; fspatch's own diff schema stays strict."""
    raw = (REAL / "hardware/Cambricon_MLU/Megatron-LM/diff.yaml").read_bytes()
    with pytest.raises(InputError):
        parse_yaml(raw, "diff.yaml", "diff")
    meta = read_diff_yaml(raw, "diff.yaml")
    assert meta.contact == "" and meta.warnings == ()  # contact: '' is allowed, no warning
    assert meta.backends_version == {"FlagScale": "0.8.0", "Megatron-LM": "0.12.0"}
    assert list(meta.backends_commit) == ["Megatron-LM"]


def test_dirty_real_files_warn_with_file_and_line() -> None:
    """Trailing blanks ('main ', '- qwen3 '), a 'v' prefix and a task outside the three warn at their line."""
    p = REAL / "hardware/Cambricon_MLU/vllm/diff.yaml"
    ws = read_diff_yaml(p.read_bytes(), "Cambricon_MLU/vllm/diff.yaml").warnings
    text = p.read_text().split("\n")
    blank_lines = {i for i, line in enumerate(text, 1) if line != line.rstrip()}
    assert blank_lines and {w.line for w in ws if "trailing blank" in w.message} == blank_lines
    k = read_diff_yaml((REAL / "hardware/Kunlunxin_R310p/vllm/diff.yaml").read_bytes(), "k").warnings
    assert any("'v0.8.0'" in w.message and w.line == 4 for w in k)
    m = read_diff_yaml((TASK_LLAMA3 / "hardware/MUSA_S5000/Megatron-LM/diff.yaml").read_bytes(), "m")
    assert m.tasks == () and m.other_tasks == ("llama3",)
    assert [str(w) for w in m.warnings if "llama3" in w.message] == [
        "m:12: task 'llama3' is not one of train, inference, post_train (kept as spelled)"
    ]
    clean = read_diff_yaml((REAL / "hardware/BI_V150/Megatron-LM/diff.yaml").read_bytes(), "c")
    assert clean.warnings == ()


def test_unusable_values_are_warnings_and_broken_yaml_is_one_error() -> None:
    """A short commit, an unknown key and a wrong type warn; YAML that does not parse is an InputError with its line."""
    raw = b"backends_commit:\n  vllm: abc123\ncommit: 1234\ncolour: red\ncontact: ''\ndevice_type: X_Y\nmodels: qwen\ntask: [inference]\n"
    meta = read_diff_yaml(raw, "d.yaml", device_dir="X_Y")
    assert meta.backends_commit == {} and meta.raw_backends_commit == {"vllm": "abc123"}
    got = {(w.line, w.message.split(" ")[0]) for w in meta.warnings}
    assert {(2, "backends_commit.vllm:"), (3, "commit:"), (4, "unknown"), (7, "models")} <= got
    with pytest.raises(InputError) as exc:
        read_diff_yaml(b"task: [train\n", "bad.yaml")
    assert str(exc.value).startswith("bad.yaml:")


# --------------------------------------------------------------------------- layouts


def _build_repo(tmp: Path) -> Path:
    """A FlagScale-like tree with every layout, from the fixtures (plus a few odd files)."""
    root = tmp / "FlagScale"
    for part in ("per-file", "mbox", "encrypted"):
        shutil.copytree(DATA / part / "hardware", root / "hardware", dirs_exist_ok=True)
    # one diff.patch (layout "diff"): the per-file patches of Cambricon_MLU concatenated
    cam = root / "hardware/Cambricon_MLU/Megatron-LM"
    d = root / "hardware/Metax_C550/Megatron-LM"
    d.mkdir(parents=True)
    (d / "diff.patch").write_bytes(b"".join(p.read_bytes() for p in sorted(cam.rglob("*.patch"))))
    shutil.copy(REAL / "hardware/Metax_C550/Megatron-LM/diff.yaml", d / "diff.yaml")
    # odd files a scanner must not drop silently
    (cam / "README.md").write_text("notes\n")
    (cam / "megatron" / "diff.yaml").write_text("task: [train]\n")
    (cam / "empty.py.patch").write_bytes(b"")
    (root / "hardware/README.md").write_text("# hardware\n")
    (root / "hardware/Metax_C550/stray.txt").write_text("x\n")
    shutil.copy(REAL / "hardware/patch_history.yaml", root / "hardware/patch_history.yaml")
    return root


def _accounted(repo: FlagScaleRepo) -> dict[str, str]:
    """Every file the scan names → 'patch', 'meta' or its skip reason."""
    out: dict[str, str] = {s.path: s.reason for s in repo.skipped}
    for vd in repo.vendors:
        for p in vd.patches:
            out[f"{vd.display}/{p.path}"] = "patch"
        for s in vd.skipped:
            out[f"{vd.display}/{s.path}"] = s.reason
        if vd.meta is not None:
            out[f"{vd.display}/diff.yaml"] = "meta"
    if repo.history is not None:
        out["hardware/patch_history.yaml"] = "history"
    return out


def test_every_layout_is_scanned_and_every_file_accounted_for(tmp_path: Path) -> None:
    """diff.patch, per-file at any depth, *.patch.encrypted at any depth, the 2024 mbox and the
    FlagScale self-backend are found; each file on disk is a patch, metadata or listed with a reason."""
    root = _build_repo(tmp_path)
    repo = scan(root)
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    acc = _accounted(repo)
    assert set(acc) == on_disk
    by = {vd.display: vd for vd in repo.vendors}
    cam = by["hardware/Cambricon_MLU/Megatron-LM"]
    assert cam.layout == "per-file" and cam.backend == "megatron" and cam.backend_spelled == "Megatron-LM"
    assert [p.path for p in cam.patches] == [
        "megatron/__init__.py.patch",
        "megatron/accelerator/pre_config.py.patch",
        "megatron/core/tensor_parallel/random.py.patch",
    ]
    assert all(p.target is not None and p.touches == (p.target,) for p in cam.patches)
    assert acc["hardware/Cambricon_MLU/Megatron-LM/README.md"].startswith("not a patch")
    assert acc["hardware/Cambricon_MLU/Megatron-LM/megatron/diff.yaml"].startswith("metadata file not at")
    assert acc["hardware/Cambricon_MLU/Megatron-LM/empty.py.patch"].startswith("empty")
    assert by["hardware/Metax_C550/Megatron-LM"].layout == "diff"
    assert by["hardware/Metax_C550/Megatron-LM"].patches[0].target is None
    hw = by["hardware/Huawei_Atlas800TA3/FlagScale"]
    assert hw.self_backend and hw.backend == "flagscale" and {p.target for p in hw.patches} == {"hostfile", "model.tex"}
    enc = by["hardware/Hygon_BW1000/FlagScale"]
    assert enc.encrypted == ("examples/qwen3/conf/serve.yaml.patch.encrypted",)
    assert enc.patches[0].target == "examples/qwen3/conf/serve.yaml"
    assert by["hardware/Kunlunxin_R310p/Megatron-LM"].layout == "diff"
    old, new = by["hardware/kunlunxin_R300p/085811f4"], by["hardware/kunlunxin_R300p/237377e9"]
    assert old.layout == new.layout == "mbox" and old.self_backend and old.vendor == "kunlunxin_r300p"
    assert old.base_commit == "085811f4" and old.superseded_by == "237377e9" and new.superseded_by is None
    assert "megatron/megatron/training/checkpointing.py" in old.patches[0].touches


def test_backend_spellings_map_through_lock_aliases_then_flagscale_names() -> None:
    """The lock's aliases win; else FlagScale's normalize_backend, then fspatch's names."""
    assert map_backend("Megatron-LM") == "megatron"
    assert map_backend("Megatron-Energon") == "megatron_energon"
    assert map_backend("llama.cpp") == "llama_cpp"
    assert map_backend("FlagScale") == "flagscale"
    assert map_backend("vllm") == "vllm"
    assert map_backend("Megatron-LM", {"Megatron-LM": "mlm"}) == "mlm"
    assert map_backend("megatron-lm", {"Megatron-LM": "mlm"}) == "mlm"


def test_git_tree_source_reports_a_missing_blob_and_reads_the_rest(tmp_path: Path) -> None:
    """Scanning a commit of a git repository (FlagScale's mirror is one) whose blob is missing,
    as hardware/MUSA_S5000/vllm/diff.patch is in the real mirror: listed, the others read."""
    root = _build_repo(tmp_path)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    blob = git(root, "rev-parse", "HEAD:hardware/Metax_C550/Megatron-LM/diff.patch").decode().strip()
    (root / ".git/objects" / blob[:2] / blob[2:]).unlink()
    repo = GitRepo.open(root)
    head = repo.resolve("HEAD")
    assert head is not None
    tree_scan = scan_source(TreeSource(repo, head))
    dir_scan = scan_source(DirSource(root))
    by = {vd.display: vd for vd in tree_scan.vendors}
    metax = by["hardware/Metax_C550/Megatron-LM"]
    assert metax.patches == () and metax.layout == "none"
    assert metax.skipped[0].path == "diff.patch" and f"object {blob} is missing" in metax.skipped[0].reason
    others = {vd.display: [p.path for p in vd.patches] for vd in dir_scan.vendors if vd.display != metax.display}
    assert others == {vd.display: [p.path for p in vd.patches] for vd in tree_scan.vendors if vd.display != metax.display}


# --------------------------------------------------------------------------- encryption


def _flagscale_tools() -> Path:
    return DATA / "tools" / "patch"


def test_fixture_is_in_flagscale_layout_flagscales_own_decrypt_reads_it(tmp_path: Path) -> None:
    """FlagScale's tools/patch/encryption_utils.decrypt_file (run as is) decrypts the fixture to the
    plaintext fspatch gets, and fspatch reads a file FlagScale's encrypt_file wrote."""
    pytest.importorskip("cryptography")
    enc = DATA / "encrypted/hardware/Hygon_BW1000/FlagScale/examples/qwen3/conf/serve.yaml.patch.encrypted"
    work = tmp_path / "serve.yaml.patch.encrypted"
    shutil.copy(enc, work)
    keydir = DATA / "encrypted/key"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from encryption_utils import decrypt_file, encrypt_file; "
        "print(decrypt_file(sys.argv[2], sys.argv[3] + '/private_key.pem')); "
        "import shutil; shutil.copytree(sys.argv[3], sys.argv[5]); print(encrypt_file(sys.argv[4], sys.argv[5]))"
    )
    plain_src = tmp_path / "mine.patch"
    plain_src.write_bytes(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    out = subprocess.run(
        [sys.executable, "-c", code, str(_flagscale_tools()), str(work), str(keydir), str(plain_src), str(tmp_path / "k")],
        capture_output=True,
        check=True,
    )
    assert b"serve.yaml.patch" in out.stdout
    key = crypto.load_private_key(keydir / "private_key.pem")
    assert (tmp_path / "serve.yaml.patch").read_bytes() == crypto.decrypt(enc.read_bytes(), key)
    assert (tmp_path / "serve.yaml.patch").read_bytes() == (DATA / "encrypted/plain/serve.yaml.patch").read_bytes()
    theirs = (tmp_path / "mine.patch.encrypted").read_bytes()
    opened = crypto.open_sealed(theirs, key)
    assert opened.data.startswith(b"diff --git a/x") and opened.format == "FlagScale (AES-256-CBC)"


# --------------------------------------------------------------------------- patch_history.yaml


def test_real_patch_history_round_trips_byte_for_byte() -> None:
    """Loaded and dumped with no change, the real file comes back byte-identical."""
    raw = (REAL / "hardware/patch_history.yaml").read_bytes()
    hist = fh.load(raw)
    assert fh.dump(hist) == raw
    assert hist.warnings == ()
    keys = {(e.device_type, e.task, e.key) for e in hist.entries}
    assert ("BI_V150", "inference", "FlagScale+vllm") in keys and ("Cambricon_MLU", "train", "FlagScale+Megatron-LM") in keys


def test_latest_commit_is_what_unpatch_would_pick() -> None:
    """unpatch.py's commit_to_checkout: the last commit of the sorted 'A+B' key of the first task found."""
    import yaml  # PyYAML, what FlagScale itself reads the file with

    raw = (REAL / "hardware/patch_history.yaml").read_bytes()
    hist = fh.load(raw)
    theirs = yaml.safe_load(raw)
    for device, tasks in theirs.items():
        for task, keyed in tasks.items():
            for key, commits in keyed.items():
                assert hist.latest(device, [task], key.split("+")) == commits[-1]


def test_append_writes_what_flagscales_merge_py_writes(tmp_path: Path) -> None:
    """FlagScale's own tools/patch/merge.py, run on a real git repository holding the real history,
    and fspatch's append give the same bytes (new commit under A+B and each backend, new device last)."""
    pytest.importorskip("yaml")
    pytest.importorskip("git")
    fs = tmp_path / "FlagScale"
    (fs / "tools").mkdir(parents=True)
    shutil.copytree(_flagscale_tools(), fs / "tools" / "patch")
    (fs / "hardware").mkdir()
    shutil.copy(REAL / "hardware/patch_history.yaml", fs / "hardware/patch_history.yaml")
    git(fs, "init", "-q", "-b", "main")
    git(fs, "add", "-A")
    git(fs, "commit", "-q", "-m", "FlagScale")
    commit = git(fs, "rev-parse", "HEAD").decode().strip()
    hist = fh.load((fs / "hardware/patch_history.yaml").read_bytes())
    runs = [("Cambricon_MLU", ["train"], ["FlagScale", "Megatron-LM"]), ("New_Device", ["inference", "train"], ["vllm"])]
    for device, tasks, backends in runs:
        subprocess.run(
            [sys.executable, "tools/patch/merge.py", "--backend", *backends, "--device-type", device, "--task", *tasks, "--commit", commit],
            cwd=fs,
            check=True,
            capture_output=True,
        )
        hist = fh.append(hist, device, tasks, backends, commit)
    assert fh.dump(hist) == (fs / "hardware/patch_history.yaml").read_bytes()
    again = fh.append(hist, "Cambricon_MLU", ["train"], ["Megatron-LM", "FlagScale"], commit)
    assert fh.dump(again) == fh.dump(hist)  # a commit already listed is not repeated
    assert again.latest("Cambricon_MLU", ["train"], ["Megatron-LM", "FlagScale"]) == commit


def test_odd_history_entries_warn_instead_of_crashing() -> None:
    """The importer's old crash (a list where a mapping was expected) is now a warning with its line."""
    hist = fh.load(b"Dev_A:\n  train: 5\n  inference:\n    vllm: abc\n")
    assert [(w.line, w.message.split(":")[0]) for w in hist.warnings] == [(2, "Dev_A.train"), (4, "Dev_A.inference.vllm")]
