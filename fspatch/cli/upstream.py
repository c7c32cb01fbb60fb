"""Moving to a new upstream: ``pull-upstream`` and ``rebase-vendors``.

Exit codes: 0 clean, 1 conflicts (also an interactive stop), 2 usage or input error.  A stopped
replay is finished by the journal verbs (``fspatch.cli.journal``).
"""

from __future__ import annotations

from pathlib import Path

import click

from fspatch.cli.base import command
from fspatch.cli.options import (
    backend_option,
    one_backend,
    opts,
    pick_backend,
    replay_mode,
    report_options,
    resolve_option,
    stop_option,
)
from fspatch.cli.render import progress, render_replay


@command("pull-upstream")
@click.argument("args", metavar="[BACKEND] REF", nargs=-1, required=True)
@backend_option
@click.option("--url", help="Fetch REF from this URL (default: the lock's URL, then its mirrors).")
@stop_option
@resolve_option
@click.option("--drop-upstreamed", is_flag=True, help="Drop patches whose change is already upstream.")
@report_options
@click.pass_context
def pull_upstream(
    ctx: click.Context,
    args: tuple[str, ...],
    backend: str | None,
    url: str | None,
    stop: bool | None,
    resolve: str,
    drop_upstreamed: bool,
    report_file: Path | None,
    fmt: str,
) -> None:
    """Move BACKEND's pin to REF and replay every layer onto it as 3-way merges.

    It stops at the first conflict for 'fspatch continue/skip/abort' (piped or not); it runs as
    a bot only with --no-stop or when CI is set: every patch tried, conflicts recorded as pending
    in the workspace for 'fspatch apply BACKEND' from any clone. The mode is named on stderr.
    """
    from fspatch.commands import pull_upstream as cmd

    if len(args) > 2:
        raise click.UsageError("expected [BACKEND] REF")
    ws = opts(ctx).workspace()
    ref = args[-1]
    name = pick_backend(ws, one_backend(args[0] if len(args) == 2 else None, backend))
    r = cmd.run(
        ws,
        name,
        ref,
        url=url,
        stop=replay_mode(ctx, "pull-upstream", stop),
        drop_upstreamed=drop_upstreamed,
        resolve=resolve,
        progress=progress(ctx),
    )
    render_replay(ctx, r, fmt, report_file)


@command("rebase-vendors")
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@stop_option
@resolve_option
@report_options
@click.pass_context
def rebase_vendors(
    ctx: click.Context,
    backend_name: str | None,
    backend: str | None,
    stop: bool | None,
    resolve: str,
    report_file: Path | None,
    fmt: str,
) -> None:
    """Replay every vendor layer of BACKEND onto the current common layer (same modes as pull-upstream)."""
    from fspatch.commands import rebase_vendors as cmd

    ws = opts(ctx).workspace()
    name = pick_backend(ws, one_backend(backend_name, backend))
    r = cmd.run(ws, name, stop=replay_mode(ctx, "rebase-vendors", stop), resolve=resolve, progress=progress(ctx))
    render_replay(ctx, r, fmt, report_file)
