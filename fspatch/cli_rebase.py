"""Click wiring for the rebase verbs (registers on fspatch.cli.main_group).

pull-upstream, rebase-vendors, continue, skip, abort.  Exit codes: 0 clean,
1 conflicts (also an interactive stop), 2 usage or input error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fspatch.cli import CONTEXT, _json, _opts, _say, backend_option, format_option, main_group
from fspatch.errors import EXIT_FINDINGS


def _progress(ctx: click.Context) -> Callable[[int, int, str], None] | None:
    """A progress line per patch on a terminal (rewritten in place), every 10 % otherwise; none with -q."""
    if _opts(ctx).quiet:
        return None
    tty = sys.stderr.isatty()
    last = [-1]

    def report(done: int, total: int, name: str) -> None:
        if total == 0:
            return
        if tty:
            end = "\n" if done == total else ""
            click.echo(f"\r\x1b[Kreplaying [{done}/{total}] {name}", err=True, nl=False)
            if end:
                click.echo("", err=True)
            return
        step = done * 10 // total
        if step != last[0] and total >= 10:
            last[0] = step
            click.echo(f"replaying {done}/{total}", err=True)

    return report


def _render(ctx: click.Context, r: Any, fmt: str, report_file: Path | None) -> None:
    rep = r.report
    if report_file is not None:
        data = _json(rep) if fmt == "json" or report_file.suffix == ".json" else _text(rep, r)
        report_file.write_text(data + "\n")
    if fmt == "json":
        click.echo(_json(r))
    else:
        for line in _text(rep, r).splitlines():
            _say(ctx, line)
    if rep.counts.get("conflict", 0) or r.stopped:
        ctx.exit(EXIT_FINDINGS)


def _text(rep: Any, r: Any) -> str:
    out: list[str] = []
    if rep.operation == "pull-upstream":
        out.append(f"{rep.backend}: {rep.old_ref} ({rep.old_commit[:12]}) -> {rep.new_ref} ({rep.new_commit[:12]})")
    else:
        out.append(f"{rep.backend}: vendor layers onto the common layer at {rep.new_ref} ({rep.new_commit[:12]})")
    for p in rep.patches:
        blocked = p.status == "conflict" and p.blocked_by
        status = "blocked" if blocked else p.status
        line = f"  {status:<10} {p.layer}: {p.patch}"
        if blocked:
            line += f" (blocked by {p.blocked_by})"
        elif p.upstream_how:
            where = f" in {p.upstream_commit[:12]}" if p.upstream_commit else ""
            line += f" (already upstream{where}: {p.upstream_how})"
        out.append(line)
        for old, new in p.renamed_upstream:
            out.append(f"      renamed upstream: {old} -> {new}")
        for path in p.deleted_upstream:
            out.append(f"      deleted upstream: {path}")
        for c in p.conflicts:
            out.append(f"      {c.kind}: {c.path}")
            for reg in c.regions:
                o, n, q = reg.old_upstream, reg.new_upstream, reg.patch
                out.append(
                    f"        lines {o[0]},{o[1]} old upstream | {n[0]},{n[1]} new upstream | {q[0]},{q[1]} patch"
                    + (f"  {reg.hunk}" if reg.hunk else "")
                )
            for cu in c.culprits:
                ref = f" [{cu.ref}]" if cu.ref else ""
                out.append(f"        changed upstream by {cu.id[:12]} {cu.subject}{ref}")
                if cu.merge:
                    out.append(f"          merged in {cu.merge[:12]} {cu.merge_subject}")
    out.append(rep.summary)
    if r.stopped:
        out.append(f"stopped at {rep.stopped_at}; conflict markers are in {r.checkout}/:")
        for path in r.conflict_files:
            out.append(f"    {r.checkout}/{path}")
        out.append(
            "edit those files, then run 'fspatch continue'; or 'fspatch skip' to drop the patch, "
            "'fspatch abort' to restore everything"
        )
    return "\n".join(out)


def _stop_option(f: Any) -> Any:
    return click.option(
        "--stop/--no-stop",
        "stop",
        default=None,
        help="Stop at the first conflict (default on a terminal) or, as a bot, try every patch and report once.",
    )(f)


def _interactive(stop: bool | None) -> bool:
    """Interactive replay by default only when a person is at a terminal (DESIGN: bots get --no-stop)."""
    if stop is not None:
        return stop
    return sys.stdin.isatty() and sys.stdout.isatty()


def _report_options(f: Any) -> Any:
    f = click.option(
        "--report",
        "report_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the report to FILE (JSON with --format json or a .json name).",
    )(f)
    return format_option(f)


@main_group.command("pull-upstream", context_settings=CONTEXT)
@click.argument("backend_name", metavar="BACKEND")
@click.argument("ref", metavar="REF")
@click.option("--url", help="Fetch REF from this URL (default: the lock's URL, then its mirrors).")
@_stop_option
@click.option("--drop-upstreamed", is_flag=True, help="Drop patches whose change is already upstream.")
@_report_options
@click.pass_context
def pull_upstream(
    ctx: click.Context,
    backend_name: str,
    ref: str,
    url: str | None,
    stop: bool | None,
    drop_upstreamed: bool,
    report_file: Path | None,
    fmt: str,
) -> None:
    """Move BACKEND's pin to REF and replay every layer onto it as 3-way merges.

    On a terminal it stops at the first conflict for 'fspatch continue/skip/abort';
    elsewhere (CI) it runs as a bot (--no-stop). --stop/--no-stop choose explicitly.
    """
    from fspatch.commands import pull_upstream as cmd

    r = cmd.run(
        _opts(ctx).workspace(),
        backend_name,
        ref,
        url=url,
        stop=_interactive(stop),
        drop_upstreamed=drop_upstreamed,
        progress=_progress(ctx),
    )
    _render(ctx, r, fmt, report_file)


@main_group.command("rebase-vendors", context_settings=CONTEXT)
@click.argument("backend_name", metavar="BACKEND")
@_stop_option
@_report_options
@click.pass_context
def rebase_vendors(
    ctx: click.Context, backend_name: str, stop: bool | None, report_file: Path | None, fmt: str
) -> None:
    """Replay every vendor layer of BACKEND onto the current common layer (same modes as pull-upstream)."""
    from fspatch.commands import rebase_vendors as cmd

    r = cmd.run(_opts(ctx).workspace(), backend_name, stop=_interactive(stop), progress=_progress(ctx))
    _render(ctx, r, fmt, report_file)


@main_group.command("continue", context_settings=CONTEXT)
@backend_option
@_report_options
@click.pass_context
def continue_(ctx: click.Context, backend: str | None, report_file: Path | None, fmt: str) -> None:
    """Record the resolved conflict into the stopped patch and resume the replay."""
    from fspatch.commands import resolve as cmd

    r = cmd.run_continue(_opts(ctx).workspace(), backend, progress=_progress(ctx))
    _render(ctx, r, fmt, report_file)


@main_group.command("skip", context_settings=CONTEXT)
@backend_option
@_report_options
@click.pass_context
def skip(ctx: click.Context, backend: str | None, report_file: Path | None, fmt: str) -> None:
    """Drop the stopped patch from its layer and resume the replay."""
    from fspatch.commands import resolve as cmd

    r = cmd.run_skip(_opts(ctx).workspace(), backend, progress=_progress(ctx))
    _render(ctx, r, fmt, report_file)


@main_group.command("abort", context_settings=CONTEXT)
@backend_option
@format_option
@click.pass_context
def abort(ctx: click.Context, backend: str | None, fmt: str) -> None:
    """Stop the replay and restore the lock, patches, series, checkout and refs as they were."""
    from fspatch.commands import resolve as cmd

    r = cmd.run_abort(_opts(ctx).workspace(), backend)
    if fmt == "json":
        click.echo(_json(r))
        return
    _say(ctx, f"{r.backend}: {r.operation} aborted; {len(r.restored)} workspace files restored")
