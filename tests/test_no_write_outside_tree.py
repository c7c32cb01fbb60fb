"""Nothing is written outside the workspace and its checkouts, whatever is found on disk (issue 15).

Findings 5, 6, 9 and 10: a tracked directory of the checkout replaced by a symlink is never
written through (git refuses "beyond a symbolic link"); workspace files and folders that are
symlinks are followed only while their target stays inside the workspace (the decision in
``docs/security.md``); ``backend add --path`` is checked before anything is cloned and a failed
clone is removed; a ``state.json`` naming ``../`` paths and ``diff --git`` lines naming ``../``
behind clean ``---``/``+++`` lines are refused.  Each test keeps a victim directory outside and
checks it byte for byte afterwards.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pygit2
import pytest

from fspatch.commands import apply as apply_cmd
from tests.hardutil import cli, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace


@pytest.fixture
def w(tmp_path: Path) -> WS:
    return make_workspace(tmp_path)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "victim.txt").write_text("do not touch\n")
    return victim


def _swap_dir_for_link(w: WS, rel: str, outside: Path) -> None:
    """Replace a tracked directory of the checkout by a symlink to a copy of it outside."""
    copy = outside / Path(rel).name
    shutil.copytree(w.checkout / rel, copy)
    shutil.rmtree(w.checkout / rel)
    (w.checkout / rel).symlink_to(copy)


@pytest.mark.parametrize(
    ("upto", "args"),
    [("0001", ("push",)), ("0002", ("pop",)), ("0001", ("goto", "0003")), ("0001", ("apply", "minillm")), ("0001", ("apply", "minillm", "--force"))],
    ids=["push", "pop", "goto", "apply", "apply-force"],
)
def test_checkout_never_writes_beyond_a_symlinked_directory(w: WS, outside: Path, upto: str, args: tuple[str, ...]) -> None:
    """csrc/kernels replaced by a link to elsewhere: the verb is refused and elsewhere is unchanged."""
    apply_cmd.run(w.ws(), "minillm", upto=upto)
    _swap_dir_for_link(w, "csrc/kernels", outside)
    before, victim = tree_snapshot(w.root), tree_snapshot(outside)
    r = cli(w.root, *args)
    line = one_error_line(r)
    assert r.exit_code == 2 and "csrc/kernels" in line, line
    assert tree_snapshot(outside) == victim
    assert tree_snapshot(w.root) == before


def test_series_symlinked_out_of_the_workspace_is_refused(w: WS, outside: Path) -> None:
    """A series file that is a link to a file outside: new and delete refuse, the outside file keeps its bytes."""
    apply_cmd.run(w.ws(), "minillm")
    series = w.series_dir / "series"
    shutil.copy(series, outside / "series")
    series.unlink()
    series.symlink_to(outside / "series")
    victim = tree_snapshot(outside)
    for args in (("new", "extra", "-m", "Extra"), ("delete", "0003")):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "series/minillm/series" in line and "outside the workspace" in line, line
    assert tree_snapshot(outside) == victim


def test_series_symlinked_inside_the_workspace_is_followed(w: WS) -> None:
    """The decision: a link whose target stays inside the workspace is followed (read and written)."""
    apply_cmd.run(w.ws(), "minillm")
    shared = w.root / "shared-series"
    shutil.move(w.series_dir / "series", shared)
    (w.series_dir / "series").symlink_to("../../shared-series")
    r = cli(w.root, "new", "extra", "-m", "Extra")
    assert r.exit_code == 0, r.output
    assert (w.series_dir / "series").is_symlink()
    assert "0004-extra.patch" in shared.read_text()


def test_layer_directory_symlinked_out_is_refused(w: WS, outside: Path) -> None:
    """vendors/acme/minillm linked to a folder outside: new and refresh in that layer refuse; the folder is unchanged."""
    apply_cmd.run(w.ws(), "minillm")
    assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").exit_code == 0
    assert cli(w.root, "vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
    layer = w.root / "vendors/acme/minillm"
    shutil.copytree(layer, outside / "layer")
    shutil.rmtree(layer)
    layer.symlink_to(outside / "layer")
    victim = tree_snapshot(outside)
    r = cli(w.root, "new", "acme-fix", "-m", "Acme", "--vendor", "acme")
    line = one_error_line(r)
    assert r.exit_code == 2 and "outside the workspace" in line, line
    assert tree_snapshot(outside) == victim


def test_upstream_lock_symlinked_out_is_refused(w: WS, outside: Path) -> None:
    """upstream.lock linked to a file outside: backend add refuses before cloning; the outside file is unchanged."""
    lock = w.root / "upstream.lock"
    shutil.copy(lock, outside / "upstream.lock")
    lock.unlink()
    lock.symlink_to(outside / "upstream.lock")
    victim = tree_snapshot(outside)
    r = cli(w.root, "backend", "add", "other", "--url", str(w.upstream), "--ref", "v1.0")
    line = one_error_line(r)
    assert r.exit_code == 2 and "upstream.lock" in line and "outside the workspace" in line, line
    assert tree_snapshot(outside) == victim
    assert not (w.root / "third_party/other").exists()


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        (".git/evil", "points into a .git directory"),
        ("third_party/.GIT/hooks", "points into a .git directory"),
        ("series/evil", "inside series/"),
        ("vendors/evil", "inside vendors/"),
        ("third_party/minillm/evil", "backend 'minillm' uses"),
        ("third_party", "backend 'minillm' uses"),
        ("third_party/ev\x1bil", "control characters"),
        ("third_party/" + "x" * 300, "over the limit"),
        ("a/../../outside", "outside the workspace"),
    ],
)
def test_backend_add_path_is_checked_before_cloning(w: WS, path: str, expect: str) -> None:
    """A bad --path is refused with one line before any clone: the workspace is exactly as before."""
    before = tree_snapshot(w.root)
    r = cli(w.root, "backend", "add", "evil", "--url", str(w.upstream), "--ref", "v1.0", "--path", path)
    line = one_error_line(r)
    assert r.exit_code == 2 and expect in line, line
    assert tree_snapshot(w.root) == before


def test_failed_backend_add_removes_its_clone(w: WS) -> None:
    """A clone made for a ref that does not exist is removed again, parents it created included."""
    before = tree_snapshot(w.root)
    r = cli(w.root, "backend", "add", "other", "--url", str(w.upstream), "--ref", "nosuch", "--path", "deps/other/src")
    line = one_error_line(r)
    assert r.exit_code == 2 and "nosuch" in line, line
    assert not (w.root / "deps").exists()
    assert tree_snapshot(w.root) == before


def _rewrite_state(w: WS, edit: Any) -> None:
    """Replace refs/fspatch/state by a state commit whose state.json is edit(old json) (bytes or a dict change)."""
    repo = pygit2.Repository(str(w.checkout))
    ref = repo.references["refs/fspatch/state"]
    commit: Any = repo[ref.target]
    blob_obj: Any = repo[commit.tree["state.json"].id]
    old = json.loads(blob_obj.data)
    raw = edit(old) if callable(edit) else edit
    blob = repo.create_blob(raw if isinstance(raw, bytes) else json.dumps(raw).encode())
    tb = repo.TreeBuilder()
    tb.insert("state.json", blob, pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("x", "x@x", 0, 0)
    new = repo.create_commit(None, sig, sig, "fspatch stack state\n", tb.write(), [commit.parents[0].id])
    ref.set_target(new)


def _dotdot(state: dict) -> dict:  # type: ignore[type-arg]
    state["layers"][0]["applied"][0]["name"] = "../../../outside/victim.txt"
    return state


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (_dotdot, "points outside the layer directory"),
        (b"\x00garbage", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (lambda s: {**s, "upstream": 12}, "'upstream' is not a full commit id"),
        (lambda s: {**s, "layers": {"a": 1}}, "'layers' is not a list"),
        (lambda s: {**s, "format": int("9" * 5000) if False else "9" * 5000}, "unknown fspatch state format"),
        (b'{"format": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (lambda s: {**s, "layers": [{**s["layers"][0], "layer": "vendor/../x"}]}, "bad layer label"),
        (lambda s: {**s, "layers": [{**s["layers"][0], "base": "f" * 40}]}, "not in the repository"),
    ],
    ids=["dotdot-name", "garbage", "list", "upstream-int", "layers-dict", "format-huge-str", "huge-int", "layer-label", "missing-commit"],
)
def test_damaged_state_is_refused_with_a_way_out(w: WS, outside: Path, edit: object, expect: str) -> None:
    """A state.json found on disk is validated before use; a damaged one is one line that says how to start afresh."""
    apply_cmd.run(w.ws(), "minillm")
    _rewrite_state(w, edit)
    before, victim = tree_snapshot(w.root), tree_snapshot(outside)
    for args in (("pop",), ("status",), ("refresh",)):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "refs/fspatch/state is damaged" in line and expect in line, line
        assert "update-ref -d refs/fspatch/state" in line
    assert tree_snapshot(outside) == victim
    assert tree_snapshot(w.root) == before


def test_diff_git_line_with_dotdot_behind_clean_labels_is_refused(w: WS) -> None:
    """'diff --git a/../victim b/../victim' with clean ---/+++ lines: refused, naming the patch file and line."""
    (w.series_dir / "0004-evil.patch").write_bytes(
        b"Subject: evil\n---\ndiff --git a/../victim.txt b/../victim.txt\n--- a/README.md\n+++ b/README.md\n"
        b"@@ -1,3 +1,3 @@\n-# minillm\n+# evil\n \n A tiny LLM serving engine (example upstream for fspatch).\n"
    )
    with open(w.series_dir / "series", "a") as fh:
        fh.write("0004-evil.patch\n")
    before = tree_snapshot(w.root)
    r = cli(w.root, "apply", "minillm")
    line = one_error_line(r)
    assert r.exit_code == 2 and "series/minillm/0004-evil.patch:3:" in line, line
    assert tree_snapshot(w.root) == before
