"""pull-upstream scans the checkout for local edits in a second process, and still refuses before any write.

Why beside: on an 80k-file checkout the scan takes ~0.3 s, and reading the patch files and
building the old stacks in memory need none of its answer.  What must hold either way (a
forked child, or ``FSPATCH_SCAN_BESIDE=0``, or no fork possible): a dirty checkout is refused
with every file named, before anything is written -- no object of the old stacks, no ref, no
FETCH_HEAD of a fetch, no journal, no workspace file; a broken layer in a dirty checkout is
refused for the local edits first, as before; the child is always reaped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fspatch.commands import pull_upstream
from fspatch.core.workspace import Workspace
from fspatch.errors import DirtyCheckoutError
from fspatch.git_adapter import GitRepo
from scripts.example import common_patches, git, make_upstream
from tests.rebase_helpers import make_ws, snapshot


@pytest.fixture
def example(tmp_path: Path) -> Workspace:
    up = tmp_path / "upstream"
    make_upstream(up)
    return make_ws(tmp_path, up, "v1.0", common_patches())


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _dirty(ws: Workspace) -> None:
    """Local edits in the checkout, and a patch edited since it was applied (the old stack gets
    objects the repository lacks: a write that must wait for the scan's verdict)."""
    patch = next((ws.root / "series/minillm").glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("+    flag_gems.enable()", "+    flag_gems.enable()  # all ops"))
    co = ws.root / "third_party/minillm"
    (co / "README.md").write_text("local edit\n")
    (co / "csrc" / "scratch").mkdir()
    (co / "csrc" / "scratch" / "probe.cu").write_text("__global__ void probe() {}\n")


@pytest.mark.parametrize("beside", ["1", "0"], ids=["child", "inline"])
@pytest.mark.parametrize("ref", ["v1.1", "next"], ids=["local-tag", "needs-fetch"])
def test_a_dirty_checkout_is_refused_by_name_before_any_write(
    example: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, beside: str, ref: str
) -> None:
    monkeypatch.setenv("FSPATCH_SCAN_BESIDE", beside)
    up = tmp_path / "upstream"
    git(up, "checkout", "-q", "-b", "next", "v1.1")  # a branch the checkout has never fetched
    (up / "NEXT.md").write_text("next\n")
    git(up, "add", "NEXT.md")
    git(up, "commit", "-q", "-m", "Next")
    _dirty(example)
    before = snapshot(example.root)
    with pytest.raises(DirtyCheckoutError) as got:
        pull_upstream.run(example, "minillm", ref, stop=False)
    assert "README.md" in got.value.message and "csrc/scratch/probe.cu" in got.value.message
    assert snapshot(example.root) == before  # objects, refs, FETCH_HEAD, journal, workspace files
    assert _no_children_left()


def test_a_broken_layer_in_a_dirty_checkout_is_refused_for_the_edits_first(example: Workspace) -> None:
    _dirty(example)
    patch = next((example.root / "series/minillm").glob("0003-*.patch"))
    text = patch.read_text()
    context = next(line for line in text.splitlines() if line.startswith(" ") and line.strip())
    patch.write_text(text.replace(context, " not the old base's line", 1))  # no longer applies to the old base
    before = snapshot(example.root)
    with pytest.raises(DirtyCheckoutError, match="local changes in the checkout"):
        pull_upstream.run(example, "minillm", "v1.1", stop=False)
    assert snapshot(example.root) == before
    assert _no_children_left()


def test_a_clean_checkout_replays_with_the_scan_beside_and_reaps_it(
    example: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks: list[int] = []
    real = os.fork

    def counted() -> int:
        pid = real()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setenv("FSPATCH_READ_AHEAD", "0")  # the scan's child is then the only one
    monkeypatch.setattr(os, "fork", counted)
    r = pull_upstream.run(example, "minillm", "v1.1", stop=False)
    assert r.report.new_ref == "v1.1"
    assert len(forks) == 1 and _no_children_left()
    assert GitRepo.open(example.root / "third_party/minillm").git_dir.is_dir()


def test_without_fork_the_scan_runs_in_process(example: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError("no fork here")

    monkeypatch.setattr(os, "fork", no_fork)
    _dirty(example)
    with pytest.raises(DirtyCheckoutError, match="README.md"):
        pull_upstream.run(example, "minillm", "v1.1", stop=False)
