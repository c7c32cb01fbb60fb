"""Upstream renames are paired as git pairs them: never a file less than half the other's size.

git's diffcore-rename skips a pair whose smaller blob is under half the larger (a 50 % score is
out of reach); libgit2's similarity compares such pairs and reads every added file for it, which
cost 1.5 s to Megatron-LM's tip.  The replay filters the candidates by git's rule; here git
itself decides each case (a real cherry-pick in a real repository).
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.patch import parse_patch
from fspatch.core.rebase import CONFLICT, LayerPlan, Plan, Replayer
from fspatch.core.session import Session
from tests.rebase_helpers import lines, make_repo, make_ws, text
from tests.test_rebase_agrees_with_git import _git_picks


def test_a_grown_copy_is_no_rename_and_a_lightly_edited_one_is(tmp_path: Path) -> None:
    f0 = lines(40, "f0")
    f1 = lines(40, "f1")
    files = {"src/f0.txt": text(f0), "src/f1.txt": text(f1), "src/keep.txt": text(lines(10, "k"))}
    up = tmp_path / "up"
    make_repo(up, files, [
        # f0's lines reappear inside a file 2.5x its size: libgit2 may call it similar, git never
        ("Fold f0 into a big file", {"src/f0.txt": None, "lib/big.txt": text(lines(60, "big") + f0)}, None),
        # f1 moves with a few lines changed: a rename for git
        ("Move f1", {"src/f1.txt": None, "lib/f1.txt": text(f1[:35] + ["up 36\n"] + f1[36:])}, "v2"),
    ])
    patches = [
        ("0001-f0.patch", "Edit f0", "d", {"src/f0.txt": text(["ours 1\n"] + f0[1:])}),
        ("0002-f1.patch", "Edit f1", "d", {"src/f1.txt": text(["ours 1\n"] + f1[1:])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    s = Session.open(ws, "minillm")
    assert s.state is not None
    ls = s.state.layers[0]
    repo = s.repo
    new = repo.resolve("refs/tags/v2")
    assert new is not None
    picks = _git_picks(ws.root / "third_party/minillm", new, [p.commit for p in ls.applied], tmp_path / "wt")
    assert [t is None for t in picks] == [True, False]  # git: f0 modify/delete, f1 follows its rename
    lp = LayerPlan("common", None, ls.base, ls.names(), [p.commit for p in ls.applied])
    plan = Plan("pull-upstream", "minillm", "v1", s.backend.commit, "v2", new, False, False, [lp])
    folder = ws.root / "series/minillm"
    Replayer(repo, plan).run(lambda _lp, name: parse_patch((folder / name).read_bytes(), name))
    assert lp.status[0] == CONFLICT
    assert plan.outcomes[0].conflicts[0].kind == "deleted upstream"
    assert lp.status[1] != CONFLICT
    commit = lp.new[1]
    assert commit is not None and repo.tree_of(commit) == picks[1]
