"""Click wiring for the vendor verbs (registers on fspatch.cli.main_group).

``vendor add|layer|list``, ``export``, ``import flagscale|quilt|mbox|commits`` and the FlagScale-style
``patch``/``unpatch`` entry points.  Same rules as ``cli.py``: parse, call one command's
``run``, render.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fspatch.cli import CONTEXT, FspatchGroup, _json, _opts, _say, format_option, main_group

F = TypeVar("F", bound=Callable[..., Any])
TASK_CHOICE = click.Choice(["train", "inference", "post_train"])


@main_group.group(context_settings=CONTEXT, cls=FspatchGroup)
def vendor() -> None:
    """Manage vendors (vendors/VENDOR/vendor.yaml) and their layers per backend."""


@vendor.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--device-type", required=True, help="Device the vendor targets, e.g. Cambricon_MLU.")
@click.option("--contact", help="Who maintains the vendor's layers.")
@click.option("--description", help="Free text.")
@click.pass_context
def vendor_add(ctx: click.Context, name: str, device_type: str, contact: str | None, description: str | None) -> None:
    """Create (or update) vendor NAME."""
    from fspatch.commands import vendor as cmd

    r = cmd.run_add(_opts(ctx).workspace(), name, device_type=device_type, contact=contact, description=description)
    _say(ctx, f"{'Created' if r.created else 'Updated'} {r.path}")


@vendor.command("layer", context_settings=CONTEXT)
@click.argument("name")
@click.argument("backend_name", metavar="BACKEND")
@click.option("--task", "tasks", multiple=True, type=TASK_CHOICE, help="Task the layer is for (repeatable).")
@click.option("--model", "models", multiple=True, help="Model the layer works with (repeatable).")
@click.pass_context
def vendor_layer(
    ctx: click.Context, name: str, backend_name: str, tasks: tuple[str, ...], models: tuple[str, ...]
) -> None:
    """Create vendor NAME's layer for BACKEND (or set its tasks and models)."""
    from fspatch.commands import vendor as cmd

    r = cmd.run_layer(_opts(ctx).workspace(), name, backend_name, tasks=tasks, models=models or None)
    _say(ctx, f"{'Created' if r.created else 'Updated'} {r.path} (tasks: {', '.join(r.tasks)})")


@vendor.command("list", context_settings=CONTEXT)
@format_option
@click.pass_context
def vendor_list(ctx: click.Context, fmt: str) -> None:
    """List vendors, their device types and layers."""
    from fspatch.commands import vendor as cmd

    r = cmd.run_list(_opts(ctx).workspace())
    if fmt == "json":
        click.echo(_json(r))
        return
    for v in r.vendors:
        click.echo(f"{v.vendor:<20} {v.device_type:<20} {', '.join(v.backends) or '-'}")


_FORMS = ("diff", "quilt", "mbox")


@main_group.command("export", context_settings=CONTEXT)
@click.argument("backend_name", metavar="[BACKEND]", required=False)
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
    "(OUT/<layer dir>/patches/series + patches, every layer) or mbox (OUT/<layer dir>.mbox, "
    "git am-able); and how to report: text (default) or json.  Give one of each, "
    "e.g. --format mbox --format json.",
)
@click.pass_context
def export_cmd(
    ctx: click.Context,
    backend_name: str | None,
    vendor: str | None,
    out: Path | None,
    encrypt_to: Path | None,
    key: Path | None,
    fmts: tuple[str, ...],
) -> None:
    """Write each vendor layer as one diff.patch + diff.yaml and refresh vendors/history.yaml.

    With --format quilt or mbox, write every layer (the common layer and each vendor's; with
    --vendor, that vendor's) as a quilt patches/ directory or a mailbox below --out instead.
    """
    from fspatch.commands import export as cmd
    from fspatch.errors import UsageError

    forms = [f for f in fmts if f in _FORMS]
    reports = [f for f in fmts if f not in _FORMS]
    if len(forms) > 1 or len(reports) > 1:
        raise UsageError("--format takes at most one of diff|quilt|mbox and one of text|json")
    form = forms[0] if forms else "diff"
    fmt = reports[0] if reports else "text"
    if form != "diff":
        if out is None:
            raise UsageError(f"--format {form} writes below a directory: give --out DIR")
        if encrypt_to is not None or key is not None:
            raise UsageError(f"--format {form} writes plaintext; --encrypt-to and --key go with --format diff")
        sr = cmd.run_series(_opts(ctx).workspace(), backend_name, form=form, out=out, vendor=vendor)
        if fmt == "json":
            click.echo(_json(sr))
            return
        for item in sr.layers:
            state = "written" if item.written else "unchanged"
            count = f"{item.patches} patch{'es' if item.patches != 1 else ''}"
            _say(ctx, f"{item.layer}/{item.backend}: {item.path} ({count}, {state})")
        return

    r = cmd.run(_opts(ctx).workspace(), backend_name, vendor=vendor, out=out, encrypt_to=encrypt_to, key=key)
    if fmt == "json":
        click.echo(_json(r))
        return
    for layer in r.layers:
        state = "written" if layer.written else "unchanged"
        files = f"{layer.files} file{'s' if layer.files != 1 else ''}"
        _say(ctx, f"{layer.vendor}/{layer.backend}: {layer.patch_path} ({files}, {state})")
    _say(ctx, f"history: {r.history_path}")


@main_group.group("import", context_settings=CONTEXT, cls=FspatchGroup)
def import_group() -> None:
    """Import patches kept in other layouts."""


@import_group.command("flagscale", context_settings=CONTEXT)
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RSA private key (PEM) for *.patch.encrypted, decrypted in memory only.",
)
@click.option("--force", is_flag=True, help="Replace layers that already hold patches.")
@format_option
@click.pass_context
def import_flagscale(ctx: click.Context, path: Path, key: Path | None, force: bool, fmt: str) -> None:
    """Import a FlagScale-style repository: common patches, vendor layers, history."""
    from fspatch.commands import import_flagscale as cmd

    r = cmd.run(_opts(ctx).workspace(), path, key=key, force=force)
    if fmt == "json":
        click.echo(_json(r))
        return
    for c in r.common:
        _say(ctx, f"common/{c.backend}: {c.patches} patches")
    for v in r.vendors:
        enc = ", encrypted" if v.encrypted else ""
        _say(
            ctx,
            f"{v.vendor}/{v.backend}: {v.patches} patches{enc}; removed {v.hunks_removed} of "
            f"{v.hunks_total} hunks ({v.lines_removed} lines) identical to the common layer",
        )
    if r.history:
        _say(ctx, "history: vendors/history.import.yaml")


def _layer_options(f: F) -> F:
    f = click.option(
        "--no-check",
        "no_check",
        is_flag=True,
        help="Store the patches even if they do not apply on the layer's top (fix them with push/refresh).",
    )(f)
    f = click.option("--vendor", metavar="VENDOR", help="Append to this vendor's layer (default: the common layer).")(f)
    f = click.option(
        "-b", "--backend", "backend_name", metavar="BACKEND", help="Backend whose layer gets the patches."
    )(f)
    return f


def _say_import(ctx: click.Context, r: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(_json(r))
        return
    for p in r.patches:
        _say(ctx, f"{r.layer_dir}/{p.name}  <- {p.source}")
    for s in r.skipped:
        _say(ctx, f"skipped {s}")
    checked = "applied on the layer's top" if r.checked else "not checked (no checkout, or --no-check)"
    _say(ctx, f"{r.layer}/{r.backend}: {len(r.patches)} patch{'es' if len(r.patches) != 1 else ''} imported, {checked}")


@import_group.command("quilt", context_settings=CONTEXT)
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_layer_options
@click.option("--keep-names", is_flag=True, help="Keep the quilt file names verbatim (default: NNNN-<name>.patch).")
@format_option
@click.pass_context
def import_quilt(
    ctx: click.Context,
    path: Path,
    backend_name: str | None,
    vendor: str | None,
    no_check: bool,
    keep_names: bool,
    fmt: str,
) -> None:
    """Append a quilt series (PATH, PATH/patches or PATH/debian/patches) to a layer, headers kept."""
    from fspatch.commands import import_quilt as cmd

    r = cmd.run(
        _opts(ctx).workspace(), path, backend=backend_name, vendor=vendor, keep_names=keep_names, check=not no_check
    )
    _say_import(ctx, r, fmt)


@import_group.command("mbox", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_layer_options
@format_option
@click.pass_context
def import_mbox(
    ctx: click.Context, files: tuple[Path, ...], backend_name: str | None, vendor: str | None, no_check: bool, fmt: str
) -> None:
    """Append the patches of mailboxes or git format-patch files to a layer, in order."""
    from fspatch.commands import import_mbox as cmd

    r = cmd.run(_opts(ctx).workspace(), files, backend=backend_name, vendor=vendor, check=not no_check)
    _say_import(ctx, r, fmt)


@import_group.command("commits", context_settings=CONTEXT)
@click.argument("spec", metavar="A..B")
@_layer_options
@format_option
@click.pass_context
def import_commits(
    ctx: click.Context, spec: str, backend_name: str | None, vendor: str | None, no_check: bool, fmt: str
) -> None:
    """Append the first-parent commits A..B of the backend's checkout to a layer, oldest first."""
    from fspatch.commands import import_commits as cmd

    r = cmd.run(_opts(ctx).workspace(), spec, backend=backend_name, vendor=vendor, check=not no_check)
    _say_import(ctx, r, fmt)


def _legacy_options(f: F) -> F:
    f = click.option(
        "--commit", metavar="SHA", help="Workspace commit (unpatch: layers as of it; patch: must be HEAD)."
    )(f)
    f = click.option("--task", type=TASK_CHOICE, help="Task the vendor layer must declare.")(f)
    f = click.option("--device-type", "device_type", help="Device type naming the vendor (vendor.yaml device_type).")(f)
    f = click.option("--backend", "backend_name", required=True, help="Backend, e.g. vllm or Megatron-LM.")(f)
    return f


@main_group.command("unpatch", context_settings=CONTEXT)
@_legacy_options
@click.pass_context
def unpatch_cmd(
    ctx: click.Context, backend_name: str, device_type: str | None, task: str | None, commit: str | None
) -> None:
    """FlagScale-style: check out BACKEND with its patches (= fspatch apply)."""
    from fspatch.commands import legacy as cmd

    r = cmd.run_unpatch(_opts(ctx).workspace(), backend_name, device_type=device_type, task=task, commit=commit)
    _say(ctx, f"{r.mapped_to}: {r.detail}")


@main_group.command("patch", context_settings=CONTEXT)
@_legacy_options
@click.pass_context
def patch_cmd(
    ctx: click.Context, backend_name: str, device_type: str | None, task: str | None, commit: str | None
) -> None:
    """FlagScale-style: record the checkout's edits (= fspatch refresh, then export for a vendor)."""
    from fspatch.commands import legacy as cmd

    r = cmd.run_patch(_opts(ctx).workspace(), backend_name, device_type=device_type, task=task, commit=commit)
    _say(ctx, f"{r.mapped_to}: {r.detail}")
