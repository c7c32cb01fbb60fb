"""The replay agrees with git: every patch `git cherry-pick` (merge-ort) picks cleanly is clean here
with the identical tree; and vendor layers ride along (pull-upstream) or are rebased alone."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from fspatch.commands import pull_upstream, rebase_vendors
from fspatch.core.patch import parse_patch
from fspatch.core.rebase import CONFLICT, LayerPlan, Plan, Replayer, common_fingerprint
from fspatch.core.session import Session
from fspatch.core.upstream_map import UpstreamMap
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.core.yamlio import load_yaml
from fspatch.git_adapter import GitRepo
from scripts.example import git
from tests.rebase_helpers import lines, make_repo, make_ws, text


def _edit(rng: random.Random, body: list[str], tag: str) -> list[str]:
    out = list(body)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.6:
            out[i] = f"{tag} {rng.randrange(1000)}\n"
        elif kind < 0.8:
            out.insert(i, f"{tag} ins {rng.randrange(1000)}\n")
        elif len(out) > 5:
            del out[i]
    return out


def _scenario(tmp: Path, seed: int) -> Workspace:
    rng = random.Random(seed)
    files = {f"src/f{k}.txt": lines(40, f"f{k}") for k in range(4)}
    history = []
    cur = {k: list(v) for k, v in files.items()}
    for n in range(12):
        path = rng.choice(sorted(cur))
        cur[path] = _edit(rng, cur[path], f"up{n}")
        history.append((f"Upstream change {n}", {path: text(cur[path])}, "v2" if n == 11 else None))
    up = tmp / "up"
    make_repo(up, {k: text(v) for k, v in files.items()}, history)
    mine = {k: list(v) for k, v in files.items()}
    patches = []
    for n in range(8):
        path = rng.choice(sorted(mine))
        mine[path] = _edit(rng, mine[path], f"patch{n}")
        patches.append((f"{n + 1:04d}-p{n}.patch", f"Patch {n}", "d", {path: text(mine[path])}))
    return make_ws(tmp, up, "v1", patches)


def _git_picks(repo_dir: Path, tip: str, commits: list[str], wt: Path) -> list[str | None]:
    """Cherry-pick each commit onto tip in a scratch worktree; the tree after each, None on conflict."""
    git(repo_dir, "worktree", "add", "-q", "--detach", str(wt), tip)
    out: list[str | None] = []
    for c in commits:
        r = subprocess.run(["git", "cherry-pick", "--keep-redundant-commits", "--allow-empty", c],
                           cwd=wt, capture_output=True)
        if r.returncode == 0:
            out.append(git(wt, "rev-parse", "HEAD^{tree}").strip())
        else:
            subprocess.run(["git", "cherry-pick", "--abort"], cwd=wt, capture_output=True)
            out.append(None)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_every_patch_git_picks_cleanly_is_clean_with_the_same_tree(tmp_path: Path, seed: int) -> None:
    """Generated histories: git's clean picks are fspatch's clean patches, tree for tree (bot-mode order)."""
    ws = _scenario(tmp_path, seed)
    s = Session.open(ws, "minillm")
    assert s.state is not None
    ls = s.state.layers[0]
    repo = s.repo
    new = repo.resolve("refs/tags/v2")
    assert new is not None
    picks = _git_picks(ws.root / "third_party/minillm", new, [p.commit for p in ls.applied], tmp_path / "wt")
    lp = LayerPlan("common", None, ls.base, ls.names(), [p.commit for p in ls.applied])
    plan = Plan("pull-upstream", "minillm", "v1", s.backend.commit, "v2", new, False, False, [lp])
    folder = ws.root / "series/minillm"
    Replayer(repo, plan).run(lambda _lp, name: parse_patch((folder / name).read_bytes(), name))
    for name, status, commit, tree in zip(lp.names, lp.status, lp.new, picks, strict=True):
        if tree is not None:
            assert status != CONFLICT, f"{name}: git picks it cleanly"
            assert commit is not None and repo.tree_of(commit) == tree, name
        else:
            assert status == CONFLICT, f"{name}: git conflicts, fspatch said {status}"


@pytest.mark.parametrize("seed", range(6))
def test_per_file_merge_equals_the_full_tree_merge(tmp_path: Path, seed: int) -> None:
    """The per-patch file-by-file merge gives merge_trees' tree, and conflicts on exactly its paths."""
    ws = _scenario(tmp_path, seed)
    s = Session.open(ws, "minillm")
    assert s.state is not None
    repo = s.repo
    new = repo.resolve("refs/tags/v2") or ""
    ours = repo.tree_of(new)
    moves = UpstreamMap(repo, s.backend.commit, new, lambda: ())
    labels = ("a", "o", "t")
    prev = s.state.layers[0].base
    for p in s.state.layers[0].applied:
        anc, theirs = repo.tree_of(prev), repo.tree_of(p.commit)
        got = repo.merge_patch(anc, ours, theirs, moves, labels)
        full = repo.merge_trees(anc, ours, theirs)
        assert got.tree == full.tree
        if full.tree is None:
            tree, files = repo.merge_conflicts(anc, ours, theirs, labels)
            assert (got.conflict_tree, got.files) == (tree, files)
        prev = p.commit


def _vendor_ws(tmp: Path) -> tuple[Workspace, Path]:
    up = tmp / "up"
    body = lines(60)
    make_repo(up, {"m.py": text(body)}, [("Insert a banner", {"m.py": text(["banner\n"] * 3 + body)}, "v2")])
    git(up, "checkout", "-q", "v1")
    common = [("0001-c.patch", "Common", "d", {"m.py": text(body[:9] + ["common 10\n"] + body[10:])})]
    after_common = body[:9] + ["common 10\n"] + body[10:]
    vendor = [("0001-v.patch", "Vendor", "d", {"m.py": text(after_common[:39] + ["vendor 40\n"] + after_common[40:])})]
    return make_ws(tmp, up, "v1", common, vendors={"acme": vendor}), up


def test_pull_upstream_replays_vendor_layers_and_updates_their_base(tmp_path: Path) -> None:
    """Vendor layers are replayed on the new common tip; layer.yaml base gets the new pin and fingerprint."""
    ws, _up = _vendor_ws(tmp_path)
    r = pull_upstream.run(ws, "minillm", "v2")
    assert [(p.layer, p.status) for p in r.report.patches] == [("common", "clean"), ("vendor/acme", "clean")]
    vpatch = (ws.root / "vendors/acme/minillm/0001-v.patch").read_text()
    assert "@@ -40,7 +40,7 @@" in vpatch
    meta = load_yaml(ws.root / "vendors/acme/minillm/layer.yaml", "layer")
    new = Workspace.load(ws.root).backend("minillm").commit
    assert dict(meta["base"]) == {"upstream_commit": new,
                                  "common_fingerprint": common_fingerprint(Workspace.load(ws.root), "minillm")}


def test_rebase_vendors_rewrites_vendor_patches_onto_a_changed_common_layer(tmp_path: Path) -> None:
    """After the common layer grows, rebase-vendors refreshes the vendor patches' context and base."""
    ws, _up = _vendor_ws(tmp_path)
    common = ws.root / "series/minillm/0001-c.patch"
    before = (ws.root / "vendors/acme/minillm/0001-v.patch").read_bytes()
    # Grow the common patch: two more lines above the vendor's change.
    text_ = common.read_text().replace("+common 10\n", "+common 10\n+common 10b\n+common 10c\n")
    text_ = text_.replace("@@ -7,7 +7,7 @@", "@@ -7,7 +7,9 @@")
    common.write_text(text_)
    r = rebase_vendors.run(Workspace.load(ws.root), "minillm")
    assert r.report.finished and [p.status for p in r.report.patches] == ["clean"]
    after = (ws.root / "vendors/acme/minillm/0001-v.patch").read_bytes()
    assert after != before and b"@@ -37,7 +37,7 @@" in before and b"@@ -39,7 +39,7 @@" in after
    meta = load_yaml(ws.root / "vendors/acme/minillm/layer.yaml", "layer")
    assert meta["base"]["common_fingerprint"] == common_fingerprint(Workspace.load(ws.root), "minillm")
    assert GitRepo.open(ws.root / "third_party/minillm").dirty_paths() == []


def test_common_fingerprint_follows_series_and_patch_bytes(tmp_path: Path) -> None:
    """The fingerprint changes when a common patch's bytes or the series change, not otherwise."""
    ws, _up = _vendor_ws(tmp_path)
    a = common_fingerprint(ws, "minillm")
    assert a == common_fingerprint(ws, "minillm") and len(a) == 64
    (ws.root / "series/minillm/series").write_text("# note\n0001-c.patch\n")
    assert common_fingerprint(ws, "minillm") != a
    assert LayerRef("minillm").label == "common"


def test_renames_deletions_and_directory_moves_agree_with_git(tmp_path: Path) -> None:
    """Through upstream's rename/delete map: renamed, deleted, moved-directory and added paths split as git does."""
    files = {f"src/f{k}.txt": text(lines(30, f"f{k}")) for k in range(4)}
    files.update({"pkg/a.txt": text(lines(20, "a")), "pkg/b.txt": text(lines(20, "b"))})
    up = tmp_path / "up"
    f0 = lines(30, "f0")
    f2 = lines(30, "f2")
    make_repo(up, files, [
        ("Move f0 to lib", {"mv:src/f0.txt": b"lib/f0.txt"}, None),
        ("Edit the moved f0", {"lib/f0.txt": text(f0[:25] + ["up 26\n"] + f0[26:])}, None),
        ("Drop f1", {"src/f1.txt": None}, None),
        ("Rename pkg a", {"mv:pkg/a.txt": b"newpkg/a.txt"}, None),
        ("Rename pkg b", {"mv:pkg/b.txt": b"newpkg/b.txt"}, None),
        ("Edit f2", {"src/f2.txt": text(f2[:20] + ["up 21\n"] + f2[21:])}, "v2"),
    ])
    git(up, "checkout", "-q", "v1")
    patches: list[tuple[str, str, str, Mapping[str, bytes | None]]] = [
        ("0001-f0.patch", "Edit f0", "d", {"src/f0.txt": text(["ours 1\n"] + f0[1:])}),
        ("0002-f1.patch", "Edit f1", "d", {"src/f1.txt": text(["ours f1\n"] + lines(30, "f1")[1:])}),
        ("0003-pkg.patch", "Add to pkg", "d", {"pkg/c.txt": b"new in pkg\n"}),
        ("0004-new.patch", "Add new dir", "d", {"fresh/d.txt": b"fresh\n"}),
        ("0005-del.patch", "Delete f3", "d", {"src/f3.txt": None}),
        ("0006-f2.patch", "Edit f2", "d", {"src/f2.txt": text(["ours 1\n"] + f2[1:])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    s = Session.open(ws, "minillm")
    assert s.state is not None
    ls = s.state.layers[0]
    repo = s.repo
    new = repo.resolve("refs/tags/v2")
    assert new is not None
    picks = _git_picks(ws.root / "third_party/minillm", new, [p.commit for p in ls.applied], tmp_path / "wt")
    lp = LayerPlan("common", None, ls.base, ls.names(), [p.commit for p in ls.applied])
    plan = Plan("pull-upstream", "minillm", "v1", s.backend.commit, "v2", new, False, False, [lp])
    folder = ws.root / "series/minillm"
    Replayer(repo, plan).run(lambda _lp, name: parse_patch((folder / name).read_bytes(), name))
    assert [t is None for t in picks] == [False, True, True, False, False, False]
    for name, status, commit, tree in zip(lp.names, lp.status, lp.new, picks, strict=True):
        if tree is not None:
            assert status != CONFLICT, f"{name}: git picks it cleanly"
            assert commit is not None and repo.tree_of(commit) == tree, name
        else:
            assert status == CONFLICT, f"{name}: git conflicts, fspatch said {status}"
    kinds = [o.conflicts[0].kind for o in plan.outcomes if o.status == CONFLICT]
    assert kinds == ["deleted upstream", "directory renamed upstream"]
