"""YAML in and out of the workspace, and the one atomic file writer.

Why round-trip YAML: people edit ``upstream.lock``, ``vendor.yaml`` and ``layer.yaml`` by hand and
comment them; a command that changes one field must keep every comment, the key order and the
indentation style, and a save with no change must write nothing.  ruamel.yaml's round-trip mode
keeps comments and order; :func:`load_yaml` also guesses the file's indentation and remembers it on
the loaded mapping, so :func:`dump_yaml` writes the same style back.

Why so strict on input: YAML anchors and aliases (``&a`` / ``*a``) make "billion laughs" documents
that expand exponentially, and fspatch's files never need them, so they are refused outright
(together with custom ``!tags``) while composing, before anything is expanded.  Duplicate keys,
syntax errors, a top level that is not a mapping and schema violations all become one
:class:`~fspatch.errors.InputError` naming the file and a 1-based line.

ruamel.yaml and jsonschema are imported inside functions: together they cost ~70 ms at start-up
and quick commands must stay quick (DESIGN §4).
"""

from __future__ import annotations

import io
import os
import re
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fspatch.errors import InputError, PathEscapeError

__all__ = [
    "atomic_write",
    "display_path",
    "dump_yaml",
    "load_yaml",
    "parse_yaml",
    "read_regular",
    "real_inside",
    "save_yaml",
]

#: Lines are never folded: a long URL or description stays on one line.
_WIDTH = 1 << 16
#: Deeper nesting than this is not a workspace file but an attack or an accident.
_MAX_DEPTH = 64
#: Attribute on a loaded top-level mapping recording the file's layout (see :class:`_Style`).
_STYLE_ATTR = "_fspatch_yaml_style"


@dataclass(frozen=True)
class _Style:
    """Indentation and document-start of a loaded file, so a save writes them back unchanged."""

    mapping: int = 2
    sequence: int = 2
    offset: int = 0
    explicit_start: bool = False
    #: Comment lines before an explicit ``---``: ruamel drops them, so they are re-added on dump.
    preamble: str = ""


def display_path(path: Path, root: Path | None = None) -> str:
    """Name a file the way errors show it: relative to the workspace when possible, with ``/``."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


# --------------------------------------------------------------------------- writing files


_FSYNC = os.environ.get("FSPATCH_FSYNC", "") not in ("", "0")


def real_inside(path: Path, root: Path) -> Path:
    """Where ``path`` really is, refused when a symlink on the way leads out of ``root``.

    The policy for workspace files (``docs/security.md``): a symlink whose target stays inside
    the workspace (a shared ``series`` between two layers, say) is followed; one that leaves it
    (``upstream.lock -> /etc/…``, ``vendors/acme -> /tmp``) is refused for reading and writing,
    so fspatch never reads or writes a file outside the workspace through a link.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real, real_root]) != real_root:
        raise PathEscapeError(
            "a symlink on the way leads outside the workspace; fspatch never reads or writes through it",
            path=display_path(path, root),
        )
    return Path(real)


def read_regular(path: Path, display: str, what: str = "file", root: Path | None = None) -> bytes:
    """The bytes of a regular file; a FIFO, device, directory or a link out of ``root`` is refused.

    Why ``O_NONBLOCK``: opening a FIFO for reading blocks until a writer comes, so the type is
    checked on the opened descriptor (no race between a check and the open).
    """
    if root is not None:
        path = real_inside(path, root)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=display) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=display) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO or a device)"
            raise InputError(f"{what} is {kind}; fspatch reads only regular files", path=display)
        try:
            return fh.read()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path=display) from None


def atomic_write(path: Path, data: bytes, root: Path | None = None) -> bool:
    """Replace ``path`` with ``data`` all at once, or not at all; True when the file was written.

    Why: an interrupted write must never leave a half-written lock or series.  The bytes go to a
    temporary file in the same directory, then are renamed over the target: a killed process
    leaves the old file or the new one, never half of one.  ``FSPATCH_FSYNC=1`` also fsyncs
    the file and its directory (durability across power loss); it is off by default because
    on common disks it costs ~10 ms a file, which dominated a 70-patch pull-upstream.  Identical
    bytes leave the file untouched (no mtime change, so make-like tools and editors stay quiet);
    an existing file keeps its permission bits; a new file gets ``0o666`` minus the umask, as
    ``open()`` would.  Missing parent directories are created.  A symlink is written through (its
    target is replaced), so a linked file stays linked; with ``root`` (every workspace file) only
    when the link's target is inside ``root`` (:func:`real_inside`).
    """
    if root is not None:
        target = real_inside(path, root)
    else:
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    if old_mode is not None:
        try:
            if target.read_bytes() == data:
                return False
        except OSError:
            pass  # unreadable: fall through and replace it
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if _FSYNC:
                fh.flush()
                os.fsync(fh.fileno())
        if old_mode is not None:
            os.chmod(tmp, old_mode)
        if os.environ.get("FSPATCH_CRASH_AT") == f"temp:{target.name}":  # test-only: killed mid-write
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # a write that failed (disk full): name the file it was for
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if _FSYNC:
        _fsync_dir(target.parent)
    return True


def overwrite(path: Path, data: bytes, root: Path | None = None) -> bool:
    """Rewrite an existing file's bytes where they are (same inode, same blocks); True when changed.

    Why: :func:`atomic_write` replaces a file by a rename, which frees the old file's blocks;
    where each free is a synchronous discard (ext4 with online discard and no journal, the
    machine BENCHMARKS.md was measured on) that is ~0.4 ms a file, and a replay rewrites ~50
    patch files.  Not atomic, so only for a file whose old bytes fspatch's journal has saved
    (a kill mid-write is put back by ``recover``, an error by the journal's undo).  A file that
    is missing, is not a regular file, or has other hard links (a rename leaves those as they
    were; writing in place would change them too) is written by :func:`atomic_write`.
    With ``FSPATCH_FSYNC=1`` the bytes are fsynced as there.
    """
    target = real_inside(path, root) if root is not None else path
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError:
        return atomic_write(path, data, root)
    with os.fdopen(fd, "r+b", buffering=0) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            fh.close()
            return atomic_write(path, data, root)
        if fh.readall() == data:
            return False
        fh.seek(0)
        view = memoryview(data)
        try:
            if os.environ.get("FSPATCH_CRASH_AT") == f"overwrite:{target.name}":  # test-only: killed mid-write
                fh.write(view[: len(view) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            while view:
                view = view[fh.write(view) or 0 :]
            if st.st_size > len(data):
                os.ftruncate(fd, len(data))
            if _FSYNC:
                os.fsync(fd)
        except OSError as exc:  # disk full: name the file (the journal puts its bytes back)
            raise OSError(exc.errno, exc.strerror, str(target)) from None
    return True


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; best effort (some file systems refuse to open directories)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# --------------------------------------------------------------------------- reading YAML


def _guess_style(text: str) -> _Style:
    """Guess mapping indent, sequence indent and dash offset from the first nested block of each.

    Why not ``ruamel.yaml.util.load_yaml_guess_indent``: it returns one indent for mappings and
    sequences alike (the sequence's, once it meets one) and knows nothing of ``---`` or the
    comments above it, so a no-op save would rewrite ``a:\n    b:\n    - 1`` (mapping 4, flush
    dash) as mapping 2, ``a:\n  - 1\nb:\n  c: 1`` as mapping 4, and drop a comment before
    ``---``: four of the six no-op round-trip cases in ``tests/test_workspace.py`` (the sample
    lock included) change bytes with it.
    """
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None
    explicit_start = False
    preamble = ""
    seen_content = False
    key_only_indent: int | None = None  # indent of the previous line when it was "key:" alone
    lines = text.split("\n")
    for number, raw in enumerate(lines):
        line = raw.rstrip()
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        if not seen_content:
            seen_content = True
            explicit_start = body == "---" or body.startswith("--- ")
            if explicit_start and number:
                preamble = "".join(f"{comment}\n" for comment in lines[:number])
        lead = len(line) - len(body)
        if key_only_indent is not None:
            if body.startswith("- ") or body == "-":
                if sequence is None:
                    dash_offset = lead - key_only_indent
                    rest = body[1:]
                    item = len(rest) - len(rest.lstrip(" "))
                    if dash_offset >= 0 and item >= 1:
                        offset = dash_offset
                        sequence = dash_offset + 1 + item
            elif mapping is None and lead > key_only_indent:
                mapping = lead - key_only_indent
        key_only_indent = lead if (body.endswith(":") and not body.startswith("- ")) else None
        if mapping is not None and sequence is not None:
            break
    mapping = mapping or 2
    if sequence is None or offset is None:
        sequence, offset = mapping, 0
    # ruamel needs the dash to fit inside the sequence indent.
    sequence = max(sequence, offset + 2)
    return _Style(mapping, sequence, offset, explicit_start, preamble)


# A plain scalar YAML reads as an integer; thousands of digits are an attack (Python refuses to
# convert over 4300 and is slow below).  1000 leaves room for the all-digit commit ids FlagScale's
# unquoted patch_history.yaml can hold (40 or 64 digits).
_LONG_INT = re.compile(r"[-+]?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)")
_MAX_INT_DIGITS = 1000


def _make_yaml(style: _Style | None = None) -> Any:
    """A round-trip ruamel YAML object that refuses anchors, aliases and explicit tags.

    Why refuse every tag: even ``!!str`` loads as a ``TaggedScalar`` rather than a ``str`` in
    round-trip mode, and ``!python/...`` tags have no business in a workspace file.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionStartEvent,
        NodeEvent,
        ScalarEvent,
    )

    class _SafeComposer(Composer):
        """Refuse anchors, aliases and tags before anything is built or expanded."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent):
                raise ComposerError(
                    None,
                    None,
                    f"YAML aliases are not allowed (found '*{event.anchor}')",
                    event.start_mark,
                )
            if isinstance(event, NodeEvent) and event.anchor is not None:
                raise ComposerError(
                    None,
                    None,
                    f"YAML anchors are not allowed (found '&{event.anchor}')",
                    event.start_mark,
                )
            if isinstance(event, ScalarEvent) and event.style is None and _LONG_INT.fullmatch(event.value or ""):
                digits = len(event.value.lstrip("+-").replace("_", ""))
                if digits > _MAX_INT_DIGITS:
                    raise ComposerError(
                        None,
                        None,
                        f"an integer of {digits} digits (at most {_MAX_INT_DIGITS}); quote it if it is a name",
                        event.start_mark,
                    )
            if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.ctag is not None:
                raise ComposerError(
                    None,
                    None,
                    f"YAML tags are not allowed (found '{_short_tag(event.ctag)}'); quote the value instead",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

    yaml = YAML(typ="rt")
    yaml.Composer = _SafeComposer
    yaml.preserve_quotes = True
    yaml.width = _WIDTH
    yaml.max_depth = _MAX_DEPTH
    style = style or _Style()
    yaml.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    yaml.explicit_start = style.explicit_start
    return yaml


def _short_tag(tag: Any) -> str:
    """``tag:yaml.org,2002:str`` as the user wrote it: ``!!str``."""
    return str(tag).replace("tag:yaml.org,2002:", "!!")


def _mark_line(exc: Exception) -> int | None:
    """1-based line of a ruamel error: where the problem is, else where its context starts."""
    for attr in ("problem_mark", "context_mark"):
        mark = getattr(exc, attr, None)
        if mark is not None and getattr(mark, "line", None) is not None:
            return int(mark.line) + 1
    return None


def _yaml_message(exc: Exception) -> str:
    """One line from a ruamel error: its problem, with the context when that helps."""
    from ruamel.yaml.composer import MaxDepthExceededError
    from ruamel.yaml.constructor import DuplicateKeyError

    if isinstance(exc, MaxDepthExceededError):
        return f"YAML nested too deeply (more than {_MAX_DEPTH} levels)"
    if isinstance(exc, DuplicateKeyError):
        found = str(getattr(exc, "problem", None) or "")
        match = re.match(r'found duplicate key (".*?") with value', found)
        message = f"duplicate key {match.group(1)}" if match else "duplicate key"
        start, here = getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
        if start is not None and here is not None and start.line != here.line:
            message += f" in the mapping that starts at line {start.line + 1}"
        return message
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem and context:
        return f"{context}: {problem}".replace("\n", " ")
    if problem or context:
        return str(problem or context).replace("\n", " ")
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def parse_yaml(text: bytes | str, display: str, schema: str | None = None) -> Any:
    """Parse YAML text (a file's bytes, or a string) and validate it; errors name ``display``.

    Why separate from :func:`load_yaml`: ``git show`` output and test fixtures are YAML too.
    """
    from ruamel.yaml.error import YAMLError

    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise InputError("not valid UTF-8", path=display, line=line) from None
    style = _guess_style(text)
    try:
        data = _make_yaml().load(text)
    except YAMLError as exc:
        raise InputError(_yaml_message(exc), path=display, line=_mark_line(exc)) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", path=display, line=None) from None
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(data, CommentedMap):
        kind = "empty" if data is None else f"a {_kind(data)}"
        raise InputError(f"the top level must be a mapping (key: value lines), not {kind}", path=display, line=1)
    setattr(data, _STYLE_ATTR, style)
    if schema is not None:
        from fspatch.core.schema import validate_cached

        validate_cached(data, schema, display, text.encode("utf-8"))
    return data


def load_yaml(path: Path, schema: str | None, *, root: Path | None = None) -> Any:
    """Read and validate one workspace YAML file, keeping comments and order for a later save.

    ``schema`` names a file in ``fspatch/schemas`` (``"lock"``, ``"vendor"``…) or is ``None``.
    Errors are :class:`InputError` with the path shown relative to ``root`` when given.
    """
    display = display_path(path, root)
    raw = read_regular(path, display, "file", root)
    return parse_yaml(raw, display, schema)


def _kind(value: Any) -> str:
    """The YAML word for a Python value, for messages."""
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return type(value).__name__


# --------------------------------------------------------------------------- writing YAML


def dump_yaml(data: Any) -> bytes:
    """Serialise ``data`` to UTF-8 YAML bytes, deterministically.

    A mapping returned by :func:`load_yaml` is written back in its own indentation style with its
    comments; a plain ``dict`` is written in insertion order, 2-space block style.  The same data
    always gives the same bytes, and lines are never folded.
    """
    style = getattr(data, _STYLE_ATTR, None)
    if not isinstance(style, _Style):
        fast = _fast_dump(data)
        if fast is not None:
            return fast
    return _ruamel_dump(data)


def _ruamel_dump(data: Any) -> bytes:
    """``dump_yaml`` by ruamel itself (loaded data keeps its style and comments)."""
    style = getattr(data, _STYLE_ATTR, None)
    if not isinstance(style, _Style):
        style = _Style()
    out = io.BytesIO()
    out.write(style.preamble.encode("utf-8"))
    _make_yaml(style).dump(_plain_to_commented(data), out)
    return out.getvalue()


#: Strings that ruamel always writes plain when they resolve to a string (no indicator, no space).
_SIMPLE = re.compile(r"[A-Za-z0-9_./+=][A-Za-z0-9_./+=-]*")


class _FastScalars:
    """How ruamel writes each string of plain data (its own analysis and resolver), cached per value."""

    def __init__(self) -> None:
        from ruamel.yaml.emitter import Emitter
        from ruamel.yaml.nodes import ScalarNode

        class _Analyser(Emitter):
            serializer = type("_NoVersion", (), {"use_version": None})()

        self._resolve = _make_yaml().resolver.resolve
        self._node = ScalarNode
        self._analyse = _Analyser(io.StringIO(), allow_unicode=True).analyze_scalar
        self._seen: dict[str, str | None] = {}
        self._keys: dict[str, str | None] = {}  # keys apart: a key may be written unlike the same value

    def text(self, value: str, key: bool) -> str | None:
        """The string as ruamel writes it (ruamel's ``choose_scalar_style``, one line, no
        folding); None where only ruamel itself can say (line breaks, tabs, control characters)."""
        seen = self._keys if key else self._seen
        if value in seen:
            return seen[value]
        out: str | None = None
        if key and len(value) >= 128:
            return None  # ruamel writes a long key as an explicit "? key"
        plain_type = self._resolve(self._node, value, (True, False)) == "tag:yaml.org,2002:str"
        if plain_type and _SIMPLE.fullmatch(value):
            out = value
        elif not key and len(value) < _WIDTH and (plain := _ascii_block_plain(value)) is not None:
            # ruamel's own choice for one line of printable ASCII, without its per-character analysis
            if plain_type and plain:
                out = value
            elif "'" in value:
                out = _double_quoted(value)
            else:
                out = "'" + value + "'"
            if len(out) > _WIDTH - 512:
                out = None
        elif not key and len(value) < _WIDTH and "\n" in value:
            out = _double_quoted(value)  # a line break: never plain (ruamel's analysis), double-quoted below
            if len(out) > _WIDTH - 512:
                out = None
        elif not key and len(value) < _WIDTH:
            a = self._analyse(value)
            if plain_type and a.allow_block_plain:
                out = value
            elif "'" in value or "\n" in value:
                out = _double_quoted(value)
            elif a.multiline:
                out = None  # single-quoted across line breaks: ruamel's own writer
            elif a.allow_single_quoted:
                out = "'" + value.replace("'", "''") + "'"
            else:
                out = _double_quoted(value)
            if out is not None and len(out) > _WIDTH - 512:
                out = None  # ruamel would fold this line at a space
        seen[value] = out
        return out


_PRINTABLE_ASCII = re.compile(r"[ -~]+")
_INDICATOR_FIRST = frozenset("#,[]{}&*!|>'\"%@`")


def _ascii_block_plain(value: str) -> bool | None:
    """ruamel's ``allow_block_plain`` for one line of printable ASCII; None for anything else.

    Why: ruamel's ``analyze_scalar`` is a Python loop over every character (~40 us for a reason
    or a subject of a pending record, ~170 of them).  For such a line its rules are: no leading
    or trailing space, no document marker (``---``, ``...``) or indicator first, no ``?``,
    ``:`` or ``-`` first followed by a space or the end, no ``:`` later followed by a space or
    the end, no ``#`` after a space; single quotes are then always allowed and nothing is
    multi-line.  ``tests/test_yaml_fast_dump_is_ruamels.py`` compares it with ruamel on random text.
    """
    if not value or _PRINTABLE_ASCII.fullmatch(value) is None:
        return None
    first = value[0]
    if first == " " or value[-1] == " " or first in _INDICATOR_FIRST or value.startswith(("---", "...")):
        return False
    if first in "?:-" and (len(value) == 1 or value[1] == " "):
        return False
    return not (": " in value[1:] or (len(value) > 1 and value[-1] == ":") or " #" in value)


#: Printable ASCII but ``"`` and ``\``, and newlines: a double-quoted string of these needs only ``\n``.
_DQ_PLAIN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e\n]*")
_DQ_ESCAPES = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f", "\x0d": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}


def _double_quoted(text: str) -> str:
    """ruamel's ``write_double_quoted`` on one line (allow_unicode, never folded at this width)."""
    if _DQ_PLAIN.fullmatch(text):
        return '"' + text.replace("\n", "\\n") + '"'
    out = ['"']
    for ch in text:
        if ch in '"\\\x85\u2028\u2029\ufeff' or not (
            "\x20" <= ch <= "\x7e" or "\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
            or "\U00010000" <= ch <= "\U0010ffff"
        ):
            if ch in _DQ_ESCAPES:
                out.append("\\" + _DQ_ESCAPES[ch])
            elif ch <= "\xff":
                out.append(f"\\x{ord(ch):02X}")
            elif ch <= "\uffff":
                out.append(f"\\u{ord(ch):04X}")
            else:
                out.append(f"\\U{ord(ch):08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _fast_dump(data: Any) -> bytes | None:
    """``dump_yaml`` of plain data in the default style, without ruamel's per-node machinery.

    Why: a bot replay's ``pending.yaml`` (hundreds of KB of base64 and outcomes) took ruamel
    0.2-0.4 s to write.  The layout is the one ruamel gives plain data (2-space mappings,
    sequences at their key's column); each string is written the way ruamel's own analysis and
    resolver choose (plain or single-quoted).  Anything else -- floats, multi-line or very long
    strings, non-string keys, empty top level -- returns None and ruamel writes the file, so the
    bytes are ruamel's either way (a test compares both on varied data).
    """
    if not isinstance(data, dict) or not data or type(data) is not dict:
        return None
    scalars = _FastScalars()
    lines: list[str] = []

    def scalar(value: Any) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return scalars.text(value, False)
        return None

    def mapping(value: dict[Any, Any], indent: int, first: str | None) -> bool:
        pad = " " * indent
        for n, (k, v) in enumerate(value.items()):
            key = scalars.text(k, True) if isinstance(k, str) else None
            if key is None:
                return False
            head = (first if n == 0 and first is not None else pad) + key + ":"
            if not item(v, head, indent, True):
                return False
        return True

    def sequence(value: list[Any] | tuple[Any, ...], indent: int, first: str | None) -> bool:
        pad = " " * indent
        for n, v in enumerate(value):
            head = (first if n == 0 and first is not None else pad) + "-"
            if not item(v, head, indent, False):
                return False
        return True

    def item(v: Any, head: str, indent: int, in_map: bool) -> bool:
        if type(v) is dict:
            if not v:
                lines.append(head + " {}")
                return True
            if in_map:
                lines.append(head)
                return mapping(v, indent + 2, None)
            return mapping(v, indent + 2, head + " ")
        if type(v) in (list, tuple):
            if not v:
                lines.append(head + " []")
                return True
            if in_map:
                lines.append(head)
                return sequence(v, indent, None)
            return sequence(v, indent + 2, head + " ")
        if v is None:
            if not in_map:
                return False
            lines.append(head)
            return True
        text = scalar(v)
        if text is None:
            return False
        if len(text) > _WIDTH:
            if not in_map or text != v:
                return False
            lines.append(head + " ")  # ruamel: a word longer than a line gets a line of its own
            lines.append(" " * (indent + 2) + text)
            return True
        lines.append(head + " " + text)
        return True

    if not mapping(data, 0, None):
        return None
    return ("\n".join(lines) + "\n").encode("utf-8")


def _plain_to_commented(value: Any) -> Any:
    """Turn plain dicts/lists/tuples (also inside loaded data) into ruamel containers, so every
    dump uses block style whatever the caller put in."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, CommentedMap):
        for key, item in value.items():
            if isinstance(item, (dict, list, tuple)):
                converted = _plain_to_commented(item)
                if converted is not item:
                    value[key] = converted  # same key: position and comments stay
        return value
    if isinstance(value, CommentedSeq):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list, tuple)):
                converted = _plain_to_commented(item)
                if converted is not item:
                    value[index] = converted
        return value
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _plain_to_commented(item)
        return out
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_plain_to_commented(item) for item in value)
    return value


def save_yaml(path: Path, data: Any, root: Path | None = None) -> None:
    """Write ``data`` as YAML to ``path`` atomically; nothing is written when bytes are equal."""
    atomic_write(path, dump_yaml(data), root)
