"""What every verb shares once the commands are registered: global options after the verb, the
examples of its ``--help``, colour and paging state, and ``fspatch help VERB``.

Global options (``-C DIR``, ``-q``, ``-v``, ``--color``, ``--no-pager``) are accepted before the
verb, as always, and after it, as git users type them (``fspatch series -v``, ``pop -q``).  Each
verb gets hidden copies whose callbacks set the same state as the root's; a verb's own option
of the same spelling wins (none has one today), and an option's value is never taken for a
global (``new x -m -q`` has the message ``-q``), because click parses the verb's options.
Colour and paging live in ``ctx.meta`` (one dict shared by the whole context chain), so the
root's options can set them before its callback runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from fspatch.cli.examples import epilog
from fspatch.cli.options import Options
from fspatch.cli.term import COLOR_CHOICES, color_wanted

COLOR_KEY = "fspatch.color"
PAGER_KEY = "fspatch.pager"


def color_on(ctx: click.Context | None, stream: IO[Any] | None = None) -> bool:
    """Whether output to ``stream`` (default stdout) is coloured for this invocation."""
    choice = ctx.meta.get(COLOR_KEY) if ctx is not None else None
    return color_wanted(choice, stream if stream is not None else sys.stdout)


def paging_on(ctx: click.Context | None) -> bool:
    return bool(ctx is None or ctx.meta.get(PAGER_KEY, True))


def _set_meta(key: str, value_of: Any = None) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        ctx.meta[key] = value if value_of is None else value_of

    return callback


def _set_option(attr: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        obj = ctx.find_object(Options)
        if obj is not None:
            setattr(obj, attr, value)

    return callback


def root_options() -> list[click.Option]:
    """``--color`` and ``--no-pager`` for the root group (its -C/-q/-v are its own parameters)."""
    return [
        click.Option(
            ["--color"],
            type=click.Choice(COLOR_CHOICES),
            default=None,
            expose_value=False,
            callback=_set_meta(COLOR_KEY),
            help="Colour: auto (a terminal, unless NO_COLOR is set), always or never.  [default: auto]",
        ),
        click.Option(
            ["--no-pager"],
            is_flag=True,
            expose_value=False,
            callback=_set_meta(PAGER_KEY, False),
            help="Do not pipe long output into $PAGER (default: less -FRX on a terminal).",
        ),
    ]


def verb_options() -> list[click.Option]:
    """Hidden copies of the global options for every verb."""
    return [
        click.Option(
            ["-C", "_g_directory"],
            type=click.Path(file_okay=False, path_type=Path),
            hidden=True,
            expose_value=False,
            callback=_set_option("directory"),
        ),
        click.Option(
            ["-q", "--quiet", "_g_quiet"], is_flag=True, hidden=True, expose_value=False, callback=_set_option("quiet")
        ),
        click.Option(
            ["-v", "--verbose", "_g_verbose"],
            is_flag=True,
            hidden=True,
            expose_value=False,
            callback=_set_option("verbose"),
        ),
        *[
            click.Option(
                o.opts,
                type=o.type,
                is_flag=o.is_flag,
                default=None if not o.is_flag else False,
                hidden=True,
                expose_value=False,
                callback=o.callback,
            )
            for o in root_options()
        ],
    ]


def walk(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from walk(sub, (*path, name))


def install(root: click.Group) -> None:
    """Global options on the root and after every verb; examples in every verb's help."""
    root.params.extend(root_options())
    # One set of hidden options shared by every verb: click keeps no per-command state in a
    # parameter, and building 7 options for each of ~60 verbs was ~5 ms of every start-up.
    shared = verb_options()
    for path, cmd in walk(root):
        if not path:
            continue
        taken = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
        for opt in shared:
            if not set(opt.opts) & taken:
                cmd.params.append(opt)
        text = epilog(" ".join(path))
        if text and not cmd.epilog:
            cmd.epilog = text


@click.command("help", epilog=epilog("help"))
@click.argument("verb", nargs=-1)
@click.pass_context
def help_cmd(ctx: click.Context, verb: tuple[str, ...]) -> None:
    """Show the help of VERB: fspatch help backend add = fspatch backend add --help."""
    from fspatch.errors import UsageError

    parent = ctx.parent
    assert parent is not None
    current: click.Command = parent.command
    here = parent
    for name in verb:
        sub = current.get_command(here, name) if isinstance(current, click.Group) else None
        if sub is None:
            raise UsageError(f"no verb '{' '.join(verb)}' (see 'fspatch --help')")
        here = click.Context(sub, info_name=name, parent=here)
        current = sub
    click.echo(here.get_help(), color=here.color)


__all__ = ["COLOR_KEY", "PAGER_KEY", "color_on", "help_cmd", "install", "paging_on"]
