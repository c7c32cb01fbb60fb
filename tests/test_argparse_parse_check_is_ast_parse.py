"""The argparse rule's cheap checks answer as ``ast.parse`` would (issue 13, speed).

``argparse_options._parses`` asks ``symtable`` (the same parser, no Python AST built) and
``_no_calls`` skips the AST of a file that cannot hold an ``add_argument`` call; the reasons
the rule reports ("upstream's file does not parse", the calls it reads) must not change.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fspatch.core import argparse_options

CASES = [
    b"x = 1\n",
    b"def f(:\n",  # a syntax error
    b"nonlocal x\n",  # symtable refuses, the parser accepts
    b"def f():\n    x = 1\n    global x\n",  # symtable: assigned before global declaration
    b"return 1\n",  # the compiler refuses, the parser accepts
    b"x = 1\0\n",  # a NUL byte
    b"type X = int\n",  # newer syntax than some Pythons
    b"def f[T](x: T) -> T:\n    return x\n",
    b"f'{x!r:>{width}}'\n",
    b"# -*- coding: latin-1 -*-\nname = '\xe9'\n",
    b"\xef\xbb\xbfx = 1\n",  # a UTF-8 byte order mark
    b"x = '\xff'\n",  # not UTF-8
    b"async def f():\n    await g()\n",
    b"await g()\n",  # top-level await: the parser accepts, the compiler does not
    b"print 'py2'\n",
    b"if True:\n  x = 1\n    y = 2\n",  # an indentation error
    b"match x:\n    case [a, *rest]:\n        pass\n",
]


def _ast_parses(src: bytes) -> bool:
    try:
        ast.parse(src)
    except (SyntaxError, ValueError):
        return False
    return True


@pytest.mark.parametrize("src", CASES)
def test_parse_check_agrees_with_ast_parse(src: bytes) -> None:
    assert argparse_options._parses(src) == _ast_parses(src)


def test_parse_check_agrees_on_the_repositorys_own_python() -> None:
    root = Path(argparse_options.__file__).resolve().parents[2]
    for path in sorted(root.glob("*/**/*.py"))[:400]:
        src = path.read_bytes()
        assert argparse_options._parses(src) == _ast_parses(src), path


def _calls(src: bytes) -> list[str]:
    return [name for _s, name, _c in argparse_options._calls(ast.parse(src))]


@pytest.mark.parametrize(
    "src",
    [
        b"parser.add_argument('--a')\n",
        "parser.\uff41dd_argument('--a')\n".encode(),  # fullwidth a: NFKC makes it add_argument
        "parser.add_\u0430rgument('--a')\n".encode(),  # Cyrillic a: another name
        "p.\ufb00(1)\nparser.add_argument('--a')\n".encode(),  # a ligature (ff)
        "# \u00e9t\u00e9\nparser.add_argument('--a')\n".encode(),
        b"# -*- coding: utf-7 -*-\nparser.+AGE-dd_argument('--a')\n",
        b"x = 1\n",
        "x = '\u00e9t\u00e9 \u4e2d\u6587'\n".encode(),
    ],
)
def test_files_without_calls_are_told_exactly(src: bytes) -> None:
    """A file ``_no_calls`` passes has no add_argument call in its AST; the others take the full parse."""
    if argparse_options._no_calls(src):
        assert _calls(src) == []
    got = argparse_options._parsed.__wrapped__(src)
    assert got is not None
    assert [name for _a, _b, name, _o in got] == _calls(src)


def test_a_file_that_does_not_parse_still_says_so() -> None:
    assert argparse_options._parsed.__wrapped__(b"def f(:\n") is None
    assert argparse_options._parsed.__wrapped__(b"parser.add_argument('--a'\n") is None
