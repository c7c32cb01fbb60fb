"""Health of the workspace: ``check``, ``mark`` (the modification markers it checks) and ``matrix``.

``check`` and ``matrix`` are read-only and build in memory; ``mark`` is the fix for the markers
check.  The rendering of findings (text, JSON, JUnit, SARIF) and of the matrix is core's
``report``/``matrix`` renderers (the only core names this package may import besides opening the
workspace; see ``tests/test_verb_contract.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from fspatch import __version__
from fspatch.cli.base import command
from fspatch.cli.options import backend_option, backends_option, lock_workspace, opts, pick_backend, vendor_option
from fspatch.cli.render import say, write_output


@command()
@click.argument("backends", metavar="[BACKEND]...", nargs=-1)
@backends_option
@click.option("--schemas", is_flag=True, help="Check every YAML file against its schema.")
@click.option("--series", is_flag=True, help="Check series files: syntax, duplicates, missing and orphan patch files.")
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Build every layer in memory: common on the pinned upstream, vendor layers on the common top.",
)
@click.option("--markers", is_flag=True, help="Check modification markers in every changed file.")
@click.option(
    "--canonical", is_flag=True, help="Check that patch files are in canonical form (refresh would not rewrite them)."
)
@click.option(
    "--sync",
    "sync",
    is_flag=True,
    help="First set up missing backend checkouts from upstream.lock (as 'fspatch sync').",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write JUnit XML here (one failed test case per finding, one passing case per clean backend and layer).",
)
@click.option(
    "--sarif",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write SARIF 2.1.0 here (locations in the workspace's patch and lock files).",
)
@click.pass_context
def check(
    ctx: click.Context,
    backends: tuple[str, ...],
    backend_opts: tuple[str, ...],
    schemas: bool,
    series: bool,
    apply_: bool,
    markers: bool,
    canonical: bool,
    sync: bool,
    strict: bool,
    fmt: str,
    junit: Path | None,
    sarif: Path | None,
) -> None:
    """Check the health of the workspace; no check named means all of them.

    Read-only: patches are built in memory, the checkouts are not touched.
    Exit 0 when clean (warnings alone do not fail unless --strict), 1 on
    findings, 2 on a usage error.
    """
    from fspatch.commands import check as cmd
    from fspatch.core.health import all_rules
    from fspatch.core.report import render_json, render_junit, render_sarif, render_text
    from fspatch.core.workspace import find_root

    root = find_root(Path.cwd(), opts(ctx).directory)
    if sync:  # --sync sets checkouts up: a changing verb, it holds the workspace's lock
        lock_workspace(ctx, root)
    selected = [
        name
        for name, on in (
            ("schemas", schemas),
            ("series", series),
            ("apply", apply_),
            ("markers", markers),
            ("canonical", canonical),
        )
        if on
    ]
    r = cmd.run(root, [*backends, *backend_opts] or None, checks=selected or None, sync=sync)
    summary = {
        "checks": list(r.checks),
        "cases": list(r.cases),
        "findings": len(r.findings),
        "errors": r.errors,
        "patches": r.patches,
        "files": r.files,
        "skipped": list(r.skipped),
    }
    if junit is not None:
        write_output(junit, render_junit(r.findings, "fspatch check", r.cases), "--junit")
    if sarif is not None:
        write_output(sarif, render_sarif(r.findings, __version__, all_rules()), "--sarif")
    if fmt == "json":
        click.echo(render_json(r.findings, summary), nl=False)
    elif fmt == "markdown":
        from fspatch.core.report_markdown import render_markdown

        click.echo(render_markdown(r.findings, summary), nl=False)
    else:
        text = render_text(r.findings)
        if text:
            click.echo(text.rstrip("\n"))
        for why in r.skipped:
            click.echo(f"skipped {why}", err=True)
        say(
            ctx,
            f"{', '.join(r.checks)}: {r.patches} patches built, {r.files} file changes checked: "
            f"{len(r.findings)} findings",
        )
    if r.errors or (strict and r.findings):
        ctx.exit(1)


@command()
@click.argument("patch", required=False)
@backend_option
@vendor_option
@click.pass_context
def mark(ctx: click.Context, patch: str | None, backend: str | None, vendor: str | None) -> None:
    """Wrap PATCH's unmarked changes (default: the top patch) in markers and refresh it."""
    from fspatch.commands import mark as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch=patch, vendor=vendor)
    for path in r.wrapped:
        say(ctx, f"marked {path}")
    say(ctx, f"Refreshed {r.patch}" if r.file_changed else f"{r.patch} unchanged")


@command()
@click.argument("backends", metavar="[BACKEND]...", nargs=-1)
@backends_option
@click.option("--vendor", "vendors", metavar="VENDOR", multiple=True, help="Only this vendor's layers (repeatable).")
@click.option(
    "--onto",
    "onto",
    metavar="[BACKEND=]REF",
    multiple=True,
    help="Also try a rebase onto REF (a tag, branch or commit in the checkout); BACKEND=REF for one backend.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option(
    "--github-matrix",
    "github",
    is_flag=True,
    help='Print {"include": [{"backend", "vendor", "layer"}, ...]} on one line for a CI fan-out (builds nothing).',
)
@click.option(
    "--by",
    "by",
    type=click.Choice(["layer", "backend"]),
    default="layer",
    show_default=True,
    help='With --github-matrix: one job per backend × layer, or per backend ({"backend", "layers"}: a bump\'s unit).',
)
@click.pass_context
def matrix(
    ctx: click.Context,
    backends: tuple[str, ...],
    backend_opts: tuple[str, ...],
    vendors: tuple[str, ...],
    onto: tuple[str, ...],
    fmt: str,
    github: bool,
    by: str,
) -> None:
    """Show backend × layer: applies on the pinned upstream, on the current common layer, onto REF.

    Read-only and in memory.  The matrix reports, it does not judge: exit 0
    whatever it shows (2 on a usage error); use 'fspatch check' to fail a build.
    """
    from fspatch.commands import matrix as cmd

    ws = opts(ctx).workspace()
    if github:
        if onto:
            raise click.UsageError("--github-matrix builds nothing; it cannot be combined with --onto")
        wanted = [*backends, *backend_opts] or None
        if by == "backend":
            per = cmd.fan_out_backends(ws, wanted, vendors=list(vendors) or None)
            include = [{"backend": j.backend, "layers": " ".join(j.layers)} for j in per]
        else:
            jobs = cmd.fan_out(ws, wanted, vendors=list(vendors) or None)
            include = [{"backend": j.backend, "vendor": j.vendor, "layer": j.layer} for j in jobs]
        click.echo(json.dumps({"include": include}, separators=(",", ":")))
        return
    if by != "layer":
        raise click.UsageError("--by goes with --github-matrix")
    from fspatch.core.matrix import matrix_dict, render_matrix_markdown, render_matrix_text

    m = cmd.run(ws, [*backends, *backend_opts] or None, vendors=list(vendors) or None, onto=onto)
    if fmt == "json":
        click.echo(json.dumps(matrix_dict(m), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render_matrix_markdown(m), nl=False)
    else:
        click.echo(render_matrix_text(m), nl=False)
