"""``fspatch export``: publish each vendor layer as one diff.patch + diff.yaml, refresh history.

Per vendor and backend, ``diff.patch`` is the vendor layer squashed (the tree diff between
upstream+common and upstream+common+vendor, canonical) and ``diff.yaml`` its metadata, validated
by ``schemas/diff.schema.json``.  They go to ``vendors/<vendor>/<backend>/`` or, with ``--out
DIR``, to ``DIR/<vendor>/<backend>/`` with ``DIR/patch_history.yaml`` (FlagScale's ``hardware/``
layout).  ``vendors/history.yaml`` is re-derived every time (:mod:`fspatch.core.export`).
``--format quilt|mbox`` writes every layer as a quilt dir or a mailbox instead (:func:`run_series`).
The work is :mod:`fspatch.core.publish`; this verb is its entry point.
Nothing is rewritten when its bytes stay the same, so exporting twice changes no byte.

A layer holding encrypted patches is exported only with ``--encrypt-to`` (and ``--key`` to read
it): its plaintext is never written where it was not asked for.  An encrypted ``diff.patch``
already there is kept when ``--key`` shows it decrypts to the same diff.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.flagscale_export import FlagScaleExportResult, export_flagscale
from fspatch.core.publish import (
    ExportedLayer,
    ExportResult,
    SeriesExportResult,
    SeriesLayer,
    export_layers,
    export_series,
)
from fspatch.core.workspace import Workspace

__all__ = [
    "ExportResult",
    "ExportedLayer",
    "FlagScaleExportResult",
    "SeriesExportResult",
    "SeriesLayer",
    "run",
    "run_flagscale",
    "run_series",
]


def run(
    ws: Workspace,
    backend: str | None = None,
    *,
    vendor: str | None = None,
    out: Path | None = None,
    encrypt_to: Path | None = None,
    key: Path | None = None,
) -> ExportResult:
    return export_layers(ws, backend, vendor=vendor, out=out, encrypt_to=encrypt_to, key=key)


def run_series(
    ws: Workspace, backend: str | None, *, form: str, out: Path, vendor: str | None = None
) -> SeriesExportResult:
    """Every layer (``--vendor V``: V's layers only) as a quilt dir or an mbox below ``out``."""
    return export_series(ws, backend, form=form, out=out, vendor=vendor)


def run_flagscale(
    ws: Workspace, backend: str | None, *, out: Path, vendor: str | None = None, layout: str | None = None
) -> FlagScaleExportResult:
    """Every vendor layer in FlagScale's form below ``out/hardware/`` (:mod:`fspatch.core.flagscale_export`)."""
    return export_flagscale(ws, backend, out=out, vendor=vendor, layout=layout)
