"""Issue 13 audit: causes stay right on merged branches, and a resumed bot run keeps what the bot found.

- Upstream merged a branch that carries FlagScale's fix *and* a follow-up next to it: the
  culprit named is the follow-up (the latest branch commit on those lines), yet the patch is
  already upstream by patch-id, naming the branch commit that carries it (the range is
  searched, not only the culprits).
- A fresh clone of a bot branch finishes the pending patch (installed ``fspatch``, as a
  maintainer runs it); a later patch the bot found already upstream because it reverse-applies
  stays upstreamed: the resumed replay reads its old patch, not the diff-less file the bot
  wrote.  While it is paused, ``status`` hands it back with ``abort`` (pull-upstream refuses
  while patches are pending).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from scripts.example import BASE_DATE, git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text

EXE = Path(sys.executable).parent / "fspatch"


def _commit(repo: Path, files: dict[str, bytes], message: str, n: int) -> None:
    write_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=BASE_DATE + 600 + 60 * n)


def _merge(repo: Path, branch: str, message: str, n: int) -> None:
    git(repo, "merge", "-q", "--no-ff", branch, "-m", message, date=BASE_DATE + 600 + 60 * n)


def _fspatch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "-C", str(root), *args], capture_output=True, text=True, check=False)


def _branch_with_fix_and_follow_up(tmp: Path) -> tuple[Path, list[str]]:
    """main: v1; branch bob/fix: X (= our fix of a.py line 10), Y (line 11 next to it); merged --no-ff: v2."""
    body = lines(30)
    fixed = body[:9] + ["fixed 10\n"] + body[10:]
    up = tmp / "up"
    make_repo(up, {"a.py": text(body), "b.py": text(lines(10, "b"))}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "bob/fix")
    _commit(up, {"a.py": text(fixed)}, "Take FlagScale's fix (!77)", 1)
    _commit(up, {"a.py": text(fixed[:10] + ["follow-up 11\n"] + fixed[11:])}, "Follow-up next to it", 2)
    git(up, "checkout", "-q", main)
    _commit(up, {"b.py": text(["meanwhile\n"] + lines(10, "b"))}, "Meanwhile on main", 3)
    _merge(up, "bob/fix", "Merge branch 'bob/fix' into 'main'\n\nSee merge request ADLR/megatron-lm!77", 4)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    return up, fixed


def _pull(root: Path, tmp: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    report = tmp / "report.json"
    res = CliRunner().invoke(main_group, ["-C", str(root), "pull-upstream", "minillm", "v2", "--report", str(report),
                                         *extra])
    return res.exit_code, json.loads(report.read_text())


def test_patch_id_finds_the_branch_commit_that_carries_the_fix_not_only_the_culprit(tmp_path: Path) -> None:
    """Bot mode: upstreamed by patch-id, naming X, though the region's culprit is the follow-up Y."""
    up, fixed = _branch_with_fix_and_follow_up(tmp_path)
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix a", "d", {"a.py": text(fixed)})])
    code, data = _pull(ws.root, tmp_path, "--no-stop")
    (p,) = data["patches"]
    assert code == 0, data
    assert p["status"] == "upstreamed" and p["upstream_how"] == "patch-id"
    assert p["upstream_commit"] == git(up, "rev-parse", "bob/fix~1").strip()
    assert not (ws.root / "series/minillm/pending.yaml").exists()


def test_patch_id_on_a_merged_branch_also_holds_interactively_and_drops(tmp_path: Path) -> None:
    """Interactive mode has no 'carried' shortcut: the patch-id alone says upstream, --drop-upstreamed drops it."""
    up, fixed = _branch_with_fix_and_follow_up(tmp_path)
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix a", "d", {"a.py": text(fixed)}),
                                      ("0002-b.patch", "Edit b", "d", {"b.py": text(lines(9, "b") + ["ours b10\n"])})])
    code, data = _pull(ws.root, tmp_path, "--stop", "--drop-upstreamed")
    assert code == 0, data
    first, second = data["patches"]
    assert first["status"] == "dropped" and first["upstream_how"] == "patch-id"
    assert first["upstream_commit"] == git(up, "rev-parse", "bob/fix~1").strip()
    assert second["status"] == "clean"
    assert (ws.root / "series/minillm/series").read_text().split() == ["0002-b.patch"]


def _bot_branch_with_a_reverse_applying_patch(tmp: Path) -> tuple[Path, str]:
    """Patch 1 conflicts with a merged branch commit; patch 2 is upstream (moved and fixed): bot run, commit, clone."""
    model = lines(20)
    head, tail = lines(10, "head"), lines(20, "tail")
    func = [f"    func line {k}\n" for k in range(10)]
    ours_func = func[:5] + ["    fixed line 5\n"] + func[6:]
    up = tmp / "up"
    make_repo(up, {"model.py": text(model), "m.py": text(head + func + tail)}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "shifang/fix_some_bug")
    _commit(up, {"model.py": text(model[:9] + ["upstream 10\n"] + model[10:])},
            "ADLR/megatron-lm!3156 - Various bugfixes in model", 1)
    git(up, "checkout", "-q", main)
    _commit(up, {"m.py": text(head + ["moved\n"] + tail + ours_func)}, "Move func to the end, fixed", 2)
    _merge(up, "shifang/fix_some_bug", "Merge branch 'shifang/fix_some_bug' into 'main'", 3)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    patches = [
        ("0001-model.patch", "Edit model", "d", {"model.py": text(model[:9] + ["ours 10\n"] + model[10:])}),
        ("0002-func.patch", "Fix func", "d", {"m.py": text(head + ours_func + tail)}),
    ]
    ws = make_ws(tmp, up, "v1", patches)
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace")
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert res.exit_code == 1, res.output
    assert "upstreamed common: 0002-func.patch (already upstream in" in res.output
    assert "blocked" not in res.output
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "bot: bump to v2")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    return clone, git(up, "rev-parse", "shifang/fix_some_bug").strip()


def test_fresh_clone_finishes_and_the_reverse_applying_patch_stays_upstreamed(tmp_path: Path) -> None:
    """status -> apply (culprit is the branch commit, with its merge) -> edit -> continue: one ordinary workspace."""
    clone, branch_commit = _bot_branch_with_a_reverse_applying_patch(tmp_path)
    bot_func = (clone / "series/minillm/0002-func.patch").read_bytes()
    st = _fspatch(clone, "status")
    assert st.returncode == 0 and "pending  common/0001-model.patch" in st.stdout
    assert "0002-func.patch" not in st.stdout
    got = _fspatch(clone, "apply", "minillm")
    assert got.returncode == 1, got.stderr
    assert f"changed upstream by {branch_commit[:12]} ADLR/megatron-lm!3156 - Various bugfixes in model" in got.stdout
    assert "merged in " in got.stdout and "@@ -7,7 +7,7 @@" in got.stdout
    st = _fspatch(clone, "status")
    assert "'fspatch abort' puts back the bot's pending state" in st.stdout
    assert "pull-upstream minillm v2 --no-stop" not in st.stdout
    f = clone / "third_party/minillm/model.py"
    f.write_text(re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n", "both 10\n", f.read_text(), flags=re.S))
    done = _fspatch(clone, "continue")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "upstreamed common: 0002-func.patch (already upstream in" in done.stdout
    assert "conflict   common: 0002-func.patch" not in done.stdout
    assert not (clone / "series/minillm/pending.yaml").exists()
    assert (clone / "series/minillm/0002-func.patch").read_bytes() == bot_func  # nothing the bot did is redone
    assert "+both 10" in (clone / "series/minillm/0001-model.patch").read_text()
    st = _fspatch(clone, "status")
    assert "pending" not in st.stdout and "2/2 applied" in st.stdout and "checkout clean" in st.stdout, st.stdout


def test_fresh_clone_skip_and_abort_keep_the_upstreamed_patch(tmp_path: Path) -> None:
    """skip ends the pending state with the upstreamed patch kept; abort (first) puts every bot file back."""
    clone, _ = _bot_branch_with_a_reverse_applying_patch(tmp_path)
    files = ["upstream.lock", "series/minillm/series", "series/minillm/pending.yaml",
             "series/minillm/0001-model.patch", "series/minillm/0002-func.patch"]
    before = {p: (clone / p).read_bytes() for p in files}
    assert _fspatch(clone, "apply", "minillm").returncode == 1
    assert _fspatch(clone, "abort").returncode == 0
    assert {p: (clone / p).read_bytes() for p in files} == before
    assert _fspatch(clone, "apply", "minillm").returncode == 1
    skipped = _fspatch(clone, "skip")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "upstreamed common: 0002-func.patch" in skipped.stdout
    assert (clone / "series/minillm/series").read_text().split() == ["0002-func.patch"]
    assert not (clone / "series/minillm/pending.yaml").exists()
    assert (clone / "series/minillm/0002-func.patch").read_bytes() == before["series/minillm/0002-func.patch"]


def test_github_merge_commit_culprit_is_the_branch_commit_with_the_pr_number(tmp_path: Path) -> None:
    """'Merge pull request #123 from alice/tweak': the culprit is alice's commit, merged in that merge, ref #123."""
    body = lines(20)
    up = tmp_path / "up"
    make_repo(up, {"kernel.cu": text(body), "README": b"r\n"}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "alice/tweak")
    _commit(up, {"kernel.cu": text(body[:4] + ["upstream 5\n"] + body[5:])}, "Tweak the kernel's fifth line", 1)
    _commit(up, {"README": b"r2\n"}, "Docs", 2)
    git(up, "checkout", "-q", main)
    _commit(up, {"README": b"main\n"}, "Meanwhile on main", 3)
    git(up, "merge", "-q", "--no-ff", "-X", "theirs", "alice/tweak", "-m",
        "Merge pull request #123 from alice/tweak\n\nTweak the kernel", date=BASE_DATE + 900)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-k.patch", "Kernel", "d", {"kernel.cu": text(body[:4] + ["ours 5\n"] + body[5:])})])
    code, data = _pull(ws.root, tmp_path, "--no-stop")
    assert code == 1
    (cu,) = data["patches"][0]["conflicts"][0]["culprits"]
    assert cu["id"] == git(up, "rev-parse", "alice/tweak~1").strip()
    assert cu["subject"] == "Tweak the kernel's fifth line"
    assert cu["merge"] == git(up, "rev-parse", "v2").strip()
    assert cu["merge_subject"] == "Merge pull request #123 from alice/tweak" and cu["ref"] == "#123"


def test_a_patch_after_a_skipped_one_is_blocked_by_it(tmp_path: Path) -> None:
    """Interactive: skip the patch that conflicts with upstream; the next one, which needs its lines, is blocked by it."""
    body = lines(40)
    up = tmp_path / "up"
    make_repo(up, {"net.py": text(body)}, [("Rework line 5", {"net.py": text(body[:4] + ["upstream 5\n"] + body[5:])},
                                            "v2")])
    git(up, "checkout", "-q", "v1")
    block = [f"added {k}\n" for k in range(8)]
    one = body[:4] + ["ours 5\n"] + body[5:30] + block + body[30:]
    two = body[:4] + ["ours 5\n"] + body[5:30] + block[:4] + ["changed added 4\n"] + block[5:] + body[30:]
    ws = make_ws(tmp_path, up, "v1", [("0001-one.patch", "One", "d", {"net.py": text(one)}),
                                      ("0002-two.patch", "Two", "d", {"net.py": text(two)})])
    stop = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--stop"])
    assert stop.exit_code == 1 and "stopped at series/minillm/0001-one.patch" in stop.output
    skip = CliRunner().invoke(main_group, ["-C", str(ws.root), "skip", "--format", "json"])
    assert skip.exit_code == 1, skip.output
    data = json.loads(skip.stdout)
    second = next(p for p in data["report"]["patches"] if p["patch"] == "0002-two.patch")
    assert second["status"] == "conflict" and second["blocked_by"] == "0001-one.patch"
    assert second["conflicts"][0]["culprits"] == []


def test_a_vendor_patch_on_a_conflicting_common_patch_is_blocked_by_it(tmp_path: Path) -> None:
    """The vendor layer sits on the common layer: its cascade is 'blocked by common/…' and resolves with it."""
    body = lines(40)
    up = tmp_path / "up"
    make_repo(up, {"net.py": text(body)}, [("Rework line 5", {"net.py": text(body[:4] + ["upstream 5\n"] + body[5:])},
                                            "v2")])
    git(up, "checkout", "-q", "v1")
    block = [f"added {k}\n" for k in range(8)]
    one = body[:4] + ["ours 5\n"] + body[5:30] + block + body[30:]
    two = body[:4] + ["ours 5\n"] + body[5:30] + block[:4] + ["changed added 4\n"] + block[5:] + body[30:]
    ws = make_ws(tmp_path, up, "v1", [("0001-one.patch", "One", "d", {"net.py": text(one)})],
                 vendors={"acme": [("0001-two.patch", "Two", "d", {"net.py": text(two)})]})
    code, data = _pull(ws.root, tmp_path, "--no-stop")
    assert code == 1
    common, vendor = data["patches"]
    assert common["status"] == "conflict" and common["blocked_by"] == ""
    assert vendor["layer"] == "vendor/acme" and vendor["status"] == "conflict"
    assert vendor["blocked_by"] == "common/0001-one.patch" and vendor["conflicts"][0]["culprits"] == []
    assert data["counts"]["blocked"] == 1
    md = CliRunner().invoke(main_group, ["-C", str(ws.root), "status"])
    assert "pending  vendor/acme/0001-two.patch" in md.output
    assert CliRunner().invoke(main_group, ["-C", str(ws.root), "apply", "minillm"]).exit_code == 1
    f = ws.root / "third_party/minillm/net.py"
    f.write_text(re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n", "both 5\n", f.read_text(), flags=re.S))
    done = CliRunner().invoke(main_group, ["-C", str(ws.root), "continue"])
    assert done.exit_code == 0, done.output
    assert "clean      vendor/acme: 0001-two.patch" in done.output
    assert not (ws.root / "series/minillm/pending.yaml").exists()
    assert "+changed added 4" in (ws.root / "vendors/acme/minillm/0001-two.patch").read_text()
    assert CliRunner().invoke(main_group, ["-C", str(ws.root), "apply", "minillm", "--vendor", "acme"]).exit_code == 0
    assert "both 5\n" in f.read_text() and "changed added 4\n" in f.read_text()


def test_status_at_a_review_stop_says_review_not_conflict_markers(tmp_path: Path) -> None:
    """Interactive: upstream carries the fix (with other files, then a follow-up): the stop shows a proposal to review."""
    body = lines(30)
    fixed = body[:9] + ["fixed 10\n"] + body[10:]
    up = tmp_path / "up"
    make_repo(up, {"a.py": text(body), "b.py": text(lines(5, "b"))}, [
        ("Take the fix, and more", {"a.py": text(fixed), "b.py": text(lines(6, "b"))}, None),
        ("Follow-up next to it", {"a.py": text(fixed[:10] + ["follow-up 11\n"] + fixed[11:])}, "v2"),
    ])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix", "d", {"a.py": text(fixed)})])
    stop = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--stop"])
    assert stop.exit_code == 1 and "resolved automatically, shown before it is kept" in stop.output, stop.output
    st = CliRunner().invoke(main_group, ["-C", str(ws.root), "status"]).output
    assert "stopped at an automatic resolution in common/0001-fix.patch (1 file to review)" in st, st
    assert "with conflict markers" not in st and "review (or edit) the files, then run 'fspatch continue'" in st
