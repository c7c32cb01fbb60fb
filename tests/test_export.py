"""export: one squashed diff.patch + schema-valid diff.yaml per vendor and backend, derived history."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import apply, export, new, refresh
from fspatch.core.export import FilesReader, build_stack, check_diff_yaml, workspace_repo
from fspatch.core.patch import parse_diff
from fspatch.core.stack import apply_files
from fspatch.core.workspace import Workspace
from fspatch.errors import InputError, UsageError
from fspatch.git_adapter import GitRepo
from tests.test_vendor_kit import add_vendor, commit_all, make_workspace, tree_files


def _vendor_edit(ws: Workspace, vendor: str, backend: str, name: str, path: str, old: str, new_text: str) -> None:
    apply.run(ws, backend, vendor=vendor)
    new.run(ws, backend, name, vendor=vendor)
    f = ws.checkout_path(backend) / path
    f.write_text(f.read_text().replace(old, new_text))
    refresh.run(ws, backend, vendor=vendor)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = make_workspace(tmp_path)
    add_vendor(w, "cambricon_mlu", "minillm", ("inference",))
    add_vendor(w, "cambricon_mlu", "tinyserve", ("inference", "train"))
    _vendor_edit(w, "cambricon_mlu", "minillm", "mlu device", "minillm/flagscale_device.py", '"cuda"', '"mlu"')
    _vendor_edit(w, "cambricon_mlu", "minillm", "mlu block", "csrc/kernels/rmsnorm.cu", "1024 : 256", "512 : 128")
    _vendor_edit(w, "cambricon_mlu", "tinyserve", "mlu port", "tinyserve/server.py", "port=8000", "port=9000")
    commit_all(w.root, "cambricon layers")
    return w


def test_export_writes_one_diff_per_vendor_backend_with_valid_yaml(ws: Workspace) -> None:
    """Each vendor layer gets exactly one diff.patch and a diff.yaml that passes the schema."""
    r = export.run(ws)
    head = workspace_repo(ws).head()
    assert sorted((x.vendor, x.backend) for x in r.layers) == [("cambricon_mlu", "minillm"), ("cambricon_mlu", "tinyserve")]
    folder = ws.root / "vendors/cambricon_mlu/minillm"
    data = check_diff_yaml((folder / "diff.yaml").read_bytes(), "diff.yaml")
    assert data["commit"] == head
    assert dict(data["backends_commit"]) == {"minillm": ws.backends()["minillm"].commit}
    assert dict(data["backends_version"]) == {"minillm": "v1.0"}
    assert data["device_type"] == "Cambricon_MLU" and data["contact"] == "MLU Team <mlu@example.org>"
    assert list(data["task"]) == ["inference"] and list(data["models"]) == ["Qwen3-8B"]
    diff = (folder / "diff.patch").read_bytes()
    assert diff.count(b"diff --git ") == 2 and b"flag_gems" not in diff  # no common change inside


def test_exporting_twice_changes_no_byte(ws: Workspace) -> None:
    """A second export with nothing changed rewrites no file."""
    export.run(ws)
    before = tree_files(ws.root / "vendors")
    r = export.run(ws)
    assert not any(x.written for x in r.layers)
    assert tree_files(ws.root / "vendors") == before


def test_exported_diff_on_common_gives_vendor_tree(ws: Workspace) -> None:
    """Applying diff.patch on upstream+common yields exactly the vendor stack's tree."""
    export.run(ws)
    for backend in ("minillm", "tinyserve"):
        repo = GitRepo.open(ws.checkout_path(backend))
        stack = build_stack(repo, FilesReader(ws), backend, "cambricon_mlu")
        diff = (ws.root / "vendors/cambricon_mlu" / backend / "diff.patch").read_bytes()
        tree = apply_files(repo, repo.tree_of(stack.common_top), parse_diff(diff, "diff.patch"))
        assert tree == repo.tree_of(stack.top)


def test_history_is_derived_from_commits_that_touch_layers(ws: Workspace) -> None:
    """history.yaml lists, per vendor and task, the backend set and the workspace commits touching it."""
    first = workspace_repo(ws).head()
    _vendor_edit(ws, "cambricon_mlu", "tinyserve", "mlu sched", "tinyserve/sched.py", "sorted(reqs)", "list(reqs)")
    second = commit_all(ws.root, "tinyserve only")
    export.run(ws)
    third = commit_all(ws.root, "export (touches no layer)")
    export.run(ws)
    hist = ws.read_yaml("vendors/history.yaml", "history")
    inf = [(list(e["backends"]), list(e["commits"])) for e in hist["cambricon_mlu"]["inference"]]
    train = [(list(e["backends"]), list(e["commits"])) for e in hist["cambricon_mlu"]["train"]]
    assert inf == [(["minillm", "tinyserve"], [first]), (["tinyserve"], [second])]
    assert train == [(["tinyserve"], [first, second])]
    assert third not in str(hist)


def test_export_refuses_workspace_without_git(tmp_path: Path) -> None:
    """Without a workspace repository there is no commit for diff.yaml: a clear usage error."""
    w = make_workspace(tmp_path, tiny=False)
    add_vendor(w)
    import shutil

    shutil.rmtree(w.root / ".git")
    with pytest.raises(UsageError, match="not a git repository"):
        export.run(w)


def test_export_cli_out_dir_uses_flagscale_layout(ws: Workspace, tmp_path: Path) -> None:
    """export --out DIR writes DIR/<vendor>/<backend>/diff.* and DIR/patch_history.yaml, touching no layer."""
    before = tree_files(ws.root / "vendors")
    out = tmp_path / "hardware"
    r = CliRunner().invoke(main_group, ["-C", str(ws.root), "export", "minillm", "--vendor", "cambricon_mlu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(tree_files(out)) == ["cambricon_mlu/minillm/diff.patch", "cambricon_mlu/minillm/diff.yaml", "patch_history.yaml"]
    after = tree_files(ws.root / "vendors")
    assert {k: v for k, v in after.items() if k != "history.yaml"} == before


BASE_YAML = """\
backends_commit:
  vllm: 0123456789abcdef0123456789abcdef01234567
backends_version:
  vllm: v0.8.5
commit: 89abcdef0123456789abcdef0123456789abcdef
contact: MLU Team <mlu@example.org>
device_type: Cambricon_MLU
models:
- Qwen3-8B
task:
- inference
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("- inference\n", "- infer\n", 11, "is not one of train, inference, post_train"),
        ("commit: 89abcdef0123456789abcdef0123456789abcdef", "commit: 89abcdef", 5, "full commit id"),
        ("vllm: v0.8.5", "vllm: 'v0.8.5 '", 4, "blanks"),
    ],
    ids=["bad-task", "short-commit", "trailing-blank-version"],
)
def test_diff_schema_rejects_with_path_and_line(old: str, new: str, line: int, words: str) -> None:
    """diff.yaml with a bad task, a short commit or a trailing blank in a version fails at path:line."""
    check_diff_yaml(BASE_YAML.encode(), "hardware/X/vllm/diff.yaml")  # the base is valid
    with pytest.raises(InputError) as exc:
        check_diff_yaml(BASE_YAML.replace(old, new).encode(), "hardware/X/vllm/diff.yaml")
    assert str(exc.value).startswith(f"hardware/X/vllm/diff.yaml:{line}: ")
    assert words in str(exc.value)
