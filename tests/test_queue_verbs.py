"""The queue verbs quilt and StGit users reach for (issue 16, item 6).

``header`` (show, ``-m``, ``-e`` with ``$EDITOR``), ``fold``, ``float``/``sink``, ``squash``,
``files``, ``patches FILE``, ``top``/``next``/``previous``/``applied``/``unapplied``.  Every verb
that rewrites the stack builds it in memory and checks out once: the final tree of a reorder
of independent patches is the same, so the checkout stays clean; a reorder that does not apply
changes nothing.  Each verb module composes core operations and imports no other command.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.wsutil import WS, make_workspace, snapshot

P1, P2, P3 = "0001-enable-flag-gems.patch", "0002-rmsnorm-block-size.patch", "0003-device-selection.patch"
QUEUE_VERBS = (
    "header",
    "fold",
    "float",
    "sink",
    "squash",
    "files",
    "patches",
    "top",
    "next",
    "previous",
    "applied",
    "unapplied",
)


@pytest.fixture
def w(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    r = w.cli("apply", "minillm")
    assert r.exit_code == 0, r.output
    return w


def _ok(w: WS, *args: str) -> str:
    r = w.cli(*args)
    assert r.exit_code == 0, f"fspatch {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r.output


def _head_tree(w: WS) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD^{tree}"], cwd=w.checkout, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_top_next_previous_applied_unapplied(w: WS) -> None:
    """The quilt questions about the stack, answered from the series and the applied state."""
    _ok(w, "goto", "0002")
    assert _ok(w, "top").strip() == P2
    assert _ok(w, "next").strip() == P3
    assert _ok(w, "previous").strip() == P1
    assert _ok(w, "applied").splitlines() == [P1, P2]
    assert _ok(w, "unapplied").splitlines() == [P3]
    _ok(w, "push")
    r = w.cli("next")
    assert r.exit_code == 2 and r.output.strip() == "error: all patches of series/minillm are applied"
    assert _ok(w, "unapplied") == ""
    _ok(w, "pop", "-a")
    r = w.cli("top")
    assert r.exit_code == 2 and r.output.strip() == "error: no patches of series/minillm are applied"
    assert _ok(w, "next").strip() == P1


def test_files_lists_the_files_of_a_patch(w: WS) -> None:
    """`files` of the top patch, or of a named one (any name form)."""
    assert _ok(w, "files").splitlines() == ["minillm/flagscale_device.py", "minillm/layers/norm.py"]
    assert _ok(w, "files", "rmsnorm-block-size").splitlines() == ["csrc/kernels/rmsnorm.cu", "csrc/ops.cpp"]


def test_patches_lists_the_patches_touching_a_file(w: WS) -> None:
    """`patches FILE` (a path in the backend tree, or one through the checkout) names each patch as layer/name."""
    assert _ok(w, "patches", "csrc/ops.cpp").splitlines() == [f"common/{P2}"]
    assert _ok(w, "patches", "third_party/minillm/minillm/layers/norm.py").splitlines() == [f"common/{P3}"]
    assert _ok(w, "patches", "README.md") == ""


def test_header_shows_and_sets_the_description(w: WS) -> None:
    """header prints From/Subject/description; -m sets them; the trees and the checkout do not change."""
    assert _ok(w, "header", "0003").splitlines() == [
        "From: FlagScale Team <flagscale@example.org>",
        "Subject: Select the device through FlagScale",
        "",
        "The norm layer asks FlagScale which device it runs on, so vendor",
        "layers can redirect it without touching every call site.",
        "",
        "Signed-off-by: FlagScale Team <flagscale@example.org>",
    ]
    tree, before = _head_tree(w), snapshot(w.checkout)
    out = _ok(w, "header", "0002", "-m", "Wider RMSNorm blocks\n\nOne block of 1024 threads per long row.")
    assert out.strip() == f"Updated the header of series/minillm/{P2}"
    text = (w.series_dir / P2).read_text()
    assert "Subject: Wider RMSNorm blocks\n" in text and "One block of 1024 threads per long row.\n" in text
    assert _head_tree(w) == tree and snapshot(w.checkout) == before
    log = subprocess.run(["git", "log", "--format=%s", "-3"], cwd=w.checkout, capture_output=True, text=True).stdout
    assert log.splitlines() == [
        "Select the device through FlagScale",
        "Wider RMSNorm blocks",
        "Enable FlagGems operators in the model runner",
    ]
    assert "checkout clean" in _ok(w, "status")
    # a second identical -m is a no-op, byte for byte
    data = (w.series_dir / P2).read_bytes()
    assert _ok(
        w, "header", "0002", "-m", "Wider RMSNorm blocks\n\nOne block of 1024 threads per long row."
    ).strip() == (f"series/minillm/{P2} unchanged")
    assert (w.series_dir / P2).read_bytes() == data


def test_header_edit_runs_the_editor(w: WS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """header -e opens $EDITOR on the header (From, Subject, description); the edit is stored."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\np = sys.argv[1]\nt = open(p).read()\nopen(p, 'w').write(t.replace('Select the device', 'Choose the device'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    out = _ok(w, "header", "-e")
    assert out.strip() == f"Updated the header of series/minillm/{P3}"
    assert "Subject: Choose the device through FlagScale\n" in (w.series_dir / P3).read_text()


def test_header_edit_with_a_failing_editor_changes_nothing(w: WS, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor that exits non-zero aborts the edit: exit 2, patch file untouched."""
    monkeypatch.setenv("EDITOR", "false")
    monkeypatch.delenv("VISUAL", raising=False)
    before = snapshot(w.root / "series")
    r = w.cli("header", "-e")
    assert r.exit_code == 2 and "editor" in r.output
    assert snapshot(w.root / "series") == before


def test_fold_adds_a_patch_file_to_the_top_patch(w: WS, tmp_path: Path) -> None:
    """fold FILE applies a diff on the top patch in memory, rewrites it and checks the result out."""
    runner = w.checkout / "minillm" / "model_runner.py"
    original = runner.read_text()
    runner.write_text(
        original.replace("        hidden = self.norm(batch)\n", "        hidden = self.norm(batch)  # folded\n")
    )
    diff = subprocess.run(["git", "diff", "--full-index"], cwd=w.checkout, capture_output=True, check=True).stdout
    runner.write_text(original)
    extra = tmp_path / "extra.diff"
    extra.write_bytes(diff)
    out = _ok(w, "fold", str(extra))
    assert out.strip() == f"Folded {extra.name} into series/minillm/{P3} (3 files)"
    assert "# folded" in runner.read_text()
    assert "model_runner.py" in (w.series_dir / P3).read_text()
    assert "checkout clean" in _ok(w, "status")


def test_fold_of_a_diff_that_does_not_apply_changes_nothing(w: WS, tmp_path: Path) -> None:
    """A hunk that does not apply: exit 1 naming the hunk; workspace and checkout unchanged."""
    bad = tmp_path / "bad.diff"
    bad.write_text(
        "--- a/minillm/model_runner.py\n+++ b/minillm/model_runner.py\n@@ -1,1 +1,1 @@\n-no such line\n+other\n"
    )
    before_ws, before_co = snapshot(w.root / "series"), snapshot(w.checkout)
    r = w.cli("fold", str(bad))
    assert r.exit_code == 1 and "hunk 1" in r.output
    assert snapshot(w.root / "series") == before_ws and snapshot(w.checkout) == before_co


def test_float_and_sink_reorder_the_applied_stack(w: WS) -> None:
    """float moves a patch to the top of its layer, sink to the bottom; the final tree is the same."""
    tree = _head_tree(w)
    assert _ok(w, "float", "0001").strip() == f"Moved {P1} to the top of series/minillm"
    assert (w.series_dir / "series").read_text().split() == [P2, P3, P1]
    assert _ok(w, "top").strip() == P1 and _head_tree(w) == tree
    assert _ok(w, "sink", "0001").strip() == f"Moved {P1} to the bottom of series/minillm"
    assert (w.series_dir / "series").read_text().split() == [P1, P2, P3]
    assert _ok(w, "sink", "0003", "--to", "0002").strip() == f"Moved {P3} below {P2}"
    assert (w.series_dir / "series").read_text().split() == [P1, P3, P2]
    assert _head_tree(w) == tree and "checkout clean" in _ok(w, "status")


def test_sink_of_unapplied_patches_only_reorders_the_series(w: WS) -> None:
    """Unapplied patches are reordered in the series file alone; nothing is built or checked out."""
    _ok(w, "pop", "-a")
    before = snapshot(w.checkout)
    assert _ok(w, "sink", "0003", "--to", "0002").strip() == f"Moved {P3} below {P2}"
    assert (w.series_dir / "series").read_text().split() == [P1, P3, P2]
    assert snapshot(w.checkout) == before
    assert _ok(w, "unapplied").splitlines() == [P1, P3, P2]


def test_float_of_an_unapplied_patch_pushes_it(w: WS) -> None:
    """As stg float: an unapplied patch floated becomes the top applied one."""
    _ok(w, "goto", "0001")
    assert _ok(w, "float", "0003").strip() == f"Moved {P3} to the top of series/minillm"
    assert (w.series_dir / "series").read_text().split() == [P1, P3, P2]
    assert _ok(w, "applied").splitlines() == [P1, P3]
    assert "checkout clean" in _ok(w, "status")


def test_a_reorder_that_does_not_apply_changes_nothing(w: WS) -> None:
    """Sinking a patch below the one it depends on cannot be built: exit 1, same bytes everywhere."""
    _ok(w, "new", "on-top-of-device")
    dev = w.checkout / "minillm" / "flagscale_device.py"
    dev.write_text(dev.read_text().replace('"cuda"', '"npu"'))
    _ok(w, "refresh")
    before_ws, before_co = snapshot(w.root / "series"), snapshot(w.checkout)
    r = w.cli("sink", "on-top-of-device")
    assert r.exit_code == 1
    assert (
        r.output.strip()
        == "error: series/minillm/0004-on-top-of-device.patch: minillm/flagscale_device.py: does not exist"
    )
    assert snapshot(w.root / "series") == before_ws and snapshot(w.checkout) == before_co


def test_squash_combines_two_patches(w: WS) -> None:
    """squash A B: B's change joins A (A's header, or -m), B leaves the series; the tree is the same."""
    tree = _head_tree(w)
    out = _ok(w, "squash", "0002", "0003", "-m", "RMSNorm blocks and device selection")
    assert out.strip() == f"Squashed {P3} into {P2}"
    assert (w.series_dir / "series").read_text().split() == [P1, P2]
    assert not (w.series_dir / P3).exists()
    text = (w.series_dir / P2).read_text()
    assert "Subject: RMSNorm blocks and device selection\n" in text
    assert "flagscale_device.py" in text and "rmsnorm.cu" in text
    assert _head_tree(w) == tree and "checkout clean" in _ok(w, "status")
    assert _ok(w, "files").splitlines() == [
        "csrc/kernels/rmsnorm.cu",
        "csrc/ops.cpp",
        "minillm/flagscale_device.py",
        "minillm/layers/norm.py",
    ]


def test_squash_of_patches_apart_moves_the_second_first(w: WS) -> None:
    """squash 0001 0003 sinks 0003 onto 0001 first, keeping 0002 above them; A's subject is kept."""
    _ok(w, "squash", "0001", "0003")
    assert (w.series_dir / "series").read_text().split() == [P1, P2]
    assert "Subject: Enable FlagGems operators in the model runner\n" in (w.series_dir / P1).read_text()
    assert "flagscale_device.py" in (w.series_dir / P1).read_text()


def test_every_queue_verb_has_help_with_an_example() -> None:
    """Each queue verb is registered, documented and shows an example."""
    from click.testing import CliRunner

    from fspatch.cli import main_group

    for verb in QUEUE_VERBS:
        r = CliRunner().invoke(main_group, [verb, "--help"])
        assert r.exit_code == 0, (verb, r.output)
        assert "Example" in r.output, verb


def test_queue_verb_modules_import_no_other_command() -> None:
    """Commands compose core stack operations; none imports another command (issue 12's rule, for these verbs)."""
    import fspatch.commands

    root = Path(fspatch.commands.__file__).parent
    for name in ("header", "fold", "reorder", "squash", "queue"):
        path = root / f"{name}.py"
        assert path.exists(), path
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("fspatch.commands"), f"{name}.py imports {node.module}"
                if node.module == "fspatch":
                    assert "commands" not in [a.name for a in node.names], name
