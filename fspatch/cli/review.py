"""Reading the layers: ``review`` (layers, patches, shared files, coverage, history) and ``blame``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from fspatch import __version__
from fspatch.cli.base import command
from fspatch.cli.globals import paging_on
from fspatch.cli.options import backend_option, format_option, opts, split_args
from fspatch.cli.render import clean, plural, to_json, write_output
from fspatch.cli.term import emit


def _cov(cov: Any) -> str:
    if cov is None:
        return "-"
    if cov.share is None:
        return "n/a"
    return f"{cov.share * 100:.0f}%"


def render_review_text(r: Any) -> str:
    """The review as text: one block per layer, then shared files and history."""
    s = "s" if len(r.layers) != 1 else ""
    out = [
        f"{r.backend}: upstream {clean(r.ref)} ({r.upstream[:12]}), {len(r.layers)} layer{s}, {r.patch_count} patches"
    ]
    for note in r.notes:
        out.append(f"note: {clean(note)}")
    for layer in r.layers:
        cov = layer.coverage
        cov_text = (
            "markers not computed"
            if cov is None
            else "markers n/a (no added lines in upstream files)"
            if cov.share is None
            else f"markers {_cov(cov)} ({cov.covered}/{cov.counted} lines)"
        )
        out.append("")
        out.append(
            f"{layer.label}  {layer.dir}/  {plural(len(layer.patches), 'patch')}, {plural(len(layer.files), 'file')}, "
            f"+{layer.added} -{layer.removed}, {cov_text}"
        )
        if layer.error:
            out.append(f"  stops applying: {clean(layer.error)}")
        width = max((len(p.name) for p in layer.patches), default=0)
        for p in layer.patches:
            what = clean(p.error) if p.error else clean(p.subject)
            plus, minus = f"+{p.added}", f"-{p.removed}"
            out.append(f"  {clean(p.name):<{width}}  {plus:>6} {minus:>6}  {_cov(p.coverage):>4}  {what}")
            changes = p.changes or ()
            for f in [f"{c.old_path} -> {c.path} (renamed)" if c.old_path and c.status == "R" else c.path
                      for c in changes] or list(p.files):
                out.append(f"  {'':<{width}}    {clean(f)}")
    out.append("")
    if r.collisions:
        out.append("files touched by more than one layer:")
        for c in r.collisions:
            out.append(f"  {clean(c.path)}  " + ", ".join(clean(p) for p in c.patches))
    else:
        out.append("files touched by more than one layer: none")
    if any(layer.history for layer in r.layers):
        out.append("")
        out.append(f"history (workspace commits touching each layer, oldest first, last {r.history_limit} at most):")
        for layer in r.layers:
            out.append(f"  {layer.label}: {plural(len(layer.history), 'commit')}")
            for h in layer.history:
                extra = f", {h.unreadable} unreadable" if h.unreadable else ""
                out.append(
                    f"    {h.commit[:12]}  {h.total:>6} lines "
                    f"(+{h.added} -{h.removed}, {plural(h.patches, 'patch')}{extra})"
                    f"  {clean(h.subject)}"
                )
    return "\n".join(out)


@command()
@click.argument("args", metavar="[BACKEND]", nargs=-1)
@backend_option
@click.option("--vendor", metavar="VENDOR", help="Review the common layer and this vendor's layer only (default: all).")
@format_option
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML page (no JavaScript, no network) here.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="Most workspace commits per layer in the history.",
)
@click.pass_context
def review(
    ctx: click.Context,
    args: tuple[str, ...],
    backend: str | None,
    vendor: str | None,
    fmt: str,
    html_file: Path | None,
    limit: int,
) -> None:
    """Layers, patches, shared files, marker coverage and layer size over history."""
    from fspatch.commands import review as cmd
    from fspatch.core.html import render_review_html

    ws = opts(ctx).workspace()
    name, _ = split_args(ws, args, 0, backend)
    r = cmd.run(ws, name, vendor=vendor, limit=limit)
    if html_file is not None:
        write_output(html_file, render_review_html(r, __version__), "--html")
        if not opts(ctx).quiet:
            click.echo(f"review page written to {html_file}", err=True)
    if fmt == "json":
        from fspatch.core.review import as_json

        click.echo(to_json(as_json(r)))
    elif not opts(ctx).quiet:
        emit((render_review_text(r) + "\n").encode("utf-8", "surrogateescape"), paging=paging_on(ctx))


@command()
@click.argument("args", metavar="[BACKEND] FILE", nargs=-1)
@backend_option
@click.option("--vendor", metavar="VENDOR", help="Also apply this vendor's layer (default: upstream + common).")
@format_option
@click.pass_context
def blame(ctx: click.Context, args: tuple[str, ...], backend: str | None, vendor: str | None, fmt: str) -> None:
    """Show each line of FILE in the patched tree with the upstream commit or patch that added it."""
    from fspatch.commands import blame as cmd

    ws = opts(ctx).workspace()
    name, rest = split_args(ws, args, 1, backend)
    r = cmd.run(ws, name, rest[0], vendor=vendor)
    if fmt == "json":
        data = dataclasses.asdict(r)
        data["counts"] = r.counts()
        click.echo(to_json(data))
        return
    width = len(str(len(r.lines)))
    owner_width = max((len(line.owner) for line in r.lines), default=0)
    for line in r.lines:
        text = line.text[:-1] if line.text.endswith("\r") else line.text
        click.echo(f"{line.number:>{width}}  {clean(line.owner):<{owner_width}}  {clean(text)}")
