"""Both sides add argparse options at one spot: keep both (issue 17, a structured-merge context).

Why this context is unordered: an ``argparse`` parser looks its options up by their option
strings; the order of ``add_argument`` calls for *optional* arguments only changes the order
of ``--help`` output.  FlagScale's Megatron-LM patches add options to ``arguments.py`` at
every bump, and upstream adds its own at the same spots; the maintainers kept both,
upstream's first, in every such region of the truth set.

Proof (Python's own parser, on each side's whole file): both sides only insert; every inserted
statement is ``<name>.add_argument('--opt', ...)`` on the same ``<name>`` as a call right
next to the insertion; every option string starts with ``-`` (positional arguments are
ordered, refused); every ``add_argument`` of both files is written with literal strings, and
no option string or destination one side adds is used anywhere in the other side's file
(argparse raises on a repeated option, and a shared ``dest`` would make the order decide a
default).  Result: upstream's lines, then the patch's.
"""

from __future__ import annotations

import ast
import gc
import symtable
import unicodedata
from collections import deque
from collections.abc import Iterator
from functools import lru_cache

from fspatch.core.conflict_regions import ConflictRegion
from fspatch.core.structured_merge import Outcome, insertions

_BODIES = frozenset({"body", "handlers", "orelse", "finalbody", "cases"})


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """The module's statements in :func:`ast.walk`'s order, expressions not visited.

    Statements only sit in these fields (of statements, handlers and match cases), never
    inside an expression; dropping the nodes that hold none keeps walk's breadth-first order
    (a 165 KB ``arguments.py`` has ~70k nodes, ~2k statements).
    """
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        for name in node._fields:
            if name in _BODIES:
                todo.extend(getattr(node, name))
        yield node


def _calls(tree: ast.AST) -> Iterator[tuple[ast.stmt, str, ast.Call]]:
    """Every statement ``<name>.add_argument(...)`` in the module, with its receiver's name."""
    for node in _statements(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "add_argument"
            and isinstance(node.value.func.value, ast.Name)
        ):
            yield node, node.value.func.value.id, node.value


Call = tuple[int, int, str, tuple[list[str], str] | None]  # first line, last line, receiver, options


@lru_cache(maxsize=8)
def _parsed(file: bytes) -> tuple[Call, ...] | None:
    """Every add_argument call of a file, parsed once: a bump's regions all read the same ``arguments.py``.

    None when the file does not parse.  54 regions of one 165 KB file parsed it 54 times (0.5 s).
    A file that cannot hold such a call (:func:`_no_calls`) is only checked to parse
    (:func:`_parses`): most files the rule is asked about are not argument files at all.
    """
    if _no_calls(file):
        return () if _parses(file) else None
    enabled = gc.isenabled()
    gc.disable()  # ~70k fresh nodes, no cycles among them: the young-generation passes find nothing
    try:
        tree = ast.parse(file)
    except (SyntaxError, ValueError):
        return None
    finally:
        if enabled:
            gc.enable()
    return tuple(
        (stmt.lineno, stmt.end_lineno or stmt.lineno, name, _options(call)) for stmt, name, call in _calls(tree)
    )


def _parses(file: bytes) -> bool:
    """Whether :func:`ast.parse` accepts ``file``, without building Python's AST objects.

    ``symtable`` runs the very parser ``ast.parse`` runs (same decoding of bytes and coding
    cookie, same parser flags and feature version: ``compute_parser_flags`` reads no
    ``PyCF_ONLY_AST`` for feature versions >= 7), then builds C symbol tables instead of ~70k
    Python nodes: ~0.6x the time.  It adds checks of its own (``nonlocal`` at module level,
    names used before ``global`` ...), so a file it refuses is asked of ``ast.parse`` itself;
    one it accepts parsed.  Checked against ``ast.parse`` in
    ``tests/test_argparse_parse_check_is_ast_parse.py``.
    """
    try:
        symtable.symtable(file, "<side>", "exec")  # type: ignore[arg-type]  # bytes, as compile() takes
        return True
    except Exception:  # noqa: BLE001 - anything: the parser's own answer decides
        pass
    try:
        ast.parse(file)
    except (SyntaxError, ValueError):
        return False
    return True


def _head(file: bytes) -> bytes:
    """The first two lines: where a coding cookie may change how the file's bytes decode."""
    first = file.find(b"\n")
    second = file.find(b"\n", first + 1) if first >= 0 else -1
    return file if second < 0 else file[:second]


def _no_calls(file: bytes) -> bool:
    """True when no identifier of ``file`` can be ``add_argument``: its AST has no such call.

    Python identifiers are NFKC-normalised, so the test is on the bytes only where that is
    exact: no ``add_argument`` in the bytes, no coding cookie (the bytes decode as UTF-8), and
    no non-ASCII character whose compatibility decomposition is all ASCII (only such a
    character can turn into a letter of an ASCII name: NFKC composes NFKD's output, and no
    composite is ASCII).  Anything else takes the full parse.
    """
    if b"add_argument" in file or b"coding" in _head(file):
        return False
    if file.isascii():
        return True
    try:
        text = file.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.normalize("NFKD", c).isascii() for c in set(text) if not c.isascii())


def _options(call: ast.Call) -> tuple[list[str], str] | None:
    """Option strings and destination of an add_argument call; None when not all literal."""
    flags: list[str] = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return None
        flags.append(arg.value)
    dest = None
    for kw in call.keywords:
        if kw.arg is None:
            return None  # **kwargs: cannot tell
        if kw.arg == "dest":
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                return None
            dest = kw.value.value
    if not flags:
        return None
    if dest is None:
        longs = [f for f in flags if f.startswith("--")]
        dest = (longs[0] if longs else flags[0]).lstrip("-").replace("-", "_")
    return flags, dest


def _block(file: bytes, lines: tuple[bytes, ...]) -> int | None:
    """The 1-based first line of ``lines`` in ``file`` when they occur there exactly once.

    Lines are ``bytes.splitlines`` lines, each given a final newline.  Without a carriage
    return anywhere, those are the file's ``\\n``-separated lines, and the run is found by a
    byte search at line starts (no list of the file's lines).
    """
    want = [line if line.endswith(b"\n") else line + b"\n" for line in lines]
    if not want:
        return 1 if not file else None  # the empty run occurs at every position
    if not file:
        return None
    needle = b"".join(want)
    if b"\r" in file or b"\r" in needle or needle.count(b"\n") != len(want):
        return _block_by_lines(file, want)
    text = file if file.endswith(b"\n") else file + b"\n"
    hits: list[int] = []
    at = text.find(needle)
    while at >= 0:
        if at == 0 or text[at - 1] == 10:  # at a line start
            hits.append(at)
            if len(hits) > 1:
                return None
        at = text.find(needle, at + 1)
    return text.count(b"\n", 0, hits[0]) + 1 if hits else None


def _block_by_lines(file: bytes, want: list[bytes]) -> int | None:
    have = _lines(file)
    n = len(want)
    first = want[0]
    hits = [i for i, line in enumerate(have[: max(0, len(have) - n + 1)]) if line == first and have[i : i + n] == want]
    return hits[0] + 1 if len(hits) == 1 else None


@lru_cache(maxsize=8)
def _lines(file: bytes) -> list[bytes]:
    """A file's lines, each ending in a newline, split once per file (regions of one file share it)."""
    return [line if line.endswith(b"\n") else line + b"\n" for line in file.splitlines(keepends=True)]


Side = tuple[list[tuple[list[str], str]], set[str], set[str]]  # added (flags, dest); all flags; all dests


def _side(file: bytes, lines: tuple[bytes, ...], who: str) -> Side | str:
    """One side's added options (flags, dest), and every flag and dest of its whole file; or why not."""
    if _not_calls(file, lines):
        return "the added lines are not all add_argument calls"
    calls = _parsed(file)
    if calls is None:
        return f"{who}'s file does not parse"
    first = _block(file, lines)
    if first is None:
        return f"{who}'s lines are not found once in {who}'s file"
    last = first + len(lines) - 1
    added: list[tuple[list[str], str]] = []
    receivers: set[str] = set()
    neighbours: set[str] = set()
    covered: set[int] = set()
    flags: list[str] = []
    dests: list[str] = []
    for lineno, end, name, got in calls:
        if got is None:
            if first <= lineno <= last:
                return "an added option is not written with literal strings"
            return "an option of this file is not written with literal strings (repeats unknown)"
        flags.extend(got[0])
        dests.append(got[1])
        if first <= lineno and end <= last:
            added.append(got)
            receivers.add(name)
            covered.update(range(lineno, end + 1))
        elif end == first - 1 or lineno == last + 1:
            neighbours.add(name)
    for n, line in enumerate(lines, start=first):
        if line.strip() and not line.lstrip().startswith(b"#") and n not in covered:
            return "the added lines are not all add_argument calls"
    if len(receivers) != 1 or not receivers <= neighbours:
        return "the added options are not added to the parser next to them"
    return added, set(flags), set(dests)


def _not_calls(file: bytes, lines: tuple[bytes, ...]) -> bool:
    """True when some added line is code and no ``add_argument`` can be written in them: refused unparsed.

    Why: most regions the ladder asks about add other code, and parsing both whole files to
    find that out was most of the rule's time (~50 ms of a Megatron-LM bump's ~0.6 s).  A code line
    is covered only by an ``add_argument`` statement inside the lines, whose name is then in
    them (:func:`_no_calls` says when the bytes show that exactly; a coding cookie in the
    file's head decides how they decode).  The reason is the one the parse would give for a
    file that parses; for one that does not, or whose lines are not found once, it is this
    one instead of those.
    """
    if not any(line.strip() and not line.lstrip().startswith(b"#") for line in lines):
        return False
    return b"coding" not in _head(file) and _no_calls(b"".join(lines))


def merge_region(path: str, region: ConflictRegion, ours_file: bytes, theirs_file: bytes) -> Outcome:
    """Upstream's options, then the patch's, when both sides only add optional argparse options.

    Each side is read in its own whole file (upstream's new file, the patch's old patched one:
    both parse, unlike a file with git's other regions in it): its lines must be whole
    ``add_argument`` calls next to one on the same parser.  Then no option or destination of
    one side may exist anywhere in the other side's file.
    """
    if not path.endswith(".py"):
        return Outcome(None, "not a Python file")
    if region.base:
        return _next_to_edit(region, ours_file, theirs_file)
    ins_o = insertions(region.base, region.ours)  # with no base lines: the side's lines, or none
    ins_t = insertions(region.base, region.theirs)
    if not ins_o or not ins_t:
        return Outcome(None, "not both sides only adding lines")
    ours = _side(ours_file, region.ours, "upstream")
    if isinstance(ours, str):
        return Outcome(None, ours)
    theirs = _side(theirs_file, region.theirs, "the patch")
    if isinstance(theirs, str):
        return Outcome(None, theirs)

    def indent(lines: tuple[bytes, ...]) -> bytes:
        first = next(line for line in lines if line.strip())
        return first[: len(first) - len(first.lstrip())]

    if indent(region.ours) != indent(region.theirs):
        return Outcome(None, "the two sides' options are indented differently")
    for (flags, dest), other, who in (
        *((a, theirs, "the patch") for a in ours[0]),
        *((a, ours, "upstream") for a in theirs[0]),
    ):
        if any(not f.startswith("-") for f in flags):
            return Outcome(None, f"'{flags[0]}' is a positional argument (their order matters)")
        twice = sorted(set(flags) & other[1])
        if twice:
            return Outcome(None, f"option '{twice[0]}' is added twice ({who}'s file has it too)")
        if dest in other[2]:
            return Outcome(None, f"destination '{dest}' is used by another option ({who}'s file)")
    return Outcome(
        (*region.ours, *region.theirs),
        f"kept both (argparse options: upstream {len(ours[0])}, patch {len(theirs[0])}): an option's place "
        "only changes --help order",
    )


def _next_to_edit(region: ConflictRegion, ours_file: bytes, theirs_file: bytes) -> Outcome:
    """The patch only adds options right after (or before) lines upstream edited: upstream's, then the patch's.

    git conflicts because the two changes touch; the patch's options do not depend on the
    lines next to them (an option's place only changes ``--help`` order), so they go at the
    same end of upstream's lines -- which must end (start) with a whole ``add_argument`` call
    on the same parser, so the options land between two calls.  None of them may be in
    upstream's file already (option string or destination).
    """
    base, theirs = region.base, region.theirs
    n = len(base)
    if len(theirs) > n and theirs[:n] == base:
        added, after = theirs[n:], True
    elif len(theirs) > n and theirs[-n:] == base:
        added, after = theirs[: len(theirs) - n], False
    else:
        return Outcome(None, "the patch does not only add lines before or after the region's lines")
    if not any(line.strip() for line in region.ours):
        return Outcome(None, "upstream removed the lines the patch adds next to")
    mine = _side(theirs_file, added, "the patch")
    if isinstance(mine, str):
        return Outcome(None, mine)
    calls = _parsed(ours_file)
    if calls is None:
        return Outcome(None, "upstream's file does not parse")
    first = _block(ours_file, region.ours)
    if first is None:
        return Outcome(None, "upstream's lines are not found once in upstream's file")
    last = first + len(region.ours) - 1
    receiver = _receiver(theirs_file, added)
    flags: set[str] = set()
    dests: set[str] = set()
    touches = False
    for lineno, end, name, got in calls:
        if got is None:
            return Outcome(None, "an option of upstream's file is not written with literal strings (repeats unknown)")
        flags.update(got[0])
        dests.add(got[1])
        if name == receiver and ((after and end == last) or (not after and lineno == first)):
            touches = True
    if not touches:
        return Outcome(None, "upstream's lines do not end with an add_argument call on the same parser")
    for opt_flags, dest in mine[0]:
        if any(not f.startswith("-") for f in opt_flags):
            return Outcome(None, f"'{opt_flags[0]}' is a positional argument (their order matters)")
        twice = sorted(set(opt_flags) & flags)
        if twice:
            return Outcome(None, f"option '{twice[0]}' is added twice (upstream's file has it too)")
        if dest in dests:
            return Outcome(None, f"destination '{dest}' is used by another option (upstream's file)")
    lines = (*region.ours, *added) if after else (*added, *region.ours)
    return Outcome(
        lines,
        f"kept both: upstream's edit, then the patch's {len(mine[0])} argparse option(s) "
        f"{'after' if after else 'before'} it (an option's place only changes --help order)",
    )


def _receiver(file: bytes, lines: tuple[bytes, ...]) -> str | None:
    """The parser object the add_argument calls at ``lines`` of ``file`` are made on."""
    first = _block(file, lines)
    for lineno, _end, name, _got in _parsed(file) or ():
        if first is not None and lineno == first:
            return name
    return None


__all__ = ["merge_region"]
