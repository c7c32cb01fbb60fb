"""The tree walks replay uses (changed_files, changed_among) list what ``git diff-tree -r`` lists.

perf13c: the walks tell trees from blobs by the entry's object type, not its file mode, and
skip the mode comparison for two trees of one id; a mode-only change (exec bit, a symlink
with the same bytes as a file), a file replaced by a directory and back must still show.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fspatch.git_adapter import GitRepo, path_trie


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@x",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def _commit(repo: Path) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "step")
    return _git(repo, "rev-parse", "HEAD").strip()


def test_each_step_lists_the_paths_git_diff_tree_lists(tmp_path: Path) -> None:
    repo = tmp_path / "up"
    (repo / "megatron" / "core").mkdir(parents=True)
    (repo / "csrc").mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "megatron" / "core" / "model.py").write_text("class Model:\n    pass\n")
    (repo / "megatron" / "core" / "same.py").write_text("x = 1\n")
    (repo / "csrc" / "ops.cpp").write_text("int f() { return 1; }\n")
    (repo / "csrc" / "kernel.cu").write_text("__global__ void k() {}\n")
    commits = [_commit(repo)]
    (repo / "csrc" / "ops.cpp").chmod(0o755)  # mode only
    commits.append(_commit(repo))
    (repo / "megatron" / "core" / "same.py").unlink()
    os.symlink("x = 1\n", repo / "megatron" / "core" / "same.py")  # a link whose target is the file's bytes
    commits.append(_commit(repo))
    (repo / "csrc" / "kernel.cu").unlink()
    (repo / "csrc" / "kernel.cu").mkdir()
    (repo / "csrc" / "kernel.cu" / "impl.cu").write_text("__global__ void k() {}\n")  # file -> directory
    commits.append(_commit(repo))
    (repo / "megatron" / "core" / "model.py").write_text("class Model:\n    x = 1\n")
    commits.append(_commit(repo))
    r = GitRepo.open(repo)
    every = ["csrc/ops.cpp", "csrc/kernel.cu", "megatron/core/model.py", "megatron/core/same.py"]
    seen = set()
    for old, new in zip(commits, commits[1:], strict=False):
        want = sorted(_git(repo, "diff-tree", "-r", "--no-renames", "--name-only", old, new).split())
        got = r.changed_files(r.tree_of(old), r.tree_of(new))
        assert [p for p, _a, _b in got] == want
        assert all(a != b for _p, a, b in got)  # a mode-only change has different entries
        among = r.changed_among(r.tree_of(old), r.tree_of(new), path_trie(every))
        assert sorted(p for p in among if p in want) == sorted(p for p in every if p in want)
        seen.update(want)
    assert {"csrc/ops.cpp", "megatron/core/same.py", "csrc/kernel.cu/impl.cu"} <= seen
