"""The review page is something a reviewer reads patches on (issue 16, item 11).

Every patch's diff is on the page, syntax-highlighted by pygments; patch names, layers, files and
shared-file rows are in-page links that resolve; a rename is one entry with both names; added
lines outside markers are flagged and marker coverage is coloured (0 % is red, not a grey bar);
long diffs are cut with a note naming the patch file; the page stays one offline file.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fspatch.commands import apply, new, refresh
from fspatch.commands import review as review_cmd
from fspatch.core import html as page_html
from fspatch.core.review import DiffHunk, DiffLine, as_json
from tests.test_review_html_page import visible_text
from tests.test_review_kit import RUNNER, UNMARKED, ReviewWS, edit, make_review_workspace

NORM = "minillm/layers/norm.py"
RMSNORM = "minillm/layers/rmsnorm.py"


@pytest.fixture
def rw(tmp_path: Path) -> ReviewWS:
    return make_review_workspace(tmp_path)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.rows: list[tuple[str, str]] = []  # (class of a diff row, its text)
        self._row: list[str] | None = None
        self._cls = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if tag == "tr":
            self._row, self._cls = [], a.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append((self._cls, "".join(self._row)))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row.append(data)


def parse(page: str) -> _Anchors:
    p = _Anchors()
    p.feed(page)
    return p


def _vendor_patch(rw: ReviewWS, name: str, change) -> None:  # type: ignore[no-untyped-def]
    ws = rw.ws
    apply.run(ws, "minillm", vendor="acme")
    new.run(ws, "minillm", name, message=f"Acme: {name}", vendor="acme")
    change(rw.w.checkout)
    refresh.run(rw.ws, "minillm", vendor="acme")


def test_every_patch_shows_its_diff_highlighted(rw: ReviewWS) -> None:
    """Each patch has a section with its file diffs; Python and CUDA lines carry pygments token classes."""
    r = review_cmd.run(rw.ws, "minillm")
    page = page_html.render_review_html(r)
    tree = parse(page)
    for i, layer in enumerate(r.layers):
        for n, p in enumerate(layer.patches, start=1):
            assert f"p-{i}-{n}" in tree.ids, p.name
            for k in range(len(p.changes)):
                assert f"p-{i}-{n}-f{k}" in tree.ids
    added = [text for cls, text in tree.rows if cls.startswith("add")]
    assert any('if os.environ.get("USE_FLAGGEMS", "0") == "1":' in t for t in added)
    assert any("dim3 block(n >= 1024 ? 1024 : 256);" in t for t in added)  # the .cu patch
    removed = [text for cls, text in tree.rows if cls == "del"]
    assert any("dim3 block(256);" in t for t in removed)
    # pygments: a Python keyword and a C++ keyword span inside the diff tables, and the token CSS inline
    assert re.search(r'<td class="code"><span class="k">if</span>', page)
    assert '<span class="kt">int</span>' in page or '<span class="kt">dim3</span>' in page
    assert "table.diff td.code .k {" in page


def test_every_link_is_an_anchor_on_the_page(rw: ReviewWS) -> None:
    """Layer, patch, file and shared-file links all point at an id that exists on the page; nothing external."""
    r = review_cmd.run(rw.ws, "minillm")
    tree = parse(page_html.render_review_html(r))
    assert tree.hrefs and all(h.startswith("#") for h in tree.hrefs)
    missing = [h for h in tree.hrefs if h[1:] not in tree.ids]
    assert missing == []
    for target in ("#layer-0", "#layer-1", "#p-0-1", "#p-0-4", "#p-1-1", "#p-0-2-f1", "#collisions"):
        assert target in tree.hrefs, target
    # the shared file's rows link each patch that touches it
    assert tree.hrefs.count("#p-1-1") >= 3  # patch table, its own heading, the collisions table


def test_a_rename_is_one_entry_with_both_names(rw: ReviewWS) -> None:
    """A patch renaming a file lists it once (old → new) in data and on the page; collisions still see both paths."""

    def rename(co: Path) -> None:
        (co / NORM).rename(co / RMSNORM)

    _vendor_patch(rw, "rename-norm", rename)
    r = review_cmd.run(rw.ws, "minillm")
    acme = r.layers[1]
    p = acme.patches[1]
    assert p.files == (RMSNORM,)
    assert [(c.status, c.old_path, c.path) for c in p.changes] == [("R", NORM, RMSNORM)]
    page = page_html.render_review_html(r)
    text = visible_text(page)
    assert text.count(f"{NORM} → {RMSNORM} (renamed)") == 2  # the patch table and the diff's file header
    assert f"<li><code>{NORM}</code></li>" not in page
    assert NORM in {c.path for c in r.collisions}  # the common layer changed the old path


def test_unmarked_lines_are_flagged_and_zero_coverage_is_red(rw: ReviewWS) -> None:
    """Added lines outside markers carry the 'unmarked' flag; a 0 % patch gets the red 'bad' colour."""

    def unmarked(co: Path) -> None:
        edit(co / RUNNER, "        self.config = config\n", '        self.config = config\n        self.trace = True\n')

    _vendor_patch(rw, "trace", unmarked)
    r = review_cmd.run(rw.ws, "minillm")
    acme = r.layers[1]
    flagged = [line.text for c in acme.patches[0].changes for h in c.hunks for line in h.lines if line.unmarked]
    assert flagged == [UNMARKED.rstrip("\n")]
    assert acme.patches[1].coverage is not None and acme.patches[1].coverage.share == 0.0
    page = page_html.render_review_html(r)
    rows = parse(page).rows
    unmarked_rows = [t for cls, t in rows if cls == "add unmarked"]
    assert len(unmarked_rows) == 2
    assert any('self.vendor = "acme"' in t for t in unmarked_rows)
    assert any("self.trace = True" in t for t in unmarked_rows)
    assert not any("mlu" in t for t in unmarked_rows)  # the fenced device line is not flagged
    assert '<td class="cov bad"><span class="bar bad"' in page and "0% (0/1 lines)" in visible_text(page)
    assert page_html.cov_class(acme.patches[1].coverage) == "bad"
    assert page_html.cov_class(r.layers[0].coverage) == "ok"


def test_long_diffs_are_cut_with_a_note(rw: ReviewWS) -> None:
    """A file diff over FILE_LINES lines is cut, saying how much and which patch file to read."""
    r = review_cmd.run(rw.ws, "minillm")
    common = r.layers[0]
    first = common.patches[0]
    big = DiffHunk(
        "@@ -0,0 +1,2000 @@",
        tuple(DiffLine("+", f"x{i} = {i}", None, i + 1) for i in range(page_html.FILE_LINES + 500)),
    )
    change = replace(first.changes[0], hunks=(big,))
    patch = replace(first, changes=(change,))
    page = page_html.render_review_html(replace(r, layers=(replace(common, patches=(patch, *common.patches[1:])),)))
    text = visible_text(page)
    assert "500 more diff lines not shown; read series/minillm/0001-enable-flag-gems.patch" in text
    assert f"x{page_html.FILE_LINES - 1} = " in text and f"x{page_html.FILE_LINES} = " not in text


def test_json_summary_leaves_the_hunks_out(rw: ReviewWS) -> None:
    """as_json: each patch lists its changes (paths, status, counts) but not the hunks; it is valid JSON."""
    data = as_json(review_cmd.run(rw.ws, "minillm"))
    change = data["layers"][0]["patches"][1]["changes"][0]
    assert change["path"] == "csrc/kernels/rmsnorm.cu" and change["status"] == "M"
    assert (change["added"], change["removed"]) == (3, 1) and "hunks" not in change
    assert data["layers"][0]["patches"][0]["file"] == "series/minillm/0001-enable-flag-gems.patch"
    json.dumps(data)
