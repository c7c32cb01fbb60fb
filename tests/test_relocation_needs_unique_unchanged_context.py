"""Marker-guided relocation re-anchors a FLAGSCALE block only on unique, unchanged context (issue 17).

The conflicts are real libgit2 merges: upstream moved the function the patch's marked block
lives in (and put new code where it was).  The block goes where its anchors -- the lines the
patch left unchanged around it -- occur exactly once; every refusal condition has a case.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.ladder import SAFE, FileResolution, Ladder
from fspatch.git_adapter import GitRepo

LABELS = ("upstream v1", "upstream v2", "patch 0002-device.patch")

SETUP = """def setup(args):
    world = init_world(args)
    rank = world.rank
    size = world.size
    log(rank, size)
    return world
"""
HELPER = "def helper():\n    return 1\n"
TEARDOWN = "def teardown():\n    pass\n"
CONFIGURE = "def configure(args):\n    world = args.world\n    rank = 0\n    return world\n"
BLOCK = "    # --- FLAGSCALE MODIFICATION BEG ---\n    set_device(rank)\n    # --- FLAGSCALE MODIFICATION END ---\n"
BASE = SETUP + "\n\n" + HELPER + "\n\n" + TEARDOWN
PATCHED = BASE.replace("    size = world.size\n", "    size = world.size\n" + BLOCK)


def moved(setup: str = SETUP, extra: str = "") -> str:
    """New upstream: configure() where setup() was, setup() moved to the end."""
    return CONFIGURE + "\n\n" + HELPER.replace("1", "2") + "\n\n" + TEARDOWN + extra + "\n\n" + setup


def run(tmp_path: Path, path: str, base: str, ours: str, theirs: str) -> FileResolution:
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts(path, base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None and not got[0], "the case must be a conflict for git"
    fr = Ladder(SAFE).resolve_file(path, base.encode(), ours.encode(), theirs.encode(), got[1], LABELS)
    assert fr is not None
    return fr


def test_block_follows_its_moved_context(tmp_path: Path) -> None:
    """Upstream moved the function: the marked block lands inside it, at its unchanged anchors."""
    fr = run(tmp_path, "megatron/training/initialize.py", BASE, moved(), PATCHED)
    assert fr.resolved and fr.rules == ("relocated",)
    want = moved(SETUP.replace("    size = world.size\n", "    size = world.size\n" + BLOCK))
    assert fr.text == want.encode()
    assert "re-anchored 1 marked block" in fr.regions[0].reason


def test_cuda_block_follows_its_moved_context(tmp_path: Path) -> None:
    """The same with ``//`` markers in a CUDA host file (the Python file's shape, C++ syntax)."""
    base = BASE
    ours = moved()
    marker = BLOCK.replace("#", "//")
    theirs = PATCHED.replace(BLOCK, marker)
    fr = run(tmp_path, "csrc/launch.cu", base, ours, theirs)
    assert fr.resolved, fr.regions[0].reason
    assert fr.text.endswith(SETUP.replace("    size = world.size\n", "    size = world.size\n" + marker).encode())


def test_context_changed_upstream_is_refused(tmp_path: Path) -> None:
    """Upstream changed a line of the block's context: refused."""
    changed = SETUP.replace("    size = world.size\n", "    size = world.world_size\n")
    fr = run(tmp_path, "m.py", BASE, moved(changed), PATCHED)
    assert not fr.resolved
    assert "upstream changed lines inside the block's context" in fr.regions[0].reason


def test_context_found_twice_is_refused(tmp_path: Path) -> None:
    """The anchors occur twice in the new upstream: not unique, refused."""
    twice = "\n\n" + SETUP.replace("def setup", "def setup_again")
    fr = run(tmp_path, "m.py", BASE, moved(extra=twice), PATCHED)
    assert not fr.resolved
    assert "not unique" in fr.regions[0].reason


def test_patch_change_outside_markers_is_refused(tmp_path: Path) -> None:
    """The patch also changed a line outside its markers: refused."""
    theirs = PATCHED.replace("    log(rank, size)\n", "    log(rank, size, flush=True)\n")
    fr = run(tmp_path, "m.py", BASE, moved(), theirs)
    assert not fr.resolved
    assert "outside its markers" in fr.regions[0].reason


def test_unmarked_change_is_refused(tmp_path: Path) -> None:
    """No marker pair in the patch's side: nothing is ours for sure, refused."""
    theirs = BASE.replace("    size = world.size\n", "    size = world.size\n    set_device(rank)\n")
    fr = run(tmp_path, "m.py", BASE, moved(), theirs)
    assert not fr.resolved
    assert "no FLAGSCALE MODIFICATION block" in fr.regions[0].reason


def test_file_type_without_comment_syntax_is_refused(tmp_path: Path) -> None:
    """A file whose comment syntax is unknown cannot carry markers: refused."""
    fr = run(tmp_path, "data.unknownext", BASE, moved(), PATCHED)
    assert not fr.resolved
    assert "no comment syntax" in fr.regions[0].reason
