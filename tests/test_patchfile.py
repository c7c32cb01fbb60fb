"""Patch files: git's own diffs round-trip byte for byte, every header flavour parses, errors name their line."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fspatch.core.patch import (
    BinaryData,
    FileDiff,
    Hunk,
    Patch,
    format_diff,
    format_patch,
    parse_diff,
    parse_message,
    parse_patch,
)
from fspatch.errors import PatchParseError, PathEscapeError
from tests.gitutil import git

# ---------------------------------------------------------------------------------------------
# Real git repositories: one scenario = a base tree, a target tree and the git diff options.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """A file in a scenario tree: content and git mode (0o120000: content is the link target)."""

    data: bytes
    mode: int = 0o100644


Tree = dict[str, F]


def py_source(**edits: str) -> bytes:
    """A Python module of small functions; ``edits`` replace whole lines by number (``l12="…"``)."""
    lines = ['"""Model runner helpers."""\n', "\n", "import os\n", "\n"]
    for i in range(14):
        lines += [f"def func_{i}(x):\n", f'    """Scale by {i}."""\n', f"    y = x + {i}\n", "    return y * 2\n", "\n", "\n"]
    for key, value in edits.items():
        lines[int(key[1:]) - 1] = value
    return "".join(lines).encode()


def cpp_source(extra: str = "") -> bytes:
    """C++ with form feeds between sections, as in kernel-style sources."""
    body = "".join(f"int op_{i}(int a) {{\n  return a * {i};\n}}\n\f\n" for i in range(10))
    return f"#include <vector>\n\f\nnamespace ops {{\n{body}{extra}}}  // namespace ops\n".encode()


def cu_source(factor: str = "2.0f") -> bytes:
    """A CUDA file with a few kernels."""
    kernels = "".join(
        f"__global__ void scale_{i}(float* x, int n) {{\n"
        f"  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
        f"  if (i < n) x[i] *= {factor if i == 4 else f'{i}.0f'};\n}}\n\n"
        for i in range(8)
    )
    return ("#include <cuda_runtime.h>\n\n" + kernels).encode()


BIG_BINARY = random.Random(7).randbytes(50_000)
SMALL_BINARY = bytes(range(256)) + b"\0\0\x89PNG\r\n"


def _tweak(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


@dataclass(frozen=True)
class GitCase:
    """A base tree, a target tree and the extra ``git diff`` options that show the change."""

    base: Tree
    target: Tree
    options: tuple[str, ...] = ("-M",)


COMMON = {"README": F(b"readme\n")}
CASES: dict[str, GitCase] = {
    "modify_python_two_hunks": GitCase(
        {"vllm/runner.py": F(py_source())},
        {"vllm/runner.py": F(py_source(l19="    y = x - 2\n", l67="    y = x + 100\n"))},
    ),
    "modify_cpp_with_form_feeds": GitCase(
        {"csrc/ops.cpp": F(cpp_source())}, {"csrc/ops.cpp": F(cpp_source("int extra() { return 1; }\n\f\n"))}
    ),
    "modify_cuda": GitCase({"csrc/k.cu": F(cu_source())}, {"csrc/k.cu": F(cu_source("0.5f"))}),
    "add_cuda": GitCase({}, {"csrc/new_kernel.cu": F(cu_source())}),
    "delete_header": GitCase({"include/old.h": F(b"#pragma once\nint old();\n")}, {}),
    "rename_with_edits": GitCase(
        {"csrc/ops.cpp": F(cpp_source())}, {"csrc/core/ops.cpp": F(cpp_source().replace(b"a * 3", b"a * 33"))}
    ),
    "pure_rename": GitCase({"a/x.h": F(b"int x;\nint y;\n")}, {"b/x.h": F(b"int x;\nint y;\n")}),
    "copy_with_edits": GitCase(
        {"csrc/k.cu": F(cu_source())},
        {"csrc/k.cu": F(cu_source()), "csrc/k_mlu.cu": F(cu_source().replace(b"blockIdx.x", b"taskId"))},
        ("-C", "-C"),
    ),
    "mode_change": GitCase({"run.sh": F(b"#!/bin/sh\necho hi\n")}, {"run.sh": F(b"#!/bin/sh\necho hi\n", 0o100755)}),
    "rename_with_mode_change": GitCase(
        {"tools/run.sh": F(b"#!/bin/sh\n" + b"echo step\n" * 12)},
        {"bin/run.sh": F(b"#!/bin/sh\n" + b"echo step\n" * 11 + b"echo done\n", 0o100755)},
    ),
    "mode_change_with_edit": GitCase(
        {"run.sh": F(b"#!/bin/sh\necho hi\n")}, {"run.sh": F(b"#!/bin/sh\necho bye\n", 0o100755)}
    ),
    "symlink_add": GitCase({}, {"latest": F(b"vllm/runner.py", 0o120000)}),
    "symlink_retarget": GitCase({"latest": F(b"v1/runner.py", 0o120000)}, {"latest": F(b"v2/runner.py", 0o120000)}),
    "symlink_replaced_by_file": GitCase({"latest": F(b"v1", 0o120000)}, {"latest": F(b"now a file\n")}),
    "binary_add": GitCase({}, {"assets/logo.png": F(SMALL_BINARY)}),
    "binary_modify_delta": GitCase(
        {"assets/weights.bin": F(BIG_BINARY)}, {"assets/weights.bin": F(_tweak(BIG_BINARY, 20_000, b"CHANGED!"))}
    ),
    "binary_delete": GitCase({"assets/logo.png": F(SMALL_BINARY)}, {}),
    "no_newline_old_side": GitCase({"t.py": F(b"a = 1\nb = 2")}, {"t.py": F(b"a = 1\nb = 3\n")}),
    "no_newline_new_side": GitCase({"t.py": F(b"a = 1\nb = 2\n")}, {"t.py": F(b"a = 1\nb = 3")}),
    "no_newline_both_sides": GitCase({"t.py": F(b"a = 1\nb = 2")}, {"t.py": F(b"a = 0\nb = 2")}),
    "crlf_file": GitCase(
        {"win/run.bat": F(b"@echo off\r\nset A=1\r\nset B=2\r\necho %A%\r\n")},
        {"win/run.bat": F(b"@echo off\r\nset A=1\r\nset B=3\r\necho %A%\r\n")},
    ),
    "latin1_bytes": GitCase(
        {"legacy.c": F("/* Caf\xe9 */\nint x = 1;\n".encode("latin-1"))},
        {"legacy.c": F("/* Caf\xe9 cr\xe8me */\nint x = 2;\n".encode("latin-1"))},
    ),
    "names_with_spaces_and_unicode": GitCase(
        {"my dir/naïve file.py": F(b"x = 1\n"), "café.cu": F(b"int a;\n"), 'we"ird\tname.h': F(b"int q;\n")},
        {"my dir/naïve file.py": F(b"x = 2\n"), "café.cu": F(b"int b;\n"), 'we"ird\tname.h': F(b"int r;\n")},
    ),
    "non_utf8_name": GitCase({os.fsdecode(b"lat\xe9.c"): F(b"int a;\n")}, {os.fsdecode(b"lat\xe9.c"): F(b"int b;\n")}),
    "empty_file_add": GitCase({}, {"pkg/__init__.py": F(b"")}),
    "file_emptied": GitCase({"pkg/__init__.py": F(b"import os\nimport sys\n")}, {"pkg/__init__.py": F(b"")}),
}


def _write_tree(root: Path, tree: Tree) -> None:
    for name, file in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if file.mode == 0o120000:
            os.symlink(os.fsdecode(file.data), path)
        else:
            path.write_bytes(file.data)
            path.chmod(0o755 if file.mode == 0o100755 else 0o644)


def _clear(root: Path) -> None:
    for name in os.listdir(root):
        if name == ".git":
            continue
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def make_repo(root: Path, case: GitCase) -> tuple[Path, bytes]:
    """A repository with commits ``base`` and ``target`` (tags) and git's diff between them."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    _write_tree(repo, {**COMMON, **case.base})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "tag", "base")
    _clear(repo)
    _write_tree(repo, {**COMMON, **case.target})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "target")
    git(repo, "tag", "target")
    diff = git(repo, "diff", "--full-index", "--binary", *case.options, "base", "target")
    return repo, diff


def blobs(repo: Path, rev: str) -> dict[str, tuple[int, bytes]]:
    """Path -> (mode, content) of every file in ``rev``."""
    result = {}
    for entry in git(repo, "ls-tree", "-r", "-z", rev).split(b"\0"):
        if not entry:
            continue
        meta, name = entry.split(b"\t", 1)
        mode, _, oid = meta.split(b" ")
        result[os.fsdecode(name)] = (int(mode, 8), git(repo, "cat-file", "blob", oid.decode()))
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_git_diff_round_trips_byte_for_byte(tmp_path: Path, name: str) -> None:
    """format_diff(parse_diff(d)) == d for real `git diff --full-index --binary` output of every kind."""
    _, diff = make_repo(tmp_path, CASES[name])
    assert diff
    assert format_diff(parse_diff(diff, source=name)) == diff


def test_git_diff_fields_are_read(tmp_path: Path) -> None:
    """Status, modes, similarity, ids and paths come out of git's extended header lines."""
    case = GitCase(
        {
            "csrc/ops.cpp": F(cpp_source()),
            "run.sh": F(b"echo\n"),
            "gone.h": F(b"int g;\n"),
            "csrc/k.cu": F(cu_source()),
        },
        {
            "csrc/core/ops.cpp": F(cpp_source().replace(b"a * 3", b"a * 33")),
            "run.sh": F(b"echo\n", 0o100755),
            "new.py": F(b"print(1)\n"),
            "csrc/k.cu": F(cu_source()),
            "csrc/k2.cu": F(cu_source()),
        },
        ("-C", "-C"),
    )
    _, diff = make_repo(tmp_path, case)
    files = {fd.path: fd for fd in parse_diff(diff)}
    renamed = files["csrc/core/ops.cpp"]
    assert (renamed.status, renamed.old_path, renamed.old_mode, renamed.new_mode) == ("R", "csrc/ops.cpp", 0o100644, 0o100644)
    assert renamed.similarity is not None and 80 <= renamed.similarity < 100
    assert renamed.old_id is not None and len(renamed.old_id) == 40
    assert (files["run.sh"].status, files["run.sh"].old_mode, files["run.sh"].new_mode) == ("M", 0o100644, 0o100755)
    assert (files["gone.h"].status, files["gone.h"].new_path, files["gone.h"].old_mode) == ("D", None, 0o100644)
    assert (files["new.py"].status, files["new.py"].old_path, files["new.py"].new_mode) == ("A", None, 0o100644)
    assert (files["csrc/k2.cu"].status, files["csrc/k2.cu"].old_path, files["csrc/k2.cu"].similarity) == ("C", "csrc/k.cu", 100)
    hunk = renamed.hunks[0]
    assert hunk.header().startswith("@@ -") and hunk.old_lines() != hunk.new_lines()


def test_quoted_and_non_utf8_names_unquote(tmp_path: Path) -> None:
    """C-quoted names are unquoted; non-UTF-8 bytes survive as surrogate escapes."""
    _, diff = make_repo(tmp_path, CASES["names_with_spaces_and_unicode"])
    assert b'"a/caf\\303\\251.cu"' in diff
    assert {fd.path for fd in parse_diff(diff)} == {"my dir/naïve file.py", "café.cu", 'we"ird\tname.h'}
    (tmp_path / "second").mkdir()
    _, diff = make_repo(tmp_path / "second", CASES["non_utf8_name"])
    assert [fd.path for fd in parse_diff(diff)] == [os.fsdecode(b"lat\xe9.c")]


def _all_in_one() -> GitCase:
    base: Tree = {}
    target: Tree = {}
    for name in ("modify_python_two_hunks", "modify_cpp_with_form_feeds", "add_cuda", "delete_header", "mode_change",
                 "symlink_add", "binary_add", "no_newline_old_side", "crlf_file", "latin1_bytes",
                 "names_with_spaces_and_unicode", "binary_modify_delta"):  # fmt: skip
        base.update(CASES[name].base)
        target.update(CASES[name].target)
    base["csrc/old_name.cpp"] = F(cpp_source())
    target["csrc/new_name.cpp"] = F(cpp_source().replace(b"a * 7", b"a * 77"))
    return GitCase(base, target)


def test_format_patch_is_accepted_by_git_apply_and_git_am(tmp_path: Path) -> None:
    """What format_patch writes (header included) passes `git apply --check` and `git am` takes author and subject."""
    repo, diff = make_repo(tmp_path, _all_in_one())
    patch = Patch(
        author="Jöns Dœ <jons@example.com>",
        subject="Enable flag_gems in the model runner",
        description="Longer description.\n\nSecond paragraph, with a `---` inside a line.",
        trailers=(("Signed-off-by", "Jöns Dœ <jons@example.com>"), ("Fixes", "abc123")),
        extra_headers=(("Forwarded", "no"),),
        files=parse_diff(diff),
    )
    path = tmp_path / "0001-enable.patch"
    path.write_bytes(format_patch(patch))
    git(repo, "checkout", "-q", "--detach", "base")
    git(repo, "apply", "--check", str(path))
    git(repo, "am", "-q", "--keep-cr", str(path))
    log = git(repo, "log", "-1", "--format=%an <%ae>%n%s%n%b").decode()
    assert log.startswith("Jöns Dœ <jons@example.com>\nEnable flag_gems in the model runner\n")
    assert "Second paragraph, with a `---` inside a line.\n\nSigned-off-by: Jöns Dœ <jons@example.com>\nFixes: abc123" in log
    assert git(repo, "rev-parse", "HEAD^{tree}") == git(repo, "rev-parse", "target^{tree}")
    assert parse_patch(path.read_bytes()) == patch


def test_gnu_patch_as_used_by_quilt_applies_the_canonical_file(tmp_path: Path) -> None:
    """GNU patch (quilt's engine) applies what format_patch writes, header and all (text changes)."""
    base: Tree = {}
    target: Tree = {}
    for name in ("modify_python_two_hunks", "modify_cpp_with_form_feeds", "add_cuda", "delete_header",
                 "rename_with_edits", "no_newline_old_side", "crlf_file", "latin1_bytes", "mode_change"):  # fmt: skip
        base.update(CASES[name].base)
        target.update(CASES[name].target)
    target["my dir/naïve file.py"] = F(b"x = 2\n")
    base["my dir/naïve file.py"] = F(b"x = 1\n")
    repo, diff = make_repo(tmp_path, GitCase(base, target))
    path = tmp_path / "0001-x.patch"
    path.write_bytes(format_patch(Patch(author="A <a@x>", subject="Text only", files=parse_diff(diff))))
    git(repo, "checkout", "-q", "--detach", "base")
    result = subprocess.run(["patch", "-p1", "--batch", "--forward", "-i", str(path)], cwd=repo, capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    git(repo, "add", "-A")
    assert git(repo, "diff", "--cached", "--stat", "target") == b""


CANONICAL = b"""\
From: Jane Doe <jane@example.com>
Subject: Enable flag_gems in the model runner
Forwarded: no
Bug: https://example.org/1

Longer description, paragraphs kept as written.

  Indented block kept.

Signed-off-by: Jane Doe <jane@example.com>
Reviewed-by: Max <max@example.com>
---
diff --git a/vllm/a.py b/vllm/a.py
index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644
--- a/vllm/a.py
+++ b/vllm/a.py
@@ -1,3 +1,4 @@ def f():
 x = 1
-y = 2
+y = 3
+z = 4
 w = 5
@@ -40 +41 @@ class K:
-old
\\ No newline at end of file
+new
\\ No newline at end of file
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
"""


def test_canonical_patch_round_trips_byte_for_byte() -> None:
    """format_patch(parse_patch(x)) == x for a canonical file, and each header field lands where it belongs."""
    patch = parse_patch(CANONICAL, "0001-x.patch")
    assert patch.author == "Jane Doe <jane@example.com>"
    assert patch.subject == "Enable flag_gems in the model runner"
    assert patch.extra_headers == (("Forwarded", "no"), ("Bug", "https://example.org/1"))
    assert patch.description == "Longer description, paragraphs kept as written.\n\n  Indented block kept."
    assert patch.trailers == (("Signed-off-by", "Jane Doe <jane@example.com>"), ("Reviewed-by", "Max <max@example.com>"))
    first, second = patch.files
    assert first.hunks[0].section == b"def f():"
    assert first.hunks[1].lines == (("-", b"old"), ("+", b"new"))
    assert (second.status, second.old_mode, second.new_mode, second.hunks) == ("M", 0o100644, 0o100755, ())
    assert format_patch(patch) == CANONICAL


def test_message_and_parse_message_agree() -> None:
    """Patch.message() is subject, description, trailers; parse_message reads it back."""
    patch = parse_patch(CANONICAL)
    message = patch.message()
    assert message.startswith("Enable flag_gems in the model runner\n\nLonger description")
    assert message.endswith("Reviewed-by: Max <max@example.com>\n")
    assert parse_message(message) == (patch.subject, patch.description, patch.trailers)
    assert parse_message("Fix a\nlong subject\n\nBody.\n") == ("Fix a long subject", "Body.", ())
    assert Patch(subject="Only").message() == "Only\n"


def test_header_only_parts_are_omitted() -> None:
    """Empty header parts are left out; no header at all means the file is just the diff."""
    files = parse_diff(CANONICAL)
    assert format_patch(Patch(files=files)) == format_diff(files)
    assert format_patch(Patch(subject="S", files=files)).startswith(b"Subject: S\n---\ndiff --git ")
    assert format_patch(Patch(author="A <a@x>", trailers=(("Acked-by", "B <b@x>"),))) == b"From: A <a@x>\n\nAcked-by: B <b@x>\n---\n"


def test_git_format_patch_mail_is_read(tmp_path: Path) -> None:
    """A git format-patch mail (mbox line, RFC 2047 author, folded [PATCH] subject, diffstat, signature) parses."""
    repo, diff = make_repo(tmp_path, CASES["modify_python_two_hunks"])
    subject = "Make the runner scale inputs differently " + "and explain at length " * 4
    git(repo, "commit", "-q", "--amend", "--author", "José Núñez <jose@example.org>", "-m",
        f"{subject.strip()}\n\nWhy: the old factor was wrong.\n\nSigned-off-by: José Núñez <jose@example.org>")  # fmt: skip
    mail = git(repo, "format-patch", "-1", "--stdout", "--full-index", "--binary", "HEAD")
    assert mail.startswith(b"From ") and b"=?UTF-8?q?" in mail and b"\n-- \n" in mail
    patch = parse_patch(mail, "mail.patch")
    assert patch.author == "José Núñez <jose@example.org>"
    assert patch.subject == subject.strip()
    assert patch.description == "Why: the old factor was wrong."
    assert patch.trailers == (("Signed-off-by", "José Núñez <jose@example.org>"),)
    assert [key for key, _ in patch.extra_headers][:1] == ["Date"]
    assert patch.files == parse_diff(diff)


DEP3 = b"""\
Description: Fix the frobnicator on big-endian
 The frobnicator assumed little-endian words.
 .
 This swaps bytes where needed.
Author: Jane Doe <jane@debian.org>
Origin: upstream, https://example.org/commit/123
Bug-Debian: https://bugs.debian.org/123456
Forwarded: not-needed
Last-Update: 2024-01-02
---
This line between the separator and the diff is dropped.

Index: pkg-1.0/src/frob.c
===================================================================
--- pkg-1.0.orig/src/frob.c\t2020-01-01 00:00:00.000000000 +0000
+++ pkg-1.0/src/frob.c\t2020-01-02 00:00:00.000000000 +0000
@@ -1,2 +1,2 @@
 int frob(void) {
-  return 1;
+  return swap(1);
--- /dev/null
+++ pkg-1.0/src/new.h
@@ -0,0 +1 @@
+int swap(int);
--- pkg-1.0.orig/src/old.h
+++ /dev/null
@@ -1 +0,0 @@
-int old(void);
--- pkg-1.0.orig/src/epoch.h\t1970-01-01 00:00:00.000000000 +0000
+++ pkg-1.0/src/epoch.h\t2020-01-02 00:00:00.000000000 +0000
@@ -0,0 +1 @@
+int e;
"""


def test_dep3_header_and_quilt_diff_are_read() -> None:
    """DEP-3 fields map to subject/description/author/extras; quilt's plain diffs strip -p1 and drop timestamps."""
    patch = parse_patch(DEP3, "debian/patches/frob.patch")
    assert patch.subject == "Fix the frobnicator on big-endian"
    assert patch.description == "The frobnicator assumed little-endian words.\n\nThis swaps bytes where needed."
    assert patch.author == "Jane Doe <jane@debian.org>"
    assert [key for key, _ in patch.extra_headers] == ["Origin", "Bug-Debian", "Forwarded", "Last-Update"]
    assert [(fd.status, fd.old_path, fd.new_path) for fd in patch.files] == [
        ("M", "src/frob.c", "src/frob.c"),
        ("A", None, "src/new.h"),
        ("D", "src/old.h", None),
        ("A", None, "src/epoch.h"),
    ]
    canonical = format_patch(patch)  # plain diffs come back in git's spelling, then stay put
    assert format_patch(parse_patch(canonical)) == canonical
    assert parse_patch(canonical).files[0] == patch.files[0]


def test_strip_argument_is_p_n_for_plain_diffs_only() -> None:
    """`strip` removes N leading components of plain diff names; git diffs always drop a/ and b/."""
    plain = b"--- src/x.c\n+++ src/x.c\n@@ -1 +1 @@\n-a\n+b\n"
    assert parse_diff(plain, strip=0)[0].path == "src/x.c"
    assert parse_diff(plain, strip=1)[0].path == "x.c"
    with pytest.raises(PatchParseError) as info:
        parse_diff(plain, strip=2)
    assert info.value.line == 1
    git_diff = b"diff --git a/src/x.c b/src/x.c\n--- a/src/x.c\n+++ b/src/x.c\n@@ -1 +1 @@\n-a\n+b\n"
    assert parse_diff(git_diff, strip=0)[0].path == "src/x.c"


def test_plain_names_that_differ_pick_gnu_patch_choice() -> None:
    """`--- x.c.orig` / `+++ x.c` names the file x.c, as GNU patch would."""
    fd = parse_diff(b"--- x.c.orig\n+++ x.c\n@@ -1 +1 @@\n-a\n+b\n", strip=0)[0]
    assert (fd.status, fd.old_path, fd.new_path) == ("M", "x.c", "x.c")


def test_binary_files_differ_is_kept_as_no_data(tmp_path: Path) -> None:
    """`Binary files … differ` (no --binary) is read as binary_no_data and written back the same."""
    repo, _ = make_repo(tmp_path, CASES["binary_modify_delta"])
    diff = git(repo, "diff", "--full-index", "base", "target")
    (fd,) = parse_diff(diff)
    assert fd.binary_no_data and fd.binary is None
    assert format_diff([fd]) == diff
    plain = parse_diff(b"diff -Naur a/x.bin b/x.bin\nBinary files a/x.bin and b/x.bin differ\n")
    assert [(f.status, f.path, f.binary_no_data) for f in plain] == [("M", "x.bin", True)]


def test_binary_blocks_inflate_and_fresh_data_compresses_at_level_9(tmp_path: Path) -> None:
    """Binary blocks are inflated and size-checked; data without a kept stream is written at zlib level 9."""
    _, diff = make_repo(tmp_path, CASES["binary_modify_delta"])
    (fd,) = parse_diff(diff)
    assert fd.binary is not None and fd.binary.kind == "delta" and len(fd.binary.data) == fd.binary.size
    assert fd.binary_reverse is not None
    fresh = replace(fd, binary=BinaryData("literal", 5, b"hello"), binary_reverse=None)
    text = format_diff([fresh])
    assert b"GIT binary patch\nliteral 5\n" in text and text.endswith(b"\n\n")
    assert parse_diff(text)[0].binary == BinaryData("literal", 5, b"hello")
    stale = replace(fd.binary, data=b"x", size=1)  # kept stream no longer matches: recompressed
    assert parse_diff(format_diff([replace(fd, binary=stale, binary_reverse=None)]))[0].binary == stale


def test_second_mail_in_one_file_is_refused(tmp_path: Path) -> None:
    """An mbox holding two patches is an error at the second mail, not one merged patch."""
    repo, _ = make_repo(tmp_path, CASES["modify_python_two_hunks"])
    mail = git(repo, "format-patch", "--stdout", "base..target")
    two = mail + mail
    with pytest.raises(PatchParseError) as info:
        parse_patch(two, "two.mbox")
    assert info.value.line == mail.count(b"\n") + 1


def test_crlf_patch_file_and_empty_context_lines_are_read() -> None:
    """A patch saved with CRLF endings and a context line whose space was stripped still parse."""
    text = b"--- a/x\r\n+++ b/x\r\n@@ -1,3 +1,3 @@\r\n a\r\n\n-b\r\n+c\r\n"
    (fd,) = parse_diff(text)
    assert fd.hunks[0].lines == ((" ", b"a\r\n"), (" ", b"\n"), ("-", b"b\r\n"), ("+", b"c\r\n"))


def test_nul_bytes_in_text_hunks_are_data() -> None:
    """NUL bytes inside hunk lines are kept as bytes, not rejected."""
    (fd,) = parse_diff(b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\0b\n+c\0d\n")
    assert fd.hunks[0].new_lines() == [b"c\0d\n"]


# ---------------------------------------------------------------------------------------------
# Errors: every failure is a PatchParseError / PathEscapeError naming the 1-based line.
# ---------------------------------------------------------------------------------------------

HEAD = b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
ERRORS: dict[str, tuple[bytes, int, type[Exception], str]] = {
    "truncated_hunk": (HEAD + b"@@ -1,3 +1,3 @@\n a\n-b\n", 4, PatchParseError, "ends early"),
    "hunk_cut_by_next_file": (HEAD + b"@@ -1,2 +1,2 @@\n a\n" + HEAD, 6, PatchParseError, "ends early"),
    "too_many_lines": (HEAD + b"@@ -1,2 +1,2 @@\n a\n-b\n+c\n d\n", 8, PatchParseError, "more lines"),
    "too_many_removed": (HEAD + b"@@ -1 +1,2 @@\n-a\n-b\n+c\n", 6, PatchParseError, "more removed"),
    "garbage_line": (HEAD + b"@@ -1,2 +1,2 @@\n a\n?b\n+c\n", 6, PatchParseError, "unexpected line"),
    "bad_hunk_header": (HEAD + b"@@ -1,x +1 @@\n a\n", 4, PatchParseError, "malformed hunk header"),
    "no_hunk": (HEAD + b"not a hunk\n", 4, PatchParseError, "expected a hunk"),
    "dotdot_path": (b"diff --git a/../etc/x b/../etc/x\n--- a/../etc/x\n+++ b/../etc/x\n@@ -1 +1 @@\n-a\n+b\n", 2,
                    PathEscapeError, "leaves the tree"),
    "absolute_rename": (b"diff --git a/x b/x\nsimilarity index 100%\nrename from x\nrename to /etc/passwd\n", 4,
                        PathEscapeError, "absolute"),
    "absolute_plain_p0": (b"--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", 1, PathEscapeError, "absolute"),
    "dot_git_path": (b"--- a/.git/hooks/pre-commit\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n", 1,
                     PathEscapeError, ".git"),
    "bad_mode": (b"diff --git a/x b/x\nold mode 100648\nnew mode 100755\n", 2, PatchParseError, "bad file mode"),
    "stray_hunk": (b"intro\n@@ -1 +1 @@\n-a\n+b\n", 2, PatchParseError, "without a file header"),
    "bad_binary_line": (b"diff --git a/b b/b\nGIT binary patch\nliteral 3\n!!!\n\n", 4, PatchParseError, "length letter"),
    "binary_wrong_size": (b"diff --git a/b b/b\nGIT binary patch\nliteral 4\nHcmV?d00001\n\n", 3, PatchParseError,
                          "does not inflate"),
    "unterminated_quote": (b'diff --git "a/x b/x\nnew mode 100755\nold mode 100644\n', 1, PatchParseError, "quoted"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_malformed_patch_error_names_its_line(name: str) -> None:
    """Malformed input raises fspatch's own error with the source and the 1-based line of the fault."""
    text, line, kind, fragment = ERRORS[name]
    strip = 0 if name == "absolute_plain_p0" else 1
    with pytest.raises(kind) as info:
        parse_patch(b"Subject: x\n---\n" + text, "bad.patch", strip=strip)
    assert (info.value.path, info.value.line) == ("bad.patch", line + 2), str(info.value)  # type: ignore[attr-defined]
    assert fragment in str(info.value)
    with pytest.raises(kind) as info:
        parse_diff(text, "bad.diff", strip=strip, first_line=10)
    assert info.value.line == line + 9  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Properties and speed.
# ---------------------------------------------------------------------------------------------


def _parse_or_own_error(data: bytes) -> None:
    try:
        parse_patch(data, "fuzz.patch")
    except (PatchParseError, PathEscapeError) as exc:
        assert exc.path == "fuzz.patch" and exc.line is not None and exc.line >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_only_raise_fspatch_errors(data: bytes) -> None:
    """parse_patch on arbitrary bytes succeeds or raises PatchParseError/PathEscapeError, nothing else."""
    _parse_or_own_error(data)


PIECES = [b"diff --git a/x b/x", b"--- a/x", b"+++ b/x", b"--- /dev/null", b"+++ /dev/null", b"@@ -1,2 +1,2 @@",
          b"@@ -0,0 +1 @@", b" ctx", b"-old", b"+new", b"\\ No newline at end of file", b"", b"GIT binary patch",
          b"literal 0", b"delta 3", b"HcmV?d00001", b"new file mode 100644", b"rename from a", b"rename to b",
          b"index 0000000..1111111 100644", b"Binary files a/x and b/x differ", b"Subject: s", b"---",
          b"Index: x", b"=====", b'--- "a/q\\303"', b"-- ", b"From: A <a@x>", b"Description: d", b" .", b"\r"]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=12)), max_size=40))
def test_diff_shaped_noise_only_raises_fspatch_errors(pieces: list[bytes]) -> None:
    """Random sequences of diff-looking lines never escape as anything but fspatch's errors."""
    _parse_or_own_error(b"\n".join(pieces) + b"\n")


def _valid_patch() -> bytes:
    files = parse_diff(CANONICAL) + (
        FileDiff("bin/x.bin", "bin/x.bin", "M", 0o100644, 0o100644, None, "a" * 40, "b" * 40,
                 binary=BinaryData("literal", 300, bytes(range(256)) + b"x" * 44)),
        FileDiff("a b/caf\xe9.py", "c/d.py", "R", 0o100644, 0o100644, 90,
                 hunks=(Hunk(3, 3, 3, 3, b"", ((" ", b"k\n"), ("-", b"a\r\n"), ("+", b"b\r\n"), (" ", b"z"))),)),
    )  # fmt: skip
    return format_patch(replace(parse_patch(CANONICAL), files=files))


VALID = _valid_patch()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("dxirtb"), st.integers(0, len(VALID)), st.binary(max_size=8)), min_size=1, max_size=4))
def test_mutated_valid_patch_only_raises_fspatch_errors(edits: list[tuple[str, int, bytes]]) -> None:
    """Deleting, duplicating, inserting, replacing or truncating bytes/lines of a valid patch: only fspatch errors."""
    data = VALID
    for op, at, payload in edits:
        lines = data.split(b"\n")
        k = at % max(len(lines), 1)
        if op == "d":
            del lines[k]
        elif op == "x":
            lines.insert(k, lines[k])
        elif op == "i":
            lines.insert(k, payload)
        elif op == "r":
            lines[k] = payload
        data = b"\n".join(lines)
        if op == "t":
            data = data[: at % (len(data) + 1)]
        elif op == "b":
            data = data[:at] + payload + data[at + len(payload) :]
    _parse_or_own_error(data)


def test_valid_patch_parses_and_round_trips() -> None:
    """The fuzzing seed itself is canonical: it round-trips byte for byte (binary, CRLF, rename, quoting)."""
    patch = parse_patch(VALID)
    assert format_patch(patch) == VALID
    assert patch.files[3].old_path == "a b/caf\xe9.py" and b'rename from "a b/caf\\303\\251.py"' in VALID


_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=30)
_word = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,12}", fullmatch=True)
_value = _text.map(str.strip).filter(lambda v: bool(v) and not v.startswith("[") and "=?" not in v)
_line = st.from_regex(r"[A-Za-z0-9 ,.()]{0,30}[a-z]", fullmatch=True)
_paragraph = st.lists(_line, min_size=1, max_size=3).map("\n".join)
_content = st.binary(max_size=6).map(lambda b: b.replace(b"\n", b"") + b"\n")


@st.composite
def _hunks(draw: st.DrawFn) -> tuple[Hunk, ...]:
    hunks = []
    start = 1
    for _ in range(draw(st.integers(1, 3))):
        kinds = draw(st.lists(st.sampled_from(" -+"), min_size=1, max_size=6))
        lines = tuple((kind, draw(_content)) for kind in kinds)
        old = sum(kind != "+" for kind in kinds)
        new = sum(kind != "-" for kind in kinds)
        hunks.append(Hunk(start if old else start - 1, old, start if new else start - 1, new, draw(st.binary(max_size=5).map(lambda b: b.strip().replace(b"\n", b""))), lines))
        start += old + 10
    return tuple(hunks)


@st.composite
def _patches(draw: st.DrawFn) -> Patch:
    names = draw(st.lists(st.from_regex(r"[a-z]{1,6}(/[a-z0-9 é_]{1,8}[a-z])?", fullmatch=True), min_size=1, max_size=3, unique=True))
    files = tuple(FileDiff(name, name, "M", 0o100644, 0o100644, None, "1" * 40, "2" * 40, hunks=draw(_hunks())) for name in names)
    trailers = tuple(draw(st.lists(st.tuples(_word, _value.filter(lambda v: ": " not in v)), max_size=2)))
    description = draw(st.lists(_paragraph, max_size=2).map("\n\n".join))
    if trailers and not description:
        description = "Body."
    return Patch(
        author=draw(_value),
        subject=draw(_value),
        description=description,
        trailers=trailers,
        extra_headers=tuple(draw(st.lists(st.tuples(_word.filter(lambda k: k.lower() not in ("from", "subject", "author", "description")), _value), max_size=2))),
        files=files,
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_patches())
def test_patch_objects_round_trip_through_their_file(patch: Patch) -> None:
    """parse_patch(format_patch(p)) == p for patches with an author and subject."""
    assert parse_patch(format_patch(patch)) == patch


def _series(count: int) -> list[bytes]:
    rng = random.Random(1)
    patches = []
    for n in range(count):
        files = []
        for f in range(4):
            hunks = []
            for h in range(3):
                lines = tuple((" ", f"    context {rng.random()}\n".encode()) for _ in range(3))
                lines += (("-", b"    old\n"), ("+", b"    new one\n"), ("+", b"    new two\n"))
                lines += tuple((" ", f"    after {k}\n".encode()) for k in range(3))
                hunks.append(Hunk(10 + 40 * h, 7, 10 + 40 * h + h, 8, b"def f():", lines))
            files.append(FileDiff(f"drivers/x{n}/f{f}.c", f"drivers/x{n}/f{f}.c", "M", 0o100644, 0o100644, None,
                                  "a" * 40, "b" * 40, tuple(hunks)))  # fmt: skip
        patches.append(format_patch(Patch("A <a@x>", f"Patch {n}", "Why.", (("Signed-off-by", "A <a@x>"),), (), tuple(files))))
    return patches


def test_generated_series_round_trips() -> None:
    """The benchmark's generated 160-patch series parses and formats back byte for byte (speed: bench/bench_parse.py)."""
    for p in _series(160):
        assert format_patch(parse_patch(p)) == p


def test_abbreviated_index_lines_are_not_canonical() -> None:
    """Full-length index ids or none (DESIGN §2): an abbreviated index line is dropped on rewrite."""
    text = b"diff --git a/x.py b/x.py\nindex 1234567..89abcde 100644\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    out = format_patch(parse_patch(text))
    assert b"index " not in out
    assert format_patch(parse_patch(out)) == out
    full = text.replace(b"1234567..89abcde", b"1" * 40 + b".." + b"2" * 40)
    assert format_patch(parse_patch(full)) == full
