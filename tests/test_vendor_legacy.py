"""The FlagScale-style patch/unpatch entry points map onto apply, refresh and export."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import legacy, new
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError
from tests.test_vendor_kit import add_vendor, commit_all, make_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = make_workspace(tmp_path, tiny=False)
    add_vendor(w)
    commit_all(w.root, "vendor")
    return w


def test_unpatch_then_patch_round_trip_through_cli(ws: Workspace) -> None:
    """unpatch --device-type checks out the vendor stack; patch records edits and exports diff.patch."""
    r = CliRunner().invoke(main_group, ["-C", str(ws.root), "unpatch", "--backend", "MiniLLM", "--device-type", "cambricon_mlu", "--task", "inference"])
    assert r.exit_code == 0, r.output
    assert "fspatch apply minillm --vendor cambricon_mlu --task inference" in r.output
    new.run(ws, "minillm", "mlu", vendor="cambricon_mlu")
    f = ws.checkout_path("minillm") / "README.md"
    f.write_text(f.read_text() + "MLU\n")
    r = CliRunner().invoke(main_group, ["-C", str(ws.root), "patch", "--backend", "minillm", "--device-type", "Cambricon_MLU"])
    assert r.exit_code == 0, r.output
    diff = (ws.root / "vendors/cambricon_mlu/minillm/diff.patch").read_text()
    assert "+MLU" in diff


def test_unknown_device_type_and_task_without_device_are_refused(ws: Workspace) -> None:
    """A device type no vendor has, or --task without --device-type, is a usage error."""
    with pytest.raises(UsageError, match="no vendor has device type"):
        legacy.run_unpatch(ws, "minillm", device_type="Ascend_910")
    with pytest.raises(UsageError, match="--task needs --device-type"):
        legacy.run_unpatch(ws, "minillm", tasks=["train"])


def test_patch_commit_must_be_in_the_workspace_history(ws: Workspace) -> None:
    """patch --commit (FlagScale: the commit the vendor patch is based on) must be HEAD or an ancestor."""
    legacy.run_unpatch(ws, "minillm")
    with pytest.raises(UsageError, match="no such commit in the workspace repository"):
        legacy.run_patch(ws, "minillm", commit="0000000")
