"""The argparse rule's statement walk visits statements in ast.walk's order (issue 13, speed).

``argparse_options`` reports the first call it cannot read, so the order of the calls it sees
decides the reason given; the walk that skips expressions must keep :func:`ast.walk`'s order.
"""

from __future__ import annotations

import ast
from pathlib import Path

from fspatch.core import argparse_options

SOURCE = b'''
import argparse


def add(parser):
    parser.add_argument("--a", type=int)
    group = parser.add_argument_group("g")
    if parser:
        group.add_argument("--b")
    else:
        group.add_argument("--c")
    for x in range(2):
        parser.add_argument(f"--d{x}")
    else:
        parser.add_argument("--e")
    try:
        parser.add_argument("--f")
    except ValueError:
        parser.add_argument("--g")
    else:
        parser.add_argument("--h")
    finally:
        parser.add_argument("--i")
    with open("x") as fh:
        parser.add_argument("--j", default=fh)
    match x:
        case 1:
            parser.add_argument("--k")
        case _:
            parser.add_argument("--l")
    while False:
        parser.add_argument("--m")

    class Inner:
        def more(self, p):
            p.add_argument("--n")
    return lambda: parser.add_argument("--not-a-statement")
'''


def test_statements_come_in_walk_order() -> None:
    tree = ast.parse(SOURCE)
    walked = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    ours = [n for n in argparse_options._statements(tree) if isinstance(n, ast.stmt)]
    assert ours == walked and len(ours) > 20


def test_calls_of_the_repositorys_own_python_match_a_full_walk() -> None:
    root = Path(argparse_options.__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_bytes())
        walked = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
        assert [n for n in argparse_options._statements(tree) if isinstance(n, ast.stmt)] == walked, path
    calls = [(s.lineno, name) for s, name, _ in argparse_options._calls(ast.parse(SOURCE))]
    assert [name for _, name in calls].count("group") == 2 and ("p" in {n for _, n in calls})
