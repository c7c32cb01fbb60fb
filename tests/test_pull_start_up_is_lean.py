"""A clean pull-upstream imports only what it uses (perf13d, docs/replay.md).

The resolution ladder's modules (markers, the ladder) are imported at a replay's first
conflict, the FlagScale splitter only for import-flagscale's pending layers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.core.markers import MarkerConfig
from fspatch.core.patch import Patch, parse_patch
from fspatch.core.workspace import DEFAULT_SETTINGS
from scripts.example import git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text

LAZY = ("fspatch.core.markers", "fspatch.core.vendor_base", "fspatch.core.flagscale", "fspatch.core.ladder")


def test_the_default_settings_are_valid_marker_settings() -> None:
    """The replay skips the settings check for the defaults: they must pass it."""
    assert MarkerConfig.from_settings(DEFAULT_SETTINGS).tag == DEFAULT_SETTINGS["markers"]["tag"]


def test_a_clean_pull_imports_no_ladder_module(tmp_path: Path) -> None:
    up = tmp_path / "up"
    make_repo(up, {"m.py": text(lines(40))}, [])
    patches = [("0001-x.patch", "Change 30", "d", {"m.py": text(lines(29) + ["mine 30\n"] + lines(40)[30:])})]
    ws = make_ws(tmp_path, up, "v1", patches)
    write_tree(up, {"m.py": text(["new header\n"] * 5 + lines(40))})
    git(up, "commit", "-qam", "Add a header")
    out = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "from fspatch.cli import main\n"
        "try:\n"
        f"    main(['-q', '-C', {str(ws.root)!r}, 'pull-upstream', 'minillm', 'main', '--no-stop'])\n"
        "except SystemExit as exc:\n"
        f"    open({str(out)!r}, 'w').write(json.dumps([exc.code, sorted(sys.modules)]))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    rc, modules = json.loads(out.read_text())
    assert rc in (0, None)
    assert "fspatch.core.replay_driver" in modules
    assert [m for m in LAZY if m in modules] == []


def test_the_program_ends_without_teardown_but_keeps_output_and_exit_codes(tmp_path: Path) -> None:
    """``fspatch.cli.main()`` as the program ends with ``os._exit``: all output flushed, codes kept."""
    run = [sys.executable, "-m", "fspatch"]
    cwd = Path(__file__).resolve().parents[1]
    helped = subprocess.run([*run, "--help"], capture_output=True, cwd=cwd)
    assert helped.returncode == 0 and b"pull-upstream" in helped.stdout and helped.stdout.endswith(b"\n")
    wrong = subprocess.run([*run, "no-such-verb"], capture_output=True, cwd=cwd)
    assert wrong.returncode == 2 and wrong.stderr.startswith(b"error: No such command")
    missing = subprocess.run([*run, "-C", str(tmp_path / "nowhere"), "status"], capture_output=True, cwd=cwd)
    assert missing.returncode == 2 and missing.stderr.startswith(b"error:")


def test_a_pull_parses_each_patch_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old stacks and the replay share one parse of each patch file (the second was ~25 ms on 72 patches).

    A bump with a conflict (patch headers, the pending record and the already-upstream tests all
    ask for the patch) and a clean C++/CUDA patch beside it.
    """
    up = tmp_path / "up"
    new = {"m.py": text(lines(29) + ["theirs 30\n"] + lines(40)[30:]), "k.cu": text(["// header\n"] + lines(20, "// kernel"))}
    make_repo(up, {"m.py": text(lines(40)), "k.cu": text(lines(20, "// kernel"))}, [("Upstream edits line 30", new, "v2")])
    patches = [
        ("0001-m.patch", "Change 30", "d", {"m.py": text(lines(29) + ["mine 30\n"] + lines(40)[30:])}),
        ("0002-k.patch", "Kernel", "d", {"k.cu": text(lines(10, "// kernel") + ["__global__ void k() {}\n"]
                                                      + lines(20, "// kernel")[10:])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    parsed: list[str] = []

    def counting(data: bytes, display: str, strip: int = 1) -> Patch:
        parsed.append(display)
        return parse_patch(data, display, strip)

    monkeypatch.setattr("fspatch.core.session.parse_patch", counting)
    result = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert result.exit_code == 1, result.output  # the conflict is pending
    assert sorted(parsed) == ["series/minillm/0001-m.patch", "series/minillm/0002-k.patch"]
