"""The review as one self-contained HTML page: inline CSS, an inline SVG plot, no JavaScript.

Why this shape: the page is kept as a CI artifact and mailed around, so it must open anywhere
without a network (no fonts, scripts or images from elsewhere) and read well as plain text
(semantic tables, headings; the plot's data is repeated in a table inside ``<details>``).
Every string that comes from the workspace -- patch subjects, authors, file names, layer
names, commit subjects, diff lines -- is untrusted and goes through :func:`html.escape`
(diff lines through pygments' HTML formatter, which escapes the same characters).  Pure
function: a :class:`~fspatch.core.review.Review` in, a ``str`` out.

A reviewer reads patches, so every patch is on the page with its diff: file by file in a
``<details open>`` block (collapsible without a script), syntax-highlighted by pygments with
the lexer of the file's name (each side of a hunk is highlighted as one text, so strings and
comments that span lines come out right), added lines outside marker regions flagged
``unmarked``.  Links are in-page anchors only (``#layer-N``, ``#p-N-M``, ``#p-N-M-fK``): the
page is a file that travels, and links into a workspace would break on the first copy.  Diffs
are capped (:data:`FILE_LINES` per file, :data:`PAGE_LINES` for the page) so a 200-patch
series over thousands of files still gives a page a browser opens; what is cut says so and
names the patch file to read instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from fspatch.core.review import Coverage, DiffLine, FileChange, HistoryPoint, LayerReview, PatchStat, Review

#: Most diff lines shown for one file, and for the whole page.
FILE_LINES = 1500
PAGE_LINES = 40_000

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1b1f24; background: #fff; margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.8em 0 .5em; padding-bottom: .2em; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05em; margin: 1.3em 0 .4em; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em; }
.sub { color: #57606a; margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
caption { text-align: left; color: #57606a; padding: 0 0 .3em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.add { color: #1a7f37; } td.del { color: #cf222e; }
td.cov, td.name { white-space: nowrap; }
tr.error td { background: #fff5f5; }
.files { margin: 0; padding-left: 1.1em; }
.files li { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; }
.bar { display: inline-block; width: 90px; height: 9px; background: #eaeef2; border-radius: 4px;
       vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: #2da44e; }
.bar.ok { background: #dafbe1; }
.bar.low { background: #fff8c5; } .bar.low > span { background: #d4a72c; }
.bar.bad { background: #ffebe9; box-shadow: inset 0 0 0 1px #cf222e; } .bar.bad > span { background: #cf222e; }
td.cov.ok, span.cov.ok { color: #1a7f37; } td.cov.low, span.cov.low { color: #9a6700; }
td.cov.bad, span.cov.bad { color: #cf222e; font-weight: 600; } td.cov.na, span.cov.na { color: #57606a; }
nav.toc { margin: .6em 0 0; } nav.toc a { margin-right: 1em; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
section.patch { margin: 1.4em 0 2em; }
section.patch h4 { font-size: 1em; margin: 0 0 .3em; padding: 6px 10px; background: #f6f8fa;
                   border: 1px solid #d0d7de; border-radius: 6px 6px 0 0; }
.meta { margin: .2em 0 .4em; color: #57606a; font-size: .92em; }
.pn { font-size: .88em; margin: .2em 0 .6em; }
pre.desc { white-space: pre-wrap; font: inherit; margin: .3em 0 .6em; padding: 6px 10px;
           border-left: 3px solid #d0d7de; color: #1b1f24; }
details.file { border: 1px solid #d0d7de; border-radius: 6px; margin: .5em 0; overflow: hidden; }
details.file > summary { padding: 5px 10px; background: #f6f8fa; cursor: pointer;
                         font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; }
.st { display: inline-block; min-width: 1.4em; text-align: center; border-radius: 3px; font-weight: 700;
      margin-right: 6px; color: #fff; background: #57606a; }
.st-A { background: #1a7f37; } .st-D { background: #cf222e; } .st-R, .st-C { background: #8250df; }
.st-M { background: #9a6700; }
table.diff { margin: 0; border: 0; table-layout: fixed; width: 100%; font-size: 12.5px; line-height: 1.4;
             font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table.diff td { border: 0; padding: 0 8px; white-space: pre-wrap; word-break: break-all; }
table.diff td.ln { width: 3.6em; text-align: right; color: #8c959f; user-select: none; padding: 0 6px; }
table.diff td.sg { width: 1em; padding: 0 2px; user-select: none; color: #57606a; }
table.diff tr.hunk td { background: #ddf4ff; color: #57606a; padding: 2px 8px; }
table.diff tr.add td { background: #e6ffec; } table.diff tr.add td.ln { background: #ccffd8; }
table.diff tr.del td { background: #ffebe9; } table.diff tr.del td.ln { background: #ffd7d5; }
table.diff tr.unmarked td { background: #fff1d6; } table.diff tr.unmarked td.ln { background: #ffd8a8; }
table.diff tr.unmarked td.sg { box-shadow: inset 3px 0 0 #bc4c00; color: #bc4c00; font-weight: 700; }
.badge { float: right; font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 10.5px; color: #bc4c00;
         border: 1px solid #bc4c00; border-radius: 8px; padding: 0 6px; margin-left: 8px; }
span.badge.inline { float: none; }
.cut { padding: 4px 10px; color: #57606a; font-size: .9em; background: #f6f8fa; margin: 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
.legend { list-style: none; padding: 0; margin: .3em 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 4px; }
.err { color: #cf222e; }
figure { margin: .5em 0; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 11px; fill: #57606a; }
footer { margin-top: 3em; color: #57606a; font-size: .85em; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _pct(cov: Coverage | None) -> str:
    if cov is None:
        return "not computed"
    if cov.share is None:
        return "no added lines in upstream files"
    return f"{cov.share * 100:.0f}% ({cov.covered}/{cov.counted} lines)"


def cov_class(cov: Coverage | None) -> str:
    """``ok`` (90 % and more), ``low`` (50 % and more), ``bad`` (below, 0 % included), ``na``."""
    if cov is None or cov.share is None:
        return "na"
    return "ok" if cov.share >= 0.9 else ("low" if cov.share >= 0.5 else "bad")


def _cov_html(cov: Coverage | None) -> str:
    cls = cov_class(cov)
    if cov is None or cov.share is None:
        return esc(_pct(cov))
    width = round(cov.share * 100)
    return (
        f'<span class="bar {cls}" aria-hidden="true"><span style="width:{width}%"></span></span>'
        f'<span class="cov {cls}">{esc(_pct(cov))}</span>'
    )


def _cov_cell(cov: Coverage | None) -> str:
    return f'<td class="cov {cov_class(cov)}">{_cov_html(cov)}</td>'


def patch_anchor(layer: int, n: int) -> str:
    return f"p-{layer}-{n}"


def _change_label(c: FileChange) -> str:
    if c.old_path is not None:
        verb = "renamed" if c.status == "R" else "copied"
        return f'<code>{esc(c.old_path)}</code> &rarr; <code>{esc(c.path)}</code> <span class="sub">({verb})</span>'
    return f"<code>{esc(c.path)}</code>"


def _files_list(i: int, n: int, p: PatchStat) -> str:
    if not p.changes:
        return "".join(f"<li>{esc(f)}</li>" for f in p.files)
    anchor = patch_anchor(i, n)
    return "".join(f'<li><a href="#{anchor}-f{k}">{_change_label(c)}</a></li>' for k, c in enumerate(p.changes))


def _layer_summary(review: Review) -> list[str]:
    out = [
        "<table>",
        "<caption>Layers, bottom to top of the stack</caption>",
        '<thead><tr><th>Layer</th><th>Directory</th><th class="num">Patches</th><th class="num">Files</th>'
        '<th class="num">Added</th><th class="num">Removed</th><th>Marker coverage</th></tr></thead><tbody>',
    ]
    for i, layer in enumerate(review.layers):
        out.append(
            f'<tr><td><span class="swatch" style="background:{_color(i)}" aria-hidden="true"></span>'
            f'<a href="#layer-{i}">{esc(layer.label)}</a></td><td><code>{esc(layer.dir)}/</code></td>'
            f'<td class="num">{len(layer.patches)}</td><td class="num">{len(layer.files)}</td>'
            f'<td class="num add">+{layer.added}</td><td class="num del">&minus;{layer.removed}</td>'
            f"{_cov_cell(layer.coverage)}</tr>"
        )
    total_files = len({f for layer in review.layers for f in layer.files})
    out.append(
        f'</tbody><tfoot><tr><th colspan="2">Total</th><th class="num">{review.patch_count}</th>'
        f'<th class="num">{total_files}</th><th class="num">+{sum(x.added for x in review.layers)}</th>'
        f'<th class="num">&minus;{sum(x.removed for x in review.layers)}</th><th></th></tr></tfoot></table>'
    )
    return out


def _layer_section(i: int, layer: LayerReview, budget: _Budget) -> list[str]:
    out = [
        f'<section id="layer-{i}"><h3><span class="swatch" style="background:{_color(i)}" aria-hidden="true"></span>'
        f'Layer {esc(layer.label)} <span class="sub">&middot; <code>{esc(layer.dir)}/</code></span></h3>'
    ]
    if layer.error:
        out.append(f'<p class="err">Stops applying: {esc(layer.error)}</p>')
    if not layer.patches:
        out.append("<p>No patches.</p></section>")
        return out
    out.append(
        '<table><thead><tr><th class="num">#</th><th>Patch</th><th>Subject</th><th>Files</th>'
        '<th class="num">Added</th><th class="num">Removed</th><th>Marker coverage</th></tr></thead><tbody>'
    )
    for n, p in enumerate(layer.patches, start=1):
        files = _files_list(i, n, p)
        subject = esc(p.subject) if not p.error else f'<span class="err">{esc(p.error)}</span>'
        row_class = ' class="error"' if p.error else ""
        out.append(
            f'<tr{row_class}><td class="num">{n}</td><td class="name">'
            f'<a href="#{patch_anchor(i, n)}"><code>{esc(p.name)}</code></a></td>'
            f'<td>{subject}</td><td><ul class="files">{files}</ul></td>'
            f'<td class="num add">+{p.added}</td><td class="num del">&minus;{p.removed}</td>'
            f"{_cov_cell(p.coverage)}</tr>"
        )
    out.append("</tbody></table>")
    out.extend(_patch_diffs(i, layer, budget))
    out.append("</section>")
    return out


# --------------------------------------------------------------------------- diffs

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: Lexers pygments does not map by file name, for file kinds the backends carry.
_EXTRA_LEXERS = {".mlu": "cuda", ".hip": "cpp", ".cuh": "cuda", ".inl": "cpp", ".ipp": "cpp", ".tpp": "cpp"}


def _visible(text: str) -> str:
    """Control characters as their Unicode control pictures (a form feed shows as U+240C)."""
    return _CONTROL.sub(lambda m: chr(0x2421) if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)


@lru_cache(maxsize=512)
def _lexer_for(key: str) -> Any:
    """A pygments lexer for a file name (or extension) key, or None for plain text."""
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    options = {"stripnl": False, "stripall": False, "ensurenl": False}
    try:
        if key in _EXTRA_LEXERS:
            return get_lexer_by_name(_EXTRA_LEXERS[key], **options)
        lexer = get_lexer_for_filename(key if not key.startswith(".") else "x" + key, **options)
    except ClassNotFound:
        return None
    return None if lexer.name == "Text only" else lexer


def lexer_key(path: str) -> str:
    """Cache key for :func:`_lexer_for`: the extension, or the whole name for special names."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    if dot <= 0 or name in ("CMakeLists.txt",) or name.startswith(("Dockerfile", "Makefile")):
        return name
    return name[dot:].lower()


@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def highlight_lines(path: str, lines: Sequence[str]) -> list[str]:
    """``lines`` as HTML, highlighted as one text in the language of ``path``; escaped either way."""
    plain = [esc(line) for line in lines]
    lexer = _lexer_for(lexer_key(path))
    if lexer is None or not lines:
        return plain
    from pygments import highlight

    out = highlight("\n".join(lines) + "\n", lexer, _formatter()).split("\n")
    if out and out[-1] == "":
        out.pop()
    return out if len(out) == len(lines) else plain


@lru_cache(maxsize=1)
def token_css() -> str:
    """pygments' token colours, scoped to the diff tables."""
    return "\n".join(_formatter().get_token_style_defs("table.diff td.code"))


class _Budget:
    """Diff lines left for the page."""

    def __init__(self, lines: int = PAGE_LINES) -> None:
        self.left = lines


def _diff_rows(c: FileChange, budget: _Budget) -> tuple[list[str], int]:
    """Table rows of one file's hunks and the number of lines left out."""
    rows: list[DiffLine] = [line for h in c.hunks for line in h.lines]
    allowed = min(FILE_LINES, budget.left)
    cut = max(0, len(rows) - allowed)
    shown_count = len(rows) - cut
    budget.left -= shown_count
    old_side = [_visible(x.text) for x in rows[:shown_count] if x.kind != "+"]
    new_side = [_visible(x.text) for x in rows[:shown_count] if x.kind != "-"]
    old_html = highlight_lines(c.old_path or c.path, old_side)
    new_html = highlight_lines(c.path, new_side)
    oi = ni = 0
    out: list[str] = []
    done = 0
    for h in c.hunks:
        if done >= shown_count:
            break
        out.append(f'<tr class="hunk"><td colspan="4">{esc(h.header)}</td></tr>')
        for line in h.lines:
            if done >= shown_count:
                break
            done += 1
            old_no = "" if line.old is None else str(line.old)
            new_no = "" if line.new is None else str(line.new)
            if line.kind == "+":
                code = new_html[ni]
                ni += 1
                if line.unmarked:
                    cls, sign = "add unmarked", "+"
                    code = (
                        '<span class="badge" title="added line outside FLAGSCALE MODIFICATION markers">'
                        f"unmarked</span>{code}"
                    )
                else:
                    cls, sign = "add", "+"
            elif line.kind == "-":
                code = old_html[oi]
                oi += 1
                cls, sign = "del", "&minus;"
            else:
                code = new_html[ni]
                oi += 1
                ni += 1
                cls, sign = "ctx", ""
            out.append(
                f'<tr class="{cls}"><td class="ln">{old_no}</td><td class="ln">{new_no}</td>'
                f'<td class="sg">{sign}</td><td class="code">{code}</td></tr>'
            )
    return out, cut


def _file_diff(anchor: str, c: FileChange, patch_file: str, budget: _Budget) -> list[str]:
    head = (
        f'<span class="st st-{esc(c.status)}" title="{esc(_STATUS.get(c.status, c.status))}">{esc(c.status)}</span>'
        f'{_change_label(c)} <span class="add">+{c.added}</span> <span class="del">&minus;{c.removed}</span>'
    )
    if c.mode:
        head += f' <span class="sub">mode {esc(c.mode)}</span>'
    out = [f'<details class="file" id="{anchor}" open><summary>{head}</summary>']
    if c.binary:
        out.append('<p class="cut">Binary file: no text diff.</p>')
    elif not c.hunks:
        out.append(f'<p class="cut">{"No content change." if c.status != "A" else "Empty file."}</p>')
    elif budget.left <= 0:
        out.append(
            f'<p class="cut">Diff not shown: the page holds {PAGE_LINES} diff lines at most; '
            f"read <code>{esc(patch_file)}</code>.</p>"
        )
    else:
        rows, cut = _diff_rows(c, budget)
        out.append(
            '<table class="diff"><colgroup><col style="width:3.6em"><col style="width:3.6em">'
            '<col style="width:1.2em"><col></colgroup><tbody>'
        )
        out.extend(rows)
        out.append("</tbody></table>")
        if cut:
            out.append(f'<p class="cut">{cut} more diff lines not shown; read <code>{esc(patch_file)}</code>.</p>')
    out.append("</details>")
    return out


_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type changed"}


def _patch_diffs(i: int, layer: LayerReview, budget: _Budget) -> list[str]:
    out: list[str] = []
    total = len(layer.patches)
    for n, p in enumerate(layer.patches, start=1):
        anchor = patch_anchor(i, n)
        out.append(f'<section class="patch" id="{anchor}">')
        out.append(f'<h4><a href="#{anchor}"><code>{esc(p.name)}</code></a> &middot; {esc(p.subject or p.name)}</h4>')
        meta = [f"<code>{esc(p.file)}</code>"] if p.file else []
        if p.author:
            meta.append(esc(p.author))
        meta.append(f'<span class="add">+{p.added}</span> <span class="del">&minus;{p.removed}</span>')
        meta.append(f"markers: {_cov_html(p.coverage)}")
        out.append(f'<p class="meta">{" &middot; ".join(meta)}</p>')
        links = [f'<a href="#layer-{i}">layer {esc(layer.label)}</a>', f"patch {n} of {total}"]
        if n > 1:
            links.append(f'<a href="#{patch_anchor(i, n - 1)}">&larr; previous</a>')
        if n < total:
            links.append(f'<a href="#{patch_anchor(i, n + 1)}">next &rarr;</a>')
        out.append(f'<p class="pn">{" &middot; ".join(links)}</p>')
        if p.error:
            out.append(f'<p class="err">{esc(p.error)}</p></section>')
            continue
        if p.description:
            out.append(f'<pre class="desc">{esc(p.description)}</pre>')
        for k, c in enumerate(p.changes):
            out.extend(_file_diff(f"{anchor}-f{k}", c, p.file, budget))
        out.append("</section>")
    return out


def _collisions(review: Review) -> list[str]:
    out = ['<section id="collisions"><h2>Files touched by more than one layer</h2>']
    if not review.collisions:
        out.append("<p>None: every file is changed by one layer only.</p></section>")
        return out
    out.append(
        "<table><caption>Where vendor and common work meet: a change below can break the layer above</caption>"
        "<thead><tr><th>File</th><th>Layers</th><th>Patches</th></tr></thead><tbody>"
    )
    anchors = {
        f"{layer.label}/{p.name}": patch_anchor(i, n)
        for i, layer in enumerate(review.layers)
        for n, p in enumerate(layer.patches, start=1)
    }
    for c in review.collisions:
        patches = "<br>".join(
            f'<a href="#{anchors[p]}"><code>{esc(p)}</code></a>' if p in anchors else f"<code>{esc(p)}</code>"
            for p in c.patches
        )
        out.append(f"<tr><td><code>{esc(c.path)}</code></td><td>{esc(', '.join(c.layers))}</td><td>{patches}</td></tr>")
    out.append("</tbody></table></section>")
    return out


def history_svg(layers: Sequence[LayerReview], width: int = 900, height: int = 300) -> str:
    """A step plot of each layer's total changed lines (added + removed) at the commits touching it."""
    ages = sorted({p.age for layer in layers for p in layer.history}, reverse=True)  # oldest first
    if not ages:
        return ""
    left, right, top, bottom = 56, 48, 14, 40
    pw, ph = width - left - right, height - top - bottom
    xs = {age: left + (pw * k / (len(ages) - 1) if len(ages) > 1 else pw / 2) for k, age in enumerate(ages)}
    ymax = max(p.total for layer in layers for p in layer.history) or 1
    step = _nice_step(ymax / 4)
    ytop = step * max(1, -(-ymax // step))

    def y(v: float) -> float:
        return top + ph - ph * v / ytop

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-labelledby="plot-title plot-desc">',
        '<title id="plot-title">Layer size over the workspace history</title>',
        '<desc id="plot-desc">Lines added plus removed by each layer, at every workspace commit that changed '
        "the layer; the table below holds the same numbers.</desc>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#d0d7de"/>',
    ]
    v = 0
    while v <= ytop:
        yy = y(v)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v}</text>')
        v += step
    parts.append(
        f'<text x="14" y="{top + ph / 2:.1f}" transform="rotate(-90 14 {top + ph / 2:.1f})" text-anchor="middle">'
        "lines changed</text>"
    )
    labels = {ages[0], ages[-1]}
    if len(ages) > 2:
        every = max(1, len(ages) // 6)
        labels.update(ages[::every])
    commit_of = {p.age: p.commit for layer in layers for p in layer.history}
    for age in ages:
        if age in labels:
            parts.append(
                f'<text x="{xs[age]:.1f}" y="{top + ph + 16}" text-anchor="middle" class="mono">'
                f"{esc(commit_of[age][:7])}</text>"
            )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        "workspace commits, oldest to newest</text>"
    )
    for i, layer in enumerate(layers):
        pts = list(layer.history)
        if not pts:
            continue
        color = _color(i)
        d = [f"M{xs[pts[0].age]:.1f},{y(pts[0].total):.1f}"]
        for cur in pts[1:]:
            d.append(f"H{xs[cur.age]:.1f}")
            d.append(f"V{y(cur.total):.1f}")
        d.append(f"H{left + pw:.1f}")
        parts.append(f'<path d="{" ".join(d)}" fill="none" stroke="{color}" stroke-width="2"/>')
        for p in pts:
            parts.append(
                f'<circle cx="{xs[p.age]:.1f}" cy="{y(p.total):.1f}" r="3.5" fill="{color}">'
                f"<title>{esc(layer.label)} at {esc(p.commit[:12])}: {p.total} lines "
                f"(+{p.added} &#8722;{p.removed}, {p.patches} patches) &#8212; {esc(p.subject)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(raw: float) -> int:
    if raw <= 1:
        return 1
    mag = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return int(m * mag)
    return int(10 * mag)


def _history(review: Review) -> list[str]:
    out = ['<section id="history"><h2>Layer size over the workspace history</h2>']
    layers = list(review.layers)
    svg = history_svg(layers)
    if not svg:
        out.append("<p>No workspace commits touch these layers.</p></section>")
        return out
    out.append('<ul class="legend">')
    for i, layer in enumerate(layers):
        last = layer.history[-1].total if layer.history else 0
        out.append(
            f'<li><span class="swatch" style="background:{_color(i)}" aria-hidden="true"></span>'
            f"{esc(layer.label)}: {last} lines changed at its last commit "
            f"({len(layer.history)} commit{'s' if len(layer.history) != 1 else ''})</li>"
        )
    out.append("</ul>")
    out.append(
        f'<figure>{svg}<figcaption class="sub">Last {review.history_limit} commits per layer at most; '
        "first-parent history of the workspace repository.</figcaption></figure>"
    )
    out.append(
        "<details><summary>History as a table</summary><table><thead><tr><th>Layer</th><th>Commit</th>"
        '<th>Subject</th><th class="num">Patches</th><th class="num">Added</th><th class="num">Removed</th>'
        '<th class="num">Total</th></tr></thead><tbody>'
    )
    for layer in layers:
        for p in layer.history:
            out.append(_history_row(layer.label, p))
    out.append("</tbody></table></details></section>")
    return out


def _history_row(label: str, p: HistoryPoint) -> str:
    extra = f" ({p.unreadable} unreadable)" if p.unreadable else ""
    return (
        f"<tr><td>{esc(label)}</td><td><code>{esc(p.commit[:12])}</code></td><td>{esc(p.subject)}</td>"
        f'<td class="num">{p.patches}{esc(extra)}</td><td class="num add">+{p.added}</td>'
        f'<td class="num del">&minus;{p.removed}</td><td class="num">{p.total}</td></tr>'
    )


def render_review_html(review: Review, version: str = "") -> str:
    """The whole page."""
    n_layers = len(review.layers)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>fspatch review: {esc(review.backend)}</title>",
        f"<style>{_CSS}\n{token_css()}</style></head><body>",
        f"<header><h1>Review of backend <code>{esc(review.backend)}</code></h1>",
        f'<p class="sub">Upstream <code>{esc(review.ref)}</code> at <code>{esc(review.upstream[:12])}</code> '
        f"&middot; {n_layers} layer{'s' if n_layers != 1 else ''}, {review.patch_count} patches, "
        f"{len(review.collisions)} shared file{'s' if len(review.collisions) != 1 else ''}</p>",
        '<nav class="toc"><a href="#layers">Layers and patches</a><a href="#collisions">Shared files</a>'
        '<a href="#history">History</a></nav></header>',
        "<main>",
    ]
    for note in review.notes:
        out.append(f'<p class="note">{esc(note)}</p>')
    out.append('<section id="layers"><h2>Layers</h2>')
    out.extend(_layer_summary(review))
    out.append(
        '<p class="sub">Each patch follows its layer\'s table with its diff. Added lines of upstream files '
        'outside FLAGSCALE MODIFICATION markers are flagged <span class="badge inline">unmarked</span>; '
        'marker coverage '
        '<span class="cov ok">90% and more</span>, <span class="cov low">50% and more</span>, '
        '<span class="cov bad">below 50%</span>.</p>'
    )
    budget = _Budget()
    for i, layer in enumerate(review.layers):
        out.extend(_layer_section(i, layer, budget))
    out.append("</section>")
    out.extend(_collisions(review))
    out.extend(_history(review))
    out.append("</main>")
    out.append(
        f"<footer>Generated by fspatch{(' ' + esc(version)) if version else ''}. Marker coverage: share of the "
        "non-blank lines each patch adds to files that exist upstream that lie inside FLAGSCALE MODIFICATION "
        "regions of the patched file.</footer>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
