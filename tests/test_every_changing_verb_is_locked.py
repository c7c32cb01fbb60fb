"""Every verb that changes anything holds the workspace's lock (issue 15: "taken by every verb").

The test walks the click command tree, so a new verb fails here until it is classified: either
it is in the read-only allow-list (``READ_ONLY_VERBS``: it runs while another process holds the
lock) or it is refused, while a live process holds the lock, with the one clear line naming the
holder, and nothing in the workspace or the checkout changes.  Both layouts of the lock are
covered: a workspace that is a git repository (``.git/fspatch/lock``) and one that is not
(``.fspatch.lock`` at its root).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pygit2
import pytest

from fspatch.cli import main_group
from fspatch.cli.options import NO_WORKSPACE_VERBS, READ_ONLY_VERBS
from fspatch.commands import apply as apply_cmd
from fspatch.core.lock import workspace_lock_path
from tests.hardutil import cli, one_error_line, tree_snapshot, without_locks
from tests.wsutil import WS, make_workspace


def _verbs(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _verbs(cmd, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


ALL_VERBS = sorted(_verbs(main_group))

# Arguments that get each changing verb past click's parsing to the point where it opens the
# workspace (a real patch name, backend, tag or file, so the refusal is the lock's, not a typo's).
ARGS: dict[str, tuple[str, ...]] = {
    "init": ("{root}",),
    "backend add": ("other", "--url", "{upstream}", "--ref", "v1.0"),
    "sync": (),
    "apply": ("minillm", "--force"),
    "push": (),
    "pop": (),
    "goto": ("0002",),
    "new": ("extra", "-m", "Extra"),
    "refresh": (),
    "delete": ("0003",),
    "rename": ("0003", "renamed"),
    "recover": (),
    "mark": (),
    "fmt": (),
    "pull-upstream": ("minillm", "v1.1"),
    "rebase-vendors": ("minillm",),
    "continue": (),
    "skip": (),
    "abort": (),
    "resolutions forget": ("0123456789ab",),
    "vendor add": ("acme", "--device-type", "Acme_NPU", "--contact", "a@x"),
    "vendor layer": ("acme", "minillm", "--task", "inference"),
    "export": (),
    "import flagscale": ("{tmp}",),
    "import quilt": ("{tmp}",),
    "import mbox": ("{patch}",),
    "import commits": ("v1.0..v1.1",),
    "unpatch": ("--backend", "minillm"),
    "patch": ("--backend", "minillm"),
    "header": ("-m", "New subject"),
    "fold": ("{patch}",),
    "float": ("0001",),
    "sink": ("0002",),
    "squash": ("0002", "0003"),
    "absorb": (),
    "merge": ("--backend", "minillm", "--device-type", "Acme_NPU", "--task", "inference", "--commit", "HEAD"),
}

READ_ONLY_ARGS: dict[str, tuple[str, ...]] = {"help": ("push",), "resolutions show": ("0123456789ab",),
                                              "patches": ("README.md",), "blame": ("README.md",)}


def test_every_verb_is_classified() -> None:
    """Each verb of the tree is read-only (allow-list), works on no workspace, or has a lock case below."""
    known = set(ARGS) | READ_ONLY_VERBS | NO_WORKSPACE_VERBS
    assert set(ALL_VERBS) == known, sorted(set(ALL_VERBS) ^ known)
    assert not set(ARGS) & READ_ONLY_VERBS and not set(ARGS) & NO_WORKSPACE_VERBS


@pytest.fixture(params=["plain", "git"])
def held(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WS, Path, int]]:
    """A workspace (a git repository or not) whose lock a live process holds: (ws, lock path, pid)."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    if request.param == "git":
        pygit2.init_repository(str(w.root))
    sleeper = subprocess.Popen(["sleep", "60"])
    path = workspace_lock_path(w.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "pid": sleeper.pid, "host": socket.gethostname(),
                                "operation": "push", "started": 0}))
    try:
        yield w, path, sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def _args(verb: str, raw: tuple[str, ...], w: WS) -> list[str]:
    tmp = w.root.parent / "import-src"
    tmp.mkdir(exist_ok=True)
    patch = w.root.parent / "one.patch"
    patch.write_bytes((w.series_dir / "0002-rmsnorm-block-size.patch").read_bytes() if
                      (w.series_dir / "0002-rmsnorm-block-size.patch").is_file() else b"")
    subs = {"{root}": str(w.root), "{upstream}": str(w.upstream), "{tmp}": str(tmp), "{patch}": str(patch)}
    return [*verb.split(), *(subs.get(a, a) for a in raw)]


@pytest.mark.parametrize("verb", sorted(ARGS))
def test_changing_verb_is_refused_while_another_process_holds_the_lock(held: tuple[WS, Path, int], verb: str) -> None:
    """One line naming the holder (verb, pid, host) and the lock file; exit 2; nothing changed."""
    w, path, pid = held
    before = tree_snapshot(w.root)
    r = cli(w.root, *_args(verb, ARGS[verb], w))
    line = one_error_line(r)
    assert r.exit_code == 2, (verb, r.output)
    assert f"'push' (pid {pid} on {socket.gethostname()})" in line and str(path) in line, (verb, line)
    assert "another fspatch is changing this workspace" in line
    assert tree_snapshot(w.root) == before, verb


@pytest.mark.parametrize("verb", sorted(READ_ONLY_VERBS))
def test_read_only_verb_runs_while_the_lock_is_held(held: tuple[WS, Path, int], verb: str) -> None:
    """The allow-list is real: a read-only verb never waits for the lock (and changes nothing)."""
    w, _, _ = held
    before = tree_snapshot(w.root)
    r = cli(w.root, *verb.split(), *READ_ONLY_ARGS.get(verb, ()))
    assert "another fspatch" not in r.output, (verb, r.output)
    assert "internal error" not in r.output and "Traceback" not in r.output, (verb, r.output)
    assert tree_snapshot(w.root) == before, verb


def test_check_sync_changes_checkouts_so_it_takes_the_lock(held: tuple[WS, Path, int]) -> None:
    """check is read-only, but check --sync sets checkouts up: it is refused like a changing verb."""
    w, path, pid = held
    r = cli(w.root, "check", "--sync")
    line = one_error_line(r)
    assert r.exit_code == 2 and f"pid {pid}" in line and str(path) in line, line


def test_lock_is_released_when_a_verb_ends_either_way(tmp_path: Path) -> None:
    """After a verb succeeds, and after one is refused, no lock file stays behind."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    assert cli(w.root, "push").exit_code == 0
    assert not workspace_lock_path(w.root).exists()
    assert cli(w.root, "goto", "nosuch").exit_code == 2
    assert not workspace_lock_path(w.root).exists()


# -- every pending journal, of every verb, is refused by every changing verb -------------------

JOURNAL_VERBS = {"recover", "abort", "continue", "skip"}


def _killed(w: WS, *args: str, crash: str) -> None:
    import os
    import signal
    import sys

    env = {**os.environ, "FSPATCH_CRASH_AT": crash}
    r = subprocess.run([sys.executable, "-m", "fspatch", "-C", str(w.root), *args], capture_output=True, text=True,
                       env=env)
    assert r.returncode == -signal.SIGKILL, r.stderr


@pytest.fixture(scope="module", params=["export", "import", "push", "pull-upstream"])
def interrupted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[WS, str]:
    """A workspace (a git repository) where a real verb was killed after writing its journal."""
    from scripts.example import git

    w = make_workspace(tmp_path_factory.mktemp(request.param))
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").exit_code == 0
    assert cli(w.root, "vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
    git(w.root, "init", "-q")
    git(w.root, "add", "upstream.lock", "series", "vendors")
    git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
    if request.param == "export":
        _killed(w, "export", "minillm", "--vendor", "acme", crash="export:layer")
    elif request.param == "import":
        src = w.root.parent / "quilt"
        src.mkdir()
        (src / "0001-x.patch").write_bytes((w.series_dir / "0002-rmsnorm-block-size.patch").read_bytes())
        (src / "series").write_text("0001-x.patch\n")
        _killed(w, "import", "quilt", str(src), "-b", "minillm", "--vendor", "acme", "--no-check",
                crash="import:patch")
    elif request.param == "push":
        _killed(w, "push", "-a", crash="push:checkout")
    else:
        _killed(w, "pull-upstream", "minillm", "v1.1", "--no-stop", crash="pull-upstream:patches")
    return w, request.param


@pytest.mark.parametrize("verb", sorted(set(ARGS) - JOURNAL_VERBS))
def test_every_changing_verb_refuses_over_any_pending_journal(interrupted: tuple[WS, str], verb: str) -> None:
    """An interrupted export, import, push or replay: status names it and recover; every changing verb refuses."""
    w, killed = interrupted
    status = cli(w.root, "status")
    assert f"interrupted '{killed}': run 'fspatch recover'" in status.output, status.output
    before = without_locks(tree_snapshot(w.root))
    r = cli(w.root, *_args(verb, ARGS[verb], w))
    line = one_error_line(r)
    assert r.exit_code == 2, (verb, r.output)
    if verb != "init":  # init refuses an existing workspace before any journal matters
        assert f"an interrupted '{killed}' left a journal" in line and "fspatch recover" in line, (verb, line)
    assert without_locks(tree_snapshot(w.root)) == before, verb




def test_build_hook_api_takes_the_lock_too(held: tuple[WS, Path, int]) -> None:
    """fspatch.api.materialize (it may clone and writes a tree) is refused like the verbs, naming the holder."""
    from fspatch import api
    from fspatch.core.lock import LockedError

    w, path, pid = held
    with pytest.raises(LockedError, match=f"pid {pid}"):
        api.materialize(api.open_workspace(w.root), "minillm", w.root.parent / "tree")
    assert not (w.root.parent / "tree").exists()
