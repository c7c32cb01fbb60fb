"""Structured merge of one conflict region where order provably does not matter (tree-sitter).

The rule (after git's line merge, only on a region git left): when upstream and the patch
both only *insert* lines at one spot, and every inserted run is a sequence of whole members
of one *unordered* parent, keep both -- upstream's lines first, then the patch's (what
maintainers did in most such regions) -- and re-parse to prove the result.

Unordered parents and the members they accept (anything else is refused):

* Python module: ``import``/``from … import`` statements, function definitions (decorated
  or not), comments.  ``from __future__`` and ``*`` imports are refused (they must stay
  first / shadow anything).
* Python class body: methods (decorated or not), comments, and plain ``name = value``
  attributes -- attributes only when the class is not decorated and has no base whose
  field order is meaningful (``Enum``, ``NamedTuple``, ``TypedDict``, ``BaseModel``,
  ctypes ``Structure``/``Union``): a ``@dataclass`` takes its ``__init__`` order from them.
* Python dict literal: ``key: value`` pairs with literal (string or number) keys.
  ``**spread`` is refused: later keys override earlier ones.
* C/C++/CUDA translation unit, namespace body, and ``#if``/``#ifdef``/``#else`` bodies:
  ``#include`` lines and comments; function definitions at file or namespace level.
* C++/CUDA class or struct body: member functions (definitions, declarations, templates)
  and comments.  Data members are refused: their order is the object's layout.

Refusals (each names why): no grammar for the file; either side also deletes or changes a
line of the region; an inserted run is not whole members of one unordered parent (or the
two sides insert into different parents); the two sides define the same name (an include,
import, function, attribute or key), or one side defines a name the scope already has
(shadowing); the merged file parses worse than upstream's.

Grammars: PyPI wheels ``tree-sitter-python``, ``tree-sitter-c``, ``tree-sitter-cpp``,
``tree-sitter-cuda`` (CUDA files ``.cu``/``.cuh``; ``.h`` is read as C++, ``.c`` as C),
imported only when a conflict needs them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from typing import Any

from fspatch.core.conflict_regions import ConflictRegion, Lines, MergedFile

RULE = "structured"

_LANG_BY_EXT = {
    ".py": "python",
    ".pyi": "python",
    ".c": "c",
    ".h": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".inl": "cpp",
    ".cu": "cuda",
    ".cuh": "cuda",
}

_ORDERED_BASES = frozenset(
    {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "NamedTuple", "TypedDict", "BaseModel", "Structure", "Union"}
)

_C_UNITS = frozenset({"translation_unit", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif"})


@dataclass(frozen=True)
class Outcome:
    """A rule's answer for one region: the lines to keep, or why it refused."""

    lines: Lines | None
    reason: str  # what was done ("kept both: 2 imports (upstream), 1 import (patch)") or why not


def language_for(path: str) -> str | None:
    dot = path.rfind(".")
    return _LANG_BY_EXT.get(path[dot:].lower()) if dot > path.rfind("/") else None


def _grammar(lang: str) -> Any:
    """The grammar package of ``lang``, imported on first use (each costs start-up time)."""
    if lang == "python":
        import tree_sitter_python

        return tree_sitter_python
    if lang == "c":
        import tree_sitter_c

        return tree_sitter_c
    if lang == "cpp":
        import tree_sitter_cpp

        return tree_sitter_cpp
    if lang == "cuda":
        import tree_sitter_cuda

        return tree_sitter_cuda
    raise KeyError(lang)


@cache
def _parser(lang: str) -> Any:
    import tree_sitter

    return tree_sitter.Parser(tree_sitter.Language(_grammar(lang).language()))


def insertions(base: Lines, side: Lines) -> list[tuple[int, Lines]] | None:
    """Where ``side`` only adds lines to ``base``: (base position, added lines); None otherwise."""
    out: list[tuple[int, Lines]] = []
    for tag, i1, _i2, j1, j2 in SequenceMatcher(None, base, side, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag != "insert":
            return None
        out.append((i1, tuple(side[j1:j2])))
    return out


def merge_region(
    path: str, merged: MergedFile, region: ConflictRegion, base_file: bytes = b"", ours_file: bytes = b""
) -> Outcome:
    """Keep both sides of an insert/insert region when the syntax proves order does not matter.

    ``ours_file`` (the new upstream file) lets it refuse when upstream's file has a name that
    contains every word of a name the patch adds (``init_mock_args`` beside upstream's
    ``init_basic_mock_args``): upstream may have the same thing its own way, and then
    maintainers keep only upstream's (FlagScale's Megatron-LM bump to 8479eb35f did).
    """
    lang = language_for(path)
    if lang is None:
        return Outcome(None, "no grammar for this file type")
    ins_o = insertions(region.base, region.ours)
    ins_t = insertions(region.base, region.theirs)
    if ins_o is None:
        return Outcome(None, "upstream also deletes or changes lines here")
    if ins_t is None:
        return Outcome(None, "the patch also deletes or changes lines here")
    if not ins_o or not ins_t:
        return Outcome(None, "one side adds nothing")
    # Both sides' insertions, upstream's first at each base position.
    lines: list[bytes] = []
    chunks: list[tuple[str, int, int]] = []  # (side, first line, end line) in `lines`
    for pos in range(len(region.base) + 1):
        for side, ins in (("ours", ins_o), ("theirs", ins_t)):
            for at, added in ins:
                if at == pos:
                    chunks.append((side, len(lines), len(lines) + len(added)))
                    lines.extend(added)
        if pos < len(region.base):
            lines.append(region.base[pos])
    before = merged.before(region.index)
    after = merged.after(region.index)
    head = b"".join(before)
    text = head + b"".join(lines) + b"".join(after)
    parser = _parser(lang)
    tree = parser.parse(text)
    # Upstream's own text is parsed only when the merged one has an error (half the parses).
    upstream_text = head + b"".join(region.ours) + b"".join(after)
    if tree.root_node.has_error and not parser.parse(upstream_text).root_node.has_error:
        return Outcome(None, "the merged file does not parse")
    offsets = [len(head)]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    parent: Any = None
    found: dict[str, list[tuple[str, str]]] = {"ours": [], "theirs": []}  # side -> (kind, name)
    spans: list[tuple[int, int]] = []
    for side, a, b in chunks:
        s, e = _trim(text, offsets[a], offsets[b])
        if s >= e:
            continue  # blank lines only
        p, members = _members(tree.root_node, s, e)
        if p is None:
            return Outcome(None, f"the {_who(side)}'s lines are not whole definitions of one block")
        if parent is not None and _key(p) != _key(parent):
            return Outcome(None, "the two sides add to different blocks")
        parent = p
        why = _context_refusal(lang, p, members)
        if why is not None:
            return Outcome(None, why)
        for m in members:
            if m.has_error or m.type == "ERROR":
                return Outcome(None, f"the {_who(side)}'s lines do not parse")
            got = _names(lang, m)
            if got is None:
                return Outcome(None, f"cannot tell what the {_who(side)}'s {m.type} defines")
            found[side].extend(got)
        spans.append((s, e))
    if parent is None:
        return Outcome(None, "only blank lines added")
    if _inside_error(parent):
        return Outcome(None, "the block around the insertions does not parse")
    ours_names = {n for n in found["ours"]}
    theirs_names = {n for n in found["theirs"]}
    shared = sorted(n for _, n in ours_names & theirs_names)
    if shared:
        return Outcome(None, f"both sides add {_show(shared)}")
    for side in ("ours", "theirs"):
        names = [n for n in found[side]]
        dup = sorted({n for _, n in names if sum(1 for _, m in names if m == n) > 1})
        if dup:
            return Outcome(None, f"the {_who(side)} adds {_show(dup)} twice")
    others: set[str] = set()
    for c in parent.children:
        cs, ce = _span(c)
        if any(s <= cs and ce <= e for s, e in spans):
            continue
        got = _names(lang, c)
        others.update(n for _, n in got or ())
    shadow = sorted({n for _, n in ours_names | theirs_names} & others)
    if shadow:
        return Outcome(None, f"{_show(shadow)} already defined in this scope")
    if ours_file:
        similar = _similar_new_names({n for _, n in theirs_names}, base_file, ours_file)
        if similar:
            return Outcome(
                None, f"upstream has {_show(similar)}, like the patch's name: maybe the same thing its own way"
            )
    what = "; ".join(f"{_who(side)}: {_count(found[side])}" for side in ("ours", "theirs"))
    if not region.base:
        order = _sorted_order(lang, region, before, after)
        if isinstance(order, str):
            return Outcome(None, order)
        if order is not None:
            return Outcome(order, f"kept both ({what}) in {_describe(parent)}, in the block's sorted order")
    return Outcome(tuple(lines), f"kept both ({what}) in {_describe(parent)}")


_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _words(name: str) -> frozenset[str]:
    return frozenset(w.lower() for part in name.split("_") for w in _WORD.findall(part))


def _similar_new_names(patch_names: set[str], base_file: bytes, ours_file: bytes) -> list[str]:
    """Identifiers of upstream's file whose words include all words of a name the patch adds."""
    new = set(_IDENT.findall(ours_file))
    out = set()
    for name in patch_names:
        words = _words(name.split("::")[-1].split(".")[-1])
        if len(words) < 2:
            continue
        for cand in new:
            text = cand.decode()
            if text != name and words <= _words(text):
                out.add(text)
    return sorted(out)


_C_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"][ \t]*(?://.*|/\*.*\*/)?[ \t]*\r?\n?$')
_PY_IMPORT = re.compile(rb"^(?:import|from)[ \t]+([A-Za-z_][A-Za-z0-9_.]*)[^\\(]*\n?$")
SORTED_RUN = 3  # include/import lines upstream must show in order before sorted order is followed


def _sort_key(lang: str, line: bytes) -> bytes | None:
    if lang == "python":
        m = _PY_IMPORT.match(line)
        return m.group(1) if m else None
    m = _C_INCLUDE.match(line)
    return m.group(1) + m.group(2) if m else None


def _sorted_order(lang: str, region: ConflictRegion, before: Lines, after: Lines) -> Lines | None | str:
    """Both sides add include/import lines into a run upstream keeps sorted: merge them sorted.

    None: the lines are not all includes/imports (keep upstream's lines first); a string: why the
    rule refuses -- an unsorted block gives no order to follow, and include/import order can
    carry meaning (macros, import side effects), so neither side-first order is proven.
    """
    keys_o = [_sort_key(lang, line) for line in region.ours]
    keys_t = [_sort_key(lang, line) for line in region.theirs]
    if None in keys_o or None in keys_t:
        return None
    run: list[bytes] = []
    for line in reversed(before):
        k = _sort_key(lang, line)
        if k is None:
            break
        run.insert(0, k)
    lo = run[-1] if run else None
    run.extend(k for k in keys_o if k is not None)
    hi = None
    for line in after:
        k = _sort_key(lang, line)
        if k is None:
            break
        if hi is None:
            hi = k
        run.append(k)
    if len(run) < SORTED_RUN or any(a > b for a, b in zip(run, run[1:], strict=False)):
        return "upstream's include/import block is not sorted: no order to follow (order can carry meaning)"
    if any(k is not None and ((lo is not None and k < lo) or (hi is not None and k > hi)) for k in keys_t):
        return "the patch's line sorts outside the conflict (upstream keeps this block sorted)"
    pairs = sorted(
        [(k, 0, i, line) for i, (k, line) in enumerate(zip(keys_o, region.ours, strict=True))]
        + [(k, 1, i, line) for i, (k, line) in enumerate(zip(keys_t, region.theirs, strict=True))],
        key=lambda x: (x[0] or b"", x[1], x[2]),
    )
    return tuple(p[3] for p in pairs)


# --------------------------------------------------------------------------- syntax helpers


def _who(side: str) -> str:
    return "upstream" if side == "ours" else "patch"


def _show(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names[:5]) + (" …" if len(names) > 5 else "")


def _count(items: Sequence[tuple[str, str]]) -> str:
    kinds: dict[str, int] = {}
    for k, _ in items:
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{n} {k}{'' if n == 1 else 's'}" for k, n in kinds.items()) or "comments"


def _describe(p: Any) -> str:
    if p.type == "block":
        return "a class body"
    if p.type == "field_declaration_list":
        return "a class body"
    if p.type == "dictionary":
        return "a dict literal"
    if p.type == "declaration_list":
        return "a namespace"
    return "the module" if p.type in ("module", "translation_unit") else p.type


def _key(node: Any) -> tuple[int, int, str]:
    return (node.start_byte, node.end_byte, node.type)


def _trim(text: bytes, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s : s + 1] in b" \t\r\n\f\v":
        s += 1
    while e > s and text[e - 1 : e] in b" \t\r\n\f\v":
        e -= 1
    return s, e


def _span(node: Any) -> tuple[int, int]:
    """A node's bytes without trailing whitespace (an ``#include`` node holds its newline)."""
    s = node.start_byte
    return s, s + len((node.text or b"").rstrip())


def _members(root: Any, s: int, e: int) -> tuple[Any, list[Any]]:
    """The node whose children are exactly the inserted run [s, e) (and those children)."""
    node = root
    while True:
        nxt = None
        for c in node.children:
            cs, ce = _span(c)
            if cs <= s and e <= ce and (cs, ce) != (s, e):
                nxt = c
                break
        if nxt is None:
            break
        node = nxt
    members = []
    for c in node.children:
        cs, ce = _span(c)
        if ce <= s or cs >= e:
            continue
        if cs < s or ce > e:
            return None, []
        members.append(c)
    if not members:
        return None, []
    first, last = _span(members[0]), _span(members[-1])
    if first[0] != s or last[1] != e:
        return None, []
    return node, members


def _inside_error(node: Any) -> bool:
    while node is not None:
        if node.type == "ERROR":
            return True
        node = node.parent
    return False


def _context_refusal(lang: str, parent: Any, members: Sequence[Any]) -> str | None:
    """Why these members may not be reordered inside this parent (None: they may)."""
    if lang == "python":
        if parent.type == "module":
            ok = {"import_statement", "import_from_statement", "function_definition", "comment"}
            for m in members:
                if m.type == "decorated_definition":
                    d = m.child_by_field_name("definition")
                    if d is None or d.type != "function_definition":
                        return "a decorated class at module level is ordered code"
                elif m.type not in ok:
                    return f"a module-level {m.type} is ordered code"
            return None
        if parent.type == "block" and parent.parent is not None and parent.parent.type == "class_definition":
            cls = parent.parent
            attrs_ok = _attributes_unordered(cls)
            for m in members:
                if m.type in ("function_definition", "comment"):
                    continue
                if m.type == "decorated_definition":
                    d = m.child_by_field_name("definition")
                    if d is None or d.type != "function_definition":
                        return "a decorated class in a class body is ordered code"
                    continue
                if m.type == "expression_statement" and _simple_assignment(m):
                    if not attrs_ok:
                        return "the class's attribute order is meaningful (decorated or an ordered base)"
                    continue
                return f"a {m.type} in a class body is ordered code"
            return None
        if parent.type == "dictionary":
            for m in members:
                if m.type not in ("pair", ",", "comment"):
                    return f"a {m.type} in a dict literal is ordered (later keys override)"
            return None
        return f"insertions into a {parent.type} are ordered code"
    # C, C++, CUDA
    if parent.type in _C_UNITS or parent.type == "declaration_list":
        for m in members:
            if m.type in ("preproc_include", "comment") or _conditional_include(m):
                continue
            if m.type == "function_definition":
                return "a file-level function is ordered code in C/C++ (declared where it is defined)"
            return f"a {m.type} at this level is ordered code"
        return None
    if parent.type == "field_declaration_list" and lang != "c":
        for m in members:
            if m.type in ("function_definition", "comment"):
                continue
            if m.type in ("field_declaration", "declaration") and _declares_function(m):
                continue
            if m.type == "template_declaration" and _template_function(m):
                continue
            return f"a {m.type} in a class body changes its layout or access"
        return None
    return f"insertions into a {parent.type} are ordered code"


def _conditional_include(m: Any) -> bool:
    """``#ifdef X`` / ``#if …`` (``#else`` …) holding only ``#include`` lines: an include, conditionally."""
    if m.type not in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif"):
        return False
    cond = m.child_by_field_name("condition")
    name = m.child_by_field_name("name")
    body = [c for c in m.named_children if c != cond and c != name and c.type != "comment"]
    return bool(body) and all(c.type == "preproc_include" or _conditional_include(c) for c in body)


def _includes_in(m: Any) -> list[Any]:
    out = []
    for c in m.named_children:
        if c.type == "preproc_include":
            out.append(c)
        elif c.type in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif"):
            out.extend(_includes_in(c))
    return out


def _attributes_unordered(cls: Any) -> bool:
    if cls.parent is not None and cls.parent.type == "decorated_definition":
        return False
    bases = cls.child_by_field_name("superclasses")
    if bases is None:
        return True
    for b in bases.named_children:
        name = (b.text or b"").decode("utf-8", "replace").rsplit(".", 1)[-1]
        if name.split("[", 1)[0] in _ORDERED_BASES:
            return False
    return True


def _simple_assignment(stmt: Any) -> bool:
    if stmt.named_child_count != 1:
        return False
    a = stmt.named_children[0]
    if a.type != "assignment":
        return False
    left = a.child_by_field_name("left")
    return left is not None and left.type == "identifier"


def _declares_function(decl: Any) -> bool:
    d = decl.child_by_field_name("declarator")
    while d is not None and d.type in ("pointer_declarator", "reference_declarator"):
        d = d.child_by_field_name("declarator") or (d.named_children[-1] if d.named_children else None)
    return d is not None and d.type == "function_declarator"


def _template_function(t: Any) -> bool:
    inner = t.named_children[-1] if t.named_children else None
    if inner is None:
        return False
    if inner.type == "function_definition":
        return True
    return inner.type in ("declaration", "field_declaration") and _declares_function(inner)


def _text(node: Any) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _names(lang: str, m: Any) -> list[tuple[str, str]] | None:
    """(kind, name) pairs a member defines; None when it cannot be told (refuse)."""
    t = m.type
    if t in ("comment", ",", "{", "}", "(", ")", ":", ";") or not m.is_named:
        return []
    if lang == "python":
        if t == "import_statement":
            out = []
            for c in m.named_children:
                if c.type == "aliased_import":
                    alias = c.child_by_field_name("alias")
                    out.append(("import", _text(alias) if alias is not None else _text(c)))
                elif c.type == "dotted_name":
                    out.append(("import", _text(c).split(".", 1)[0]))
            return out
        if t == "import_from_statement":
            mod = m.child_by_field_name("module_name")
            if mod is not None and _text(mod) == "__future__":
                return None
            out = []
            for c in m.children_by_field_name("name"):
                if c.type == "aliased_import":
                    alias = c.child_by_field_name("alias")
                    out.append(("import", _text(alias) if alias is not None else _text(c)))
                else:
                    out.append(("import", _text(c).rsplit(".", 1)[-1]))
            if any(c.type == "wildcard_import" for c in m.named_children):
                return None
            return out
        if t == "future_import_statement":
            return None
        if t in ("function_definition", "class_definition"):
            name = m.child_by_field_name("name")
            kind = "function" if t == "function_definition" else "class"
            return [(kind, _text(name))] if name is not None else None
        if t == "decorated_definition":
            d = m.child_by_field_name("definition")
            return _names(lang, d) if d is not None else None
        if t == "expression_statement":
            if not _simple_assignment(m):
                return [] if m.parent is not None and m.parent.type == "module" else None
            left = m.named_children[0].child_by_field_name("left")
            return [("attribute", _text(left))]
        if t == "pair":
            key = m.child_by_field_name("key")
            if key is None:
                return None
            try:
                value = ast.literal_eval(_text(key))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            if not isinstance(value, str | int | float | bytes):
                return None
            return [("key", repr(value))]
        return []
    if _conditional_include(m):
        return [n for c in _includes_in(m) for n in (_names(lang, c) or [])]
    if t == "preproc_include":
        path = m.child_by_field_name("path")
        if path is None:
            return None
        return [("include", _text(path).strip('<>"'))]
    if t == "function_definition":
        name = _declarator_name(m)
        return [("function", name)] if name is not None else None
    if t in ("field_declaration", "declaration"):
        if not _declares_function(m):
            return []
        name = _declarator_name(m)
        return [("function", name)] if name is not None else None
    if t == "template_declaration":
        inner = m.named_children[-1] if m.named_children else None
        return _names(lang, inner) if inner is not None else None
    return []


def _declarator_name(node: Any) -> str | None:
    d = node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        nxt = d.child_by_field_name("declarator")
        if nxt is None:
            return None
        d = nxt
    if d is None:
        return None
    name = d.child_by_field_name("declarator")
    return _text(name) if name is not None else None
