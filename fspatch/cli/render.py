"""Turning result dataclasses into text and JSON for the terminal (the CLI package alone prints)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fspatch.cli.options import opts
from fspatch.errors import EXIT_FINDINGS

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def to_json(value: Any, *, key: str = "items", kind: str | None = None) -> str:
    """A result dataclass (or plain data) as stable, sorted, indented JSON; bytes and paths as text.

    Always in the versioned envelope (``core/envelope.py``, ``docs/json.md``):
    ``{"format": "fspatch/<kind>", "version": 1, ...}``, the kind being the running command's path
    (``backend-list``); a list goes under ``key``.
    """
    from fspatch.core.envelope import envelope, kind_of

    if kind is None:
        ctx = click.get_current_context(silent=True)
        kind = kind_of(ctx.command_path) if ctx is not None else "fspatch"

    def default(o: Any) -> Any:
        if isinstance(o, bytes):
            return o.decode("utf-8", "surrogateescape")
        if isinstance(o, Path):
            return str(o)
        raise TypeError(type(o).__name__)

    is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
    data = dataclasses.asdict(value) if is_instance else value
    if not isinstance(data, dict):
        data = {key: data}
    return json.dumps(envelope(kind, data), indent=2, sort_keys=True, default=default)


def write_output(path: Path, data: str | bytes, option: str) -> None:
    """Write the file an option names (``--junit``, ``--html`` ...); an unwritable path is bad input (exit 2)."""
    from fspatch.errors import UsageError

    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {exc.strerror or exc}") from exc


def say(ctx: click.Context, text: str) -> None:
    """A progress or summary line, silenced by ``-q``."""
    if not opts(ctx).quiet:
        click.echo(text)


_PROGRESS = "fspatch.progress"


def progress(ctx: click.Context) -> Callable[[int, int, str], None] | None:
    """The replay's progress on stderr (``term.ProgressLine``), none with ``-q``; erased before any report."""
    import sys

    from fspatch.cli.term import ProgressLine

    if opts(ctx).quiet:
        return None
    line = ProgressLine(sys.stderr)
    ctx.meta[_PROGRESS] = line
    ctx.call_on_close(line.clear)
    return line


def clear_progress(ctx: click.Context | None) -> None:
    """Erase a progress bar still on the terminal (a stop, an error) before the next line is printed."""
    line = ctx.meta.get(_PROGRESS) if ctx is not None else None
    if line is not None:
        line.clear()


def clean(text: str) -> str:
    """Untrusted text for a terminal: control characters (escape sequences) shown as '?'."""
    return _CONTROL.sub("?", text)


def plural(count: int, noun: str) -> str:
    """``1 patch``, ``2 patches``, ``3 files``."""
    many = noun + ("es" if noun.endswith("ch") else "s")
    return f"{count} {noun if count == 1 else many}"


def render_replay(ctx: click.Context, r: Any, fmt: str, report_file: Path | None) -> None:
    """A replay result (pull-upstream, rebase-vendors, continue, skip): report, optional file, exit 1 on conflicts."""
    clear_progress(ctx)
    rep = r.report
    if report_file is not None:
        kind = {".json": "json", ".md": "markdown"}.get(report_file.suffix, fmt)
        if kind == "json":
            data = to_json(rep) + "\n"
        elif kind == "markdown":
            from fspatch.core.report_markdown import render_replay_markdown

            data = render_replay_markdown(rep, stopped=r.stopped, checkout=str(r.checkout))
        else:
            data = replay_text(rep, r) + "\n"
        write_output(report_file, data, "--report")
    if fmt == "json":
        click.echo(to_json(r))
    elif fmt == "markdown":
        from fspatch.core.report_markdown import render_replay_markdown

        click.echo(render_replay_markdown(rep, stopped=r.stopped, checkout=str(r.checkout)), nl=False)
    else:
        for line in replay_text(rep, r).splitlines():
            say(ctx, line)
    if rep.counts.get("conflict", 0) or r.stopped:
        ctx.exit(EXIT_FINDINGS)


_SHOWN_LINES = 12


def _shown(label: str, text: str) -> list[str]:
    """A resolved region's text in the report, indented, at most a dozen lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = [f"        {label}:"]
    out.extend(f"        | {line}" for line in lines[:_SHOWN_LINES])
    if len(lines) > _SHOWN_LINES:
        out.append(f"        | … {len(lines) - _SHOWN_LINES} more lines")
    return out


def replay_text(rep: Any, r: Any) -> str:
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
        if getattr(p, "kept", ""):
            out.append(f"      {p.kept}")
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
        for a in getattr(p, "resolutions", ()):
            out.append(f"      resolved ({a.rule}) {a.path}:{a.line}: {a.detail}")
            out.extend(_shown("before", a.before))
            out.extend(_shown("after", a.after))
        for note in getattr(p, "notes", ()):
            out.append(f"      left: {note}")
    out.append(rep.summary)
    if r.pending:  # a bot run: where its conflicts wait and how to finish them
        n = sum(1 for p in rep.patches if str(p.status) == "conflict")
        out.append(
            f"{n} patch(es) pending in {r.pending}: commit the workspace, then 'fspatch apply {rep.backend}' "
            "enters the first one (resolve, 'fspatch continue'; or 'fspatch skip', 'fspatch abort')"
        )
    last = rep.patches[-1] if rep.patches else None
    if r.stopped and last is not None and str(last.status) == "resolved":
        out.append(f"stopped at {rep.stopped_at}: resolved automatically, shown before it is kept, in {r.checkout}/:")
        for path in r.conflict_files:
            out.append(f"    {r.checkout}/{path}")
        out.append(
            "review (or edit) those files, then 'fspatch continue' to keep them; "
            "'fspatch skip' to drop the patch, 'fspatch abort' to restore everything"
        )
    elif r.stopped:
        out.append(f"stopped at {rep.stopped_at}; conflict markers are in {r.checkout}/:")
        for path in r.conflict_files:
            out.append(f"    {r.checkout}/{path}")
        out.append(
            "edit those files, then run 'fspatch continue'; or 'fspatch skip' to drop the patch, "
            "'fspatch abort' to restore everything"
        )
    return "\n".join(out)
