"""Applying hunks in memory: exact bytes, line offsets nearest first, hunk order kept, never fuzz."""

from __future__ import annotations

import difflib
import zlib
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fspatch.core.hunks import apply_binary, apply_delta, apply_hunks, split_lines
from fspatch.core.patch import BinaryData, FileDiff, Hunk, format_diff, parse_diff
from fspatch.errors import ConflictError, HunkFailed, PatchParseError
from tests.gitutil import git
from tests.test_patchfile import CASES, F, GitCase, blobs, cu_source, make_repo, py_source


def test_split_lines_splits_on_newline_only() -> None:
    """Form feed, CR, \\x1c-\\x1e and U+2028 bytes stay inside lines; terminators are kept."""
    data = b"a\x0cb\n\rc\r\n\x1c\x1d\x1e\xe2\x80\xa8\nlast"
    assert split_lines(data) == [b"a\x0cb\n", b"\rc\r\n", b"\x1c\x1d\x1e\xe2\x80\xa8\n", b"last"]
    assert split_lines(b"") == []
    assert split_lines(b"x\n") == [b"x\n"]
    assert b"".join(split_lines(data)) == data


@pytest.mark.parametrize("name", sorted(CASES))
def test_parsed_hunks_rebuild_gits_new_blob(tmp_path: Path, name: str) -> None:
    """Applying each parsed file diff to git's old blob gives exactly git's new blob (and mode)."""
    repo, diff = make_repo(tmp_path, CASES[name])
    old_tree, new_tree = blobs(repo, "base"), blobs(repo, "target")
    for fd in parse_diff(diff):
        old = old_tree[fd.old_path][1] if fd.old_path is not None else b""
        if fd.binary is not None:
            new = apply_binary(old, fd.binary, fd.path)
            assert fd.binary_reverse is not None
            assert apply_binary(new, fd.binary_reverse, fd.path) == old
        else:
            new = apply_hunks(old, fd.hunks, fd.path)
        if fd.new_path is None:
            assert new == b""
            continue
        mode, expected = new_tree[fd.new_path]
        assert new == expected
        assert (fd.new_mode if fd.new_mode is not None else old_tree[str(fd.old_path)][0]) == mode


def test_git_emits_and_we_apply_a_binary_delta(tmp_path: Path) -> None:
    """A few bytes changed in a 50 KB binary make git write a delta, which rebuilds the new blob."""
    repo, diff = make_repo(tmp_path, CASES["binary_modify_delta"])
    (fd,) = parse_diff(diff)
    assert fd.binary is not None and fd.binary.kind == "delta"
    old, new = blobs(repo, "base")["assets/weights.bin"][1], blobs(repo, "target")["assets/weights.bin"][1]
    assert apply_binary(old, fd.binary, fd.path) == new
    with pytest.raises(ConflictError, match="50000-byte file"):
        apply_binary(old + b"x", fd.binary, fd.path)


def _shifted(tmp_path: Path, options: tuple[str, ...] = ()) -> tuple[bytes, bytes, FileDiff]:
    """A two-hunk git diff of a Python file, plus the old and new content."""
    old = py_source()
    new = py_source(l19="    y = x - 2\n", l67="    y = x + 100\n")
    repo, diff = make_repo(tmp_path, GitCase({"m.py": F(old)}, {"m.py": F(new)}))
    if options:
        diff = git(repo, "diff", "--full-index", *options, "base", "target")
    (fd,) = parse_diff(diff)
    return old, new, fd


def test_hunk_far_from_its_header_applies(tmp_path: Path) -> None:
    """420 lines inserted above both hunks: they apply at the shifted place (offset search, whole file)."""
    old, new, fd = _shifted(tmp_path)
    assert len(fd.hunks) == 2
    pad = b"".join(b"# pad %d\n" % i for i in range(420))
    assert apply_hunks(pad + old, fd.hunks, "m.py") == pad + new


def test_offset_from_first_hunk_carries_to_the_next(tmp_path: Path) -> None:
    """Lines inserted between the hunks shift only the second; lines above shift both."""
    old, new, fd = _shifted(tmp_path)
    lines = split_lines(old)
    between = [b"# between\n"] * 7
    content = b"".join(lines[:40] + between + lines[40:])
    expected_lines = split_lines(new)
    assert apply_hunks(content, fd.hunks, "m.py") == b"".join(expected_lines[:40] + between + expected_lines[40:])


def test_changed_context_line_fails_naming_hunk_and_header(tmp_path: Path) -> None:
    """One changed context line of hunk 2 makes it fail (no fuzz) with HunkFailed(path, 2, header)."""
    old, _, fd = _shifted(tmp_path)
    pad = b"".join(b"# pad %d\n" % i for i in range(420))
    broken = (pad + old).replace(b"def func_10(x):\n", b"def func_10(x, y):\n")
    with pytest.raises(HunkFailed) as info:
        apply_hunks(broken, fd.hunks, "m.py")
    assert (info.value.file, info.value.index, info.value.header) == ("m.py", 2, fd.hunks[1].header())
    assert f"hunk 2 ({fd.hunks[1].header()})" in str(info.value)


def test_whitespace_and_cr_differences_are_not_matched(tmp_path: Path) -> None:
    """Exact bytes only: a trailing space or a CRLF where the hunk has LF makes the hunk fail."""
    old, _, fd = _shifted(tmp_path)
    with pytest.raises(HunkFailed):
        apply_hunks(old.replace(b"    return y * 2\n", b"    return y * 2 \n"), fd.hunks[:1], "m.py")
    with pytest.raises(HunkFailed):
        apply_hunks(old.replace(b"\n", b"\r\n"), fd.hunks[:1], "m.py")


def _hunk(old_start: int, lines: list[tuple[str, bytes]], new_start: int | None = None) -> Hunk:
    old = sum(kind != "+" for kind, _ in lines)
    new = sum(kind != "-" for kind, _ in lines)
    return Hunk(old_start, old, old_start if new_start is None else new_start, new, b"", tuple(lines))


def test_nearest_position_wins_and_plus_before_minus() -> None:
    """Of two places that match, the nearer to the expected line wins; at equal distance the later (+d) one."""
    block = [b"A\n", b"B\n", b"C\n", b"D\n", b"E\n", b"F\n", b"G\n"]
    hunk = _hunk(11, [(" ", b"A\n"), (" ", b"B\n"), (" ", b"C\n"), ("-", b"D\n"), ("+", b"d\n"), (" ", b"E\n"),
                      (" ", b"F\n"), (" ", b"G\n")])  # fmt: skip
    filler = [b"x%d\n" % i for i in range(40)]
    # copies at 2 and 18, both 8 away from the expected index 10: +8 wins
    content = filler[:2] + block + filler[2:11] + block + filler[11:]
    result = split_lines(apply_hunks(b"".join(content), [hunk], "f"))
    assert (result[5], result[21]) == (b"D\n", b"d\n")
    # copies at 3 (7 away) and 18 (8 away): the nearer wins
    content = filler[:3] + block + filler[3:11] + block + filler[11:]
    result = split_lines(apply_hunks(b"".join(content), [hunk], "f"))
    assert (result[6], result[21]) == (b"d\n", b"D\n")


def test_hunk_order_is_kept() -> None:
    """A hunk is never placed before the end of the previous one, even if that spot is nearer."""
    block = [b"A\n", b"B\n", b"C\n", b"D\n", b"E\n", b"F\n", b"G\n"]
    first = _hunk(1, [(" ", b"A\n"), (" ", b"B\n"), (" ", b"C\n"), ("-", b"D\n"), ("+", b"1\n"), (" ", b"E\n"), (" ", b"F\n"), (" ", b"G\n")])
    second = _hunk(1, [(" ", b"A\n"), (" ", b"B\n"), (" ", b"C\n"), ("-", b"D\n"), ("+", b"2\n"), (" ", b"E\n"), (" ", b"F\n"), (" ", b"G\n")])
    content = b"".join([b"top\n"] + block + [b"mid\n"] + block + [b"end\n"])
    result = apply_hunks(content, [first, second], "f")
    assert result == content.replace(b"D\n", b"1\n", 1).replace(b"D\n", b"2\n", 1)
    with pytest.raises(HunkFailed) as info:
        apply_hunks(b"".join([b"top\n"] + block + [b"end\n"]), [first, second], "f")
    assert info.value.index == 2


def test_hunk_cut_short_by_file_start_only_applies_at_start() -> None:
    """A hunk with less leading than trailing context belongs at the top; it is not moved down (GNU patch rule)."""
    hunk = _hunk(1, [("+", b"import x\n"), (" ", b"a\n"), (" ", b"b\n"), (" ", b"c\n")])
    assert apply_hunks(b"a\nb\nc\nd\n", [hunk], "f") == b"import x\na\nb\nc\nd\n"
    with pytest.raises(HunkFailed):
        apply_hunks(b"new first line\na\nb\nc\nd\n", [hunk], "f")


def test_hunk_cut_short_by_file_end_only_applies_at_end() -> None:
    """A hunk with less trailing than leading context belongs at the end of the file."""
    hunk = _hunk(2, [(" ", b"a\n"), (" ", b"b\n"), (" ", b"c\n"), ("+", b"tail\n")])
    assert apply_hunks(b"z\na\nb\nc\n", [hunk], "f") == b"z\na\nb\nc\ntail\n"
    with pytest.raises(HunkFailed):
        apply_hunks(b"z\na\nb\nc\nmore\n", [hunk], "f")


def test_context_only_hunk_is_not_anchored() -> None:
    """A hunk of context lines only (no change) is found anywhere, not pinned to the file's end."""
    hunk = _hunk(1, [(" ", b"b\n"), (" ", b"c\n")])
    assert apply_hunks(b"a\nb\nc\nd\n", [hunk], "f") == b"a\nb\nc\nd\n"


def test_zero_context_insertions_follow_old_start(tmp_path: Path) -> None:
    """With -U0, pure insertions go after line old_start (0 = top of file), shifted by earlier offsets."""
    old = b"a\nb\nc\n"
    new = b"top\na\nb\nmiddle\nc\n"
    repo, _ = make_repo(tmp_path, GitCase({"f": F(old)}, {"f": F(new)}))
    (fd,) = parse_diff(git(repo, "diff", "--full-index", "-U0", "base", "target"))
    assert [h.old_count for h in fd.hunks] == [0, 0]
    assert apply_hunks(old, fd.hunks, "f") == new
    with pytest.raises(HunkFailed):
        apply_hunks(b"", fd.hunks[1:], "f")


def test_large_file_with_distant_hunk_applies_at_its_offset() -> None:
    """A 50,000-line file with a hunk 420 lines off its header applies there (speed: bench/bench_parse.py)."""
    lines = [b"    value_%d = compute(%d)\n" % (i, i) for i in range(50_000)]
    hunk = _hunk(30_001, [(" ", lines[30_420]), (" ", lines[30_421]), (" ", lines[30_422]), ("-", lines[30_423]),
                          ("+", b"    changed\n"), (" ", lines[30_424]), (" ", lines[30_425]), (" ", lines[30_426])])  # fmt: skip
    content = b"".join(lines)
    result = apply_hunks(content, [hunk], "big.py")
    assert result == content.replace(lines[30_423], b"    changed\n")


def test_delta_errors_are_clear() -> None:
    """Corrupt deltas are PatchParseError, a source of the wrong size is a ConflictError."""
    source = b"0123456789"
    good = bytes([10, 6, 0x91, 2, 4, 2]) + b"ab"  # copy source[2:6], insert "ab"
    assert apply_delta(source, good, "f") == b"2345ab"
    with pytest.raises(ConflictError):
        apply_delta(source + b"!", good, "f")
    for bad in (bytes([10]), bytes([10, 6, 0]), bytes([10, 6, 0x91, 8, 4]), bytes([10, 6, 5, 1]), bytes([10, 6, 0x91, 2, 4]),
                bytes([10, 1, 2]) + b"ab", bytes([10, 6, 0x91])):  # fmt: skip
        with pytest.raises(PatchParseError):
            apply_delta(source, bad, "f")
    assert apply_binary(b"ignored", BinaryData("literal", 3, b"new", zlib.compress(b"new")), "f") == b"new"


def test_copy_size_zero_means_64k() -> None:
    """In git's delta format a copy with no size bytes copies 0x10000 bytes."""
    source = bytes(range(256)) * 300
    delta = bytes([0x80, 0xD8, 0x04, 0x80, 0x80, 0x04, 0x80])  # sizes 76800/65536 as varints, then copy offset 0 size 0
    assert apply_delta(source, delta, "f") == source[:0x10000]


def _make_hunks(old: list[bytes], new: list[bytes]) -> tuple[Hunk, ...]:
    hunks = []
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        lines: list[tuple[str, bytes]] = []
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                lines += [(" ", line) for line in old[a1:a2]]
                continue
            lines += [("-", line) for line in old[a1:a2]]
            lines += [("+", line) for line in new[b1:b2]]
        hunks.append(Hunk(i1 + 1 if i2 > i1 else i1, i2 - i1, j1 + 1 if j2 > j1 else j1, j2 - j1, b"", tuple(lines)))
    return tuple(hunks)


_file = st.lists(st.sampled_from([b"a\n", b"b\n", b"c\r\n", b"\x0c\n", b"d\n", b"\n", b"e"]), max_size=30).map(
    lambda lines: [line + b"\n" if not line.endswith(b"\n") and i < len(lines) - 1 else line for i, line in enumerate(lines)]
)


@settings(max_examples=300, deadline=None)
@given(_file, _file)
def test_any_diff_written_and_read_back_rebuilds_the_new_file(old: list[bytes], new: list[bytes]) -> None:
    """For random old/new files: make hunks, format, parse, apply to old -> exactly new."""
    hunks = _make_hunks(old, new)
    assume(hunks)  # a 'diff --git' header without a change is refused (issue 15): nothing to read back
    fd = FileDiff("f.cu", "f.cu", "M", hunks=hunks)
    (parsed,) = parse_diff(format_diff([fd]))
    assert apply_hunks(b"".join(old), parsed.hunks, "f.cu") == b"".join(new)


def test_cuda_patch_applies_after_upstream_moved_code(tmp_path: Path) -> None:
    """A real git diff of a .cu file still applies after upstream added kernels above the change."""
    old, new = cu_source(), cu_source("0.5f")
    _, diff = make_repo(tmp_path, GitCase({"k.cu": F(old)}, {"k.cu": F(new)}))
    (fd,) = parse_diff(diff)
    extra = b"__global__ void added(float* x) {\n  x[0] = 1;\n}\n\n" * 30
    moved_old = old.replace(b"#include <cuda_runtime.h>\n\n", b"#include <cuda_runtime.h>\n\n" + extra)
    moved_new = new.replace(b"#include <cuda_runtime.h>\n\n", b"#include <cuda_runtime.h>\n\n" + extra)
    assert apply_hunks(moved_old, fd.hunks, "k.cu") == moved_new
