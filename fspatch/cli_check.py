"""Click wiring for ``check`` and ``mark`` (registers on fspatch.cli.main_group)."""

from __future__ import annotations

from pathlib import Path

import click

from fspatch import __version__
from fspatch.cli import CONTEXT, _backend, _json, _opts, _say, backend_option, main_group, vendor_option


@main_group.command(context_settings=CONTEXT)
@click.argument("backends", metavar="[BACKEND]...", nargs=-1)
@click.option("--markers", is_flag=True, help="Check modification markers (the default when no check is named).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML here.")
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path), help="Also write SARIF 2.1.0 here.")
@click.pass_context
def check(
    ctx: click.Context, backends: tuple[str, ...], markers: bool, fmt: str, junit: Path | None, sarif: Path | None
) -> None:
    """Check every patch of every layer in memory; exit 1 when anything is found."""
    from fspatch.commands import check as cmd
    from fspatch.core.markers import RULES
    from fspatch.core.report import render_json, render_junit, render_sarif, render_text

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, list(backends) or None, markers=True)
    summary = {
        "findings": len(r.findings),
        "patches": r.patches,
        "files": r.files,
        "skipped": list(r.skipped),
    }
    if junit is not None:
        junit.write_bytes(render_junit(r.findings, "fspatch check", r.cases))
    if sarif is not None:
        rules = dict(RULES)
        rules.setdefault("does-not-apply", "Patch does not apply on its base")
        sarif.write_text(render_sarif(r.findings, __version__, rules))
    if fmt == "json":
        click.echo(render_json(r.findings, summary))
    else:
        text = render_text(r.findings)
        if text:
            click.echo(text.rstrip("\n"))
        for why in r.skipped:
            click.echo(f"skipped {why}", err=True)
        _say(ctx, f"{r.patches} patches, {r.files} file changes checked: {len(r.findings)} findings")
    if r.findings:
        ctx.exit(1)


@main_group.command(context_settings=CONTEXT)
@click.argument("patch", required=False)
@backend_option
@vendor_option
@click.pass_context
def mark(ctx: click.Context, patch: str | None, backend: str | None, vendor: str | None) -> None:
    """Wrap PATCH's unmarked changes (default: the top patch) in markers and refresh it."""
    from fspatch.commands import mark as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch=patch, vendor=vendor)
    for path in r.wrapped:
        _say(ctx, f"marked {path}")
    _say(ctx, f"Refreshed {r.patch}" if r.file_changed else f"{r.patch} unchanged")


__all__ = ["check", "mark", "_json"]
