"""The read-ahead (a forked child reading upstream's range beside the replay) changes nothing but time.

pull-upstream forks a child that builds the culprits' index of the range, the map of upstream's
renames and deletions, and then the culprits of each conflict (fspatch.core.read_ahead).  A
replay with it and one without it (``FSPATCH_READ_AHEAD=0``) must give the same report, the
same workspace files and the same objects in the backend's repository -- on a history with
merges, a rename and a deletion upstream, conflicts with culprits on merged branches, a
cascade and a patch upstream carries twice.  A child that dies leaves the replay to work
everything out itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.core import read_ahead
from fspatch.core.culprit import History
from fspatch.core.upstream_map import UpstreamMap
from fspatch.git_adapter import GitRepo
from scripts.example import BASE_DATE, git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text

FSPATCH = Path(sys.executable).with_name("fspatch")


def _commit(repo: Path, files: dict[str, bytes | None], message: str, n: int) -> None:
    write_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=BASE_DATE + 600 + 60 * n)


def _history(tmp: Path) -> tuple[Path, Path]:
    """Upstream v1 -> v2 with merged branches, a rename, a deletion; a workspace of six patches on v1."""
    body, cuda, other = lines(60), lines(40, "k"), lines(30, "o")
    fixed = body[:44] + ["fixed 45\n"] + body[45:]
    up = tmp / "up"
    make_repo(up, {"model.py": text(body), "kernels/attn.cu": text(cuda), "old/util.py": text(other),
                   "gone.cc": text(lines(20, "g"))}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "topic")
    _commit(up, {"model.py": text(body[:9] + ["upstream 10\n"] + body[10:])}, "ADLR/megatron-lm!12 - Rework 10", 1)
    _commit(up, {"kernels/attn.cu": text(cuda[:4] + ["upstream k5\n"] + cuda[5:])}, "Tune the kernel (#77)", 2)
    _commit(up, {"model.py": text(fixed[:9] + ["upstream 10\n"] + fixed[10:])}, "Cherry-pick FlagScale's fix", 5)
    git(up, "checkout", "-q", main)
    _commit(up, {"model.py": text(fixed)}, "Take FlagScale's fix", 3)
    git(up, "merge", "-q", "--no-ff", "topic", "-m", "Merge branch 'topic' into 'main'", date=BASE_DATE + 900)
    git(up, "checkout", "-q", "-b", "again")
    _commit(up, {"model.py": text(body[:9] + ["upstream 10\n"] + body[10:44] + ["fixed 45\n", "next 46\n"] + body[46:])},
            "Follow-up next to the fix", 4)
    git(up, "checkout", "-q", main)
    git(up, "merge", "-q", "--no-ff", "again", "-m", "Merge branch 'again' into 'main'", date=BASE_DATE + 1000)
    (up / "new").mkdir()
    git(up, "mv", "old/util.py", "new/util.py")
    _commit(up, {"gone.cc": None}, "Move util, drop gone.cc", 6)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    block = [f"added {k}\n" for k in range(6)]
    one = body[:9] + ["ours 10\n"] + body[10:30] + block + body[30:]
    two = body[:9] + ["ours 10\n"] + body[10:30] + block[:3] + ["changed 3\n"] + block[4:] + body[30:]
    patches = [
        ("0001-model.patch", "Model", "d", {"model.py": text(one)}),
        ("0002-model-more.patch", "Model more", "d", {"model.py": text(two)}),
        ("0003-kernel.patch", "Kernel", "d", {"kernels/attn.cu": text(cuda[:4] + ["ours k5\n"] + cuda[5:])}),
        ("0004-util.patch", "Util", "d", {"old/util.py": text(other[:3] + ["ours o4\n"] + other[4:])}),
        ("0005-gone.patch", "Gone", "d", {"gone.cc": text(lines(20, "g")[:2] + ["ours g3\n"] + lines(20, "g")[3:])}),
        # the fix upstream took twice (on main, and on the merged branch): upstreamed by patch-id
        ("0006-fix.patch", "Fix", "d",
         {"model.py": text(fixed[:9] + ["ours 10\n"] + fixed[10:30] + block[:3] + ["changed 3\n"] + block[4:] + fixed[30:])}),
    ]
    ws = make_ws(tmp, up, "v1", patches)
    return up, ws.root


def _env(read_ahead_on: bool) -> dict[str, str]:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    env["FSPATCH_READ_AHEAD"] = "1" if read_ahead_on else "0"
    return env


def _objects(repo_dir: Path) -> list[str]:
    out = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"], cwd=repo_dir,
                         capture_output=True, check=True, text=True).stdout
    return sorted(out.split())


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "third_party" not in p.relative_to(root).parts}


def _backend_dir(root: Path) -> Path:
    return next(p for p in (root / "third_party").iterdir() if p.is_dir())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")
def test_a_bot_run_with_and_without_the_read_ahead_is_the_same(tmp_path: Path) -> None:
    """The installed fspatch, twice on copies of one workspace: report, files and objects are the same."""
    up, root = _history(tmp_path)
    runs = {}
    for on in (True, False):
        copy = tmp_path / f"ws-{'on' if on else 'off'}"
        shutil.copytree(root, copy, symlinks=True)
        p = subprocess.run([str(FSPATCH), "-C", str(copy), "pull-upstream", "minillm", "v2", "--no-stop",
                            "--format", "json"], capture_output=True, env=_env(on), check=False)
        assert p.returncode == 1, p.stderr.decode()
        runs[on] = (json.loads(p.stdout), _files(copy), _objects(_backend_dir(copy)))
    assert runs[True] == runs[False]
    report = runs[True][0]["report"]
    by = {p["patch"]: p for p in report["patches"]}
    assert by["0001-model.patch"]["status"] == "conflict"
    culprit = by["0001-model.patch"]["conflicts"][0]["culprits"][0]
    assert culprit["subject"] == "ADLR/megatron-lm!12 - Rework 10" and culprit["merge"]
    assert by["0002-model-more.patch"]["blocked_by"] == "0001-model.patch"
    assert by["0003-kernel.patch"]["conflicts"][0]["culprits"][0]["ref"] == "#77"
    assert by["0004-util.patch"]["status"] == "clean" and by["0004-util.patch"]["renamed_upstream"]
    assert by["0005-gone.patch"]["conflicts"][0]["kind"] == "deleted upstream"
    fix = git(up, "log", "--format=%H", "--grep", "Take FlagScale's fix", "v2").strip()
    assert by["0006-fix.patch"]["status"] == "upstreamed" and by["0006-fix.patch"]["upstream_how"] == "patch-id"
    assert by["0006-fix.patch"]["upstream_commit"] == fix  # a culprit of the conflict, of the two that carry it


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")
def test_the_replay_takes_what_the_child_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: the index, the map and every conflict's culprits come from the child, not built again."""
    _up, root = _history(tmp_path)
    taken: list[str] = []
    real = read_ahead.ReadAhead

    class Counting(real):  # type: ignore[misc,valid-type]
        def range_index(self):  # type: ignore[no-untyped-def]
            got = super().range_index()
            taken.append("range" if got is not None else "range: none")
            return got

        def move_index(self):  # type: ignore[no-untyped-def]
            got = super().move_index()
            taken.append("moves" if got is not None else "moves: none")
            return got

        def culprits(self, ticket):  # type: ignore[no-untyped-def]
            got = super().culprits(ticket)
            taken.append("culprits" if got is not None else "culprits: none")
            return got

    monkeypatch.setattr("fspatch.commands.pull_upstream.ReadAhead", Counting)
    parent = os.getpid()
    monkeypatch.setattr(GitRepo, "first_parent_line", _refuse(parent, "the range was walked again in the parent",
                                                               GitRepo.first_parent_line))
    monkeypatch.setattr(UpstreamMap, "_search", _refuse(parent, "renames were searched again in the parent",
                                                        UpstreamMap._search))
    res = CliRunner().invoke(main_group, ["-C", str(root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert res.exit_code == 1, res.output
    assert taken[:2] == ["range", "moves"] and taken.count("culprits") >= 3 and all("none" not in t for t in taken)


def _refuse(parent: int, why: str, real):  # type: ignore[no-untyped-def]
    """The real method in the child (which inherits the patch), an error in the parent."""

    def refuse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            raise AssertionError(why)
        return real(self, *args, **kwargs)

    return refuse


def _repo(tmp: Path) -> tuple[GitRepo, str, str, frozenset[str]]:
    up, _root = _history(tmp)
    repo = GitRepo(pygit2.Repository(str(up)))
    old = git(up, "rev-parse", "v1").strip()
    new = git(up, "rev-parse", "v2").strip()
    return repo, old, new, frozenset({"model.py", "kernels/attn.cu", "old/util.py", "gone.cc"})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")
def test_the_child_builds_what_the_parent_would(tmp_path: Path) -> None:
    repo, old, new, paths = _repo(tmp_path)
    before = _objects(tmp_path / "up")
    ahead = read_ahead.ReadAhead(repo, old, new, lambda: paths)
    try:
        requests = [("model.py", ((9, 10),), False), ("kernels/attn.cu", ((4, 5),), False), ("gone.cc", (), True)]
        tickets = [ahead.ask(r) for r in requests]
        with repo.objects_in_memory():  # the parent's own search drops its two trees too
            assert ahead.range_index() == History(repo, old, new, lambda: paths).range_index()
            assert ahead.move_index() == UpstreamMap(repo, old, new, lambda: paths).move_index()
            history = History(repo, old, new, lambda: paths)
            for (path, spans, whole), ticket in zip(requests, tickets, strict=True):
                got = ahead.culprits(ticket)
                assert got is not None and got == history.culprits(path, spans, whole)
    finally:
        ahead.close()
    assert _objects(tmp_path / "up") == before  # nothing written: the child's trees stayed in its memory


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")
def test_a_child_that_dies_leaves_the_work_to_the_parent(tmp_path: Path) -> None:
    repo, old, new, paths = _repo(tmp_path)
    ahead = read_ahead.ReadAhead(repo, old, new, lambda: paths)
    pid = ahead._pid
    assert pid and ahead.running
    os.kill(pid, signal.SIGKILL)
    assert ahead.range_index() is None and ahead.move_index() is None
    assert ahead.culprits(ahead.ask(("model.py", ((9, 10),), False))) is None
    assert not ahead.running
    ahead.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")
def test_an_ended_child_is_killed_at_once_and_reaped_by_close(tmp_path: Path) -> None:
    """end() (the replay's last answer is in) kills the child; it answers nothing more; close() reaps it."""
    repo, old, new, paths = _repo(tmp_path)
    ahead = read_ahead.ReadAhead(repo, old, new, lambda: paths)
    pid = ahead._pid
    assert ahead.range_index() is not None
    ahead.end()
    assert not ahead.running and ahead.move_index() is None
    assert ahead.ask(("model.py", ((9, 10),), False)) == -1
    # Ended by end() itself, before any close.  end closes the pipes, then sends SIGKILL, so the
    # child is killed, or meets the closed pipe first: SIGPIPE at its next answer, or its
    # requests' end of file while it waits (a clean exit).
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGPIPE)
    assert killed or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
    ahead.close()  # its reaping (done above) is not waited for twice
    assert ahead._pid == 0


def test_switched_off_nothing_is_forked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, old, new, paths = _repo(tmp_path)
    monkeypatch.setenv("FSPATCH_READ_AHEAD", "0")
    ahead = read_ahead.ReadAhead(repo, old, new, lambda: paths)
    assert not ahead.running and ahead._pid == 0
    assert ahead.range_index() is None and ahead.ask(("model.py", ((9, 10),), False)) == -1
    ahead.close()
