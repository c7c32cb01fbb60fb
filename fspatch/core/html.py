"""The review as one self-contained HTML page: inline CSS, an inline SVG plot, no JavaScript.

Why this shape: the page is kept as a CI artifact and mailed around, so it must open anywhere
without a network (no fonts, scripts or images from elsewhere) and read well as plain text
(semantic tables, headings; the plot's data is repeated in a table inside ``<details>``).
Every string that comes from the workspace -- patch subjects, authors, file names, layer
names, commit subjects -- is untrusted and goes through :func:`html.escape`.  Pure function:
a :class:`~fspatch.core.review.Review` in, a ``str`` out.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from fspatch.core.review import Coverage, HistoryPoint, LayerReview, Review

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
.bar.low > span { background: #d4a72c; } .bar.bad > span { background: #cf222e; }
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


def _cov_cell(cov: Coverage | None) -> str:
    if cov is None or cov.share is None:
        return f'<td class="cov">{esc(_pct(cov))}</td>'
    width = round(cov.share * 100)
    cls = "bar" if cov.share >= 0.9 else ("bar low" if cov.share >= 0.5 else "bar bad")
    bar = f'<span class="{cls}" aria-hidden="true"><span style="width:{width}%"></span></span>'
    return f'<td class="cov">{bar}{esc(_pct(cov))}</td>'


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


def _layer_section(i: int, layer: LayerReview) -> list[str]:
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
        files = "".join(f"<li>{esc(f)}</li>" for f in p.files)
        subject = esc(p.subject) if not p.error else f'<span class="err">{esc(p.error)}</span>'
        row_class = ' class="error"' if p.error else ""
        out.append(
            f'<tr{row_class}><td class="num">{n}</td><td class="name"><code>{esc(p.name)}</code></td>'
            f'<td>{subject}</td><td><ul class="files">{files}</ul></td>'
            f'<td class="num add">+{p.added}</td><td class="num del">&minus;{p.removed}</td>'
            f"{_cov_cell(p.coverage)}</tr>"
        )
    out.append("</tbody></table></section>")
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
    for c in review.collisions:
        patches = "<br>".join(f"<code>{esc(p)}</code>" for p in c.patches)
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
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>Review of backend <code>{esc(review.backend)}</code></h1>",
        f'<p class="sub">Upstream <code>{esc(review.ref)}</code> at <code>{esc(review.upstream[:12])}</code> '
        f"&middot; {n_layers} layer{'s' if n_layers != 1 else ''}, {review.patch_count} patches, "
        f"{len(review.collisions)} shared file{'s' if len(review.collisions) != 1 else ''}</p></header>",
        "<main>",
    ]
    for note in review.notes:
        out.append(f'<p class="note">{esc(note)}</p>')
    out.append('<section id="layers"><h2>Layers</h2>')
    out.extend(_layer_summary(review))
    for i, layer in enumerate(review.layers):
        out.extend(_layer_section(i, layer))
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
