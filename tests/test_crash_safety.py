"""A verb killed (SIGKILL) at any step loses nothing: `fspatch recover` puts every byte back.

Each case kills the real CLI process at a named step (FSPATCH_CRASH_AT, test-only) while
the user has staged, unstaged and untracked edits in the checkout, then checks that other
verbs refuse to run over the journal and that recover restores the workspace files, the
patch files, the checkout's files, its index, HEAD and refs/fspatch/* exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot


def _fspatch(w: WS, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FSPATCH_CRASH_AT", None)
    if crash:
        env["FSPATCH_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "fspatch", "-C", str(w.root), *args], capture_output=True, text=True, env=env
    )


def _everything(w: WS) -> tuple[object, ...]:
    repo = pygit2.Repository(str(w.checkout))
    refs = {n: str(repo.references[n].target) for n in repo.references if n.startswith("refs/fspatch/")}
    head = repo.references["HEAD"].target
    index = (w.checkout / ".git" / "index").read_bytes()
    return snapshot(w.root), refs, str(head), index


def _user_edits(w: WS) -> None:
    """Edits a user may have while running fspatch: none of them may ever be lost."""
    (w.checkout / "notes.txt").write_text("untracked notes\n")
    readme = w.checkout / "README.md"
    readme.write_text(readme.read_text() + "staged line\n")
    git(w.checkout, "add", "README.md")
    readme.write_text(readme.read_text() + "unstaged line\n")


CASES = [
    (["apply", "minillm"], "apply:journal"),
    (["apply", "minillm"], "apply:checkout"),
    (["apply", "minillm"], "apply:state"),
    (["push"], "push:checkout"),
    (["push", "-a"], "push:state"),
    (["pop", "-a"], "pop:journal"),
    (["pop", "-a"], "pop:checkout"),
    (["pop"], "pop:state"),
    (["new", "extra", "-m", "Extra"], "new:patch-file"),
    (["new", "extra", "-m", "Extra"], "new:series"),
    (["new", "extra", "-m", "Extra"], "new:state"),
    (["refresh"], "refresh:journal"),
    (["refresh"], "refresh:patch-file"),
    (["refresh"], "refresh:state"),
    (["refresh"], "refresh:head"),
    (["delete", "0002"], "delete:checkout"),
    (["delete", "0002"], "delete:series"),
    (["rename", "0001", "gems"], "rename:file"),
    (["rename", "0001", "gems"], "rename:series"),
    (["rename", "0001", "gems"], "rename:state"),
]


@pytest.mark.parametrize(("args", "step"), CASES, ids=[f"{' '.join(a)}@{s}" for a, s in CASES])
def test_killed_verb_is_undone_by_recover(tmp_path: Path, args: list[str], step: str) -> None:
    """SIGKILL at the step, then recover: workspace, patches, checkout files, index, HEAD, refs as before."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0002")
    _user_edits(w)
    if args[0] == "apply":  # something for apply to do: the stack is elsewhere
        apply_cmd.run(w.ws(), "minillm", upto="0001")
    before = _everything(w)
    r = _fspatch(w, *args, crash=step)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stdout, r.stderr)
    blocked = _fspatch(w, "series")
    assert blocked.returncode == 2 and "fspatch recover" in blocked.stderr
    looked = _fspatch(w, "status")  # status may look, and says what to run
    assert looked.returncode == 0 and "run 'fspatch recover'" in looked.stdout
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert "undid the interrupted" in rec.stdout
    assert _everything(w) == before
    # And the verb then runs to completion normally.
    again = _fspatch(w, *args)
    assert again.returncode == 0, again.stderr
    assert not (w.checkout / ".git/fspatch/journal.json").exists()


def test_abort_also_undoes_an_interrupted_verb(tmp_path: Path) -> None:
    """`fspatch abort` works as recover when no pull-upstream is waiting."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    before = _everything(w)
    assert _fspatch(w, "push", "-a", crash="push:checkout").returncode == -signal.SIGKILL
    r = _fspatch(w, "abort")
    assert r.returncode == 0, r.stderr
    assert _everything(w) == before


def test_recover_with_nothing_to_do_is_a_clear_error(tmp_path: Path) -> None:
    """recover without a journal says so and exits 2."""
    w = make_workspace(tmp_path)
    r = _fspatch(w, "recover")
    assert r.returncode == 2 and "nothing to recover" in r.stderr


def test_a_failing_verb_restores_what_it_started(tmp_path: Path) -> None:
    """An error after the journal was opened (here: a dirty path) leaves no journal and no change."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    norm = w.checkout / "minillm/layers/norm.py"
    norm.write_text(norm.read_text() + "# unsaved\n")
    before = _everything(w)
    r = _fspatch(w, "pop")
    assert r.returncode == 2
    assert _everything(w) == before
    assert not (w.checkout / ".git/fspatch/journal.json").exists()


@pytest.mark.parametrize(
    "step",
    ["pull-upstream:journal", "pull-upstream:patches", "pull-upstream:lock", "pull-upstream:checkout",
     "pull-upstream:state"],
)
def test_killed_pull_upstream_is_undone_by_abort(tmp_path: Path, step: str) -> None:
    """A bot-mode pull-upstream killed at any step: abort restores the lock, patches, checkout and refs."""
    w = make_workspace(tmp_path)
    p = w.series_dir / "0002-rmsnorm-block-size.patch"  # make the bump clean: drop the conflicting patch
    assert _fspatch(w, "delete", "0002").returncode == 0
    apply_cmd.run(w.ws(), "minillm")
    assert not p.exists()
    before = _everything(w)
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop", crash=step)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert _fspatch(w, "series").returncode == 2
    r = _fspatch(w, "abort")
    assert r.returncode == 0, r.stderr
    assert _everything(w) == before
    done = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop")
    assert done.returncode == 0, done.stderr
    assert "v1.1" in (w.root / "upstream.lock").read_text()


def test_a_pull_upstream_killed_halfway_through_rewriting_a_patch_file_is_undone(tmp_path: Path) -> None:
    """A replay rewrites patch files in place (no rename): killed mid-write, the file is torn; abort puts it back.

    Why in place is safe: every layer file's bytes are in the journal before the replay starts.
    """
    w = make_workspace(tmp_path)
    assert _fspatch(w, "delete", "0002").returncode == 0
    apply_cmd.run(w.ws(), "minillm")
    before = _everything(w)
    victim = next(w.series_dir.glob("0001-*.patch"))
    old, ino = victim.read_bytes(), victim.stat().st_ino
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop", crash=f"overwrite:{victim.name}")
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    torn = victim.read_bytes()
    assert torn != old and victim.stat().st_ino == ino  # half new, half old: the same file, rewritten
    looked = _fspatch(w, "status")
    assert looked.returncode == 0 and "fspatch recover" in looked.stdout
    r = _fspatch(w, "abort")
    assert r.returncode == 0, r.stderr
    assert _everything(w) == before
    done = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop")
    assert done.returncode == 0, done.stderr
    assert victim.read_bytes() != old and b"@@" in victim.read_bytes()


def test_a_stop_killed_while_checking_its_conflict_out_is_not_a_paused_replay(tmp_path: Path) -> None:
    """Killed after the conflict's files are written but before the journal says paused: recover undoes it all.

    The journal is marked paused only once the conflict is checked out, so a kill while the
    checkout is written leaves an interrupted verb (recover rolls it back), never a paused
    replay over a half-written checkout (bench_kill met that state: files of neither state).
    """
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    before = _everything(w)
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--stop", crash="pull-upstream:stop-checkout")
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert "<<<<<<<" in (w.checkout / "csrc/kernels/rmsnorm.cu").read_text()  # the conflict was written
    status = _fspatch(w, "status")
    assert "interrupted" in status.stdout or "recover" in status.stdout, status.stdout
    assert _fspatch(w, "continue").returncode != 0  # not a paused replay: nothing to continue
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert _everything(w) == before
    again = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--stop")
    assert again.returncode == 1 and "fspatch continue" in again.stdout, again.stdout


def test_killed_export_is_undone_by_recover(tmp_path: Path) -> None:
    """export killed between layers: recover puts vendors/ back as it was."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    assert _fspatch(w, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").returncode == 0
    assert _fspatch(w, "vendor", "layer", "acme", "minillm", "--task", "inference").returncode == 0
    git(w.root, "init", "-q")
    git(w.root, "add", "upstream.lock", "series", "vendors")
    git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
    before = snapshot(w.root / "vendors")
    r = _fspatch(w, "export", "minillm", "--vendor", "acme", crash="export:layer")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert (w.root / "vendors/acme/minillm/diff.patch").exists()  # half-done on disk
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert snapshot(w.root / "vendors") == before


@pytest.mark.parametrize("step", ["pull-upstream:patches", "pull-upstream:checkout", "pull-upstream:state"])
def test_killed_continue_is_undone_by_abort(tmp_path: Path, step: str) -> None:
    """`continue` killed while finishing the replay: abort still restores the state before the pull."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    before = _everything(w)
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--stop")
    assert r.returncode == 1 and "fspatch continue" in r.stdout
    cu = w.checkout / "csrc/kernels/rmsnorm.cu"
    text = cu.read_text()
    start, end = text.index("<<<<<<<"), text.index("\n", text.index(">>>>>>>")) + 1
    cu.write_text(text[:start] + "  dim3 block(n >= 1024 ? 1024 : 512);\n" + text[end:])
    r = _fspatch(w, "continue", crash=step)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    r = _fspatch(w, "abort")
    assert r.returncode == 0, r.stderr
    assert _everything(w) == before


@pytest.mark.parametrize("force", [False, True], ids=["new-dir", "force-over-files"])
@pytest.mark.parametrize("step", ["apply:journal", "apply:file", "apply:written"])
def test_killed_apply_to_dir_is_undone_by_recover(tmp_path: Path, step: str, force: bool) -> None:
    """`apply --to DIR` killed at any step (even half-way through writing DIR): recover puts DIR
    back as it was (gone, or its old files byte for byte) and nothing else changed."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    _user_edits(w)
    out = tmp_path / "exported" / "tree"
    if force:
        (out / "minillm").mkdir(parents=True)
        (out / "README.md").write_text("an old file --force writes over\n")
        (out / "minillm" / "keep.txt").write_text("a file the tree does not have\n")
    before = _everything(w), snapshot(out) if out.exists() else None
    args = ["apply", "minillm", "--to", str(out), *(["--force"] if force else [])]
    r = _fspatch(w, *args, crash=step)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stdout, r.stderr)
    assert _fspatch(w, "series").returncode == 2  # the journal blocks other verbs
    status = _fspatch(w, "status")
    assert f"run 'fspatch recover --to {out.resolve()}'" in status.stdout, status.stdout
    refused = _fspatch(w, "recover")  # DIR is outside the workspace: undone only where the user confirms it
    assert refused.returncode == 2 and f"recover --to {out.resolve()}" in refused.stderr, refused.stderr
    rec = _fspatch(w, "recover", "--to", str(out))
    assert rec.returncode == 0, rec.stderr
    assert (_everything(w), snapshot(out) if out.exists() else None) == before
    again = _fspatch(w, *args)
    assert again.returncode == 0, again.stderr
    assert (out / "README.md").is_file() and not (w.checkout / ".git/fspatch/journal.json").exists()
