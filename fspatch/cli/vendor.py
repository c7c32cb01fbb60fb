"""Vendors and their published form: ``vendor add|layer|list`` and ``export``."""

from __future__ import annotations

from pathlib import Path

import click

from fspatch.cli.base import command, group
from fspatch.cli.options import TASK_CHOICE, backend_option, format_option, one_backend, opts, pick_backend
from fspatch.cli.render import say, to_json


@group()
def vendor() -> None:
    """Manage vendors (vendors/VENDOR/vendor.yaml) and their layers per backend."""


@vendor.command("add")
@click.argument("name")
@click.option(
    "--device-type",
    help="Device the vendor targets, e.g. Cambricon_MLU (required for a new vendor; kept on an update).",
)
@click.option("--contact", help="Who maintains the vendor's layers.")
@click.option("--description", help="Free text.")
@click.pass_context
def vendor_add(
    ctx: click.Context, name: str, device_type: str | None, contact: str | None, description: str | None
) -> None:
    """Create (or update) vendor NAME."""
    from fspatch.commands import vendor as cmd

    r = cmd.run_add(opts(ctx).workspace(), name, device_type=device_type, contact=contact, description=description)
    say(ctx, f"{'Created' if r.created else 'Updated'} {r.path}")


@vendor.command("layer")
@click.argument("name")
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@click.option(
    "--task", "tasks", multiple=True, required=True, type=TASK_CHOICE, help="Task the layer is for (repeatable)."
)
@click.option("--model", "models", multiple=True, help="Model the layer works with (repeatable).")
@click.pass_context
def vendor_layer(
    ctx: click.Context,
    name: str,
    backend_name: str | None,
    backend: str | None,
    tasks: tuple[str, ...],
    models: tuple[str, ...],
) -> None:
    """Create vendor NAME's layer for BACKEND (or set its tasks and models)."""
    from fspatch.commands import vendor as cmd

    ws = opts(ctx).workspace()
    r = cmd.run_layer(
        ws, name, pick_backend(ws, one_backend(backend_name, backend)), tasks=tasks, models=models or None
    )
    say(ctx, f"{'Created' if r.created else 'Updated'} {r.path} (tasks: {', '.join(r.tasks)})")


@vendor.command("list")
@format_option
@click.pass_context
def vendor_list(ctx: click.Context, fmt: str) -> None:
    """List vendors, their device types and layers."""
    from fspatch.commands import vendor as cmd

    r = cmd.run_list(opts(ctx).workspace())
    if fmt == "json":
        click.echo(to_json(r))
        return
    for v in r.vendors:
        click.echo(f"{v.vendor:<20} {v.device_type:<20} {', '.join(v.backends) or '-'}")


_FORMS = ("diff", "quilt", "mbox", "flagscale")


@command("export")
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@click.option("--vendor", metavar="VENDOR", help="Export only this vendor (default: every vendor).")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/VENDOR/BACKEND/diff.* and DIR/patch_history.yaml instead of into the layers "
    "(quilt, mbox: the directory to write them in, required).",
)
@click.option(
    "--encrypt-to",
    "encrypt_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write diff.patch.encrypted for this RSA public key (PEM) instead of diff.patch.",
)
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RSA private key (PEM) to read encrypted patches, in memory only.",
)
@click.option(
    "--format",
    "fmts",
    multiple=True,
    type=click.Choice(["text", "json", *_FORMS]),
    help="What to write: diff (default: diff.patch + diff.yaml per vendor layer), quilt "
    "(OUT/<backend>/patches/series + patches, vendor layers in OUT/<backend>/vendors/<vendor>/patches) "
    "or mbox (OUT/<layer dir>.mbox, "
    "git am-able) or flagscale (OUT/hardware/<Device_Type>/<Backend>/ relative to the pristine upstream "
    "commit, FlagScale's spellings, OUT/hardware/patch_history.yaml: what FlagScale's unpatch applies); "
    "and how to report: text (default) or json.  Give one of each, e.g. --format mbox --format json.",
)
@click.option(
    "--layout",
    type=click.Choice(["diff", "per-file"]),
    help="--format flagscale: one diff.patch, or one <upstream path>.patch per file "
    "(default: as the layer was imported, else diff).",
)
@click.pass_context
def export_cmd(
    ctx: click.Context,
    backend_name: str | None,
    backend: str | None,
    vendor: str | None,
    out: Path | None,
    encrypt_to: Path | None,
    key: Path | None,
    fmts: tuple[str, ...],
    layout: str | None,
) -> None:
    """Write each vendor layer as one diff.patch + diff.yaml and refresh vendors/history.yaml.

    With --format quilt or mbox, write every layer (the common layer and each vendor's; with
    --vendor, that vendor's) as a quilt patches/ directory or a mailbox below --out instead.
    With --format flagscale, write each vendor layer as FlagScale ships it below --out (a
    FlagScale checkout): relative to the pristine upstream commit, applied by its unpatch.
    """
    from fspatch.commands import export as cmd
    from fspatch.errors import UsageError, describe_os_error

    forms = [f for f in fmts if f in _FORMS]
    reports = [f for f in fmts if f not in _FORMS]
    if len(forms) > 1 or len(reports) > 1:
        raise UsageError("--format takes at most one of diff|quilt|mbox and one of text|json")
    form = forms[0] if forms else "diff"
    fmt = reports[0] if reports else "text"
    if layout is not None and form != "flagscale":
        raise UsageError("--layout goes with --format flagscale")
    if form == "flagscale":
        if out is None:
            raise UsageError("--format flagscale writes below a FlagScale checkout: give --out DIR")
        if encrypt_to is not None or key is not None:
            raise UsageError("--format flagscale writes plaintext; --encrypt-to and --key go with --format diff")
        try:
            fr = cmd.run_flagscale(
                opts(ctx).workspace(), one_backend(backend_name, backend), out=out, vendor=vendor, layout=layout
            )
        except OSError as exc:
            raise UsageError(f"cannot write below --out {out}: {exc.strerror or exc} ({exc.filename})") from exc
        if fmt == "json":
            click.echo(to_json(fr))
            return
        for fl in fr.layers:
            if fl.skipped:
                say(ctx, f"{fl.vendor}/{fl.backend}: {fl.folder}: not written ({fl.skipped})")
                continue
            state = "written" if fl.written else "unchanged"
            gone = f", {fl.removed} stale removed" if fl.removed else ""
            say(ctx, f"{fl.vendor}/{fl.backend}: {fl.folder} ({fl.layout}, {fl.files} files{gone}, {state})")
        say(ctx, f"history: {fr.history_path}{'' if fr.history_written else ' (unchanged)'}")
        return
    if form != "diff":
        if out is None:
            raise UsageError(f"--format {form} writes below a directory: give --out DIR")
        if encrypt_to is not None or key is not None:
            raise UsageError(f"--format {form} writes plaintext; --encrypt-to and --key go with --format diff")
        try:
            sr = cmd.run_series(
                opts(ctx).workspace(), one_backend(backend_name, backend), form=form, out=out, vendor=vendor
            )
        except OSError as exc:  # an unwritable --out is bad input, not a bug
            raise UsageError(f"cannot write below --out {out}: {describe_os_error(exc)}") from exc
        if fmt == "json":
            click.echo(to_json(sr))
            return
        for item in sr.layers:
            state = "written" if item.written else "unchanged"
            count = f"{item.patches} patch{'es' if item.patches != 1 else ''}"
            say(ctx, f"{item.layer}/{item.backend}: {item.path} ({count}, {state})")
            for name in item.emptied:
                click.echo(
                    f"note: {item.path}/{name}: no diff, written as an empty patch (quilt pushes it as "
                    "empty; its description is not in the export)",
                    err=True,
                )
        return

    try:
        r = cmd.run(
            opts(ctx).workspace(),
            one_backend(backend_name, backend),
            vendor=vendor,
            out=out,
            encrypt_to=encrypt_to,
            key=key,
        )
    except OSError as exc:
        where = f"below --out {out}" if out is not None else "the export"
        raise UsageError(f"cannot write {where}: {exc.strerror or exc} ({exc.filename})") from exc
    if fmt == "json":
        click.echo(to_json(r))
        return
    for layer in r.layers:
        state = "written" if layer.written else "unchanged"
        files = f"{layer.files} file{'s' if layer.files != 1 else ''}"
        say(ctx, f"{layer.vendor}/{layer.backend}: {layer.patch_path} ({files}, {state})")
    say(ctx, f"history: {r.history_path}")
