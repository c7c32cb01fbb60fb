"""Markers are demanded only where a file can carry them, and `mark` writes only useful pairs.

Issue 16, item 9: a changed ``requirements/cuda.txt``, ``*.json`` or README (no comment syntax)
is a configurable warning, not an error, and the message says where to configure it
(``settings.markers`` in ``upstream.lock``); a changed line carrying the single-line marker is a
marked change (no ``unmarked-deletion`` for the line it replaced); ``fspatch mark`` never
inserts an empty BEG/END pair.
"""

from __future__ import annotations

import json
from pathlib import Path

from fspatch.core.markers import MarkerConfig, check_file, wrap_file
from fspatch.errors import InputError
from scripts.example import git, write_tree
from tests.wsutil import WS, make_workspace

MODEL = b"""\
import torch


def build(config):
    hidden = config["hidden"]
    layers = config["layers"]
    model = torch.nn.Sequential(*[torch.nn.Linear(hidden, hidden) for _ in range(layers)])
    model.eval()
    return model
"""
FILES = {
    "requirements/cuda.txt": b"torch==2.4.0\ntriton==3.0.0\n",
    "configs/model.json": b'{\n  "hidden": 1024,\n  "layers": 24\n}\n',
    "README": b"tinyllm\n=======\n\nA tiny model builder.\n",
    "tinyllm/model.py": MODEL,
}


def _upstream(tmp: Path) -> Path:
    up = tmp / "upstream"
    up.mkdir()
    git(up, "init", "-q", "-b", "main")
    write_tree(up, FILES)
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", "tinyllm 1.0", date=1_700_000_000)
    git(up, "tag", "v1.0")
    return up


def _workspace(tmp: Path) -> WS:
    w = make_workspace(tmp, patches=False, upstream=_upstream(tmp))
    r = w.cli("apply", "minillm")
    assert r.exit_code == 0, r.output
    r = w.cli("new", "data-files", "-m", "Data files for the MLU")
    assert r.exit_code == 0, r.output
    return w


def _edit(w: WS, path: str, old: bytes, new: bytes) -> None:
    f = w.checkout / path
    data = f.read_bytes()
    assert old in data, (path, old)
    f.write_bytes(data.replace(old, new, 1))


def _set_unknown_files(w: WS, value: str) -> None:
    lock = w.root / "upstream.lock"
    lock.write_text(lock.read_text() + f"settings:\n  markers:\n    unknown_files: {value}\n")


def _data_patch(w: WS) -> None:
    _edit(w, "requirements/cuda.txt", b"torch==2.4.0\n", b"torch==2.4.1\n")
    _edit(w, "configs/model.json", b'"layers": 24', b'"layers": 32')
    _edit(w, "README", b"A tiny model builder.\n", b"A tiny model builder, patched for FlagScale.\n")
    r = w.cli("refresh")
    assert r.exit_code == 0, r.output


def test_files_without_comment_syntax_warn_and_check_passes(tmp_path: Path) -> None:
    """requirements/*.txt, *.json and a README: one warning each, exit 0, the message names upstream.lock."""
    w = _workspace(tmp_path)
    _data_patch(w)
    r = w.cli("check", "--markers")
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if "unknown-file-type" in line]
    assert len(lines) == 3, r.output
    for path, line in (("requirements/cuda.txt", 1), ("configs/model.json", 3), ("README", 4)):
        assert any(f"unknown-file-type (warning): {path}:{line}: " in x for x in lines), (path, r.output)
    assert all(x.startswith("series/minillm/0001-data-files.patch:") for x in lines)
    assert all("settings.markers.syntaxes in upstream.lock" in x and "unknown_files" in x for x in lines)
    data = json.loads(w.cli("check", "--markers", "--format", "json").output)
    assert {f["severity"] for f in data["findings"]} == {"warning"}


def test_unknown_files_setting_makes_them_errors_or_silent(tmp_path: Path) -> None:
    """settings.markers.unknown_files: error fails check (exit 1); ignore reports nothing; a bad value is exit 2."""
    w = _workspace(tmp_path)
    _data_patch(w)
    lock = (w.root / "upstream.lock").read_text()
    _set_unknown_files(w, "error")
    r = w.cli("check", "--markers")
    assert r.exit_code == 1 and r.output.count("unknown-file-type:") == 3, r.output
    (w.root / "upstream.lock").write_text(lock)
    _set_unknown_files(w, "ignore")
    r = w.cli("check", "--markers")
    assert r.exit_code == 0 and "unknown-file-type" not in r.output, r.output
    (w.root / "upstream.lock").write_text(lock)
    _set_unknown_files(w, "loud")
    r = w.cli("check", "--markers")
    assert r.exit_code == 2 and "unknown_files" in r.output, r.output


def test_single_line_marker_covers_a_changed_line(tmp_path: Path) -> None:
    """A changed line ending in the single-line marker passes: no unmarked-change, no unmarked-deletion."""
    w = _workspace(tmp_path)
    _edit(
        w,
        "tinyllm/model.py",
        b"    model.eval()\n",
        b"    model.eval().to(config.get('device', 'cuda'))  # --- FLAGSCALE MODIFICATION ---\n",
    )
    assert w.cli("refresh").exit_code == 0
    r = w.cli("check", "--markers")
    assert r.exit_code == 0 and "unmarked" not in r.output, r.output
    before = (w.checkout / "tinyllm/model.py").read_bytes()
    r = w.cli("mark")
    assert r.exit_code == 0, r.output
    assert (w.checkout / "tinyllm/model.py").read_bytes() == before  # nothing to fence, nothing inserted


def test_single_line_marker_replacing_two_lines_is_marked() -> None:
    """Two upstream lines replaced by one marked line: a marked change, not a deletion."""
    after = MODEL.replace(
        b'    hidden = config["hidden"]\n    layers = config["layers"]\n',
        b'    hidden, layers = config["hidden"], config["layers"]  # --- FLAGSCALE MODIFICATION ---\n',
    )
    assert check_file("tinyllm/model.py", MODEL, after, upstream_has_file=True, config=MarkerConfig()) == []
    assert wrap_file("tinyllm/model.py", MODEL, after, config=MarkerConfig()) == after


def test_mark_fences_a_deletion_with_a_comment_not_an_empty_pair(tmp_path: Path) -> None:
    """`fspatch mark` on a pure deletion leaves BEG, a 'removed N upstream lines' comment, END; check passes."""
    w = _workspace(tmp_path)
    _edit(w, "tinyllm/model.py", b"    model.eval()\n", b"")
    assert w.cli("refresh").exit_code == 0
    assert w.cli("check", "--markers").exit_code == 1
    r = w.cli("mark")
    assert r.exit_code == 0, r.output
    text = (w.checkout / "tinyllm/model.py").read_text()
    assert (
        "    # --- FLAGSCALE MODIFICATION BEG ---\n"
        "    # removed 1 upstream line here\n"
        "    # --- FLAGSCALE MODIFICATION END ---\n"
        "    return model\n"
    ) in text
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        assert not (line.strip().endswith("BEG ---") and lines[i + 1].strip().endswith("END ---")), text
    assert w.cli("check", "--markers").exit_code == 0


def test_block_comment_languages_get_a_block_comment_note() -> None:
    """In Markdown (block comments only) the note is a block comment too, and the result passes the check."""
    before = b"# Title\n\nFirst paragraph.\n\nSecond paragraph.\n"
    after = before.replace(b"First paragraph.\n\n", b"")
    wrapped = wrap_file("docs/a.md", before, after, config=MarkerConfig())
    assert b"<!-- removed 1 upstream line here -->\n" in wrapped
    assert check_file("docs/a.md", before, wrapped, upstream_has_file=True, config=MarkerConfig()) == []


def test_unknown_files_setting_is_validated() -> None:
    """A value outside warning|error|ignore is an input error naming the setting."""
    assert MarkerConfig.from_settings({"markers": {"unknown_files": "ignore"}}).unknown_files == "ignore"
    try:
        MarkerConfig.from_settings({"markers": {"unknown_files": "loud"}})
    except InputError as exc:
        assert "settings.markers.unknown_files" in str(exc)
    else:
        raise AssertionError("accepted a bad unknown_files value")
