"""Reports as Markdown, fit for a pull/merge request body (``--format markdown``).

A replay's report (``pull-upstream``, ``rebase-vendors``) and ``check``'s findings; pure
renderers like :mod:`fspatch.core.report`'s (values in, text out, nothing printed).

The nightly bot (docs/ci.md) posts it as the body of the request that proposes its branch, so
it says, for someone who did not run the bump: how many patches came through and how (counts),
every conflict with its layer, patch, file, region (line ranges and the patch's own ``@@``
header), culprit (the commit that changed the lines, the merge that brought it, its PR/MR
reference) and the commands that finish it.  Deterministic: the same report gives the same
bytes (no dates, no timings, the report's order); untrusted text (commit subjects, paths) is
cleaned of control characters and cannot break a table or a code span.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fspatch.core.workspace import LayerRef

if TYPE_CHECKING:
    from fspatch.core.replay_report import Culprit, ReplayReport
    from fspatch.core.report import Finding

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def text(value: str) -> str:
    """Untrusted words in Markdown: control characters as '?', Markdown punctuation escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub("?", value))


def code(value: str) -> str:
    """A code span that holds any text: fenced with more backticks than it contains; ``|`` escaped for tables."""
    value = _CONTROL.sub("?", value)
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}".replace("|", "\\|")


def patch_path(backend: str, layer: str, patch: str) -> str:
    """Where the patch file lives in the workspace (``layer`` is ``common`` or ``vendor/<name>``)."""
    return f"{LayerRef.from_label(backend, layer).dir.as_posix()}/{patch}"


def _lines(span: tuple[int, int] | list[int]) -> str:
    start, count = span[0], span[1]
    if count <= 0:
        return f"at {start}"
    return f"{start}" if count == 1 else f"{start}–{start + count - 1}"


def _culprits(culprits: Sequence[Culprit]) -> str:
    out = []
    for cu in culprits:
        words = f"{code(cu.id[:12])} {text(cu.subject)}"
        extra = []
        if cu.merge:
            extra.append(f"merged in {code(cu.merge[:12])} {text(cu.merge_subject)}")
        if cu.ref:
            extra.append(text(cu.ref))
        if extra:
            words += " (" + "; ".join(extra) + ")"
        out.append(words)
    return "<br>".join(out) or "—"


def _counts(rep: ReplayReport) -> list[tuple[str, int]]:
    c = rep.counts
    blocked = int(c.get("blocked", 0))
    return [
        ("clean", int(c.get("clean", 0))),
        ("resolved automatically", int(c.get("resolved", 0))),
        ("already upstream", int(c.get("upstreamed", 0)) + int(c.get("dropped", 0))),
        ("blocked by an earlier patch", blocked),
        ("conflicts", int(c.get("conflict", 0)) - blocked),
        ("skipped", int(c.get("skipped", 0))),
        ("not replayed yet", int(c.get("pending", 0))),
    ]


def _title(rep: ReplayReport) -> str:
    if rep.operation == "pull-upstream":
        return f"fspatch pull-upstream: {text(rep.backend)} {text(rep.old_ref)} → {text(rep.new_ref)}"
    return f"fspatch rebase-vendors: {text(rep.backend)} vendor layers onto the common layer"


def render_replay_markdown(rep: ReplayReport, *, stopped: bool = False, checkout: str = "") -> str:
    """A replay's report as a Markdown document; ``stopped``: an interactive stop in ``checkout``."""
    out = [f"## {_title(rep)}", ""]
    if rep.operation == "pull-upstream":
        out.append(
            f"Backend {code(rep.backend)}: {code(rep.old_ref)} ({code(rep.old_commit[:12])}) → "
            f"{code(rep.new_ref)} ({code(rep.new_commit[:12])})."
        )
    else:
        out.append(f"Backend {code(rep.backend)}: common layer at {code(rep.new_ref)} ({code(rep.new_commit[:12])}).")
    out += ["", f"**{text(rep.summary)}**", "", "| outcome | patches |", "|---|---:|"]
    out += [f"| {label} | {n} |" for label, n in _counts(rep)]
    conflicts = [p for p in rep.patches if str(p.status) == "conflict" and not p.blocked_by]
    blocked = [p for p in rep.patches if str(p.status) == "conflict" and p.blocked_by]
    if conflicts:
        out += ["", "### Conflicts", "", "| layer | patch | file | region | patch hunk | changed upstream by |"]
        out.append("|---|---|---|---|---|---|")
        for p in conflicts:
            where = code(patch_path(rep.backend, p.layer, p.patch))
            for c in p.conflicts or ():
                regions = c.regions or (None,)
                for reg in regions:
                    if reg is None:
                        region, hunk = text(c.kind), "—"
                    else:
                        region = (
                            f"{text(c.kind)}: new upstream lines {_lines(reg.new_upstream)}, "
                            f"patch lines {_lines(reg.patch)}"
                        )
                        hunk = code(reg.hunk) if reg.hunk else "—"
                    out.append(
                        f"| {text(p.layer)} | {where} | {code(c.path)} | {region} | {hunk} | {_culprits(c.culprits)} |"
                    )
            if not p.conflicts:
                out.append(f"| {text(p.layer)} | {where} | — | — | — | — |")
    if blocked:
        out += ["", "### Blocked by an earlier patch", ""]
        out += [
            f"- {text(p.layer)}: {code(p.patch)} — conflicts only because {code(p.blocked_by)} did"
            for p in blocked
        ]
    upstreamed = [p for p in rep.patches if str(p.status) in ("upstreamed", "dropped")]
    if upstreamed:
        out += ["", "### Already upstream", ""]
        for p in upstreamed:
            how = f" in {code(p.upstream_commit[:12])}" if p.upstream_commit else ""
            why = f" ({text(p.upstream_how)})" if p.upstream_how else " (the merge left no change)"
            fate = "dropped" if str(p.status) == "dropped" else "kept as an empty patch"
            kept = f"; {text(p.kept)}" if getattr(p, "kept", "") else ""
            out.append(f"- {text(p.layer)}: {code(p.patch)}{how}{why}; {fate}{kept}")
    resolved = [p for p in rep.patches if str(p.status) == "resolved"]
    if resolved:
        out += ["", "### Resolved automatically (review these)", ""]
        for p in resolved:
            out.append(f"- {text(p.layer)}: {code(p.patch)} ({text(p.resolved_by or 'by hand')})")
            for a in p.resolutions:
                out.append(f"  - {text(a.rule)} {code(f'{a.path}:{a.line}')}: {text(a.detail)}")
    out += _next_steps(rep, stopped, checkout)
    out += ["", "<details><summary>Every patch</summary>", ""]
    for p in rep.patches:
        status = "blocked" if str(p.status) == "conflict" and p.blocked_by else str(p.status)
        out.append(f"- {status}: {text(p.layer)}: {code(p.patch)}")
    out += ["", "</details>", ""]
    return "\n".join(out)


def _next_steps(rep: ReplayReport, stopped: bool, checkout: str) -> list[str]:
    left = [p for p in rep.patches if str(p.status) == "conflict"]
    out = ["", "### What to run", ""]
    if not left and not stopped:
        return [*out, "Nothing: every patch came through. Review the rewritten patches and merge."]
    if stopped:
        out.append(f"The replay stopped at {code(rep.stopped_at or '')}; in the checkout {code(checkout)}:")
        steps = [
            "# edit the files with conflict markers, then",
            "fspatch continue",
            "# or: fspatch skip (drop the patch), fspatch abort (restore everything)",
        ]
    else:
        out.append("From a clone of this branch, for each pending patch in turn:")
        steps = [
            f"fspatch apply {rep.backend}   # checks out the first pending patch with conflict markers (diff3)",
            "# edit the files with conflict markers, then",
            "fspatch continue   # records the resolution, goes on to the next pending patch",
            "# or: fspatch skip (drop the patch), fspatch abort (back to this branch's state)",
        ]
    out += ["", "```sh", *steps, "```", ""]
    out.append(f"Commit the result; {code('fspatch check')} passes once nothing is pending.")
    return out

def render_markdown(findings: Sequence[Finding], summary: Mapping[str, Any]) -> str:
    """``check``'s findings as Markdown: the summary, counts by rule, one row per finding (sorted)."""
    from fspatch.core.report import message_of, sorted_findings

    got = sorted_findings(findings)
    checks = ", ".join(str(c) for c in summary.get("checks", ()))
    out = ["## fspatch check", ""]
    out.append(
        f"**{text(checks)}: {summary.get('patches', 0)} patches built, {summary.get('files', 0)} file changes "
        f"checked: {len(got)} findings ({summary.get('errors', 0)} errors)**"
    )
    if not got:
        out += ["", "No findings."]
    else:
        rules: dict[str, int] = {}
        for f in got:
            rules[f.rule] = rules.get(f.rule, 0) + 1
        out += ["", "| rule | findings |", "|---|---:|"]
        out += [f"| {code(rule)} | {n} |" for rule, n in sorted(rules.items())]
        out += ["", "| where | rule | severity | message |", "|---|---|---|---|"]
        for f in got:
            path, line = f.location()
            out.append(f"| {code(f'{path}:{line}')} | {code(f.rule)} | {text(f.severity)} | {text(message_of(f))} |")
    for why in summary.get("skipped", ()):
        out += ["", f"Skipped: {text(str(why))}"]
    out.append("")
    return "\n".join(out)
