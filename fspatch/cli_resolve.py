"""Click wiring for ``fspatch resolutions list|show|forget`` (registers on fspatch.cli.main_group)."""

from __future__ import annotations

import click

from fspatch.cli import CONTEXT, FspatchGroup, _json, _opts, _say, backend_option, format_option, main_group


@main_group.group("resolutions", context_settings=CONTEXT, cls=FspatchGroup)
def resolutions() -> None:
    """Recorded conflict resolutions (series/<backend>/resolutions/), replayed on the same conflict."""


@resolutions.command("list", context_settings=CONTEXT)
@backend_option
@format_option
@click.pass_context
def resolutions_list(ctx: click.Context, backend: str | None, fmt: str) -> None:
    """List the recorded resolutions: id, file, date, author, patch."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_list(_opts(ctx).workspace(), backend)
    if fmt == "json":
        click.echo(_json(r))
        return
    for i in r.resolutions:
        _say(ctx, f"{i.id}  {i.path}  recorded {i.recorded} by {i.author}" + (f"  ({i.patch})" if i.patch else ""))
    _say(ctx, f"{len(r.resolutions)} recorded resolution{'' if len(r.resolutions) == 1 else 's'} in {r.directory}")


@resolutions.command("show", context_settings=CONTEXT)
@click.argument("ident", metavar="ID")
@backend_option
@format_option
@click.pass_context
def resolutions_show(ctx: click.Context, ident: str, backend: str | None, fmt: str) -> None:
    """Show one recorded resolution (ID or a prefix of at least 4 characters)."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_show(_opts(ctx).workspace(), ident, backend)
    if fmt == "json":
        click.echo(_json(r))
        return
    click.echo(f"# {r.file}")
    click.echo(r.text, nl=False)


@resolutions.command("forget", context_settings=CONTEXT)
@click.argument("ident", metavar="ID")
@backend_option
@click.pass_context
def resolutions_forget(ctx: click.Context, ident: str, backend: str | None) -> None:
    """Delete one recorded resolution: it is not replayed any more."""
    from fspatch.commands import resolutions as cmd

    r = cmd.run_forget(_opts(ctx).workspace(), ident, backend)
    _say(ctx, f"removed {r.removed}")
