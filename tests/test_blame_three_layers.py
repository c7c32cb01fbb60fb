"""blame: every line of a patched file is owned by upstream or by the patch (and layer) that added it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fspatch.commands import apply, new, refresh
from fspatch.commands import blame as blame_cmd
from fspatch.core.blame import BlameResult, Owner, carry
from fspatch.core.patch import parse_patch
from fspatch.core.stack import STATE_REF
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo
from tests.test_review_kit import (
    GEMS_ON,
    RUNNER,
    UNMARKED,
    ReviewWS,
    edit,
    make_review_workspace,
)
from tests.wsutil import make_workspace, snapshot

P1 = "common/0001-enable-flag-gems.patch"
P4 = "common/0004-gems-default-on.patch"
V1 = "vendor/acme/0001-mlu-device.patch"


@pytest.fixture
def rw(tmp_path: Path) -> ReviewWS:
    return make_review_workspace(tmp_path, git_repo=False)


def owners_by_text(r: BlameResult) -> dict[str, str]:
    return {line.text: line.owner for line in r.lines if line.text.strip()}


def test_each_line_is_owned_by_upstream_common_or_vendor(rw: ReviewWS) -> None:
    """With --vendor, lines come from upstream, the common patches and the vendor patch, in stack order."""
    r = blame_cmd.run(rw.ws, "minillm", RUNNER, vendor="acme")
    up = f"upstream {rw.upstream[:12]}"
    owners = owners_by_text(r)
    assert owners["class ModelRunner:"] == up
    assert owners["    import flag_gems"] == P1
    assert owners["# --- FLAGSCALE MODIFICATION BEG ---"] == P1
    assert owners['        self.device = config.get("device", "mlu")'] == V1
    assert owners[UNMARKED.rstrip("\n")] == V1
    assert [o.label for o in r.owners] == [up, P1, P4, V1]
    assert r.layers == ("common", "vendor/acme")
    # the blamed text is the file of the full stack, which apply --vendor acme checked out
    assert "".join(line.text + "\n" for line in r.lines) == (rw.w.checkout / RUNNER).read_text()
    assert [line.number for line in r.lines] == list(range(1, len(r.lines) + 1))
    assert sum(r.counts().values()) == len(r.lines)


def test_a_rewritten_line_moves_to_the_later_patch(rw: ReviewWS) -> None:
    """0004 rewrites one line 0001 added: that line is 0004's, the rest of 0001's block stays 0001's."""
    r = blame_cmd.run(rw.ws, "minillm", RUNNER, vendor="acme")
    owned = {line.text: line.owner for line in r.lines}
    assert owned[GEMS_ON] == P4
    assert [line.text for line in r.lines if line.owner == P4] == [GEMS_ON]
    assert r.counts()[P1] == 6  # BEG, import, blank, enable(), END, trailing blank; not the rewritten line


def test_without_vendor_blame_stops_at_the_common_top(rw: ReviewWS) -> None:
    """Without --vendor the vendor layer is not applied: the device line is upstream's again."""
    r = blame_cmd.run(rw.ws, "minillm", RUNNER)
    owners = owners_by_text(r)
    assert owners['        self.device = config.get("device", "cuda")'] == f"upstream {rw.upstream[:12]}"
    assert all(not line.owner.startswith("vendor/") for line in r.lines)
    assert r.layers == ("common",)


def test_blame_follows_a_rename(tmp_path: Path) -> None:
    """A patch that renames a file carries the old file's owners into the new name."""
    w = make_workspace(tmp_path)
    ws = w.ws()
    apply.run(ws, "minillm")
    new.run(ws, "minillm", "move-norm", message="Rename the norm module")
    old, moved = w.checkout / "minillm/layers/norm.py", w.checkout / "minillm/layers/rmsnorm.py"
    old.rename(moved)
    edit(moved, "        self.eps = eps\n", "        self.eps = eps\n        self.moved = True\n")
    refresh.run(w.ws(), "minillm")
    patch = parse_patch((w.series_dir / "0004-move-norm.patch").read_bytes())
    assert [fd.status for fd in patch.files] == ["R"]
    r = blame_cmd.run(w.ws(), "minillm", "minillm/layers/rmsnorm.py")
    owners = owners_by_text(r)
    assert owners["class RMSNorm:"].startswith("upstream ")
    assert owners["        self.device = device_type()"] == "common/0003-device-selection.patch"
    assert owners["        self.moved = True"] == "common/0004-move-norm.patch"


def test_blame_never_touches_the_checkout_or_the_stack_state(rw: ReviewWS) -> None:
    """blame builds in memory: the checkout's files, HEAD and refs/fspatch/state stay as they were."""
    repo = GitRepo.open(rw.w.checkout)
    before = (snapshot(rw.w.checkout), repo.head(), repo.read_ref(STATE_REF))
    blame_cmd.run(rw.ws, "minillm", RUNNER)
    blame_cmd.run(rw.ws, "minillm", RUNNER, vendor="acme")
    repo = GitRepo.open(rw.w.checkout)
    assert (snapshot(rw.w.checkout), repo.head(), repo.read_ref(STATE_REF)) == before


def test_cli_prints_line_number_owner_and_text(rw: ReviewWS) -> None:
    """Text output is `line_no  owner  text`, owners padded to one column, like git blame."""
    r = rw.w.cli("blame", "minillm", RUNNER, "--vendor", "acme")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    width = len(f"upstream {rw.upstream[:12]}")
    width = max(width, len(V1), len(P1))
    assert (
        lines[0]
        == f" 1  {'upstream ' + rw.upstream[:12]:<{width}}  " + '"""Model runner: loads a model and runs batches."""'
    )
    gems = next(line for line in lines if line.endswith(GEMS_ON))
    assert gems == f" 8  {P4:<{width}}  {GEMS_ON}"


def test_cli_json_has_lines_owners_and_counts(rw: ReviewWS) -> None:
    """--format json: path, layers, every line with number/owner/text, owners and counts by owner."""
    r = rw.w.cli("blame", RUNNER, "--vendor", "acme", "--format", "json")  # one backend: BACKEND may be left out
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["path"] == RUNNER and data["layers"] == ["common", "vendor/acme"]
    assert set(data["lines"][0]) == {"number", "owner", "text"}
    assert data["counts"][V1] == 4 and data["counts"][P4] == 1
    assert [o["kind"] for o in data["owners"]] == ["upstream", "patch", "patch", "patch"]
    assert data["owners"][3] | {"commit": ""} == {
        "kind": "patch", "commit": "", "layer": "vendor/acme", "patch": "0001-mlu-device.patch",
        "subject": "Run the model on the MLU",
    }  # fmt: skip


def test_a_path_through_the_checkout_names_the_same_file(rw: ReviewWS) -> None:
    """third_party/minillm/<file> (from the workspace root) and an absolute path mean the tree path."""
    ws = rw.ws
    assert blame_cmd.tree_path(ws, "minillm", f"third_party/minillm/{RUNNER}", cwd=rw.root) == RUNNER
    assert blame_cmd.tree_path(ws, "minillm", str(rw.w.checkout / RUNNER), cwd=Path("/")) == RUNNER
    assert blame_cmd.tree_path(ws, "minillm", RUNNER, cwd=rw.root) == RUNNER
    with pytest.raises(UsageError):
        blame_cmd.tree_path(ws, "minillm", "../outside.py", cwd=rw.root)


def test_a_file_missing_from_the_patched_tree_is_a_usage_error(rw: ReviewWS) -> None:
    """Blaming a path absent from upstream+layers fails with exit 2 and names the file."""
    r = rw.w.cli("blame", "minillm", "minillm/nope.py")
    assert r.exit_code == 2
    assert "minillm/nope.py" in r.output and "no such file" in r.output


def test_carry_keeps_owners_of_unchanged_lines() -> None:
    """carry(): unchanged lines keep their owner, replaced and inserted lines get the new one."""
    up, a, b = (
        Owner("upstream", "u" * 40),
        Owner("patch", "a" * 40, "common", "a"),
        Owner("patch", "b" * 40, "common", "b"),
    )
    owners = [up, a, up, up]
    # line 2 replaced by two lines, one line inserted after line 4
    hunks = [(2, 1, 2, 2), (4, 0, 6, 1)]
    assert carry(owners, hunks, 6, b) == [up, b, b, up, up, b]
    assert carry([up, up], [(0, 0, 1, 1)], 3, b) == [b, up, up]  # insertion before the first line
    assert carry([up, a, up], [(2, 1, 1, 0)], 2, b) == [up, up]  # pure deletion
