"""``sync``: every backend checkout recreated from upstream.lock (git submodule update --init)."""

from __future__ import annotations

import click

from fspatch.cli.base import command
from fspatch.cli.options import backend_option, format_option, opts
from fspatch.cli.render import say, to_json


@command("sync")
@click.argument("backends", metavar="[BACKEND]...", nargs=-1)
@backend_option
@format_option
@click.pass_context
def sync(ctx: click.Context, backends: tuple[str, ...], backend: str | None, fmt: str) -> None:
    """Recreate every backend checkout from upstream.lock at its pinned commit.

    What 'git submodule update --init' is to submodules: after 'git clone' of a
    workspace, a missing checkout is cloned (lock URL, then its mirrors; a relative
    URL is resolved against the workspace, then its origin), and a checkout that
    lacks the pinned commit gets it fetched.  An existing checkout's HEAD, files and
    stack are never touched.
    """
    from fspatch.commands import sync as cmd

    names = [*backends, *([backend] if backend else [])]
    r = cmd.run(opts(ctx).workspace(), names or None)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for b in r.backends:
        at = f"{b.ref} ({b.commit[:12]})"
        if b.action == "cloned":
            say(ctx, f"{b.backend}: cloned into {b.path}, at {at}")
        elif b.action == "fetched":
            say(ctx, f"{b.backend}: fetched {at} into {b.path}")
        else:
            say(ctx, f"{b.backend}: {b.path} has {at}")
