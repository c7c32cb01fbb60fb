"""The engine builds exactly git's trees for every kind of patch, in memory, and checks out once."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git
from tests.wsutil import WS, Step, make_workspace, snapshot, write_patches

CRLF = b"line one\r\nline two\r\nline three\r\nline four\r\n"
LATIN1 = "caf\xe9 = 1\n# r\xe9sum\xe9\nx = 2\n".encode("latin-1")
NOEOL = b"alpha\nbeta\ngamma"
BLOB = bytes((i * 7919) % 256 for i in range(60_000))


def _upstream(tmp: Path) -> Path:
    up = tmp / "up"
    up.mkdir()
    git(up, "init", "-q")
    files = {
        "pkg/crlf.txt": CRLF,
        "pkg/latin1.py": LATIN1,
        "pkg/noeol.txt": NOEOL,
        "pkg/run.sh": b"#!/bin/sh\necho run\n",
        "pkg/model.py": b"".join(b"line %d\n" % i for i in range(200)),
        "csrc/kernel.cu": b"__global__ void k() {\n  int i = 0;\n}\n",
        "csrc/ops.cpp": b"#include <cstdio>\nint f() { return 1; }\n",
        "assets/blob.bin": BLOB,
        "old/name.py": b"".join(b"value_%d = %d\n" % (i, i) for i in range(40)),
    }
    for rel, data in files.items():
        (up / rel).parent.mkdir(parents=True, exist_ok=True)
        (up / rel).write_bytes(data)
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", "Upstream 1.0", date=1_700_000_000)
    git(up, "tag", "v1.0")
    return up


def _steps() -> list[Step]:
    def add_files(d: Path) -> None:
        (d / "pkg/new_module.py").write_bytes(b"def hello():\n    return 1\n")
        (d / "csrc/new_kernel.cuh").write_bytes(b"#pragma once\n__device__ int twice(int x);\n")

    def delete_file(d: Path) -> None:
        (d / "csrc/ops.cpp").unlink()

    def rename_with_edit(d: Path) -> None:
        data = (d / "old/name.py").read_bytes().replace(b"value_3 = 3\n", b"value_3 = 33\n")
        (d / "old/name.py").unlink()
        (d / "new").mkdir()
        (d / "new/name.py").write_bytes(data)

    def copy_file(d: Path) -> None:
        data = (d / "pkg/model.py").read_bytes()
        (d / "pkg/model_copy.py").write_bytes(data + b"extra\n")
        (d / "pkg/model.py").write_bytes(data.replace(b"line 5\n", b"line five\n"))

    def mode_change(d: Path) -> None:
        os.chmod(d / "pkg/run.sh", 0o755)

    def binary_change(d: Path) -> None:
        data = bytearray(BLOB)
        data[100:110] = b"0123456789"
        (d / "assets/blob.bin").write_bytes(bytes(data))
        (d / "assets/new.bin").write_bytes(b"\x00\x01\x02binary\xff" * 50)

    def eol_and_bytes(d: Path) -> None:
        (d / "pkg/noeol.txt").write_bytes(NOEOL + b"\ndelta")  # still no newline at end
        (d / "pkg/crlf.txt").write_bytes(CRLF.replace(b"line two\r\n", b"line 2\r\nline 2b\r\n"))
        (d / "pkg/latin1.py").write_bytes(LATIN1.replace(b"x = 2", "x = '\xe0'".encode("latin-1")))

    def cuda_edit(d: Path) -> None:
        (d / "csrc/kernel.cu").write_bytes(
            b"__global__ void k() {\n  // --- FLAGSCALE MODIFICATION BEG ---\n  int i = threadIdx.x;\n"
            b"  // --- FLAGSCALE MODIFICATION END ---\n}\n"
        )

    def far_edit(d: Path) -> None:
        (d / "pkg/model.py").write_bytes(
            (d / "pkg/model.py").read_bytes().replace(b"line 150\n", b"line 150\n# ours\n")
        )

    return [
        ("0001-add-files.patch", "Add files", add_files),
        ("0002-delete-file.patch", "Delete a file", delete_file),
        ("0003-rename.patch", "Rename with an edit", rename_with_edit),
        ("0004-copy.patch", "Copy a file", copy_file),
        ("0005-mode.patch", "Make a script executable", mode_change),
        ("0006-binary.patch", "Change and add binaries", binary_change),
        ("0007-eol-bytes.patch", "No newline at EOF, CRLF, latin-1", eol_and_bytes),
        ("0008-cuda.patch", "CUDA edit", cuda_edit),
        ("0009-far.patch", "An edit far down", far_edit),
    ]


@pytest.fixture
def kinds(tmp_path: Path) -> tuple[WS, list[str]]:
    up = _upstream(tmp_path)
    w = make_workspace(tmp_path, patches=False, upstream=up)
    w.cli("backend", "add", "minillm", "--url", str(up), "--ref", "v1.0")
    trees = write_patches(up, "v1.0", w.series_dir, _steps())
    return w, trees


def test_every_patch_kind_builds_gits_exact_tree(kinds: tuple[WS, list[str]]) -> None:
    """Adds, deletes, renames, copies, modes, binaries, no-EOL, CRLF and latin-1 give git's tree ids."""
    w, trees = kinds
    for i, want in enumerate(trees):
        upto = f"{i + 1:04d}"
        apply_cmd.run(w.ws(), "minillm", upto=upto)
        repo = pygit2.Repository(str(w.checkout))
        assert str(repo.head.peel(pygit2.Commit).tree_id) == want, f"tree after patch {upto}"


def test_checkout_matches_stack_top_byte_for_byte(kinds: tuple[WS, list[str]]) -> None:
    """After apply, the files on disk (bytes and exec bits) are exactly the top commit's."""
    w, _ = kinds
    apply_cmd.run(w.ws(), "minillm")
    repo = pygit2.Repository(str(w.checkout))
    assert repo.status() == {}
    assert (w.checkout / "pkg/crlf.txt").read_bytes().count(b"\r\n") == 5
    assert (w.checkout / "pkg/noeol.txt").read_bytes().endswith(b"delta")
    assert os.access(w.checkout / "pkg/run.sh", os.X_OK)
    assert not (w.checkout / "csrc/ops.cpp").exists()
    assert not (w.checkout / "old").exists()
    assert (w.checkout / "new/name.py").exists()
    tree = repo.head.peel(pygit2.Commit).tree
    for rel, data in snapshot(w.checkout).items():
        blob = tree[rel]
        assert isinstance(blob, pygit2.Blob) and blob.data == data, rel


def test_stack_commits_are_deterministic(kinds: tuple[WS, list[str]]) -> None:
    """Applying twice gives the same commit ids and writes no file the second time."""
    w, _ = kinds
    first = apply_cmd.run(w.ws(), "minillm")
    second = apply_cmd.run(w.ws(), "minillm")
    assert first.head == second.head
    assert second.touched == 0


def test_stack_state_survives_gc_and_clone(kinds: tuple[WS, list[str]], tmp_path: Path) -> None:
    """Patch commits hang off refs/fspatch/state, so gc keeps them and a mirror clone carries them."""
    w, _ = kinds
    r = apply_cmd.run(w.ws(), "minillm")
    git(w.checkout, "checkout", "-q", "--detach", "v1.0")
    git(w.checkout, "reflog", "expire", "--expire=now", "--all")
    git(w.checkout, "gc", "-q", "--prune=now")
    repo = pygit2.Repository(str(w.checkout))
    assert repo.get(r.head) is not None
    git(tmp_path, "clone", "-q", "--mirror", str(w.checkout), str(tmp_path / "mirror"))
    mirror = pygit2.Repository(str(tmp_path / "mirror"))
    assert mirror.get(r.head) is not None
    assert "refs/fspatch/state" in list(mirror.references)


def test_latin1_bytes_in_a_patch_header_are_kept(tmp_path: Path) -> None:
    """A Debian-style header with Latin-1 bytes applies (no internal error) and keeps its bytes in the commit."""
    w = make_workspace(tmp_path)
    p = w.series_dir / "0001-enable-flag-gems.patch"
    data = p.read_bytes().replace(b"Signed-off-by:", b"Co-authored-by: S\xf8ren L\xf8vborg <s@example.org>\nSigned-off-by:", 1)
    p.write_bytes(data)
    r = apply_cmd.run(w.ws(), "minillm")
    repo = pygit2.Repository(str(w.checkout))
    first = repo[r.head].peel(pygit2.Commit).parents[0].parents[0]
    assert b"S\xf8ren L\xf8vborg" in first.raw_message
    from fspatch.commands import goto as goto_cmd
    from fspatch.commands import refresh as refresh_cmd

    goto_cmd.run(w.ws(), "minillm", "0001")
    assert not refresh_cmd.run(w.ws(), "minillm").file_changed
    assert p.read_bytes() == data
