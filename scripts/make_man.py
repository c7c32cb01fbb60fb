#!/usr/bin/env python3
"""`make man`: man pages generated from the click commands themselves (so they never drift).

One page for ``fspatch`` (the global options and the list of verbs) and one per verb,
``fspatch-VERB.1`` (``fspatch-backend-add.1`` for a sub-verb), each with NAME, SYNOPSIS,
DESCRIPTION, OPTIONS, EXAMPLES (the epilog every verb carries), EXIT STATUS and SEE ALSO.
Read one with ``man -l man/fspatch-push.1``, or put ``man/`` on MANPATH.

A small generator of our own rather than click-man: it is 150 lines, needs nothing beyond
click, and knows fspatch's epilog and exit-code conventions.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Iterator
from pathlib import Path

import click

EXIT_STATUS = (
    ("0", "done"),
    ("1", "conflict or findings (a patch does not apply, a merge conflicts, check found something)"),
    ("2", "usage or input error (bad arguments, YAML or patch; unknown backend, vendor or patch; a dirty checkout)"),
    ("3", "internal error (a bug; FSPATCH_DEBUG=1 shows the traceback)"),
)


def roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens, non-ASCII (as \\[uXXXX]), a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def walk(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command below ``cmd`` (depth first, in listing order), with its name path."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1] if path else "fspatch")
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from walk(sub, (*path, name))


def page_name(path: tuple[str, ...]) -> str:
    return "-".join(("fspatch", *path))


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.strip().split("\n\n") if p.strip()]


def render(path: tuple[str, ...], cmd: click.Command, root: click.Command, date: str, version: str) -> str:
    """One man page (roff, man macros) for the command at ``path``."""
    name = page_name(path)
    prog = " ".join(("fspatch", *path))
    ctx = click.Context(cmd, info_name=prog, **cmd.context_settings)
    summary = cmd.get_short_help_str(limit=200)
    out = [
        f'.TH "{name.upper()}" "1" "{date}" "fspatch {version}" "fspatch manual"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(summary)}",
        ".SH SYNOPSIS",
        f".B {roff(prog)}",
        roff(" ".join(cmd.collect_usage_pieces(ctx))),
        ".SH DESCRIPTION",
    ]
    help_text = cmd.help or summary
    for para in _paragraphs(help_text.split("\f")[0]):
        out += [".PP", roff(" ".join(para.split()))]
    if isinstance(cmd, click.Group):
        out.append(".SH COMMANDS")
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            out += [".TP", f".B {roff(sub_name)}", roff(sub.get_short_help_str(limit=200))]
            out.append(f"See \\fB{roff(page_name((*path, sub_name)))}\\fR(1).")
    options = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if options:
        out.append(".SH OPTIONS")
        for opt in options:
            record = opt.get_help_record(ctx)
            if record is None:
                continue
            names, text = record
            out += [".TP", f".B {roff(names)}", roff(text or "")]
    args = [p for p in cmd.get_params(ctx) if isinstance(p, click.Argument)]
    if args:
        out.append(".SH ARGUMENTS")
        for arg in args:
            req = "required" if arg.required else "optional"
            many = ", repeatable" if arg.nargs == -1 else ""
            out += [".TP", f".B {roff(arg.make_metavar(ctx))}", f"({req}{many})"]
    if cmd.epilog:
        out.append(".SH EXAMPLES")
        for line in cmd.epilog.strip().split("\n"):
            stripped = line.strip()
            if not stripped or stripped == "\b" or stripped.lower().rstrip(":") == "examples":
                continue
            out += [".PP", ".nf", roff(stripped), ".fi"]
    if not path:
        out += [".SH ENVIRONMENT"]
        for var, what in (
            ("NO_COLOR", "when set and not empty, no colour (unless --color=always)"),
            ("FSPATCH_PAGER, PAGER", "pager for long output (default: less -FRX); empty or cat: none"),
            ("FSPATCH_DEBUG", "show the traceback of an internal error"),
            ("EDITOR, VISUAL", "editor for fspatch header -e"),
        ):
            out += [".TP", f".B {roff(var)}", roff(what)]
    out.append(".SH EXIT STATUS")
    for code, what in EXIT_STATUS:
        out += [".TP", f".B {code}", roff(what)]
    see = ["fspatch(1)"] if path else []
    if path and isinstance(root, click.Group) and len(path) > 1:
        see.append(f"{page_name(path[:-1])}(1)")
    see += ["git(1)", "quilt(1)"]
    out += [".SH SEE ALSO", roff(", ".join(see))]
    return "\n".join(out) + "\n"


def generate(out_dir: Path, root: click.Command, version: str, date: str) -> list[Path]:
    """Write every page into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, cmd in walk(root):
        target = out_dir / f"{page_name(path)}.1"
        target.write_text(render(path, cmd, root, date, version), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="man", type=Path, help="directory to write the pages in")
    parser.add_argument("--date", default=None, help="date on the pages (default: today; fixed for stable output)")
    args = parser.parse_args(argv)
    from fspatch import __version__
    from fspatch.cli import main_group

    date = args.date or datetime.date.today().isoformat()
    pages = generate(args.out, main_group, __version__, date)
    print(f"{len(pages)} man pages written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
