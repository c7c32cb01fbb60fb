"""``find_renames`` on two flat trees (files named by rank) pairs exactly as on the nested trees.

The rename search used to write the sources and the targets as two trees with their real
paths (every directory on both sides: ~300 trees for Megatron-LM's 1,049 added files); it
now writes two flat trees whose entries are named by the rank of their path.  libgit2's
similarity never reads a path except through the order of the deltas, which the ranks keep.
Checked here against the nested trees on cases where the order decides: ties between equally
similar targets and sources, paths that sort around ``/`` (``a-b``, ``a.b``, ``a/b``, ``a0``),
non-ASCII names, an executable, a symlink, sizes on both sides of libgit2's 8x cut-off.
"""

from __future__ import annotations

import random
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import DeltaStatus, DiffFind

from fspatch.git_adapter import MODE_EXEC, MODE_FILE, MODE_LINK, Entry, GitRepo


def _nested(repo: GitRepo, sources: dict[str, Entry], targets: dict[str, Entry]) -> dict[str, str]:
    """The search as it was: the files under their own paths (after the same size rule)."""
    targets = repo._size_compatible(sources, targets)
    if not targets:
        return {}
    empty = repo.empty_tree()
    old = repo.update_tree(empty, dict(sources))
    new = repo.update_tree(empty, dict(targets))
    diff = repo._repo.diff(repo._tree(old), repo._tree(new))  # type: ignore[call-overload]
    diff.find_similar(flags=DiffFind.FIND_RENAMES, rename_limit=max(1000, len(sources) + len(targets)))
    return {d.old_file.path: d.new_file.path for d in diff.deltas if d.status == DeltaStatus.RENAMED}


def _text(seed: int, lines: int) -> bytes:
    rnd = random.Random(seed)
    return b"".join(b"line %d of %d: %x\n" % (i, seed, rnd.getrandbits(40)) for i in range(lines))


def _edit(data: bytes, seed: int, share: float) -> bytes:
    """The text with about ``share`` of its lines replaced."""
    rnd = random.Random(seed)
    return b"".join(
        (b"changed %x\n" % rnd.getrandbits(40)) if rnd.random() < share else line
        for line in data.splitlines(keepends=True)
    )


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(pygit2.init_repository(str(tmp_path / "r"), bare=True))


def _blob(repo: GitRepo, data: bytes, mode: int = MODE_FILE) -> Entry:
    return Entry(repo.write_blob(data), mode)


NAMES = ["a-b", "a.b", "a/b", "a0", "a/b/c", "z", "ü/x", "dir/sub-1/f", "dir/sub/f", "dir/sub.d/f", "dir.x/f"]


def test_ties_and_paths_sorting_around_the_slash(repo: GitRepo) -> None:
    base = _text(1, 40)
    sources = {f"old/{n}/file.py": _blob(repo, _edit(base, i, 0.05)) for i, n in enumerate(NAMES[:5])}
    # every target equally like every source: the order of the deltas alone decides the pairs
    targets = {f"{n}/moved.py": _blob(repo, base) for n in NAMES}
    targets.update({f"{n}/other.py": _blob(repo, _edit(base, 100 + i, 0.3)) for i, n in enumerate(NAMES)})
    got = repo.find_renames(sources, targets)
    assert got == _nested(repo, sources, targets)
    assert len(got) == 5


@pytest.mark.parametrize("seed", range(8))
def test_random_sets_pair_as_on_nested_trees(repo: GitRepo, seed: int) -> None:
    rnd = random.Random(seed)
    dirs = ["", "a/", "a-b/", "a.b/", "a/b/", "a0/", "é/", "x/y/z/"]
    texts = [_text(seed * 100 + k, rnd.randint(3, 120)) for k in range(12)]
    sources: dict[str, Entry] = {}
    targets: dict[str, Entry] = {}
    for k in range(rnd.randint(1, 10)):
        t = rnd.choice(texts)
        mode = MODE_EXEC if rnd.random() < 0.15 else MODE_FILE
        sources[f"{rnd.choice(dirs)}s{k}{rnd.choice(['', '.py', '-x'])}"] = _blob(repo, _edit(t, k, 0.2), mode)
    for k in range(rnd.randint(1, 40)):
        t = rnd.choice(texts)
        if rnd.random() < 0.1:
            t = t * 9  # past libgit2's 8x size cut-off for some pairs, within git's 2x rule for none
        mode = MODE_EXEC if rnd.random() < 0.15 else MODE_FILE
        if rnd.random() < 0.05:
            targets[f"{rnd.choice(dirs)}link{k}"] = _blob(repo, b"s0", MODE_LINK)
            continue
        targets[f"{rnd.choice(dirs)}t{k}{rnd.choice(['', '.py', '-x'])}"] = _blob(repo, _edit(t, 1000 + k, 0.35), mode)
    assert repo.find_renames(sources, targets) == _nested(repo, sources, targets)
