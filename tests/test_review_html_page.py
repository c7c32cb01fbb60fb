"""The review page: one self-contained HTML file, escaped, readable without JavaScript, rendered by Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fspatch.commands import review as review_cmd
from fspatch.core.html import render_review_html
from tests.test_review_kit import RUNNER, ReviewWS, make_review_workspace

REPO = Path(__file__).resolve().parents[1]
PATCHES = [
    "0001-enable-flag-gems.patch",
    "0002-rmsnorm-block-size.patch",
    "0003-device-selection.patch",
    "0004-gems-default-on.patch",
    "0001-mlu-device.patch",
]


@pytest.fixture
def rw(tmp_path: Path) -> ReviewWS:
    return make_review_workspace(tmp_path)


class _Text(HTMLParser):
    """The visible text of a page: character data outside <style>, <script> and <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


class _Tags(HTMLParser):
    """Tag names, attribute names and link targets of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        for name, value in attrs:
            self.attrs.add(name)
            if name in ("href", "xlink:href"):
                self.hrefs.append(value or "")


def visible_text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return " ".join(" ".join(p.parts).split())


def test_page_is_self_contained_without_scripts(rw: ReviewWS) -> None:
    """No JavaScript, no external fonts, styles, images or links: CSS and the SVG plot are inline."""
    page = render_review_html(review_cmd.run(rw.ws, "minillm"), "1.0")
    tags = _Tags()
    tags.feed(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "base"} & tags.names
    assert not [a for a in tags.attrs if a.startswith("on") or a in ("src", "srcset", "action")]
    assert all(h.startswith("#") for h in tags.hrefs)  # in-page anchors only
    assert "@import" not in page and "url(" not in page and "javascript:" not in page.lower()
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only
    assert page.count("<svg") == 1 and "<style>" in page
    assert "<table>" in page and "<th>Layer</th>" in page


def test_page_text_names_layers_patches_collisions_and_history(rw: ReviewWS) -> None:
    """The text alone (no CSS, no SVG) carries layers, patches, shared files, coverage and history rows."""
    r = review_cmd.run(rw.ws, "minillm")
    text = visible_text(render_review_html(r))
    for needle in ["common", "vendor/acme", *PATCHES, "Files touched by more than one layer", RUNNER]:
        assert needle in text, needle
    assert "100% (8/8 lines)" in text and "50% (1/2 lines)" in text
    assert "History as a table" in text and rw.commits["rewrite"][:12] in text


def test_untrusted_subjects_and_paths_are_escaped(rw: ReviewWS) -> None:
    """Patch subjects, file names and commit subjects are escaped: markup in them is shown, never run."""
    r = review_cmd.run(rw.ws, "minillm")
    evil = '<script>alert("x")</script> & <b>bold</b>'
    evil_path = "<img src=x onerror=alert(1)>.py"
    common = r.layers[0]
    first = common.patches[0]
    change = first.changes[0]
    hunk = change.hunks[0]
    evil_line = replace(hunk.lines[0], text=evil)
    change = replace(change, path=evil_path, hunks=(replace(hunk, lines=(evil_line, *hunk.lines[1:])),))
    patch = replace(first, subject=evil, files=(evil_path,), changes=(change, *first.changes[1:]))
    bare = replace(common.patches[1], files=(evil_path,), changes=())  # no diff: the plain file list
    hist = replace(common.history[0], subject=evil)
    common = replace(common, patches=(patch, bare, *common.patches[2:]), history=(hist, *common.history[1:]))
    page = render_review_html(replace(r, layers=(common, *r.layers[1:])))
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in page
    assert evil in visible_text(page)


def test_page_without_history_says_so(tmp_path: Path) -> None:
    """Outside git the page carries the note and no plot."""
    rw = make_review_workspace(tmp_path, git_repo=False)
    page = render_review_html(review_cmd.run(rw.ws, "minillm"))
    assert "<svg" not in page
    assert "not the top of a git repository" in visible_text(page)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, timeout=180, check=False)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install chromium); CI installs it")
def test_page_rendered_in_headless_chromium_shows_layers_and_patches(rw: ReviewWS, tmp_path: Path) -> None:
    """Chromium renders the page (no JS needed): DOM text names every layer and patch; the shot shows a diff."""
    exe = _chromium()
    assert exe is not None
    page = tmp_path / "review-minillm.html"
    r = rw.w.cli("review", "minillm", "--html", str(page))
    assert r.exit_code == 0, r.output
    dom = _run_chromium(exe, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    text = visible_text(dom.stdout.decode("utf-8"))
    for needle in ["Review of backend minillm", "Layer common", "Layer vendor/acme", *PATCHES, RUNNER]:
        assert needle in text, needle
    artifacts = Path(os.environ.get("FSPATCH_ARTIFACTS") or REPO / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "review-minillm.png"
    shot.unlink(missing_ok=True)
    got = _run_chromium(
        exe, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()
    )
    assert got.returncode == 0, got.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280  # IHDR width
    (artifacts / "review-minillm.html").write_bytes(page.read_bytes())
    # A diff is visible in the shot: rows in the added-line and removed-line colours of the diff table.
    colours = Counter(_png_pixels(data))
    assert colours[(0xE6, 0xFF, 0xEC)] > 20_000, "no added diff lines in the screenshot"
    assert colours[(0xFF, 0xEB, 0xE9)] > 2_000, "no removed diff lines in the screenshot"
    assert 'table class="diff"' in dom.stdout.decode("utf-8")
    assert 'ifos.environ.get("USE_FLAGGEMS","0")=="1":' in re.sub(r"\s+", "", text)  # a diff line, tokenised


def _png_pixels(data: bytes) -> list[tuple[int, int, int]]:
    """RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes), unfiltered by hand."""
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8 and body[12] == 0, "8-bit, non-interlaced"
            channels = {2: 3, 6: 4}[body[9]]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    out: list[tuple[int, int, int]] = []
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        prev = line
    return out
