"""FLAGSCALE MODIFICATION markers: comment syntaxes, grammar, the check and ``--mark``.

Why markers: every change a layer makes to an upstream file is fenced, so that a
person reading a backend checkout (or resolving a conflict after an upstream
bump) sees at once which lines are ours::

    # --- FLAGSCALE MODIFICATION BEG ---          (Python, shell, CMake, YAML, ...)
    // --- FLAGSCALE MODIFICATION BEG [cambricon_mlu] ---   (C, C++, CUDA; vendor label)
    <!-- --- FLAGSCALE MODIFICATION BEG --- -->   (Markdown, HTML: block comments only)
    x = f(y)  # --- FLAGSCALE MODIFICATION ---    (single-line form: marks its own line)
    ######### FlagScale Begin #########          (legacy style: read, never written)

This module is pure: bytes in, values out.  The git adapter and ``check`` feed it
the file as it is in a patch's parent tree (``before``) and in the patched tree
(``after``); it never reads files or trees itself.

Decisions worth knowing:

* Comment syntax comes from one table (:data:`DEFAULT_SYNTAXES`), keyed by
  extension (``.cu``), exact file name (``CMakeLists.txt``) or glob
  (``requirements*.txt``), extended by the workspace's ``settings.markers``.
  Precedence: exact name, then globs (later entries first), then the longest
  extension.  Files of unknown type (no comment syntax: JSON, ``requirements/*.txt``,
  an extension-less README ...) are never guessed: a change to one is reported as
  ``unknown-file-type`` with the severity ``settings.markers.unknown_files`` gives
  (``warning`` by default, so ``check`` still passes; ``error`` or ``ignore``).
* Lines are split on ``b"\\n"`` only; a ``\\r`` stays part of its line, so CRLF
  files keep their endings and form feeds in C sources are ordinary bytes.
* A changed region is computed with a line diff: common prefix and suffix are
  stripped on the bytes (C speed), long middles are cut at lines unique to both
  sides (patience anchors; runs of 2, 4, ... lines in repetitive text) and only
  the small pieces between anchors go through :class:`difflib.SequenceMatcher`,
  with blank lines as junk.  A 5,000-line file with a few scattered edits costs
  about a millisecond (``bench/bench_markers.py``).
* Lines that are blank (whitespace only) never need markers: adding or removing
  blank lines does not change what upstream code does, and fencing them only
  makes noise.  A replacement by blank lines counts as a deletion.
* A pure deletion cannot be fenced by the lines it removed, so it must leave a
  marker pair at its place: a BEG/END pair (possibly empty or holding a comment)
  directly before or after the deletion point — blank lines between allowed — or
  a region enclosing it.  ``wrap_file`` writes the pair with a comment saying how
  many upstream lines were removed, never an empty pair.
* A changed line that carries the single-line marker (``x = f(y)  # --- FLAGSCALE
  MODIFICATION ---``) is a marked change: it covers itself, and the lines it
  replaced are not an unfenced deletion.
* Deleting a whole upstream file is reported by nothing: a file that no longer
  exists cannot carry markers, and the deletion is visible in the patch itself.
* New files (absent upstream) are exempt by default (``exempt_new_files``);
  binary files (a NUL byte in the first 8 KiB) are skipped.
* Marker balance and nesting are judged per patch: a problem already present in
  the parent tree at the same (unchanged) line is the lower patch's, not this
  one's, so each patch answers only for what it introduced.
* Any marker line of the parent tree that the patch deletes or alters is
  ``removed-lower-marker`` (markers of earlier patches and lower layers alike);
  ``lower_markers`` lets the caller name more lines of the parent tree to protect.
* ``wrap_file`` (``--mark``) only adds lines: it never moves or rewrites an
  existing marker, so it cannot break a lower layer.  It widens a region so that
  its markers never fall inside a backslash-continued line (C macros, shell,
  Python), and re-checks its own result until the check is clean (idempotent by
  construction).  Known limit: it does not parse strings, so a change inside a
  Python triple-quoted string or a YAML block scalar gets its markers inside the
  string.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from fspatch.core.report import Finding
from fspatch.errors import InputError

MarkerKind = Literal["beg", "end", "single"]

DEFAULT_TAG = "FLAGSCALE MODIFICATION"
#: The legacy style's word; always accepted whatever the configured tag.
LEGACY_WORD = "FlagScale"

RULE_UNMARKED_CHANGE = "unmarked-change"
RULE_UNMARKED_DELETION = "unmarked-deletion"
RULE_UNBALANCED = "unbalanced-marker"
RULE_NESTED = "nested-marker"
RULE_REMOVED_LOWER = "removed-lower-marker"
RULE_UNKNOWN_TYPE = "unknown-file-type"

#: Stable rule ids and their one-line descriptions (SARIF ``shortDescription``).
RULES: Mapping[str, str] = MappingProxyType(
    {
        RULE_UNMARKED_CHANGE: "Added or changed line of an upstream file outside a modification marker region",
        RULE_UNMARKED_DELETION: "Deletion from an upstream file without a marker pair at its place",
        RULE_UNBALANCED: "END marker without BEG, or BEG marker never closed",
        RULE_NESTED: "BEG marker inside another marker region",
        RULE_REMOVED_LOWER: "Patch deletes or alters a marker line of a lower patch or layer",
        RULE_UNKNOWN_TYPE: "Changed upstream file whose comment syntax is unknown",
    }
)


# --------------------------------------------------------------------------- syntaxes


@dataclass(frozen=True)
class CommentSyntax:
    """How a language writes comments: a line opener, a block pair, or both.

    Markers are written with ``line`` when there is one (it survives editors and
    formatters best); ``block`` is for languages without line comments (HTML,
    Markdown) and is also accepted when reading.
    """

    line: str | None = None
    block: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.line and not self.block:
            raise ValueError("a comment syntax needs a line opener or a block pair")
        if self.block is not None and (len(self.block) != 2 or not all(self.block)):
            raise ValueError("a block comment syntax is a pair of non-empty strings")


HASH = CommentSyntax(line="#")
C_LIKE = CommentSyntax(line="//", block=("/*", "*/"))
XML_LIKE = CommentSyntax(block=("<!--", "-->"))
LUA = CommentSyntax(line="--")
SQL = CommentSyntax(line="--", block=("/*", "*/"))


def _table(groups: Sequence[tuple[CommentSyntax, str]]) -> Mapping[str, CommentSyntax]:
    table: dict[str, CommentSyntax] = {}
    for syntax, keys in groups:
        for key in keys.split():
            table[key] = syntax
    return MappingProxyType(table)


#: Comment syntax by ``.ext``, exact file name, or glob (``*``, ``?``, ``[``).
#: Extend it per workspace with ``settings.markers.syntaxes``.
DEFAULT_SYNTAXES: Mapping[str, CommentSyntax] = _table(
    [
        (
            HASH,
            # Python, Cython, shell, CMake, YAML, TOML, make, Docker, pip, config, Bazel, Perl, Ruby, R
            ".py .pyi .pyx .pxd .pxi .sh .bash .zsh .ksh .cmake CMakeLists.txt .yaml .yml .toml"
            " Makefile makefile GNUmakefile .mk .make Dockerfile Dockerfile.* .dockerfile Containerfile"
            " requirements*.txt requirements*.in constraints*.txt .cfg .ini .conf"
            " .gitignore .dockerignore .gitattributes MANIFEST.in"
            " BUILD BUILD.bazel WORKSPACE .bzl .bazel .pl .pm .rb .r .R",
        ),
        (
            C_LIKE,
            # C, C++, CUDA, HIP, Cambricon BANG, OpenCL, Metal, ObjC, Java, JS/TS, Go, Rust, protobuf, ...
            ".c .h .cc .cpp .cxx .c++ .hpp .hh .hxx .h++ .inl .ipp .tpp .cu .cuh .hip .mlu .cl .metal"
            " .m .mm .java .kt .kts .scala .groovy .gradle .js .mjs .cjs .jsx .ts .tsx .go .rs"
            " .proto .swift .cs .dart .td .thrift",
        ),
        (XML_LIKE, ".md .markdown .html .htm .xhtml .xml"),
        (LUA, ".lua"),
        (SQL, ".sql"),
    ]
)

_GLOB_CHARS = frozenset("*?[")


class _Resolver:
    """Path → syntax lookup compiled once per config, memoised per path."""

    def __init__(self, syntaxes: Mapping[str, CommentSyntax]) -> None:
        self.names: dict[str, CommentSyntax] = {}
        self.exts: dict[str, CommentSyntax] = {}
        globs: list[tuple[Callable[[str], re.Match[str] | None], bool, CommentSyntax]] = []
        for key, syntax in syntaxes.items():
            if _GLOB_CHARS & set(key):
                globs.append((re.compile(fnmatch.translate(key)).match, "/" in key, syntax))
            elif key.startswith("."):
                self.exts[key] = syntax
            else:
                self.names[key] = syntax
        globs.reverse()  # later entries (the workspace's) win over earlier ones (the defaults)
        self.globs = globs
        self.memo: dict[str, CommentSyntax | None] = {}

    def lookup(self, path: str) -> CommentSyntax | None:
        try:
            return self.memo[path]
        except KeyError:
            pass
        found = self._find(path.replace("\\", "/"))
        self.memo[path] = found
        return found

    def _find(self, path: str) -> CommentSyntax | None:
        name = path.rsplit("/", 1)[-1]
        hit = self.names.get(path) or self.names.get(name)
        if hit is not None:
            return hit
        for match, on_path, syntax in self.globs:
            if match(path if on_path else name):
                return syntax
        dot = name.find(".")
        while dot != -1:
            ext = name[dot:]
            hit = self.exts.get(ext) or self.exts.get(ext.lower())
            if hit is not None:
                return hit
            dot = name.find(".", dot + 1)
        return None


_TAG_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[ \t]+[A-Za-z][A-Za-z0-9_]*)*")
_SETTINGS_KEYS = frozenset({"tag", "syntaxes", "exempt_new_files", "unknown_files"})
#: What a change to a file of unknown type is: a finding of this severity, or nothing.
UNKNOWN_FILES = ("warning", "error", "ignore")


@dataclass(frozen=True)
class MarkerConfig:
    """What markers look like in one workspace: tag words, syntaxes, exemptions."""

    tag: str = DEFAULT_TAG
    syntaxes: Mapping[str, CommentSyntax] = field(default_factory=lambda: DEFAULT_SYNTAXES)
    exempt_new_files: bool = True
    unknown_files: str = "warning"  # one of UNKNOWN_FILES
    _resolver: _Resolver = field(init=False, repr=False, compare=False)
    _needles: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _TAG_RE.fullmatch(self.tag.strip()):
            raise InputError(f"settings.markers.tag: {self.tag!r} is not one or more words")
        object.__setattr__(self, "tag", " ".join(self.tag.split()))
        if self.unknown_files not in UNKNOWN_FILES:
            raise InputError(
                f"settings.markers.unknown_files: {self.unknown_files!r} is not one of {', '.join(UNKNOWN_FILES)}"
            )
        object.__setattr__(self, "_resolver", _Resolver(self.syntaxes))
        needles = {LEGACY_WORD.lower().encode(), self.tag.split()[0].lower().encode()}
        object.__setattr__(self, "_needles", tuple(sorted(needles)))

    def __hash__(self) -> int:
        return hash((self.tag, self.exempt_new_files, self.unknown_files, tuple(sorted(self.syntaxes.items()))))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> MarkerConfig:
        """Build the config from the workspace settings (their ``markers`` section).

        ``settings`` is the workspace's settings mapping, whose ``markers`` key
        holds ``{tag: str, syntaxes: {<glob-or-.ext-or-name>: {line: "#"} |
        {block: ["<!--", "-->"]} | null}, exempt_new_files: bool, unknown_files:
        warning|error|ignore}``; the markers
        section itself is accepted too.  ``syntaxes`` entries extend or override
        the default table; ``null`` removes an entry (its files become unknown).
        """
        if settings is None:
            return cls()
        if "markers" in settings:
            section: Any = settings["markers"]
        elif settings and set(settings) <= _SETTINGS_KEYS:
            section = settings
        else:
            section = None
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise InputError("settings.markers: expected a mapping")
        unknown = sorted(set(section) - _SETTINGS_KEYS)
        if unknown:
            raise InputError(f"settings.markers: unknown key {unknown[0]!r}")
        tag = section.get("tag", DEFAULT_TAG)
        if not isinstance(tag, str):
            raise InputError("settings.markers.tag: expected a string")
        exempt = section.get("exempt_new_files", True)
        if not isinstance(exempt, bool):
            raise InputError("settings.markers.exempt_new_files: expected true or false")
        unknown_files = section.get("unknown_files", "warning")
        if unknown_files not in UNKNOWN_FILES:
            raise InputError(f"settings.markers.unknown_files: expected one of {', '.join(UNKNOWN_FILES)}")
        table = dict(DEFAULT_SYNTAXES)
        extra = section.get("syntaxes") or {}
        if not isinstance(extra, Mapping):
            raise InputError("settings.markers.syntaxes: expected a mapping")
        for key, value in extra.items():
            where = f"settings.markers.syntaxes.{key}"
            if not isinstance(key, str) or not key:
                raise InputError(f"{where}: keys are non-empty strings (.ext, file name or glob)")
            if value is None:
                table.pop(key, None)
                continue
            table[key] = _syntax_from_setting(value, where)
        return cls(tag=tag, syntaxes=MappingProxyType(table), exempt_new_files=exempt, unknown_files=unknown_files)


def _syntax_from_setting(value: Any, where: str) -> CommentSyntax:
    if not isinstance(value, Mapping) or not value or set(value) - {"line", "block"}:
        raise InputError(f"{where}: expected {{line: <opener>}} and/or {{block: [<open>, <close>]}}")
    line = value.get("line")
    block = value.get("block")
    if line is not None and (not isinstance(line, str) or not line.strip()):
        raise InputError(f"{where}.line: expected a non-empty string")
    if block is not None:
        if (
            not isinstance(block, (list, tuple))
            or len(block) != 2
            or not all(isinstance(b, str) and b.strip() for b in block)
        ):
            raise InputError(f"{where}.block: expected two non-empty strings")
        block = (block[0].strip(), block[1].strip())
    return CommentSyntax(line=line.strip() if line else None, block=block)


def syntax_for(path: str, config: MarkerConfig) -> CommentSyntax | None:
    """The comment syntax of ``path`` (a path in the backend tree), or None if unknown."""
    return config._resolver.lookup(path)


# --------------------------------------------------------------------------- grammar


@dataclass(frozen=True)
class Marker:
    """One marker comment: ``line`` is 1-based; ``indent`` is the line's leading whitespace."""

    kind: MarkerKind
    line: int
    label: str | None = None
    legacy: bool = False
    indent: bytes = b""


_FILL = rb"[ \t#/*=-]*"
_NOT_WORD_BEFORE = rb"(?<![A-Za-z0-9_])"
_NOT_WORD_AFTER = rb"(?![A-Za-z0-9_])"
_TAIL = rb"[ \t]*\\?[ \t\r]*$"


@lru_cache(maxsize=128)
def _patterns(syntax: CommentSyntax, tag: str) -> tuple[tuple[re.Pattern[bytes], bool], ...]:
    """Compiled (pattern, legacy) pairs recognising markers in one syntax."""
    tag_re = rb"[ \t]+".join(re.escape(w.encode()) for w in tag.split())
    legacy_re = re.escape(LEGACY_WORD.encode())
    openers: list[tuple[bytes, bytes]] = []
    if syntax.line:
        openers.append((re.escape(syntax.line.encode()), b""))
    if syntax.block:
        openers.append((re.escape(syntax.block[0].encode()), rb"[ \t]*" + re.escape(syntax.block[1].encode())))
    out: list[tuple[re.Pattern[bytes], bool]] = []
    for open_re, close_re in openers:
        canonical = (
            open_re
            + _FILL
            + _NOT_WORD_BEFORE
            + tag_re
            + rb"(?:[ \t-]+(?P<kind>BEGIN|BEG|END))?"
            + _NOT_WORD_AFTER
            + rb"(?:[ \t]*\[(?P<label>[^\]\r\n]*)\])?"
            + _FILL
            + close_re
            + _TAIL
        )
        legacy = (
            open_re
            + _FILL
            + _NOT_WORD_BEFORE
            + legacy_re
            + rb"[ \t-]+(?P<kind>BEGIN|BEG|END)"
            + _NOT_WORD_AFTER
            + _FILL
            + close_re
            + _TAIL
        )
        out.append((re.compile(canonical, re.IGNORECASE), False))
        out.append((re.compile(legacy, re.IGNORECASE), True))
    return tuple(out)


def _indent_of(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(b" \t"))]


def _parse_line(line: bytes, number: int, patterns: tuple[tuple[re.Pattern[bytes], bool], ...]) -> Marker | None:
    for pattern, legacy in patterns:
        m = pattern.search(line)
        if m is None:
            continue
        word = m.group("kind")
        kind: MarkerKind = "single" if word is None else ("end" if word.lower() == b"end" else "beg")
        label = None
        if not legacy:
            raw = m.group("label")
            if raw is not None and raw.strip():
                label = raw.strip().decode("utf-8", "replace")
        return Marker(kind=kind, line=number, label=label, legacy=legacy, indent=_indent_of(line))
    return None


def _candidate_lines(data: bytes, needles: tuple[bytes, ...]) -> list[int]:
    """0-based indexes of lines containing a needle (case-insensitive), cheaply."""
    low = data.lower()
    found: set[int] = set()
    for needle in needles:
        pos = low.find(needle)
        line_no = 0
        last = 0
        while pos >= 0:
            line_no += low.count(b"\n", last, pos)
            found.add(line_no)
            nl = low.find(b"\n", pos)
            if nl < 0:
                break
            last = nl + 1
            line_no += 1
            pos = low.find(needle, last)
    return sorted(found)


def _scan(data: bytes, lines: Sequence[bytes], syntax: CommentSyntax, config: MarkerConfig) -> list[Marker]:
    candidates = _candidate_lines(data, config._needles)
    if not candidates:
        return []
    patterns = _patterns(syntax, config.tag)
    markers = []
    for idx in candidates:
        marker = _parse_line(lines[idx], idx + 1, patterns)
        if marker is not None:
            markers.append(marker)
    return markers


def parse_markers(lines: Sequence[bytes], syntax: CommentSyntax, config: MarkerConfig) -> list[Marker]:
    """Every marker in ``lines`` (split on ``b"\\n"``), in order.

    Recognises the canonical form (flexible spaces and dashes, optional
    ``[label]``, BEG/BEGIN/END, any case), the single-line trailing form, and the
    legacy ``#### FlagScale Begin ####`` style, in the syntax's line and block
    comments.  A substring test on the whole text comes before any regex.
    """
    return _scan(b"\n".join(lines), lines, syntax, config)


def canonical_marker(
    kind: MarkerKind,
    syntax: CommentSyntax,
    config: MarkerConfig,
    indent: bytes = b"",
    label: str | None = None,
    eol: bytes = b"\n",
) -> bytes:
    """The one form fspatch writes: ``# --- FLAGSCALE MODIFICATION BEG [label] ---``.

    Line comments are preferred; a block-only language gets
    ``<!-- --- FLAGSCALE MODIFICATION BEG --- -->``.  For ``single`` the result is
    the comment to append to a code line (``indent`` then separates it).
    """
    if label is not None and (not label.strip() or any(c in label for c in "[]\r\n")):
        raise InputError(f"marker label {label!r} must be non-empty and hold no brackets or line breaks")
    words = {"beg": " BEG", "end": " END", "single": ""}[kind]
    text = f"--- {config.tag}{words}{f' [{label.strip()}]' if label else ''} ---"
    if syntax.line:
        comment = f"{syntax.line} {text}"
    else:
        assert syntax.block is not None
        comment = f"{syntax.block[0]} {text} {syntax.block[1]}"
    return indent + comment.encode() + eol


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class _Issue:
    rule: str
    what: str
    index: int  # 0-based line
    message: str


def _pair(markers: Sequence[Marker], n_lines: int) -> tuple[list[tuple[int, int]], list[_Issue]]:
    """Outermost regions (0-based, inclusive) and balance/nesting issues.

    An unclosed BEG covers to the end of the file (one finding, not one per line);
    a stray END covers nothing.
    """
    regions: list[tuple[int, int]] = []
    issues: list[_Issue] = []
    stack: list[int] = []
    for m in markers:
        idx = m.line - 1
        if m.kind == "beg":
            if stack:
                issues.append(
                    _Issue(RULE_NESTED, "nested", idx, f"BEG marker inside the region opened at line {stack[-1] + 1}")
                )
            stack.append(idx)
        elif m.kind == "end":
            if not stack:
                issues.append(_Issue(RULE_UNBALANCED, "end", idx, "END marker without a matching BEG"))
                continue
            start = stack.pop()
            if not stack:
                regions.append((start, idx))
    for idx in stack:
        issues.append(_Issue(RULE_UNBALANCED, "beg", idx, "BEG marker never closed by an END marker"))
    if stack:
        regions.append((stack[0], n_lines - 1))
    regions.sort()
    return regions, issues


class _Cover:
    """Is a 0-based line inside a region?  Bisect over sorted, disjoint regions."""

    def __init__(self, regions: Sequence[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in regions]
        self.ends = [e for _, e in regions]

    def __call__(self, idx: int) -> bool:
        k = bisect_right(self.starts, idx) - 1
        return k >= 0 and self.ends[k] >= idx


# --------------------------------------------------------------------------- diff

Opcode = tuple[str, int, int, int, int]

_CHUNK = 4096
_SMALL = 300  # lines (both sides) below which SequenceMatcher is cheap enough
_MAX_GRAM = 32  # longest run of lines tried as an anchor in repetitive text


def _prefix_len(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n:
        k = min(_CHUNK, n - i)
        if a[i : i + k] != b[i : i + k]:
            lo, hi = i, i + k  # a[:lo] == b[:lo]; they differ before hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[lo:mid] == b[lo:mid]:
                    lo = mid
                else:
                    hi = mid
            return lo
        i += k
    return n


def _suffix_len(a: bytes, b: bytes, limit: int) -> int:
    la, lb = len(a), len(b)
    i = 0
    while i < limit:
        k = min(_CHUNK, limit - i)
        if a[la - i - k : la - i] != b[lb - i - k : lb - i]:
            lo, hi = i, i + k  # the last lo bytes agree; they differ within the last hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
                    lo = mid
                else:
                    hi = mid
            return lo
        i += k
    return limit


def _anchors(a: Sequence[bytes], b: Sequence[bytes], k: int) -> list[tuple[int, int]]:
    """Runs of ``k`` lines unique in both sides, longest increasing chain (patience diff).

    ``k`` > 1 finds anchors in repetitive text (generated tables, brace-heavy
    C++) where no single line is unique.  Returned anchors do not overlap:
    ``a[i:i+k] == b[j:j+k]`` for each, in increasing order on both sides.
    """
    if k == 1:
        ga: Sequence[Any] = a
        gb: Sequence[Any] = b
    else:
        ga = list(zip(*(a[x:] for x in range(k)), strict=False))
        gb = list(zip(*(b[x:] for x in range(k)), strict=False))
    ca = Counter(ga)
    cb = Counter(gb)
    unique = {g for g, c in ca.items() if c == 1}
    unique.intersection_update(g for g, c in cb.items() if c == 1)
    if not unique:
        return []
    bpos = {g: j for j, g in enumerate(gb) if g in unique}
    pairs = [(i, bpos[g]) for i, g in enumerate(ga) if g in unique]
    tails_j: list[int] = []
    tails: list[int] = []
    prev = [-1] * len(pairs)
    for idx, (_, j) in enumerate(pairs):
        pos = bisect_left(tails_j, j)
        if pos == len(tails_j):
            tails_j.append(j)
            tails.append(idx)
        else:
            tails_j[pos] = j
            tails[pos] = idx
        prev[idx] = tails[pos - 1] if pos else -1
    chain: list[tuple[int, int]] = []
    idx = tails[-1]
    while idx >= 0:
        chain.append(pairs[idx])
        idx = prev[idx]
    chain.reverse()
    if k == 1:
        return chain
    out: list[tuple[int, int]] = []
    next_i = next_j = 0
    for i, j in chain:
        if i >= next_i and j >= next_j:
            out.append((i, j))
            next_i, next_j = i + k, j + k
    return out


def _diff_seq(a: Sequence[bytes], b: Sequence[bytes], i0: int, j0: int, out: list[Opcode]) -> None:
    n, m = len(a), len(b)
    k = 0
    while k < n and k < m and a[k] == b[k]:
        k += 1
    e = 0
    while e < n - k and e < m - k and a[n - 1 - e] == b[m - 1 - e]:
        e += 1
    if k:
        out.append(("equal", i0, i0 + k, j0, j0 + k))
    a2, b2 = a[k : n - e], b[k : m - e]
    i1, j1 = i0 + k, j0 + k
    if a2 and not b2:
        out.append(("delete", i1, i1 + len(a2), j1, j1))
    elif b2 and not a2:
        out.append(("insert", i1, i1, j1, j1 + len(b2)))
    elif a2 and b2:
        anchors: list[tuple[int, int]] = []
        k = 1
        if len(a2) + len(b2) > _SMALL:
            while not anchors and k <= _MAX_GRAM and k <= min(len(a2), len(b2)):
                anchors = _anchors(a2, b2, k)
                if not anchors:
                    k *= 2
        if not anchors:
            # Blank lines never seed a match (they would pull unrelated code apart),
            # they only extend one, as in difflib.ndiff.
            matcher = SequenceMatcher(_blank, a2, b2, autojunk=False)
            for tag, x1, x2, y1, y2 in matcher.get_opcodes():
                out.append((tag, i1 + x1, i1 + x2, j1 + y1, j1 + y2))
        else:
            pi = pj = 0
            for ai, bj in anchors:
                if ai > pi or bj > pj:
                    gap_a, gap_b = a2[pi:ai], b2[pj:bj]
                    if gap_a == gap_b:
                        out.append(("equal", i1 + pi, i1 + ai, j1 + pj, j1 + bj))
                    else:
                        _diff_seq(gap_a, gap_b, i1 + pi, j1 + pj, out)
                out.append(("equal", i1 + ai, i1 + ai + k, j1 + bj, j1 + bj + k))
                pi, pj = ai + k, bj + k
            if pi < len(a2) or pj < len(b2):
                _diff_seq(a2[pi:], b2[pj:], i1 + pi, j1 + pj, out)
    if e:
        out.append(("equal", i0 + n - e, i0 + n, j0 + m - e, j0 + m))


def _normalise(ops: Sequence[Opcode]) -> list[Opcode]:
    """Merge neighbouring equal blocks, and neighbouring changes into one replace."""
    out: list[Opcode] = []
    for op in ops:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        if out:
            tag, i1, _, j1, _ = out[-1]
            if (tag == "equal") == (op[0] == "equal"):
                if tag == "equal":
                    merged = "equal"
                else:
                    has_a = (out[-1][2] > i1) or (op[2] > op[1])
                    has_b = (out[-1][4] > j1) or (op[4] > op[3])
                    merged = "replace" if has_a and has_b else ("delete" if has_a else "insert")
                out[-1] = (merged, i1, op[2], j1, op[4])
                continue
        out.append(op)
    return out


def _diff(old: bytes, new: bytes, a: Sequence[bytes], b: Sequence[bytes]) -> list[Opcode]:
    """Line opcodes (difflib's shape) from ``a`` = old lines to ``b`` = new lines."""
    p = _prefix_len(old, new)
    p = old.rfind(b"\n", 0, p) + 1
    head = old.count(b"\n", 0, p)
    s = _suffix_len(old, new, min(len(old), len(new)) - p)
    tail = 0
    if s:
        nl = old.find(b"\n", len(old) - s)
        if nl >= 0:
            tail = old.count(b"\n", nl + 1) + 1
    ops: list[Opcode] = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    _diff_seq(a[head : len(a) - tail], b[head : len(b) - tail], head, head, ops)
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return _normalise(ops)


# --------------------------------------------------------------------------- analysis


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


def _blank(line: bytes) -> bool:
    return not line.strip()


@dataclass
class _Deletion:
    point: int  # 0-based index in the new lines where the removed lines stood
    old_start: int
    old_end: int


@dataclass
class _Analysis:
    """Everything check and wrap need to know about one file change."""

    old: list[bytes]
    new: list[bytes]
    ops: list[Opcode]
    markers: list[Marker]
    marker_idx: set[int]
    cover: _Cover
    issues: list[_Issue]
    unmarked: list[int]
    deletions: list[_Deletion]
    removed: list[tuple[int, int, bool]]  # (old index, new point, named by lower_markers only)
    old_markers: list[Marker]


def _analyse(
    old_data: bytes,
    new_data: bytes,
    syntax: CommentSyntax,
    config: MarkerConfig,
    lower_markers: Sequence[Marker] = (),
) -> _Analysis:
    a = old_data.split(b"\n")
    b = new_data.split(b"\n")
    ops = _diff(old_data, new_data, a, b)
    markers = _scan(new_data, b, syntax, config)
    regions, issues = _pair(markers, len(b))
    cover = _Cover(regions)
    marker_idx = {m.line - 1 for m in markers}
    single_idx = {m.line - 1 for m in markers if m.kind == "single"}
    old_markers = _scan(old_data, a, syntax, config) if old_data else []
    old_marker_idx = {m.line - 1 for m in old_markers}
    lower_idx = {m.line - 1 for m in lower_markers if 0 < m.line <= len(a)} - old_marker_idx

    unmarked: list[int] = []
    deletions: list[_Deletion] = []
    removed: list[tuple[int, int, bool]] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        content = False
        for j in range(j1, j2):
            if j in single_idx:  # a changed line marked on itself: content, and covered
                content = True
                continue
            if j in marker_idx or _blank(b[j]):
                continue
            content = True
            if not cover(j):
                unmarked.append(j)
        for i in range(i1, i2):
            if i in old_marker_idx or i in lower_idx:
                removed.append((i, j1, i in lower_idx))
        removes_code = any(not _blank(a[i]) and i not in old_marker_idx for i in range(i1, i2))
        if not content and removes_code and not _deletion_covered(j1, b, cover):
            deletions.append(_Deletion(j1, i1, i2))

    if issues and old_markers:
        issues = _new_issues(issues, old_markers, len(a), ops)
    return _Analysis(a, b, ops, markers, marker_idx, cover, issues, unmarked, deletions, removed, old_markers)


def _deletion_covered(point: int, lines: Sequence[bytes], cover: Callable[[int], bool]) -> bool:
    """A region directly at ``point`` (blank lines between allowed) or enclosing it."""
    k = point - 1
    while k >= 0 and _blank(lines[k]) and not cover(k):
        k -= 1
    if k >= 0 and cover(k):
        return True
    k = point
    while k < len(lines) and _blank(lines[k]) and not cover(k):
        k += 1
    return k < len(lines) and cover(k)


def _new_issues(issues: list[_Issue], old_markers: Sequence[Marker], n_old: int, ops: Sequence[Opcode]) -> list[_Issue]:
    """Drop the issues the parent tree already had at the same, unchanged line."""
    _, old_issues = _pair(old_markers, n_old)
    if not old_issues:
        return issues
    equal = [(i1, i2, j1) for tag, i1, i2, j1, _ in ops if tag == "equal"]
    starts = [e[0] for e in equal]
    known: set[tuple[str, str, int]] = set()
    for issue in old_issues:
        k = bisect_right(starts, issue.index) - 1
        if k >= 0 and issue.index < equal[k][1]:
            known.add((issue.rule, issue.what, equal[k][2] + issue.index - equal[k][0]))
    return [i for i in issues if (i.rule, i.what, i.index) not in known]


# --------------------------------------------------------------------------- check


def _runs(indexes: Sequence[int], lines: Sequence[bytes]) -> list[tuple[int, int]]:
    """Group sorted line indexes into runs separated only by blank lines."""
    runs: list[tuple[int, int]] = []
    for j in indexes:
        if runs:
            s, e = runs[-1]
            if all(_blank(lines[k]) for k in range(e + 1, j)):
                runs[-1] = (s, j)
                continue
        runs.append((j, j))
    return runs


def _lines(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _span(first: int, last: int) -> str:
    """0-based inclusive indexes as 1-based text: 'line 3' or 'lines 3-5'."""
    return f"line {first + 1}" if first == last else f"lines {first + 1}-{last + 1}"


def _decode(line: bytes) -> str:
    return line.strip().decode("utf-8", "replace")


def check_file(
    path: str,
    before: bytes | None,
    after: bytes | None,
    *,
    upstream_has_file: bool,
    config: MarkerConfig,
    lower_markers: Sequence[Marker] = (),
    patch: str = "",
    label: str | None = None,
) -> list[Finding]:
    """Findings for one file change of one patch (``before`` → ``after``; None = absent).

    ``before`` is the file in the patch's parent tree, ``after`` in the patched
    tree.  Rules: ``unmarked-change``, ``unmarked-deletion``,
    ``unbalanced-marker``, ``nested-marker``, ``removed-lower-marker``,
    ``unknown-file-type`` (see the module docstring for what each accepts).
    ``lower_markers`` are extra lines of ``before`` (1-based) to protect;
    ``label`` is the layer's vendor label, used in the hints.
    """
    if after is None or before == after:
        return []
    if not upstream_has_file and config.exempt_new_files:
        return []
    old = before if before is not None else b""
    if _is_binary(after) or _is_binary(old):
        return []
    syntax = syntax_for(path, config)
    if syntax is None:
        if config.unknown_files == "ignore":
            return []
        a, b = old.split(b"\n"), after.split(b"\n")
        first = next((op[3] for op in _diff(old, after, a, b) if op[0] != "equal"), 0)
        return [
            Finding(
                patch,
                path,
                min(first, len(b) - 1) + 1,
                RULE_UNKNOWN_TYPE,
                "changed upstream file with no known comment syntax, so its markers are not checked: to check "
                "them, add its syntax under settings.markers.syntaxes in upstream.lock "
                "(e.g. '*.txt': {line: '#'}); settings.markers.unknown_files (warning|error|ignore) sets "
                "how this is reported",
                severity=config.unknown_files,
            )
        ]

    info = _analyse(old, after, syntax, config, lower_markers)
    hint_beg = canonical_marker("beg", syntax, config, label=label, eol=b"").decode()
    hint_end = canonical_marker("end", syntax, config, label=label, eol=b"").decode()
    hint_single = canonical_marker("single", syntax, config, eol=b"").decode()
    findings: list[Finding] = []
    for s, e in _runs(info.unmarked, info.new):
        count = sum(1 for j in info.unmarked if s <= j <= e)
        message = (
            f"{_lines(count, 'added or changed line')} ({_span(s, e)}) outside modification markers: "
            f"fence with '{hint_beg}' ... '{hint_end}' or end the line with '{hint_single}'"
        )
        findings.append(Finding(patch, path, s + 1, RULE_UNMARKED_CHANGE, message, end_line=e + 1 if e > s else None))
    for d in info.deletions:
        count = sum(1 for i in range(d.old_start, d.old_end) if not _blank(info.old[i]))
        message = (
            f"{_lines(count, 'upstream line')} deleted here ({_span(d.old_start, d.old_end - 1)} of the parent tree) "
            f"without a marker pair: leave '{hint_beg}' and '{hint_end}' at the place of the removed code"
        )
        findings.append(Finding(patch, path, min(d.point, len(info.new) - 1) + 1, RULE_UNMARKED_DELETION, message))
    for issue in info.issues:
        findings.append(Finding(patch, path, issue.index + 1, issue.rule, issue.message))
    for old_idx, point, lower_only in info.removed:
        owner = "a lower layer" if lower_only else "a lower patch or layer"
        message = (
            f"deletes or alters marker line {old_idx + 1} of the parent tree ('{_decode(info.old[old_idx])}'), "
            f"which belongs to {owner}: keep it, and put this change in a region of its own"
        )
        findings.append(Finding(patch, path, min(point, len(info.new) - 1) + 1, RULE_REMOVED_LOWER, message))
    findings.sort(key=Finding.sort_key)
    return findings


# --------------------------------------------------------------------------- wrap


def _continued(line: bytes) -> bool:
    return line.rstrip(b" \t\r").endswith(b"\\")


def _least_indent(lines: Sequence[bytes]) -> bytes:
    best: bytes | None = None
    for line in lines:
        if _blank(line):
            continue
        indent = _indent_of(line)
        if best is None or len(indent) < len(best):
            best = indent
    return best or b""


def _uses_crlf(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return crlf > 0 and crlf * 2 >= data.count(b"\n")


def wrap_file(
    path: str,
    before: bytes | None,
    after: bytes,
    *,
    config: MarkerConfig,
    label: str | None = None,
    upstream_has_file: bool | None = None,
) -> bytes:
    """``after`` with every unmarked change fenced (``check --mark``); idempotent.

    Each unmarked changed region gets a BEG/END pair at the indentation of its
    least-indented non-blank line, in the file's line endings; regions separated
    only by blank lines share one pair; an unmarked pure deletion gets an empty
    pair holding a ``removed N upstream lines`` comment at its place (never an
    empty pair).  Existing markers are never moved or rewritten.  Exempt
    new files (``upstream_has_file`` false; default: ``before is None``), binary
    files and files of unknown type come back unchanged.

    The result is checked again and wrapped again until the check has nothing
    to say: added marker lines can make the line diff align differently, and
    the guarantee is "passes the check", whatever the diff decides.
    """
    if before == after:
        return after
    if upstream_has_file is None:
        upstream_has_file = before is not None
    if not upstream_has_file and config.exempt_new_files:
        return after
    old = before if before is not None else b""
    if _is_binary(after) or _is_binary(old):
        return after
    syntax = syntax_for(path, config)
    if syntax is None:
        return after
    result = after
    for _ in range(_WRAP_ROUNDS):
        wrapped = _wrap_once(old, result, syntax, config, label)
        if wrapped == result:
            break
        result = wrapped
    return result


_WRAP_ROUNDS = 8


def _wrap_once(old: bytes, after: bytes, syntax: CommentSyntax, config: MarkerConfig, label: str | None) -> bytes:
    info = _analyse(old, after, syntax, config)
    if not info.unmarked and not info.deletions:
        return after
    lines, cover, taken = info.new, info.cover, info.marker_idx

    spans = _runs(info.unmarked, lines)
    widened: list[tuple[int, int]] = []
    for s, e in spans:
        # Never let a marker fall inside a backslash-continued line.
        while s > 0 and _continued(lines[s - 1]) and not cover(s - 1) and s - 1 not in taken:
            s -= 1
        while e + 1 < len(lines) and _continued(lines[e]) and not cover(e + 1) and e + 1 not in taken:
            e += 1
        if widened and (s <= widened[-1][1] + 1 or all(_blank(lines[k]) for k in range(widened[-1][1] + 1, s))):
            widened[-1] = (widened[-1][0], max(e, widened[-1][1]))
        else:
            widened.append((s, e))

    planned = _Cover(widened)
    eol = b"\r" if _uses_crlf(after) else b""

    def marker(kind: MarkerKind, indent: bytes) -> bytes:
        return canonical_marker(kind, syntax, config, indent=indent, label=label, eol=b"") + eol

    def note(indent: bytes, count: int) -> bytes:
        text = f"removed {_lines(count, 'upstream line')} here"
        if syntax.line:
            comment = f"{syntax.line} {text}"
        else:
            assert syntax.block is not None
            comment = f"{syntax.block[0]} {text} {syntax.block[1]}"
        return indent + comment.encode() + eol

    inserts: list[tuple[int, int, list[bytes]]] = []
    for s, e in widened:
        indent = _least_indent(lines[s : e + 1])
        inserts.append((s, 1, [marker("beg", indent)]))
        inserts.append((e + 1, 0, [marker("end", indent)]))
    for d in info.deletions:
        if _deletion_covered(d.point, lines, planned):
            continue
        indent = _least_indent(info.old[d.old_start : d.old_end])
        count = sum(1 for i in range(d.old_start, d.old_end) if not _blank(info.old[i]))
        inserts.append((d.point, 0, [marker("beg", indent), note(indent, count), marker("end", indent)]))
    inserts.sort(key=lambda t: (t[0], t[1]))

    out: list[bytes] = []
    pos = 0
    for at, _, new_lines in inserts:
        out.extend(lines[pos:at])
        pos = at
        if at == len(lines):
            # After a last line that has no line end: keep the file without a final one.
            if eol and out and not out[-1].endswith(b"\r") and planned(at - 1):
                out[-1] += eol
            out.extend(new_lines)
            out[-1] = out[-1][: len(out[-1]) - len(eol)] if eol else out[-1]
        else:
            out.extend(new_lines)
    out.extend(lines[pos:])
    return b"\n".join(out)
