"""The patch-id search's "changed exactly the patch's files" test is the full tree diff's answer (issue 13).

``GitRepo.changed_exactly`` stops at the first difference outside the wanted paths instead of
listing every changed file of a commit; on real commits it must say what comparing
``changed_files``' paths says, including a file replaced by a directory and a mode change.
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


def _write(repo: Path, files: dict[str, bytes | None]) -> None:
    for path, data in files.items():
        target = repo / path
        if data is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "step")


BASE = {
    "megatron/core/model.py": b"import torch\n\nclass Model:\n    pass\n",
    "megatron/training/arguments.py": b"def add(parser):\n    parser.add_argument('--lr')\n",
    "csrc/kernel.cu": b"__global__ void k() {}\n",
    "csrc/ops.cpp": b"int f() { return 1; }\n",
}

STEPS: list[dict[str, bytes | None]] = [
    {"megatron/core/model.py": b"import torch\n\nclass Model:\n    x = 1\n"},
    {"megatron/core/model.py": b"import torch\n", "csrc/kernel.cu": b"__global__ void k() { return; }\n"},
    {"csrc/ops.cpp": None, "csrc/ops.cpp/impl.cpp": b"int f() { return 2; }\n"},
    {"megatron/training/arguments.py": None, "megatron/training/args/parse.py": b"x = 1\n"},
    {"megatron/new.py": b"y = 2\n"},
]

WANTS = [
    {"megatron/core/model.py"},
    {"megatron/core/model.py", "csrc/kernel.cu"},
    {"csrc/ops.cpp"},
    {"csrc/ops.cpp/impl.cpp"},
    {"csrc/ops.cpp", "csrc/ops.cpp/impl.cpp"},
    {"megatron/training/arguments.py"},
    {"megatron/training/arguments.py", "megatron/training/args/parse.py"},
    {"megatron/new.py"},
    {"megatron"},
    {"csrc/kernel.cu"},
]


@pytest.mark.parametrize("step", range(len(STEPS)))
def test_changed_exactly_is_the_full_diffs_answer(tmp_path: Path, step: int) -> None:
    repo = tmp_path / "up"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, dict(BASE))
    _write(repo, STEPS[step])
    r = GitRepo.open(repo)
    new = _git(repo, "rev-parse", "HEAD").strip()
    old = _git(repo, "rev-parse", "HEAD~1").strip()
    old_tree, new_tree = r.tree_of(old), r.tree_of(new)
    changed = {p for p, _a, _b in r.changed_files(old_tree, new_tree)}
    assert changed  # every step changes something
    answers = []
    for want in [*WANTS, changed]:
        fast = r.changed_exactly(old_tree, new_tree, want)
        assert fast == (changed == want), (want, changed)
        answers.append(fast)
    assert answers[-1] and not all(answers)


def test_a_mode_change_counts_as_a_change(tmp_path: Path) -> None:
    repo = tmp_path / "up"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, dict(BASE))
    (repo / "csrc" / "ops.cpp").chmod(0o755)
    _git(repo, "commit", "-q", "-am", "exec")
    r = GitRepo.open(repo)
    old_tree, new_tree = r.tree_of(_git(repo, "rev-parse", "HEAD~1").strip()), r.tree_of(_git(repo, "rev-parse", "HEAD").strip())
    assert r.changed_exactly(old_tree, new_tree, {"csrc/ops.cpp"})
    assert not r.changed_exactly(old_tree, new_tree, {"csrc/kernel.cu"})
    assert not r.changed_exactly(old_tree, new_tree, {"csrc/ops.cpp", "csrc/kernel.cu"})
