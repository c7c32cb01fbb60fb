"""`fspatch import commits A..B`: first-parent commits of the backend checkout become a layer's patches."""

from __future__ import annotations

from pathlib import Path

from fspatch.core.patch import parse_patch
from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot


def _commit(work: Path, path: str, text: str, message: str, date: int, author: str | None = None) -> None:
    (work / path).write_text(text)
    git(work, "add", path)
    extra = [f"--author={author}"] if author else []
    git(work, "commit", "-q", *extra, "-m", message, date=date)


def _branch(w: WS) -> None:
    """In the checkout: main history v1.0 → a → merge(side) → c, with a side branch b."""
    co = w.checkout
    git(co, "checkout", "-q", "-b", "work", "v1.0")
    _commit(co, "a.txt", "a\n", "Add a\n\nWhy a.\n\nSigned-off-by: A <a@example.org>", 1_700_000_001,
            "Ann Author <ann@example.org>")
    git(co, "checkout", "-q", "-b", "side")
    _commit(co, "b.txt", "b\n", "Add b on a side branch", 1_700_000_002)
    git(co, "checkout", "-q", "work")
    git(co, "merge", "-q", "--no-ff", "-m", "Merge side", "side", date=1_700_000_003)
    _commit(co, "a.txt", "a\nc\n", "Extend a", 1_700_000_004)


def test_first_parent_commits_become_patches_oldest_first(tmp_path: Path) -> None:
    """v1.0..work gives one patch per first-parent commit (a merge as its first-parent diff) that rebuild work's tree."""
    w = make_workspace(tmp_path, patches=False)
    _branch(w)
    want_tree = git(w.checkout, "rev-parse", "work^{tree}")
    r = w.cli("import", "commits", "v1.0..work")
    assert r.exit_code == 0, r.output
    names = (w.series_dir / "series").read_text().split()
    assert names == ["0001-Add-a.patch", "0002-Merge-side.patch", "0003-Extend-a.patch"]
    first = parse_patch((w.series_dir / names[0]).read_bytes())
    assert first.author == "Ann Author <ann@example.org>"
    assert (first.subject, first.description, first.trailers) == ("Add a", "Why a.", (("Signed-off-by", "A <a@example.org>"),))
    assert first.extra_headers == (("Date", "Tue, 14 Nov 2023 22:13:21 +0000"),)
    merge = parse_patch((w.series_dir / names[1]).read_bytes())
    assert [f.path for f in merge.files] == ["b.txt"]
    git(w.checkout, "checkout", "-q", "--detach", "v1.0")
    r = w.cli("apply", "minillm")
    assert r.exit_code == 0, r.output
    assert git(w.checkout, "rev-parse", "HEAD^{tree}") == want_tree


def test_bad_range_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    """A range that is not A..B, or names no commit, is refused (exit 2) with nothing written."""
    w = make_workspace(tmp_path)
    before = snapshot(w.root)
    for spec in ("v1.0", "v1.0...v1.1", "nope..v1.1"):
        r = w.cli("import", "commits", spec)
        assert r.exit_code == 2, (spec, r.output)
    assert snapshot(w.root) == before
