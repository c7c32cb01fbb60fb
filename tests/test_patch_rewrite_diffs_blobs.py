"""A rewritten patch diffs its files blob to blob when it only modifies files: the same bytes.

``diff_trees`` used to write two small trees per patch (2 x path depth loose objects) to let
libgit2 pair renames and copies; a patch that only modifies regular files in place has nothing
to pair.  Each case here is a real commit in a real repository, diffed both ways.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fspatch.git_adapter import GitRepo


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@x",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def _commit(repo: Path, files: dict[str, bytes | None], mode_x: tuple[str, ...] = ()) -> None:
    for path, data in files.items():
        target = repo / path
        if data is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for path in mode_x:
        (repo / path).chmod(0o755)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "step")


def _both_ways(repo: Path) -> tuple[bytes, bytes, bool]:
    r = GitRepo.open(repo)
    head = r.head()
    assert head is not None
    info = r.commit_info(head)
    old, new = r.tree_of(info.parents[0]), info.tree
    fast_used = r._diff_modified_blobs(r.changed_files(old, new)) is not None
    got = r.diff_trees(old, new)
    r._diff_modified_blobs = lambda changes: None  # type: ignore[method-assign]
    return got, r.diff_trees(old, new), fast_used


CPP = b"".join(b"int f%d(int x) { return x + %d; }\n" % (i, i) for i in range(80))
CU = b"__global__ void k(float* a) {\n  a[threadIdx.x] *= 2;\n}\n" * 20
PY = b"".join(b"def f%d():\n    return %d\n\n" % (i, i) for i in range(60))


@pytest.mark.parametrize(
    ("change", "fast"),
    [
        ({"src/a.cpp": CPP.replace(b"x + 7;", b"x * 7;"), "kern/k.cu": CU.replace(b"*= 2", b"*= 3", 1)}, True),
        ({"py/m.py": PY.replace(b"return 5\n", b"return 55\n") + b"def g():\n    pass\n"}, True),
        ({"py/m.py": PY[:-1]}, True),  # no newline at end of file any more
        ({"py/m.py": PY, "py/new.py": b"x = 1\n"}, False),  # an added file: the general diff
        ({"src/a.cpp": None, "src/b.cpp": CPP}, False),  # a rename
        ({"bin/blob.dat": b"\0\1\2changed"}, False),  # binary
        ({"attr/f.txt": b"a\nB\nc\n"}, False),  # -diff attribute: binary by .gitattributes -> general
    ],
)
def test_blob_diff_is_the_tree_diff(tmp_path: Path, change: dict[str, bytes | None], fast: bool) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    _commit(repo, {"src/a.cpp": CPP, "kern/k.cu": CU, "py/m.py": PY, "bin/blob.dat": b"\0\1\2", "attr/f.txt": b"a\nb\nc\n",
                   ".gitattributes": b"attr/*.txt -diff\n"})
    _commit(repo, change)
    got, general, fast_used = _both_ways(repo)
    assert got == general
    assert fast_used == fast
    assert got.startswith(b"diff --git ")


def test_mode_change_and_executable_files_take_the_general_diff(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    _commit(repo, {"run.sh": b"echo a\n"})
    _commit(repo, {"run.sh": b"echo b\n"}, mode_x=("run.sh",))
    got, general, fast_used = _both_ways(repo)
    assert not fast_used
    assert got == general
    assert b"new mode 100755" in got


@pytest.mark.parametrize(
    "change",
    [
        {"src/a.cpp": CPP.replace(b"x + 7;", b"x * 7;"), "kern/k.cu": CU.replace(b"*= 2", b"*= 3", 1)},
        {"py/m.py": PY.replace(b"return 5\n", b"return   55\n")},
        {"py/m.py": PY, "py/new.py": b"x = 1\n"},
    ],
)
def test_patch_id_without_small_trees_is_gits(tmp_path: Path, change: dict[str, bytes | None]) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    _commit(repo, {"src/a.cpp": CPP, "kern/k.cu": CU, "py/m.py": PY[:-40]})
    _commit(repo, change)
    r = GitRepo.open(repo)
    head = r.head()
    assert head is not None
    info = r.commit_info(head)
    got = r.patch_id(r.tree_of(info.parents[0]), info.tree)
    diff = subprocess.run(["git", "diff-tree", "-p", "HEAD~1", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
    pid = subprocess.run(["git", "patch-id", "--stable"], cwd=repo, input=diff, capture_output=True, check=True).stdout
    assert got == pid.split()[0].decode()
    r._modified_text_blobs = lambda changes: None  # type: ignore[method-assign]
    assert r.patch_id(r.tree_of(info.parents[0]), info.tree) == got
