"""A conflict names causes a maintainer recognises (issue 13, item 4).

On a history of merges the culprit is the branch commit that changed the lines, with the merge
that brought it and its PR/MR reference; a patch that conflicts only because an earlier patch of
its layer conflicted is "blocked by" that patch; a conflicting patch the new upstream already
carries is "upstreamed" (by patch-id, naming the commit, or because it reverse-applies) and
``--drop-upstreamed`` drops it; every region gives the patch's own ``@@`` header.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.core.workspace import Workspace
from scripts.example import BASE_DATE, git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text


def _pull(ws: Workspace, tmp: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    report = tmp / "report.json"
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop",
                                         "--report", str(report), "--format", "json", *extra])
    assert res.exit_code in (0, 1), res.output
    return json.loads(report.read_text())  # type: ignore[no-any-return]


def _commit(repo: Path, files: dict[str, bytes], message: str, n: int) -> None:
    write_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=BASE_DATE + 600 + 60 * n)


def test_culprit_is_the_branch_commit_with_its_merge_and_mr_reference(tmp_path: Path) -> None:
    """GitLab-style history: the report names the branch commit, not the first-parent merge, plus the MR."""
    body = lines(40)
    up = tmp_path / "up"
    make_repo(up, {"model.py": text(body), "other.py": text(lines(5, "o"))}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "shifang/fix_some_bug")
    _commit(up, {"model.py": text(body[:19] + ["upstream fix 20\n"] + body[20:])},
            "ADLR/megatron-lm!3156 - Various bugfixes in model", 1)
    _commit(up, {"other.py": text(lines(6, "o"))}, "Touch another file", 2)
    git(up, "checkout", "-q", main)
    _commit(up, {"other.py": text(["head\n"] + lines(5, "o"))}, "Meanwhile on main", 3)
    git(up, "merge", "-q", "--no-ff", "shifang/fix_some_bug", "-m",
        "Merge branch 'shifang/fix_some_bug' into 'main'\n\nVarious bugfixes\n\nSee merge request ADLR/megatron-lm!3156",
        date=BASE_DATE + 1200)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    patches = [("0001-fix.patch", "Our fix", "d", {"model.py": text(body[:19] + ["ours 20\n"] + body[20:])})]
    ws = make_ws(tmp_path, up, "v1", patches)
    data = _pull(ws, tmp_path)
    (p,) = data["patches"]
    assert p["status"] == "conflict"
    (c,) = p["conflicts"]
    (cu,) = c["culprits"]
    branch = git(up, "rev-parse", "shifang/fix_some_bug~1").strip()
    merge = git(up, "rev-parse", "v2").strip()
    assert cu["id"] == branch and cu["subject"] == "ADLR/megatron-lm!3156 - Various bugfixes in model"
    assert cu["merge"] == merge and cu["merge_subject"] == "Merge branch 'shifang/fix_some_bug' into 'main'"
    assert cu["ref"] == "ADLR/megatron-lm!3156"
    assert c["regions"][0]["hunk"].startswith("@@ -17,7 +17,7 @@")


def test_github_squash_culprit_keeps_its_pr_number(tmp_path: Path) -> None:
    """Linear history with squash merges: the commit itself is the culprit, its ``(#1234)`` is the ref."""
    body = lines(30)
    up = tmp_path / "up"
    make_repo(up, {"k.cu": text(body)}, [("Add sink attention (#1234)", {"k.cu": text(body[:4] + ["up 5\n"] + body[5:])},
                                          "v2")])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-k.patch", "Kernel", "d", {"k.cu": text(body[:4] + ["ours 5\n"] + body[5:])})])
    cu = _pull(ws, tmp_path)["patches"][0]["conflicts"][0]["culprits"][0]
    assert cu["subject"] == "Add sink attention (#1234)" and cu["ref"] == "#1234" and cu["merge"] == ""


def test_a_cascade_is_blocked_by_the_earlier_conflicting_patch(tmp_path: Path) -> None:
    """Patch 2 edits lines patch 1 added; patch 1 conflicts with upstream, so patch 2 is blocked by it."""
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
    data = _pull(ws, tmp_path)
    first, second = data["patches"]
    assert first["status"] == "conflict" and first["blocked_by"] == ""
    assert first["conflicts"][0]["culprits"][0]["subject"] == "Rework line 5"
    assert second["status"] == "conflict" and second["blocked_by"] == "0001-one.patch"
    assert second["conflicts"][0]["culprits"] == []
    assert data["counts"]["blocked"] == 1 and "(1 blocked by an earlier patch)" in data["summary"]


def test_a_patch_upstream_cherry_picked_is_already_upstream_by_patch_id(tmp_path: Path) -> None:
    """Upstream took the very change, then edited next to it: the merge conflicts, the patch-id names the commit."""
    body = lines(30)
    fixed = body[:9] + ["fixed 10\n"] + body[10:]
    up = tmp_path / "up"
    make_repo(up, {"a.py": text(body)}, [
        ("Take FlagScale's fix", {"a.py": text(fixed)}, None),
        ("Follow-up next to it", {"a.py": text(fixed[:10] + ["follow-up 11\n"] + fixed[11:])}, "v2"),
    ])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix", "d", {"a.py": text(fixed)})])
    (p,) = _pull(ws, tmp_path)["patches"]
    assert p["status"] == "upstreamed" and p["upstream_how"] == "patch-id"
    assert p["upstream_commit"] == git(up, "rev-parse", "v2~1").strip()


def test_a_fix_upstream_moved_elsewhere_reverse_applies_and_is_dropped(tmp_path: Path) -> None:
    """Upstream moved the function and fixed it there: the merge conflicts, the reversed patch applies."""
    head = lines(10, "head")
    func = [f"    func line {k}\n" for k in range(10)]
    tail = lines(20, "tail")
    ours_func = func[:5] + ["    fixed line 5\n"] + func[6:]
    up = tmp_path / "up"
    make_repo(up, {"m.py": text(head + func + tail)},
              [("Move func to the end, fixed", {"m.py": text(head + ["moved\n"] + tail + ours_func)}, "v2")])
    git(up, "checkout", "-q", "v1")
    ws = make_ws(tmp_path, up, "v1", [("0001-fix.patch", "Fix", "d", {"m.py": text(head + ours_func + tail)}),
                                      ("0002-more.patch", "More", "d", {"m.py": text(head + ours_func + tail[:-1]
                                                                                    + ["tail 20 ours\n"])})])
    data = _pull(ws, tmp_path, "--drop-upstreamed")
    first = data["patches"][0]
    assert first["status"] == "dropped" and first["upstream_how"] == "reverse-applies"
    series = (ws.root / "series/minillm/series").read_text()
    assert "0001-fix.patch" not in series and "0002-more.patch" in series
