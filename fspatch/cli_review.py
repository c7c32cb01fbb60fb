"""Click wiring for ``review`` and ``blame`` (registers on fspatch.cli.main_group)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import click

from fspatch import __version__
from fspatch.cli import CONTEXT, _backend, _json, _opts, format_option, main_group

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    """Untrusted text for a terminal: control characters (escape sequences) shown as '?'."""
    return _CONTROL.sub("?", text)


def _split_args(ws: Any, args: tuple[str, ...], wanted: int) -> tuple[str, list[str]]:
    """``[BACKEND] REST...``: the backend is optional when the workspace makes it obvious."""
    if len(args) == wanted + 1:
        return _backend(ws, args[0]), list(args[1:])
    if len(args) == wanted:
        return _backend(ws, None), list(args)
    raise click.UsageError(f"expected {'[BACKEND] FILE' if wanted else '[BACKEND]'}")


def _n(count: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{count} {noun if count == 1 else plural}"


def _cov(cov: Any) -> str:
    if cov is None:
        return "-"
    if cov.share is None:
        return "n/a"
    return f"{cov.share * 100:.0f}%"


def render_review_text(r: Any) -> str:
    plural = "s" if len(r.layers) != 1 else ""
    out = [
        f"{r.backend}: upstream {_clean(r.ref)} ({r.upstream[:12]}), "
        f"{len(r.layers)} layer{plural}, {r.patch_count} patches"
    ]
    for note in r.notes:
        out.append(f"note: {_clean(note)}")
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
            f"{layer.label}  {layer.dir}/  {_n(len(layer.patches), 'patch')}, {_n(len(layer.files), 'file')}, "
            f"+{layer.added} -{layer.removed}, {cov_text}"
        )
        if layer.error:
            out.append(f"  stops applying: {_clean(layer.error)}")
        width = max((len(p.name) for p in layer.patches), default=0)
        for p in layer.patches:
            what = _clean(p.error) if p.error else _clean(p.subject)
            plus, minus = f"+{p.added}", f"-{p.removed}"
            out.append(f"  {_clean(p.name):<{width}}  {plus:>6} {minus:>6}  {_cov(p.coverage):>4}  {what}")
            for f in p.files:
                out.append(f"  {'':<{width}}    {_clean(f)}")
    out.append("")
    if r.collisions:
        out.append("files touched by more than one layer:")
        for c in r.collisions:
            out.append(f"  {_clean(c.path)}  " + ", ".join(_clean(p) for p in c.patches))
    else:
        out.append("files touched by more than one layer: none")
    if any(layer.history for layer in r.layers):
        out.append("")
        out.append(f"history (workspace commits touching each layer, oldest first, last {r.history_limit} at most):")
        for layer in r.layers:
            out.append(f"  {layer.label}: {_n(len(layer.history), 'commit')}")
            for h in layer.history:
                extra = f", {h.unreadable} unreadable" if h.unreadable else ""
                out.append(
                    f"    {h.commit[:12]}  {h.total:>6} lines "
                    f"(+{h.added} -{h.removed}, {_n(h.patches, 'patch')}{extra})"
                    f"  {_clean(h.subject)}"
                )
    return "\n".join(out)


@main_group.command(context_settings=CONTEXT)
@click.argument("args", metavar="[BACKEND]", nargs=-1)
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
    ctx: click.Context, args: tuple[str, ...], vendor: str | None, fmt: str, html_file: Path | None, limit: int
) -> None:
    """Layers, patches, shared files, marker coverage and layer size over history."""
    from fspatch.commands import review as cmd
    from fspatch.core.html import render_review_html

    ws = _opts(ctx).workspace()
    backend, _ = _split_args(ws, args, 0)
    r = cmd.run(ws, backend, vendor=vendor, limit=limit)
    if html_file is not None:
        html_file.write_text(render_review_html(r, __version__), encoding="utf-8")
        if not _opts(ctx).quiet:
            click.echo(f"review page written to {html_file}", err=True)
    if fmt == "json":
        data = dataclasses.asdict(r)
        data["patch_count"] = r.patch_count
        click.echo(_json(data))
    elif not _opts(ctx).quiet:
        click.echo(render_review_text(r))


@main_group.command(context_settings=CONTEXT)
@click.argument("args", metavar="[BACKEND] FILE", nargs=-1)
@click.option("--vendor", metavar="VENDOR", help="Also apply this vendor's layer (default: upstream + common).")
@format_option
@click.pass_context
def blame(ctx: click.Context, args: tuple[str, ...], vendor: str | None, fmt: str) -> None:
    """Show each line of FILE in the patched tree with the upstream commit or patch that added it."""
    from fspatch.commands import blame as cmd

    ws = _opts(ctx).workspace()
    backend, rest = _split_args(ws, args, 1)
    r = cmd.run(ws, backend, rest[0], vendor=vendor)
    if fmt == "json":
        data = dataclasses.asdict(r)
        data["counts"] = r.counts()
        click.echo(_json(data))
        return
    width = len(str(len(r.lines)))
    owner_width = max((len(line.owner) for line in r.lines), default=0)
    for line in r.lines:
        text = line.text[:-1] if line.text.endswith("\r") else line.text
        click.echo(f"{line.number:>{width}}  {_clean(line.owner):<{owner_width}}  {_clean(text)}")


__all__ = ["blame", "review", "render_review_text"]
