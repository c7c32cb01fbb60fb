"""pull-upstream, continue/skip/abort, bot mode and the conflict report, on real upstream histories."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import apply as apply_cmd
from fspatch.commands import pull_upstream, resolve
from fspatch.core import journal
from fspatch.core.stack import load_state
from fspatch.core.workspace import Workspace
from fspatch.errors import ConflictError, DirtyCheckoutError, UsageError
from fspatch.git_adapter import GitRepo
from scripts.example import common_patches, git, make_upstream
from tests.rebase_helpers import lines, make_repo, make_ws, snapshot, text

CU = "third_party/minillm/csrc/kernels/rmsnorm.cu"


@pytest.fixture
def example(tmp_path: Path) -> Workspace:
    up = tmp_path / "upstream"
    make_upstream(up)
    return make_ws(tmp_path, up, "v1.0", common_patches())


def _resolve_cu(ws: Workspace) -> None:
    p = ws.root / CU
    p.write_text(re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n",
                        "  // --- FLAGSCALE MODIFICATION BEG ---\n  dim3 block(n >= 1024 ? 1024 : 512);\n"
                        "  // --- FLAGSCALE MODIFICATION END ---\n", p.read_text(), flags=re.S))


def _lock(ws: Workspace) -> dict[str, str]:
    b = Workspace.load(ws.root).backend("minillm")
    return {"ref": b.ref, "commit": b.commit}


def test_example_stops_once_on_patch_0002_and_continue_finishes(example: Workspace) -> None:
    """v1.0 -> v1.1 of the example meets exactly one conflict (0002); resolving it + continue finishes."""
    ws = example
    r = pull_upstream.run(ws, "minillm", "v1.1")
    assert r.stopped and r.report.stopped_at == "series/minillm/0002-rmsnorm-block-size.patch"
    assert r.conflict_files == ("csrc/kernels/rmsnorm.cu",)
    body = (ws.root / CU).read_text()
    assert "<<<<<<< upstream v1.1" in body and ">>>>>>> patch 0002-rmsnorm-block-size.patch" in body
    assert "||||||| upstream v1.0" in body
    assert _lock(ws)["ref"] == "v1.0"  # the lock moves only at the end
    conflict = r.report.patches[-1].conflicts[0]
    assert conflict.kind == "content" and conflict.regions[0].old_upstream == (23, 1)
    assert [c.subject for c in conflict.culprits] == ["Tune the RMSNorm block size to 512"]
    _resolve_cu(ws)
    r2 = resolve.run_continue(ws)
    assert not r2.stopped and r2.report.finished
    assert [p.status for p in r2.report.patches] == ["clean", "resolved", "clean"]
    assert _lock(ws)["ref"] == "v1.1"
    patch = (ws.root / "series/minillm/0002-rmsnorm-block-size.patch").read_text()
    assert "-  dim3 block(512);" in patch and "1024 : 512" in patch
    # The new stack is exactly what apply builds from the written files.
    repo = GitRepo.open(ws.root / "third_party/minillm")
    head = repo.head()
    assert apply_cmd.run(Workspace.load(ws.root), "minillm").head == head
    assert repo.dirty_paths() == []
    assert journal.pending(repo.git_dir, ws.root) is None


def test_continue_refuses_while_markers_remain(example: Workspace) -> None:
    """continue must not record a file that still holds conflict markers."""
    pull_upstream.run(example, "minillm", "v1.1")
    with pytest.raises(ConflictError, match="conflict markers remain in .*rmsnorm.cu:23"):
        resolve.run_continue(example)
    assert journal.paused_replay(GitRepo.open(example.root / "third_party/minillm").git_dir, example.root) is not None


def test_other_stack_verbs_refuse_during_an_operation(example: Workspace) -> None:
    """While a replay waits for continue/skip/abort, apply (and every Session verb) refuses."""
    pull_upstream.run(example, "minillm", "v1.1")
    with pytest.raises(UsageError, match="pull-upstream of 'minillm' is in progress"):
        apply_cmd.run(Workspace.load(example.root), "minillm")
    with pytest.raises(UsageError, match="already in progress"):
        pull_upstream.run(example, "minillm", "v1.1")


def test_skip_drops_the_patch_and_lists_it(example: Workspace) -> None:
    """skip removes the stopped patch from the series and its file; the report lists it as skipped."""
    ws = example
    pull_upstream.run(ws, "minillm", "v1.1")
    r = resolve.run_skip(ws)
    assert r.report.finished and [p.status for p in r.report.patches] == ["clean", "skipped", "clean"]
    assert "2 clean" in r.report.summary and "1 skipped" in r.report.summary
    series = (ws.root / "series/minillm/series").read_text()
    assert "0002" not in series and not (ws.root / "series/minillm/0002-rmsnorm-block-size.patch").exists()
    assert "dim3 block(512);" in (ws.root / CU).read_text()
    assert _lock(ws)["ref"] == "v1.1"


def test_abort_restores_every_byte(example: Workspace) -> None:
    """abort puts back upstream.lock, patches, series, checkout files, index, HEAD and refs exactly."""
    ws = example
    repo = GitRepo.open(ws.root / "third_party/minillm")
    gitdir = ws.root / "third_party/minillm/.git"
    before = {k: v for k, v in snapshot(ws.root).items() if not k.startswith("third_party/minillm/.git/")}
    index, head, refs = (gitdir / "index").read_bytes(), (gitdir / "HEAD").read_bytes(), repo.direct_refs()
    pull_upstream.run(ws, "minillm", "v1.1")
    (ws.root / CU).write_text("half edited\n")
    (ws.root / "third_party/minillm/new-untracked.txt").write_text("x\n")
    resolve.run_abort(ws)
    after = {k: v for k, v in snapshot(ws.root).items() if not k.startswith("third_party/minillm/.git/")}
    assert after == before
    assert (gitdir / "index").read_bytes() == index and (gitdir / "HEAD").read_bytes() == head
    assert GitRepo.open(gitdir.parent).direct_refs() == refs
    assert not (gitdir / "fspatch/journal.json").exists()


def test_abort_after_a_later_stop_still_restores_the_start(tmp_path: Path) -> None:
    """Two conflicts: continue past the first, abort at the second: everything is as before the pull."""
    base = {"a.txt": text(lines(20)), "b.txt": text(lines(20, "b"))}
    up = tmp_path / "up"
    make_repo(up, base, [])
    patches = [
        ("0001-a.patch", "Edit a", "d", {"a.txt": text(lines(9) + ["patched 10\n"] + lines(20)[10:])}),
        ("0002-b.patch", "Edit b", "d", {"b.txt": text(lines(9, "b") + ["patched b10\n"] + lines(20, "b")[10:])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    before = {k: v for k, v in snapshot(ws.root).items() if ".git/" not in k}
    write = {"a.txt": text(lines(9) + ["up 10\n"] + lines(20)[10:]), "b.txt": text(lines(9, "b") + ["up b10\n"] + lines(20, "b")[10:])}
    from scripts.example import write_tree

    write_tree(up, write)
    git(up, "commit", "-qam", "Upstream edits")
    git(up, "tag", "v2")
    r = pull_upstream.run(ws, "minillm", "v2")
    assert r.stopped and (r.report.stopped_at or "").endswith("0001-a.patch")
    (ws.root / "third_party/minillm/a.txt").write_bytes(write["a.txt"])
    r = resolve.run_continue(ws)
    assert r.stopped and (r.report.stopped_at or "").endswith("0002-b.patch")
    resolve.run_abort(ws)
    assert {k: v for k, v in snapshot(ws.root).items() if ".git/" not in k} == before
    assert GitRepo.open(ws.root / "third_party/minillm").read_ref("refs/tags/v2") is None  # fetched tag gone


def test_clean_bump_rewrites_patches_and_moves_the_pin(tmp_path: Path) -> None:
    """Upstream moved lines around the patches: every patch is clean, rewritten with fresh context."""
    up = tmp_path / "up"
    make_repo(up, {"m.py": text(lines(40))}, [])
    patches = [("0001-x.patch", "Change 30", "d", {"m.py": text(lines(29) + ["mine 30\n"] + lines(40)[30:])})]
    ws = make_ws(tmp_path, up, "v1", patches)
    from scripts.example import write_tree

    write_tree(up, {"m.py": text(["new header\n"] * 5 + lines(40))})
    git(up, "commit", "-qam", "Add a header")
    git(up, "branch", "release")  # pull a branch, fetched after the workspace was made
    r = pull_upstream.run(ws, "minillm", "release")
    assert not r.stopped and r.report.summary == "1 patch: 1 clean, 0 upstreamed, 0 conflicts"
    assert _lock(ws) == {"ref": "release", "commit": git(up, "rev-parse", "release").strip()}
    patch = (ws.root / "series/minillm/0001-x.patch").read_text()
    assert "@@ -32,7 +32,7 @@" in patch and "+mine 30" in patch
    assert (ws.root / "third_party/minillm/m.py").read_text().startswith("new header\n")
    assert "series/minillm/0001-x.patch" in r.written and "upstream.lock" in r.written


def test_fetch_from_a_mirror_when_the_url_is_gone(tmp_path: Path) -> None:
    """--url fetches from another place (a local mirror path works offline)."""
    up = tmp_path / "up"
    make_repo(up, {"m.py": text(lines(10))}, [])
    ws = make_ws(tmp_path, up, "v1", [])
    mirror = tmp_path / "mirror"
    git(tmp_path, "clone", "-q", str(up), str(mirror))
    (mirror / "m.py").write_text("mirror\n")
    git(mirror, "commit", "-qam", "Mirror only")
    git(mirror, "tag", "v9")
    r = pull_upstream.run(ws, "minillm", "v9", url=str(mirror))
    assert r.report.finished and _lock(ws)["ref"] == "v9"
    with pytest.raises(UsageError, match="ref 'nope' not found"):
        pull_upstream.run(ws, "minillm", "nope")


def test_bot_mode_reports_every_conflict_and_keeps_their_files(tmp_path: Path) -> None:
    """--no-stop: conflicting patches keep their bytes, later ones replay on the last clean state."""
    base = {"a.txt": text(lines(20)), "b.txt": text(lines(20, "b")), "c.txt": text(lines(20, "c"))}
    up = tmp_path / "up"
    make_repo(up, base, [])
    patches = [
        ("0001-a.patch", "Edit a", "d", {"a.txt": text(lines(9) + ["patched 10\n"] + lines(20)[10:])}),
        ("0002-b.patch", "Edit b", "d", {"b.txt": text(lines(9, "b") + ["patched b10\n"] + lines(20, "b")[10:])}),
        ("0003-c.patch", "Edit c", "d", {"c.txt": text(lines(19, "c") + ["patched c20\n"])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    old = {n: (ws.root / "series/minillm" / n).read_bytes() for n, *_ in patches}
    from scripts.example import write_tree

    write_tree(up, {"a.txt": text(lines(9) + ["up 10\n"] + lines(20)[10:]), "c.txt": text(["top\n"] + lines(20, "c"))})
    git(up, "commit", "-qam", "Upstream edits a and c")
    git(up, "tag", "v2")
    report = tmp_path / "report.json"
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop",
                                         "--report", str(report), "--format", "json"])
    assert res.exit_code == 1, res.output
    data = json.loads(report.read_text())
    assert data["summary"] == "3 patches: 2 clean, 0 upstreamed, 1 conflict"
    assert [p["status"] for p in data["patches"]] == ["conflict", "clean", "clean"]
    c = data["patches"][0]["conflicts"][0]
    assert c["path"] == "a.txt" and c["kind"] == "content"
    assert c["regions"] == [{"old_upstream": [10, 1], "new_upstream": [10, 1], "patch": [10, 1],
                             "hunk": "@@ -7,7 +7,7 @@ line 6"}]
    assert [u["subject"] for u in c["culprits"]] == ["Upstream edits a and c"]
    assert (ws.root / "series/minillm/0001-a.patch").read_bytes() == old["0001-a.patch"]
    assert (ws.root / "series/minillm/0003-c.patch").read_bytes() != old["0003-c.patch"]
    assert journal.pending(GitRepo.open(ws.root / "third_party/minillm").git_dir, ws.root) is None


def test_bot_text_report_says_where_the_conflicts_wait_and_how_to_finish(tmp_path: Path) -> None:
    """A bot run's text names its pending record and the verb; a run that finishes it does not."""
    up = tmp_path / "up"
    make_repo(up, {"ops.cu": text(lines(20, "k")), "model.py": text(lines(20))}, [])
    patches = [("0001-ops.patch", "Ops", "d", {"ops.cu": text(lines(9, "k") + ["ours k10\n"] + lines(20, "k")[10:])}),
               ("0002-model.patch", "Model", "d", {"model.py": text(["head\n"] + lines(20))})]
    ws = make_ws(tmp_path, up, "v1", patches)
    (up / "ops.cu").write_bytes(text(lines(9, "k") + ["upstream k10\n"] + lines(20, "k")[10:]))
    git(up, "commit", "-qam", "Tune ops")
    git(up, "tag", "v2")
    bot = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert bot.exit_code == 1, bot.output
    assert bot.output.splitlines()[-1] == (
        "1 patch(es) pending in series/minillm/pending.yaml: commit the workspace, then 'fspatch apply minillm' "
        "enters the first one (resolve, 'fspatch continue'; or 'fspatch skip', 'fspatch abort')"
    )
    assert (ws.root / "series/minillm/pending.yaml").is_file()
    entered = CliRunner().invoke(main_group, ["-C", str(ws.root), "apply", "minillm"])
    assert entered.exit_code == 1, entered.output
    done = CliRunner().invoke(main_group, ["-C", str(ws.root), "skip", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["pending"] == ""  # the record is gone, not written again
    assert not (ws.root / "series/minillm/pending.yaml").exists()


def test_upstreamed_patch_is_reported_and_dropped_on_request(tmp_path: Path) -> None:
    """A patch whose change upstream already made is 'upstreamed'; --drop-upstreamed removes it."""
    up = tmp_path / "up"
    make_repo(up, {"a.txt": text(lines(10)), "b.txt": text(lines(10, "b"))}, [])
    fix = text(lines(4) + ["fixed 5\n"] + lines(10)[5:])
    patches = [("0001-fix.patch", "Fix a", "d", {"a.txt": fix}),
               ("0002-b.patch", "Edit b", "d", {"b.txt": text(["b0\n"] + lines(10, "b"))})]
    ws = make_ws(tmp_path, up, "v1", patches)
    (up / "a.txt").write_bytes(fix)
    git(up, "commit", "-qam", "Upstream takes the fix")
    git(up, "tag", "v2")
    r = pull_upstream.run(ws, "minillm", "v2", drop_upstreamed=True)
    assert r.report.summary == "2 patches: 1 clean, 1 upstreamed, 0 conflicts"
    assert r.report.patches[0].status == "dropped"
    assert (ws.root / "series/minillm/series").read_text() == "0002-b.patch\n"
    assert not (ws.root / "series/minillm/0001-fix.patch").exists()


def test_upstreamed_patch_kept_without_the_flag_still_applies(tmp_path: Path) -> None:
    """Without --drop-upstreamed an upstreamed patch stays, rewritten empty, and apply still works."""
    up = tmp_path / "up"
    make_repo(up, {"a.txt": text(lines(10))}, [])
    fix = text(lines(4) + ["fixed 5\n"] + lines(10)[5:])
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix a", "d", {"a.txt": fix})])
    (up / "a.txt").write_bytes(fix)
    git(up, "commit", "-qam", "Upstream takes the fix")
    git(up, "tag", "v2")
    r = pull_upstream.run(ws, "minillm", "v2")
    assert r.report.patches[0].status == "upstreamed"
    assert "diff --git" not in (ws.root / "series/minillm/0001-fix.patch").read_text()
    apply_cmd.run(Workspace.load(ws.root), "minillm")


def test_file_renamed_upstream_is_followed(tmp_path: Path) -> None:
    """A patch to a file upstream renamed lands on the new name; the report names the rename."""
    up = tmp_path / "up"
    body = lines(30)
    make_repo(up, {"old/name.py": text(body)}, [("Move name.py", {"mv:old/name.py": b"new/name.py"}, "v2")])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-x.patch", "Edit", "d", {"old/name.py": text(body[:15] + ["mine\n"] + body[15:])})])
    r = pull_upstream.run(ws, "minillm", "v2")
    assert r.report.finished and r.report.patches[0].status == "clean"
    assert r.report.patches[0].renamed_upstream == (("old/name.py", "new/name.py"),)
    patch = (ws.root / "series/minillm/0001-x.patch").read_text()
    assert "+++ b/new/name.py" in patch and "old/name.py" not in patch
    assert "mine\n" in (ws.root / "third_party/minillm/new/name.py").read_text()


def test_file_deleted_upstream_is_a_conflict_naming_the_deleting_commit(tmp_path: Path) -> None:
    """A patch to a file upstream deleted: conflict of kind 'deleted upstream', culprit = the deletion."""
    up = tmp_path / "up"
    make_repo(up, {"gone.py": text(lines(10)), "keep.py": b"k\n"},
              [("Unrelated", {"keep.py": b"k2\n"}, None), ("Remove gone.py", {"gone.py": None}, "v2")])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-x.patch", "Edit", "d", {"gone.py": text(lines(10) + ["more\n"])})])
    r = pull_upstream.run(ws, "minillm", "v2", stop=False)
    p = r.report.patches[0]
    assert p.status == "conflict" and p.deleted_upstream == ("gone.py",)
    assert p.conflicts[0].kind == "deleted upstream"
    assert [c.subject for c in p.conflicts[0].culprits] == ["Remove gone.py"]


def test_culprit_named_among_many_unrelated_commits(tmp_path: Path) -> None:
    """Among 50 upstream commits (many to the same file), only the one changing the patch's lines is named."""
    up = tmp_path / "up"
    body = lines(200)
    history: list[tuple[str, dict[str, bytes], str | None]] = []
    cur = list(body)
    for i in range(50):
        if i == 31:
            cur[cur.index("line 100\n")] = "upstream rewrote line 100\n"
            history.append(("Rewrite line 100", {"f.c": text(cur)}, None))
        elif i % 2:
            cur = ["// new top line\n"] + cur  # shifts every line: ranges must be mapped forward
            history.append((f"Prepend a line {i}", {"f.c": text(cur)}, None))
        else:
            cur[-1 - i] = f"tail edit {i}\n"
            history.append((f"Edit tail {i}", {"f.c": text(cur), f"other{i}.txt": b"x\n"}, None))
    history.append(("Release", {}, "v2"))
    make_repo(up, {"f.c": text(body)}, history)
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-x.patch", "Edit 100", "d",
                                       {"f.c": text(body[:99] + ["patched line 100\n"] + body[100:])})])
    r = pull_upstream.run(ws, "minillm", "v2", stop=False)
    conflict = r.report.patches[0].conflicts[0]
    assert [c.subject for c in conflict.culprits] == ["Rewrite line 100"]
    assert conflict.regions[0].old_upstream == (100, 1)
    assert conflict.regions[0].new_upstream == (124, 1)  # 24 lines prepended above it


def test_cli_and_subprocess_exit_codes(example: Workspace) -> None:
    """The installed entry point: 1 at an interactive stop, 0 after continue, 2 for usage errors."""
    env_cmd = [sys.executable, "-m", "fspatch", "-C", str(example.root)]
    out = subprocess.run([*env_cmd, "pull-upstream", "minillm", "v1.1", "--stop"], capture_output=True, text=True)
    assert out.returncode == 1 and "fspatch continue" in out.stdout and "0002-rmsnorm" in out.stdout
    bad = subprocess.run([*env_cmd, "skip", "-b", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown backend")
    _resolve_cu(example)
    done = subprocess.run([*env_cmd, "continue", "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"]["finished"] is True
    none = CliRunner().invoke(main_group, ["-C", str(example.root), "abort"])
    assert none.exit_code == 2 and "no pull-upstream or rebase-vendors in progress" in none.output


def test_dirty_checkout_is_refused_before_anything_changes(example: Workspace) -> None:
    """A replay checks out; local edits in the backend checkout make it refuse (exit 2), nothing written."""
    (example.root / "third_party/minillm/README.md").write_text("local\n")
    with pytest.raises(DirtyCheckoutError, match="local changes"):
        pull_upstream.run(example, "minillm", "v1.1")
    assert journal.pending(GitRepo.open(example.root / "third_party/minillm").git_dir, example.root) is None
    state, _ = load_state(GitRepo.open(example.root / "third_party/minillm"))
    assert state is not None and _lock(example)["ref"] == "v1.0"


def test_untracked_files_in_a_new_directory_are_refused_by_name(example: Workspace) -> None:
    """The quick gate sees a new directory whole; the refusal still names its files (as git status -uall)."""
    new = example.root / "third_party/minillm/scratch/deep"
    new.mkdir(parents=True)
    (new / "notes.cu").write_text("// local\n")
    with pytest.raises(DirtyCheckoutError, match=r"local changes in the checkout: scratch/deep/notes\.cu;"):
        pull_upstream.run(example, "minillm", "v1.1")
    (new / "notes.cu").unlink()  # only empty directories left: nothing to lose, the replay runs
    assert pull_upstream.run(example, "minillm", "v1.1").report.new_ref == "v1.1"


def test_an_abbreviated_id_the_checkout_has_is_taken_without_fetching(example: Workspace, tmp_path: Path) -> None:
    """A short hex id of a commit already in the checkout names it, as git checkout does: no fetch.

    A fetch leaves FETCH_HEAD in the checkout's git dir; none is written here, and the id
    reported and locked is the full one.  An id the checkout lacks is still fetched.
    """
    full = git(tmp_path / "upstream", "rev-parse", "v1.1^{commit}").strip()
    repo = GitRepo.open(example.root / "third_party/minillm")
    assert repo.has_commit(full)  # the clone has the upstream's history
    fetch_head = repo.git_dir / "FETCH_HEAD"
    fetch_head.unlink(missing_ok=True)
    r = pull_upstream.run(example, "minillm", full[:12])
    assert r.report.new_commit == full
    assert not fetch_head.exists()
    _resolve_cu(example)
    assert not resolve.run_continue(example).stopped
    assert _lock(example) == {"ref": full[:12], "commit": full}
    # A commit made upstream after the clone is not in the checkout: it is fetched.
    (tmp_path / "upstream" / "NEWFILE").write_text("new\n")
    git(tmp_path / "upstream", "add", "NEWFILE")
    git(tmp_path / "upstream", "commit", "-q", "-m", "later")
    later = git(tmp_path / "upstream", "rev-parse", "HEAD").strip()
    assert not repo.has_commit(later)
    r2 = pull_upstream.run(Workspace.load(example.root), "minillm", later[:12])
    assert r2.report.new_commit == later and fetch_head.exists()
