"""A patch changes what it was made for, in the order it says, or nothing (issue 15, findings 2 and 8).

Two sections for one file are applied in order, as ``git apply`` does, or refused as git
refuses them: never one silently dropped.  A binary literal or deletion names its preimage
in its ``index`` line and is refused on any other file (git: "does not match the current
contents").  Every expectation is checked against real ``git apply``
on the same tree.  Text is verified by its hunks (exact context, no fuzz): hand edits that
leave the index ids stale apply, as with git and quilt.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripts.example import git
from tests.hardutil import cli, git_diff_of, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace

HEADER = b"From: Test Author <author@example.org>\nSubject: hostile\n\n---\n"


def _add(w: WS, name: str, body: bytes) -> None:
    (w.series_dir / name).write_bytes(HEADER + body)
    with open(w.series_dir / "series", "a") as fh:
        fh.write(name + "\n")


def _git_apply(w: WS, body: bytes, tmp: Path) -> tuple[bool, dict[str, bytes]]:
    """Apply ``body`` with real git on a clone of upstream v1.0 + the common layer: (ok, files)."""
    clone = tmp / "git-apply"
    git(tmp, "clone", "-q", str(w.upstream), str(clone))
    git(clone, "checkout", "-q", "v1.0")
    for line in (w.series_dir / "series").read_text().split():
        if line.startswith("0004"):
            break
        git(clone, "apply", str(w.series_dir / line))
    patch = tmp / "candidate.patch"
    patch.write_bytes(body)
    r = subprocess.run(["git", "apply", str(patch)], cwd=clone, capture_output=True)
    files = {p.relative_to(clone).as_posix(): p.read_bytes() for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts}
    return r.returncode == 0, files


def _readme(text: str) -> callable:  # type: ignore[valid-type]
    def edit(tree: Path) -> None:
        (tree / "README.md").write_text(text)

    return edit


V1 = "# minillm\n\nA tiny LLM serving engine (example upstream for fspatch).\n"
ONE = V1.replace("# minillm", "ONE")
BOTH = ONE.replace("A tiny LLM serving engine (example upstream for fspatch).", "TWO")


def _sequential_sections(w: WS) -> bytes:
    """Section 1 changes line 1, section 2 (made on top of it) changes line 3: one patch, two sections."""
    first = git_diff_of(w.upstream, "v1.0", _readme(ONE), "--full-index")

    def both(tree: Path) -> None:
        (tree / "README.md").write_text(ONE)
        git(tree, "commit", "-qam", "one")
        (tree / "README.md").write_text(BOTH)

    second = git_diff_of(w.upstream, "v1.0", both, "--full-index")
    assert first.count(b"diff --git a/README.md") == 1 and second.count(b"diff --git a/README.md") == 1
    return first + second


def test_two_sections_for_one_file_apply_in_order_like_git(tmp_path: Path) -> None:
    """Line 1 -> ONE then line 3 -> TWO in two sections: both changes reach the tree, as with git apply."""
    w = make_workspace(tmp_path)
    body = _sequential_sections(w)
    ok, files = _git_apply(w, body, tmp_path)
    assert ok and files["README.md"] == BOTH.encode()
    _add(w, "0004-two-sections.patch", body)
    r = cli(w.root, "apply", "minillm")
    assert r.exit_code == 0, r.output
    assert (w.checkout / "README.md").read_bytes() == files["README.md"]


def test_two_independent_sections_for_one_file_are_refused_like_git(tmp_path: Path) -> None:
    """Two sections both made against the original file: the second no longer applies; refused, nothing written."""
    w = make_workspace(tmp_path)
    first = git_diff_of(w.upstream, "v1.0", _readme(ONE))
    second = git_diff_of(w.upstream, "v1.0", _readme(V1.replace("A tiny LLM serving engine (example upstream for fspatch).", "TWO")))
    body = first + second
    ok, _ = _git_apply(w, body, tmp_path)
    assert not ok
    _add(w, "0004-two-sections.patch", body)
    before = tree_snapshot(w.root)
    r = cli(w.root, "apply", "minillm")
    line = one_error_line(r)
    assert r.exit_code == 1 and "0004-two-sections.patch" in line and "README.md" in line, line
    assert tree_snapshot(w.root) == before


def _binary_change_made_elsewhere(w: WS, kind: str) -> bytes:
    """A binary literal replacing (or deleting) assets/logo.bin, made on a tree whose logo was different."""

    def edit(tree: Path) -> None:
        logo = tree / "assets/logo.bin"
        logo.write_bytes(b"\x00another logo\x00" * 40)
        git(tree, "commit", "-qam", "other logo")
        if kind == "delete":
            logo.unlink()
        else:
            logo.write_bytes(b"\x00vendor logo\x01" * 50)

    return git_diff_of(w.upstream, "v1.0", edit, "--binary", "--full-index")


def _binary_change_here(w: WS, kind: str) -> bytes:
    def edit(tree: Path) -> None:
        logo = tree / "assets/logo.bin"
        if kind == "delete":
            logo.unlink()
        else:
            logo.write_bytes(b"\x00vendor logo\x01" * 50)

    return git_diff_of(w.upstream, "v1.0", edit, "--binary", "--full-index")


def test_binary_literal_for_another_preimage_is_refused_like_git(tmp_path: Path) -> None:
    """A GIT binary literal whose index line names a different logo: git refuses, fspatch refuses, nothing written."""
    w = make_workspace(tmp_path)
    body = _binary_change_made_elsewhere(w, "literal")
    assert b"GIT binary patch" in body and b"literal" in body
    ok, _ = _git_apply(w, body, tmp_path)
    assert not ok
    _add(w, "0004-logo.patch", body)
    before = tree_snapshot(w.root)
    r = cli(w.root, "apply", "minillm")
    line = one_error_line(r)
    assert r.exit_code == 1 and "assets/logo.bin: binary patch was made for preimage" in line, line
    assert tree_snapshot(w.root) == before


def test_binary_delete_of_another_preimage_is_refused_like_git(tmp_path: Path) -> None:
    """A binary deletion made for a different file content does not delete this one."""
    w = make_workspace(tmp_path)
    body = _binary_change_made_elsewhere(w, "delete")
    assert b"deleted file mode" in body
    ok, _ = _git_apply(w, body, tmp_path)
    assert not ok
    _add(w, "0004-logo.patch", body)
    r = cli(w.root, "apply", "minillm")
    line = one_error_line(r)
    assert r.exit_code == 1 and "assets/logo.bin" in line, line
    assert (w.checkout / "assets/logo.bin").is_file()


def test_binary_changes_for_this_preimage_apply_like_git(tmp_path: Path) -> None:
    """The same binary literal and deletion made on this very logo apply, with git's result."""
    for kind in ("literal", "delete"):
        w = make_workspace(tmp_path / kind)
        body = _binary_change_here(w, kind)
        ok, files = _git_apply(w, body, tmp_path / kind)
        assert ok
        _add(w, "0004-logo.patch", body)
        r = cli(w.root, "apply", "minillm")
        assert r.exit_code == 0, r.output
        logo = w.checkout / "assets/logo.bin"
        assert (logo.read_bytes() if logo.exists() else None) == files.get("assets/logo.bin")


def test_text_hunks_edited_by_hand_still_apply_like_git(tmp_path: Path) -> None:
    """Decision: a hand-edited text patch (index ids left stale) applies by its hunks, as git apply and quilt do.

    Only plaintext no MAC vouched for (CBC-encrypted) is held to its index ids
    (test_encryption_is_authenticated.py).
    """
    w = make_workspace(tmp_path)
    body = git_diff_of(w.upstream, "v1.0", _readme(ONE), "--full-index")
    edited = body.replace(b"+ONE\n", b"+0NE\n")
    assert edited != body
    ok, files = _git_apply(w, edited, tmp_path)
    assert ok
    _add(w, "0004-readme.patch", edited)
    r = cli(w.root, "apply", "minillm")
    assert r.exit_code == 0, r.output
    assert (w.checkout / "README.md").read_bytes() == files["README.md"]


def test_text_patch_on_another_preimage_still_applies_by_its_hunks(tmp_path: Path) -> None:
    """Offsets are allowed: a text patch made on a different README applies where its context is (no id check)."""
    w = make_workspace(tmp_path)

    def edit(tree: Path) -> None:
        cmake = tree / "CMakeLists.txt"
        cmake.write_text("# vendor build\n" * 6 + cmake.read_text())
        git(tree, "commit", "-qam", "intro")
        cmake.write_text(cmake.read_text().replace('"80;90"', '"80;90;100"'))

    body = git_diff_of(w.upstream, "v1.0", edit, "--full-index")
    ok, files = _git_apply(w, body, tmp_path)
    assert ok
    _add(w, "0004-cmake.patch", body)
    r = cli(w.root, "apply", "minillm")
    assert r.exit_code == 0, r.output
    assert (w.checkout / "CMakeLists.txt").read_bytes() == files["CMakeLists.txt"]
