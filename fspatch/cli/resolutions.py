"""``fspatch resolutions list|show|forget``: the recorded resolutions of a backend (docs/resolution.md)."""

from __future__ import annotations

import click

from fspatch.cli.base import group
from fspatch.cli.options import backend_option, format_option, opts
from fspatch.cli.render import say, to_json


@group()
def resolutions() -> None:
    """Recorded conflict resolutions (series/<backend>/resolutions/), replayed on the same conflict."""


@resolutions.command("list")
@backend_option
@format_option
@click.pass_context
def resolutions_list(ctx: click.Context, backend: str | None, fmt: str) -> None:
    """List the recorded resolutions: id, file, date, author, patch."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_list(opts(ctx).workspace(), backend)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for i in r.resolutions:
        say(ctx, f"{i.id}  {i.path}  recorded {i.recorded} by {i.author}" + (f"  ({i.patch})" if i.patch else ""))
    say(ctx, f"{len(r.resolutions)} recorded resolution{'' if len(r.resolutions) == 1 else 's'} in {r.directory}")


@resolutions.command("show")
@click.argument("ident", metavar="ID")
@backend_option
@format_option
@click.pass_context
def resolutions_show(ctx: click.Context, ident: str, backend: str | None, fmt: str) -> None:
    """Show one recorded resolution (ID or a prefix of at least 4 characters)."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_show(opts(ctx).workspace(), ident, backend)
    if fmt == "json":
        click.echo(to_json(r))
        return
    click.echo(f"# {r.file}")
    click.echo(r.text, nl=False)


@resolutions.command("forget")
@click.argument("ident", metavar="ID")
@backend_option
@click.pass_context
def resolutions_forget(ctx: click.Context, ident: str, backend: str | None) -> None:
    """Delete one recorded resolution: it is not replayed any more."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_forget(opts(ctx).workspace(), ident, backend)
    say(ctx, f"removed {r.removed}")
