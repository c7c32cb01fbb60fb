"""Patch files: a typed model, a strict byte-level parser and a canonical writer.

Why our own parser: patches are bytes, not text.  Sources carry CRLF, latin-1,
form feeds and NULs, and a patch must come back from ``format_patch`` byte for
byte, so lines are split on ``\\n`` only and hunk lines keep their terminators.
The parser reads what fspatch meets in the field -- git format-patch mails,
``git diff --binary`` output, quilt and Debian DEP-3 patches, plain unified
diffs -- and refuses anything it cannot read exactly: every failure is a
``PatchParseError`` naming the file and the 1-based line, never a guess.

The writer emits one canonical form (DESIGN §2): a short mail-style header that
``git am`` understands, a ``---`` line, then a git diff in git's own spelling,
so ``git apply``, ``git am`` and quilt read it and a no-op refresh rewrites the
same bytes.
"""

from __future__ import annotations

import base64
import email.errors
import email.header
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from fspatch.core.limits import hint, limit
from fspatch.errors import PatchParseError, PathEscapeError

CONTEXT = " "
REMOVED = "-"
ADDED = "+"

_KIND_BYTES = {CONTEXT: b" ", REMOVED: b"-", ADDED: b"+"}
_NO_EOL = b"\\ No newline at end of file\n"
_DEV_NULL = b"/dev/null"
_GIT_MODES = frozenset({0o100644, 0o100755, 0o120000, 0o160000})


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` block; lines keep their exact terminators so CRLF and no-EOL survive."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: bytes
    lines: tuple[tuple[str, bytes], ...]

    def old_lines(self) -> list[bytes]:
        """What the hunk expects to find: context and removed lines."""
        return [content for kind, content in self.lines if kind != ADDED]

    def new_lines(self) -> list[bytes]:
        """What the hunk leaves behind: context and added lines."""
        return [content for kind, content in self.lines if kind != REMOVED]

    def header(self) -> str:
        """``@@ -a,b +c,d @@`` without the section, to name the hunk in messages."""
        return f"@@ -{_range(self.old_start, self.old_count)} +{_range(self.new_start, self.new_count)} @@"


@dataclass(frozen=True)
class BinaryData:
    """One block of a ``GIT binary patch``: a literal blob or a git delta, inflated.

    ``deflated`` keeps the zlib stream as read so a patch written by git (which
    compresses at its own level) is rewritten byte for byte; it is ignored by
    equality and is reused only while it still inflates to ``data``.  New data
    is compressed at level 9.
    """

    kind: str
    size: int
    data: bytes
    deflated: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class FileDiff:
    """The change to one file: status, modes, ids, and hunks or binary data."""

    old_path: str | None
    new_path: str | None
    status: str
    old_mode: int | None = None
    new_mode: int | None = None
    similarity: int | None = None
    old_id: str | None = None
    new_id: str | None = None
    hunks: tuple[Hunk, ...] = ()
    binary: BinaryData | None = None
    binary_reverse: BinaryData | None = None
    binary_no_data: bool = False

    @property
    def path(self) -> str:
        """The path to report: the new name, or the old one for a deletion."""
        path = self.new_path if self.new_path is not None else self.old_path
        return path if path is not None else ""


@dataclass(frozen=True)
class Patch:
    """A named change: the header that becomes the commit message, and its file diffs."""

    author: str = ""
    subject: str = ""
    description: str = ""
    trailers: tuple[tuple[str, str], ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()
    files: tuple[FileDiff, ...] = ()

    def message(self) -> str:
        """The commit message: subject, description, trailers, blank-separated, ending in a newline."""
        parts = [part for part in (self.subject, self.description, _trailer_text(self.trailers)) if part]
        return "\n\n".join(parts) + "\n" if parts else ""


def patch_paths(patches: Iterable[Patch]) -> frozenset[str]:
    """Every path these patches name, old and new (what a stack of them changes, as its diffs tell)."""
    return frozenset(p for patch in patches for fd in patch.files for p in (fd.old_path, fd.new_path) if p is not None)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_MBOX_FROM = re.compile(rb"From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}")
_HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9_-]*):(?:[ \t]+(.*))?", re.DOTALL)
_PREAMBLE = re.compile(rb"Index: |=+\r?$|diff |RCS file: |retrieving revision |Only in ")
_HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)", re.DOTALL)
_FULL_ID = (40, 64)  # SHA-1 and SHA-256 object ids
_INDEX = re.compile(rb"index ([0-9a-fA-F]+)\.\.([0-9a-fA-F]+)(?: ([0-7]+))?")
_MODE = re.compile(rb"[0-7]{1,7}")
_PERCENT = re.compile(rb"(\d{1,3})%")
_BINARY_BLOCK = re.compile(rb"(literal|delta) (\d+)")
_BINARY_FILES = re.compile(rb"Binary files (.+) and (.+) differ", re.DOTALL)
_PATCH_TAG = re.compile(r"^\s*\[[^\]]*\b(?:PATCH|RFC)\b[^\]]*\]\s*", re.IGNORECASE)
_TRAILER = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*): (\S.*)")
_EPOCH = (b"1970-01-01 00:00:00", b"1969-12-31 ", b"Thu Jan  1 00:00:00 1970", b"Wed Dec 31 ")
_C_ESCAPES = {
    ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
    ord("r"): 13, ord('"'): 34, ord("\\"): 92,
}  # fmt: skip


def parse_patch(data: bytes, source: str = "<patch>", strip: int = 1) -> Patch:
    """Read a patch file: optional mail or DEP-3 header, description, trailers, then the diff."""
    parser = _Parser(data, source, strip, 1)
    return parser.patch()


def parse_diff(data: bytes, source: str = "<patch>", strip: int = 1, first_line: int = 1) -> tuple[FileDiff, ...]:
    """Read the file diffs in ``data``; text before the first diff is skipped like ``git apply`` does."""
    parser = _Parser(data, source, strip, first_line)
    return parser.files(0)


def parse_message(message: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Split a commit message into subject (first paragraph, one line), description and trailers."""
    lines = message.replace("\r\n", "\n").split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    subject = " ".join(line.strip() for line in lines[start:end])
    description, trailers = _split_trailers(lines[end:])
    return subject, description, trailers


class _Parser:
    """One pass over the lines of one patch; ``i`` indexes ``lines``, reports add ``base``."""

    def __init__(self, data: bytes, source: str, strip: int, first_line: int) -> None:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        self.lines = lines
        self.n = len(lines)
        self.source = source
        self.strip = max(strip, 0)
        self.base = first_line
        self.inflated = 0  # binary bytes inflated so far, against FSPATCH_MAX_BINARY_BYTES
        self.max_binary = limit("FSPATCH_MAX_BINARY_BYTES")
        self.max_name = limit("FSPATCH_MAX_NAME_BYTES")
        self.max_path = limit("FSPATCH_MAX_PATH_BYTES")

    # -- errors ---------------------------------------------------------------------------------
    def error(self, i: int, message: str) -> PatchParseError:
        return PatchParseError(message, path=self.source, line=i + self.base)

    def escape(self, i: int, message: str) -> PathEscapeError:
        return PathEscapeError(message, path=self.source, line=i + self.base)

    # -- header -------------------------------------------------------------------------------------
    def patch(self) -> Patch:
        lines, n = self.lines, self.n
        i = 0
        if n and _MBOX_FROM.match(lines[0]):
            i = 1
        headers: list[tuple[str, list[str]]] = []
        while i < n and not self.diff_starts(i):
            line = lines[i].rstrip(b"\r")
            if headers and line[:1] in (b" ", b"\t"):
                headers[-1][1].append(_text(line))
                i += 1
                continue
            match = _HEADER.fullmatch(line)
            if match is None:
                break
            headers.append((_text(match[1]), [_text(match[2] or b"").strip()]))
            i += 1
        if headers and i < n and not lines[i].rstrip(b"\r"):
            i += 1
        body: list[str] = []
        while i < n:
            line = lines[i].rstrip(b"\r")
            if line == b"---" or self.diff_starts(i):
                break
            body.append(_text(line))
            i += 1
        author, subject, dep3_description, extra = _read_headers(headers)
        description, trailers = _split_trailers(body)
        if dep3_description:
            description = "\n\n".join(part for part in (dep3_description, description) if part)
        return Patch(
            author=author,
            subject=subject,
            description=description,
            trailers=trailers,
            extra_headers=extra,
            files=self.files(i),
        )

    def diff_starts(self, i: int) -> bool:
        """True where a file diff (or its ``Index:``/``diff`` preamble) begins."""
        lines, n = self.lines, self.n
        line = lines[i]
        if line.startswith(b"diff --git "):
            return True
        if line.startswith(b"--- ") and i + 1 < n and lines[i + 1].startswith(b"+++ "):
            return True
        if not _PREAMBLE.match(line):
            return False
        for j in range(i + 1, min(n, i + 6)):
            other = lines[j]
            if other.startswith((b"diff --git ", b"Binary files ")):
                return True
            if other.startswith(b"--- ") and j + 1 < n and lines[j + 1].startswith(b"+++ "):
                return True
            if not _PREAMBLE.match(other):
                return False
        return False

    # -- files --------------------------------------------------------------------------------------
    def files(self, i: int) -> tuple[FileDiff, ...]:
        lines, n = self.lines, self.n
        result: list[FileDiff] = []
        while i < n:
            line = lines[i]
            if line.startswith(b"diff --git "):
                fd, i = self.git_file(i)
                result.append(fd)
            elif line.startswith(b"--- ") and i + 1 < n and lines[i + 1].startswith(b"+++ "):
                fd, i = self.plain_file(i)
                result.append(fd)
            elif line.startswith(b"Binary files "):
                match = _BINARY_FILES.fullmatch(line.rstrip(b"\r"))
                if match is not None:
                    result.append(self.plain_binary(match[1], match[2], i))
                i += 1
            elif line.startswith(b"@@"):
                raise self.error(i, "hunk without a file header ('--- a/…' and '+++ b/…' lines)")
            elif result and _MBOX_FROM.match(line):
                raise self.error(i, "a second mail starts here: keep one patch per file")
            else:
                i += 1
        if not result:
            self.refuse_binary()
        return tuple(result)

    def refuse_binary(self) -> None:
        """A file with no diff and a NUL byte is binary data, not an empty patch.

        Why: an empty patch (a description only) is legal and applies as a no-op, so binary
        garbage that holds no ``diff`` line would silently "apply" and succeed.
        """
        if self.lines and self.lines[0].startswith((b"FSPENC1", b"FSPENC2")):
            raise self.error(0, "this is an encrypted patch; decrypt it with --key PRIVATE_PEM")
        for i, line in enumerate(self.lines):
            if b"\0" in line:
                raise self.error(i, "binary data (a NUL byte) and no diff in it: this is not a patch file")

    def git_file(self, i: int) -> tuple[FileDiff, int]:
        lines, n = self.lines, self.n
        start = i
        header = lines[i][len(b"diff --git ") :].rstrip(b"\r")
        i += 1
        old_mode: int | None = None
        new_mode: int | None = None
        index_mode: int | None = None
        similarity: int | None = None
        old_id: str | None = None
        new_id: str | None = None
        created = deleted = False
        moved_from: tuple[bytes, int] | None = None
        moved_to: tuple[bytes, int] | None = None
        move_kind = ""
        while i < n:
            line = lines[i].rstrip(b"\r")
            if line.startswith(b"old mode "):
                old_mode = self.mode(line[9:], i)
            elif line.startswith(b"new mode "):
                new_mode = self.mode(line[9:], i)
            elif line.startswith(b"deleted file mode "):
                old_mode = self.mode(line[18:], i)
                deleted = True
            elif line.startswith(b"new file mode "):
                new_mode = self.mode(line[14:], i)
                created = True
            elif line.startswith(b"similarity index "):
                similarity = self.percent(line[17:], i)
            elif line.startswith(b"dissimilarity index "):
                self.percent(line[20:], i)
            elif line.startswith((b"rename from ", b"rename old ", b"copy from ")):
                kind, _, name = line.split(b" ", 2)
                moved_from = (self.unquote(name, i), i)
                move_kind = self.move_kind(kind, move_kind, i)
            elif line.startswith((b"rename to ", b"rename new ", b"copy to ")):
                kind, _, name = line.split(b" ", 2)
                moved_to = (self.unquote(name, i), i)
                move_kind = self.move_kind(kind, move_kind, i)
            elif line.startswith(b"index "):
                match = _INDEX.fullmatch(line)
                if match is None:
                    raise self.error(i, "malformed 'index' line")
                old_id, new_id = match[1].decode("ascii"), match[2].decode("ascii")
                if match[3] is not None:
                    index_mode = self.mode(match[3], i)
            else:
                break
            i += 1

        old_label: tuple[bytes | None, int] | None = None
        new_label: tuple[bytes | None, int] | None = None
        raw_labels: tuple[bytes | None, bytes | None] | None = None
        hunks: tuple[Hunk, ...] = ()
        binary: BinaryData | None = None
        reverse: BinaryData | None = None
        no_data = False
        if i < n:
            line = lines[i]
            if line.startswith(b"--- "):
                if not (i + 1 < n and lines[i + 1].startswith(b"+++ ")):
                    raise self.error(i, "'---' line without a '+++' line after it")
                old_label = (self.git_label(line[4:], i), i)
                new_label = (self.git_label(lines[i + 1][4:], i + 1), i + 1)
                raw_labels = (self.raw_label(line[4:], i), self.raw_label(lines[i + 1][4:], i + 1))
                empty_side = old_label[0] is None or new_label[0] is None or created or deleted
                if empty_side and not (i + 2 < n and lines[i + 2].startswith(b"@@")):
                    # libgit2 writes '--- /dev/null' / '+++ b/x' and no hunk for an empty file
                    # created (or deleted); git apply accepts it, so do we.  A modification
                    # without a hunk stays an error.
                    i += 2
                else:
                    hunks, i = self.hunks(i + 2)
            elif line.rstrip(b"\r") == b"GIT binary patch":
                binary, reverse, i = self.binary(i + 1)
            elif line.startswith(b"Binary files "):
                no_data = True
                i += 1

        if old_label is not None and old_label[0] is None:
            created = True
        if new_label is not None and new_label[0] is None:
            deleted = True
        if created and deleted:
            raise self.error(start, "file diff both creates and deletes the file")
        if move_kind and (moved_from is None or moved_to is None):
            raise self.error(start, f"'{move_kind} from' and '{move_kind} to' must come together")

        old_name = moved_from
        if old_name is None and old_label is not None and old_label[0] is not None:
            old_name = (old_label[0], old_label[1])
        new_name = moved_to
        if new_name is None and new_label is not None and new_label[0] is not None:
            new_name = (new_label[0], new_label[1])
        if (old_name is None and not created) or (new_name is None and not deleted):
            a_name, b_name = self.git_header_names(header, start)
            old_name = old_name or (a_name, start)
            new_name = new_name or (b_name, start)

        old_path = None if created else self.path(old_name, start)
        new_path = None if deleted else self.path(new_name, start)
        self.check_git_header(header, start, old_path, new_path, raw_labels)
        if created:
            status = "A"
        elif deleted:
            status = "D"
        elif move_kind:
            status = "R" if move_kind == "rename" else "C"
        else:
            status = "M"
        if index_mode is not None:
            old_mode = index_mode if old_mode is None and not created else old_mode
            new_mode = index_mode if new_mode is None and not deleted else new_mode
        if (
            status == "M"
            and not hunks
            and binary is None
            and not no_data
            and (old_mode is None or new_mode is None or old_mode == new_mode)
        ):
            # git apply reads this as "nothing", but what follows the header is then garbage a
            # reader skipped: a truncated or damaged file, never a change worth applying.
            where = i if i < n else start
            raise self.error(where, "'diff --git' header without a change after it (no hunk, mode change or rename)")
        fd = FileDiff(
            old_path=old_path,
            new_path=new_path,
            status=status,
            old_mode=old_mode,
            new_mode=new_mode,
            similarity=similarity,
            old_id=old_id,
            new_id=new_id,
            hunks=hunks,
            binary=binary,
            binary_reverse=reverse,
            binary_no_data=no_data,
        )
        return fd, i

    def check_git_header(
        self,
        header: bytes,
        i: int,
        old_path: str | None,
        new_path: str | None,
        raw_labels: tuple[bytes | None, bytes | None] | None,
    ) -> None:
        """The names on the ``diff --git`` line are checked like the others and must agree with them.

        Why: ``git apply`` refuses a header that disagrees with its ``---``/``+++`` lines; a
        reader that trusts only the labels would let ``diff --git a/../x b/../x`` through to
        any tool that reads the header (quilt, review pages, the user's eyes), and a damaged
        header line would pass unnoticed.  git writes the header as the two labels, quoted the
        same way, so with labels the comparison is on the bytes as written.
        """
        if raw_labels is not None and raw_labels != (None, None):
            old_raw, new_raw = raw_labels
            if old_raw is not None and new_raw is not None:
                ok = header == old_raw + b" " + new_raw
            elif new_raw is not None:  # a created file: a/<name> b/<name>
                ok = header.endswith(b" " + new_raw) and self.label_path(header[: -len(new_raw) - 1], i) == new_path
            else:
                assert old_raw is not None
                ok = header.startswith(old_raw + b" ") and self.label_path(header[len(old_raw) + 1 :], i) == old_path
            if not ok:
                raise self.error(i, "the 'diff --git' line does not name the files its '---'/'+++' lines name")
            return
        try:
            a_name, b_name = self.git_header_names(header, i)
        except PatchParseError:
            if old_path is None and new_path is None:
                raise
            return  # names with spaces git cannot split either: the rename lines named the file
        a_path, b_path = self.path((a_name, i), i), self.path((b_name, i), i)
        if old_path is not None and a_path != old_path:
            raise self.error(i, f"'diff --git' line names {a_path!r}, the file diff changes {old_path!r}")
        if new_path is not None and b_path != new_path:
            raise self.error(i, f"'diff --git' line names {b_path!r}, the file diff changes {new_path!r}")

    def raw_label(self, text: bytes, i: int) -> bytes | None:
        """A ``---``/``+++`` name as written (quotes kept, TAB tail cut); None for /dev/null."""
        text = text.rstrip(b"\r")
        if text.startswith(b'"'):
            _, rest = self.unquote_prefix(text, i)
            raw = text[: len(text) - len(rest)]
        else:
            raw = text.split(b"\t", 1)[0]
        return None if raw == _DEV_NULL else raw

    def label_path(self, raw: bytes, i: int) -> str | None:
        """The checked path of one raw header name (prefix stripped), or None when it is unusable."""
        try:
            name = self.unquote(raw, i) if raw.startswith(b'"') else raw
            return self.path((self.strip_prefix(name, 1, i), i), i)
        except PatchParseError:
            return None

    def plain_file(self, i: int) -> tuple[FileDiff, int]:
        lines = self.lines
        old_raw, _, old_stamp = lines[i][4:].rstrip(b"\r").partition(b"\t")
        new_raw, _, new_stamp = lines[i + 1][4:].rstrip(b"\r").partition(b"\t")
        old_name = self.plain_name(old_raw, i)
        new_name = self.plain_name(new_raw, i + 1)
        hunks, end = self.hunks(i + 2)
        if old_name is not None and old_stamp.startswith(_EPOCH) and all(h.old_count == 0 for h in hunks):
            old_name = None
        if new_name is not None and new_stamp.startswith(_EPOCH) and all(h.new_count == 0 for h in hunks):
            new_name = None
        return self.plain_diff(old_name, new_name, i, i + 1, hunks=hunks), end

    def plain_binary(self, old_raw: bytes, new_raw: bytes, i: int) -> FileDiff:
        old_name = self.plain_name(old_raw, i)
        new_name = self.plain_name(new_raw, i)
        return self.plain_diff(old_name, new_name, i, i, no_data=True)

    def plain_diff(
        self,
        old_name: bytes | None,
        new_name: bytes | None,
        old_line: int,
        new_line: int,
        hunks: tuple[Hunk, ...] = (),
        no_data: bool = False,
    ) -> FileDiff:
        if old_name is None and new_name is None:
            raise self.error(old_line, "both sides of the file diff are /dev/null")
        if old_name is None:
            assert new_name is not None
            return FileDiff(None, self.path((new_name, new_line), new_line), "A", hunks=hunks, binary_no_data=no_data)
        if new_name is None:
            return FileDiff(self.path((old_name, old_line), old_line), None, "D", hunks=hunks, binary_no_data=no_data)
        name, line = (old_name, old_line) if _better_name(old_name, new_name) else (new_name, new_line)
        path = self.path((name, line), line)
        return FileDiff(path, path, "M", hunks=hunks, binary_no_data=no_data)

    # -- hunks ----------------------------------------------------------------------------------------
    def hunks(self, i: int) -> tuple[tuple[Hunk, ...], int]:
        lines, n = self.lines, self.n
        result: list[Hunk] = []
        while i < n and lines[i].startswith(b"@@"):
            hunk, i = self.hunk(i)
            result.append(hunk)
        if not result:
            raise self.error(min(i, n - 1), "expected a hunk ('@@ -a,b +c,d @@') after the '+++' line")
        return tuple(result), i

    def hunk(self, i: int) -> tuple[Hunk, int]:
        lines, n = self.lines, self.n
        start = i
        match = _HUNK.fullmatch(lines[i].rstrip(b"\r"))
        if match is None:
            raise self.error(i, "malformed hunk header (expected '@@ -a,b +c,d @@')")
        old_start = int(match[1])
        old_count = int(match[2]) if match[2] is not None else 1
        new_start = int(match[3])
        new_count = int(match[4]) if match[4] is not None else 1
        section = match[5]
        if section[:1] == b" ":
            section = section[1:]
        header = f"@@ -{_range(old_start, old_count)} +{_range(new_start, new_count)} @@"
        body: list[tuple[str, bytes]] = []
        append = body.append
        old_left, new_left = old_count, new_count
        old_open = new_open = False  # a line of that side already lost its newline
        i += 1
        while old_left > 0 or new_left > 0:
            if i >= n:
                raise self.error(
                    start, f"hunk {header} ends early: {old_left} old and {new_left} new lines missing at end of file"
                )
            line = lines[i]
            kind = line[:1]
            if kind == b" " or not line:
                if old_left <= 0 or new_left <= 0:
                    raise self.error(i, f"hunk {header} has more context lines than its header says")
                if old_open or new_open:
                    raise self.error(i, "line after '\\ No newline at end of file' on the same side")
                append((CONTEXT, line[1:] + b"\n"))
                old_left -= 1
                new_left -= 1
            elif kind == b"-":
                if old_left <= 0:
                    raise self.error(i, f"hunk {header} has more removed lines than its header says")
                if old_open:
                    raise self.error(i, "line after '\\ No newline at end of file' on the same side")
                append((REMOVED, line[1:] + b"\n"))
                old_left -= 1
            elif kind == b"+":
                if new_left <= 0:
                    raise self.error(i, f"hunk {header} has more added lines than its header says")
                if new_open:
                    raise self.error(i, "line after '\\ No newline at end of file' on the same side")
                append((ADDED, line[1:] + b"\n"))
                new_left -= 1
            elif kind == b"\\":
                old_open, new_open = self.no_newline(body, i, old_open, new_open)
            elif line.startswith((b"@@", b"diff ", b"--- ", b"+++ ", b"Index: ")):
                raise self.error(i, f"hunk {header} ends early: {old_left} old and {new_left} new lines missing")
            else:
                raise self.error(i, f"unexpected line in hunk {header} (lines must start with ' ', '-', '+' or '\\')")
            i += 1
        if i < n and lines[i][:1] == b"\\":
            self.no_newline(body, i, old_open, new_open)
            i += 1
        if i < n:
            line = lines[i]
            kind = line[:1]
            if kind in (b" ", b"+") or (kind == b"-" and not self.ends_hunk(i)):
                raise self.error(i, f"hunk {header} has more lines than its header says")
        return Hunk(old_start, old_count, new_start, new_count, section, tuple(body)), i

    def no_newline(self, body: list[tuple[str, bytes]], i: int, old_open: bool, new_open: bool) -> tuple[bool, bool]:
        """Apply a ``\\ No newline at end of file`` marker to the line before it."""
        if not body or not body[-1][1].endswith(b"\n"):
            raise self.error(i, "'\\ No newline at end of file' without a line before it")
        kind, content = body[-1]
        body[-1] = (kind, content[:-1])
        return old_open or kind != ADDED, new_open or kind != REMOVED

    def ends_hunk(self, i: int) -> bool:
        """A ``-`` line after a complete hunk is fine only as a mail signature or the next file."""
        line = self.lines[i].rstrip(b"\r")
        if line in (b"-- ", b"--"):
            return True
        return line.startswith(b"--- ") and i + 1 < self.n and self.lines[i + 1].startswith(b"+++ ")

    # -- binary -------------------------------------------------------------------------------------
    def binary(self, i: int) -> tuple[BinaryData, BinaryData | None, int]:
        forward, i = self.binary_block(i)
        reverse = None
        if i < self.n and _BINARY_BLOCK.fullmatch(self.lines[i].rstrip(b"\r")):
            reverse, i = self.binary_block(i)
        return forward, reverse, i

    def binary_block(self, i: int) -> tuple[BinaryData, int]:
        lines, n = self.lines, self.n
        if i >= n:
            raise self.error(n - 1, "'GIT binary patch' without a 'literal N' or 'delta N' line")
        match = _BINARY_BLOCK.fullmatch(lines[i].rstrip(b"\r"))
        if match is None:
            raise self.error(i, "expected 'literal N' or 'delta N' in a binary patch")
        kind = match[1].decode("ascii")
        if len(match[2]) > 18:
            raise self.error(i, f"binary size {_text(match[2][:24])}... is not believable")
        size = int(match[2])
        if self.inflated + size > self.max_binary:
            raise self.error(
                i,
                f"binary data of {self.inflated + size} bytes (inflated) in this patch is over the limit "
                + hint("FSPATCH_MAX_BINARY_BYTES"),
            )
        self.inflated += size
        start = i
        chunks: list[bytes] = []
        i += 1
        while i < n:
            line = lines[i].rstrip(b"\r")
            i += 1
            if not line:
                break
            code = line[0]
            if 65 <= code <= 90:
                length = code - 64
            elif 97 <= code <= 122:
                length = code - 96 + 26
            else:
                raise self.error(i - 1, "binary patch line must start with a length letter A-Z or a-z")
            encoded = line[1:]
            if len(encoded) != (length + 3) // 4 * 5:
                raise self.error(
                    i - 1, f"binary patch line has {len(encoded)} characters, expected {(length + 3) // 4 * 5}"
                )
            try:
                chunks.append(base64.b85decode(encoded)[:length])
            except ValueError as exc:
                raise self.error(i - 1, f"bad base85 data in binary patch: {exc}") from None
        deflated = b"".join(chunks)
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(deflated, size + 1)
        except zlib.error as exc:
            raise self.error(start, f"binary patch data does not inflate: {exc}") from None
        if len(data) != size or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
            raise self.error(start, f"binary patch data does not inflate to the {size} bytes its '{kind}' line says")
        return BinaryData(kind, size, data, deflated), i

    # -- names --------------------------------------------------------------------------------------------
    def mode(self, text: bytes, i: int) -> int:
        """A file mode git can store: 100644, 100755, 120000 (symlink) or 160000 (submodule)."""
        if not _MODE.fullmatch(text) or int(text, 8) not in _GIT_MODES:
            raise self.error(i, f"bad file mode {_text(text)!r} (git stores 100644, 100755, 120000 or 160000)")
        return int(text, 8)

    def percent(self, text: bytes, i: int) -> int:
        match = _PERCENT.fullmatch(text)
        if match is None or int(match[1]) > 100:
            raise self.error(i, f"bad percentage {_text(text)!r}")
        return int(match[1])

    def move_kind(self, word: bytes, current: str, i: int) -> str:
        kind = "copy" if word == b"copy" else "rename"
        if current and current != kind:
            raise self.error(i, "file diff mixes rename and copy lines")
        return kind

    def unquote(self, text: bytes, i: int) -> bytes:
        """A name as git writes it: verbatim, or C-quoted when it needs quoting."""
        if not text.startswith(b'"'):
            return text
        name, rest = self.unquote_prefix(text, i)
        if rest:
            raise self.error(i, "text after a quoted file name")
        return name

    def unquote_prefix(self, text: bytes, i: int) -> tuple[bytes, bytes]:
        """Decode the C-quoted string at the start of ``text``; return it and what follows."""
        out = bytearray()
        j, n = 1, len(text)
        while j < n:
            c = text[j]
            if c == 0x22:  # closing quote
                return bytes(out), text[j + 1 :]
            if c != 0x5C:
                out.append(c)
                j += 1
                continue
            if j + 1 >= n:
                break
            e = text[j + 1]
            if e in _C_ESCAPES:
                out.append(_C_ESCAPES[e])
                j += 2
            elif 0x30 <= e <= 0x33 and j + 3 < n and all(0x30 <= d <= 0x37 for d in text[j + 2 : j + 4]):
                out.append(int(text[j + 1 : j + 4], 8))
                j += 4
            else:
                raise self.error(i, f"bad escape in quoted file name: {_text(text[j : j + 4])!r}")
        raise self.error(i, "unterminated quoted file name")

    def git_label(self, text: bytes, i: int) -> bytes | None:
        """A ``---``/``+++`` name of a git diff: None for /dev/null, else without ``a/`` (and any TAB tail)."""
        text = text.rstrip(b"\r")
        if text.startswith(b'"'):
            name, _ = self.unquote_prefix(text, i)
        else:
            name = text.split(b"\t", 1)[0]
        if name == _DEV_NULL:
            return None
        return self.strip_prefix(name, 1, i)

    def plain_name(self, raw: bytes, i: int) -> bytes | None:
        """A ``---``/``+++`` name of a plain diff, with ``strip`` leading components removed."""
        name = self.unquote_prefix(raw, i)[0] if raw.startswith(b'"') else raw
        if name == _DEV_NULL:
            return None
        return self.strip_prefix(name, self.strip, i)

    def strip_prefix(self, name: bytes, count: int, i: int) -> bytes:
        if count == 0:
            return name
        parts = name.split(b"/", count)
        if len(parts) <= count:
            raise self.error(i, f"cannot strip {count} leading component(s) from {_text(name)!r}")
        return parts[count]

    def git_header_names(self, header: bytes, i: int) -> tuple[bytes, bytes]:
        """Both names of a ``diff --git`` line, for diffs that carry no other name."""
        if header.startswith(b'"'):
            first, rest = self.unquote_prefix(header, i)
            if not rest.startswith(b" "):
                raise self.error(i, "malformed 'diff --git' line")
            second = self.unquote(rest[1:], i)
        elif header.endswith(b'"') and b' "' in header:
            cut = header.index(b' "')
            first, second = header[:cut], self.unquote(header[cut + 1 :], i)
        else:
            half = (len(header) - 1) // 2
            if (
                len(header) % 2 == 1
                and header[half : half + 1] == b" "
                and _same_after_prefix(header[:half], header[half + 1 :])
            ):
                first, second = header[:half], header[half + 1 :]
            elif b" b/" in header:
                first, _, second = header.partition(b" b/")
                second = b"b/" + second
            else:
                raise self.error(i, "cannot tell the file names from the 'diff --git' line")
        return self.strip_prefix(first, 1, i), self.strip_prefix(second, 1, i)

    def path(self, name: tuple[bytes, int] | None, i: int) -> str:
        """Decode and check a name: relative, no ``..``, no ``.git``, nothing empty."""
        if name is None:
            raise self.error(i, "file diff has no file name")
        raw, line = name
        if not raw:
            raise self.escape(line, "empty file name")
        if raw.startswith(b"/"):
            raise self.escape(line, f"absolute path {_text(raw)!r}")
        if b"\0" in raw:
            raise self.escape(line, f"NUL byte in path {_text(raw)!r}")
        if len(raw) > self.max_path:
            raise self.error(line, f"file name of {len(raw)} bytes is over the limit " + hint("FSPATCH_MAX_PATH_BYTES"))
        for part in raw.split(b"/"):
            if len(part) > self.max_name:
                raise self.error(
                    line,
                    f"file name component of {len(part)} bytes is over the limit " + hint("FSPATCH_MAX_NAME_BYTES"),
                )
            if part == b"..":
                raise self.escape(line, f"path {_text(raw)!r} leaves the tree ('..')")
            if part in (b"", b"."):
                raise self.escape(line, f"path {_text(raw)!r} is not a clean relative path")
            if part.lower() == b".git":
                raise self.escape(line, f"path {_text(raw)!r} points into a .git directory")
        return raw.decode("utf-8", "surrogateescape")


def _same_after_prefix(first: bytes, second: bytes) -> bool:
    return first.partition(b"/")[2] == second.partition(b"/")[2] and b"/" in first and b"/" in second


def _better_name(old: bytes, new: bytes) -> bool:
    """GNU patch's choice between differing names: fewest components, shortest basename, shortest."""

    def key(name: bytes) -> tuple[int, int, int]:
        return (name.count(b"/"), len(name.rsplit(b"/", 1)[-1]), len(name))

    return key(old) <= key(new)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _decode_words(value: str) -> str:
    """RFC 2047 ``=?UTF-8?q?…?=`` words, as git format-patch writes non-ASCII names."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


def _read_headers(headers: list[tuple[str, list[str]]]) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """Mail and DEP-3 headers -> author, subject, DEP-3 long description, the rest in order."""
    author = subject = description = ""
    have_author = have_subject = False
    extra: list[tuple[str, str]] = []
    for key, parts in headers:
        folded = " ".join(part.strip() for part in parts if part.strip())
        lower = key.lower()
        if lower in ("from", "author") and not have_author:
            author, have_author = _decode_words(folded), True
        elif lower == "subject" and not have_subject:
            subject, have_subject = _PATCH_TAG.sub("", _decode_words(folded), count=1), True
        elif lower == "description" and not have_subject:
            subject, have_subject = parts[0], True
            long_lines = [line[1:] if line[:1] in (" ", "\t") else line for line in parts[1:]]
            long_lines = ["" if line.strip() == "." else line.rstrip() for line in long_lines]
            description = "\n".join(long_lines).strip("\n")
        else:
            extra.append((key, folded))
    return author, subject, description, tuple(extra)


def _split_trailers(lines: list[str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Body lines -> description and trailers (the last paragraph, if every line is ``Key: value``)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    body = lines[start:end]
    cut = len(body)
    while cut > 0 and body[cut - 1].strip():
        cut -= 1
    trailers: list[tuple[str, str]] = []
    for line in body[cut:]:
        match = _TRAILER.fullmatch(line.rstrip())
        if match is None:
            trailers = []
            break
        trailers.append((match[1], match[2]))
    if trailers:
        body = body[:cut]
        while body and not body[-1].strip():
            body.pop()
    return "\n".join(body), tuple(trailers)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

_NEEDS_QUOTE = re.compile(rb'[\x00-\x1f"\\\x7f-\xff]')
_QUOTE_TABLE = {
    7: b"\\a",
    8: b"\\b",
    9: b"\\t",
    10: b"\\n",
    11: b"\\v",
    12: b"\\f",
    13: b"\\r",
    34: b'\\"',
    92: b"\\\\",
}


def format_patch(patch: Patch) -> bytes:
    """The canonical patch file: header lines, blank, description, blank, trailers, ``---``, diff."""
    head = []
    if patch.author:
        head.append(f"From: {_one_line(patch.author)}")
    if patch.subject:
        head.append(f"Subject: {_one_line(patch.subject)}")
    head.extend(f"{key}: {_one_line(value)}" for key, value in patch.extra_headers)
    blocks = ["\n".join(head), patch.description, _trailer_text(patch.trailers)]
    text = "\n\n".join(block for block in blocks if block)
    prefix = (text + "\n---\n").encode("utf-8", "surrogateescape") if text else b""
    return prefix + format_diff(patch.files)


def format_diff(files: Iterable[FileDiff]) -> bytes:
    """File diffs in git's spelling (``git diff --full-index --binary``), in the order given."""
    out: list[bytes] = []
    for fd in files:
        _format_file(fd, out)
    return b"".join(out)


def _format_file(fd: FileDiff, out: list[bytes]) -> None:
    old = fd.old_path if fd.old_path is not None else fd.new_path
    new = fd.new_path if fd.new_path is not None else fd.old_path
    if old is None or new is None:
        raise ValueError("a FileDiff needs at least one path")
    old_b = old.encode("utf-8", "surrogateescape")
    new_b = new.encode("utf-8", "surrogateescape")
    out.append(b"diff --git " + _quote(b"a/" + old_b) + b" " + _quote(b"b/" + new_b) + b"\n")
    status = fd.status
    if status == "A":
        out.append(b"new file mode %06o\n" % (fd.new_mode if fd.new_mode is not None else 0o100644))
    elif status == "D":
        out.append(b"deleted file mode %06o\n" % (fd.old_mode if fd.old_mode is not None else 0o100644))
    elif fd.old_mode is not None and fd.new_mode is not None and fd.old_mode != fd.new_mode:
        out.append(b"old mode %06o\nnew mode %06o\n" % (fd.old_mode, fd.new_mode))
    if status in ("R", "C"):
        verb = b"rename" if status == "R" else b"copy"
        if fd.similarity is not None:
            out.append(b"similarity index %d%%\n" % fd.similarity)
        out.append(verb + b" from " + _quote(old_b) + b"\n" + verb + b" to " + _quote(new_b) + b"\n")
    # Full-length ids or none (DESIGN §2): an abbreviation grows with the repository, so a
    # no-op rewrite would change bytes one day.  Abbreviated index lines are dropped.
    if fd.old_id and fd.new_id and len(fd.old_id) in _FULL_ID and len(fd.new_id) in _FULL_ID:
        line = b"index " + fd.old_id.encode("ascii") + b".." + fd.new_id.encode("ascii")
        if status not in ("A", "D") and fd.old_mode is not None and fd.old_mode == fd.new_mode:
            line += b" %06o" % fd.old_mode
        out.append(line + b"\n")
    old_label = _DEV_NULL if status == "A" else _quote(b"a/" + old_b)
    new_label = _DEV_NULL if status == "D" else _quote(b"b/" + new_b)
    if fd.binary is not None:
        out.append(b"GIT binary patch\n")
        out.append(_format_binary(fd.binary))
        if fd.binary_reverse is not None:
            out.append(_format_binary(fd.binary_reverse))
    elif fd.binary_no_data:
        out.append(b"Binary files " + old_label + b" and " + new_label + b" differ\n")
    elif fd.hunks:
        # git adds a TAB after a name with a space so GNU patch does not cut it there.
        out.append(b"--- " + old_label + (b"\t\n" if b" " in old_label else b"\n"))
        out.append(b"+++ " + new_label + (b"\t\n" if b" " in new_label else b"\n"))
        for hunk in fd.hunks:
            _format_hunk(hunk, out)


def _format_hunk(hunk: Hunk, out: list[bytes]) -> None:
    header = hunk.header().encode("ascii")
    out.append(header + b" " + hunk.section + b"\n" if hunk.section else header + b"\n")
    kinds = _KIND_BYTES
    for kind, content in hunk.lines:
        out.append(kinds[kind] + content)
        if not content.endswith(b"\n"):
            out.append(b"\n" + _NO_EOL)


def _format_binary(binary: BinaryData) -> bytes:
    deflated = binary.deflated if binary.deflated and _inflates_to(binary.deflated, binary.data) else b""
    if not deflated:
        deflated = zlib.compress(binary.data, 9)
    out = [b"%s %d\n" % (binary.kind.encode("ascii"), binary.size)]
    for k in range(0, len(deflated), 52):
        chunk = deflated[k : k + 52]
        size = len(chunk)
        out.append(bytes((64 + size if size <= 26 else 96 + size - 26,)) + base64.b85encode(chunk, pad=True) + b"\n")
    out.append(b"\n")
    return b"".join(out)


def _inflates_to(deflated: bytes, data: bytes) -> bool:
    try:
        return zlib.decompress(deflated) == data
    except zlib.error:
        return False


def _quote(name: bytes) -> bytes:
    """C-quote a name the way git does (core.quotePath): only when it needs it."""
    if not _NEEDS_QUOTE.search(name):
        return name
    out = bytearray(b'"')
    for byte in name:
        escaped = _QUOTE_TABLE.get(byte)
        if escaped is not None:
            out += escaped
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def _range(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _trailer_text(trailers: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in trailers)
