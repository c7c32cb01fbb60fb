"""review: per-layer patch stats, files shared by layers, marker coverage, and layer size over history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fspatch.commands import review as review_cmd
from fspatch.core.markers import MarkerConfig
from fspatch.core.review import Coverage, LayerReview, file_coverage
from fspatch.core.stack import STATE_REF
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo
from tests.gitutil import git
from tests.test_review_kit import RUNNER, ReviewWS, add_vendor_files, commit_all, make_review_workspace
from tests.wsutil import snapshot

COMMON = [
    ("0001-enable-flag-gems.patch", 7, 0),
    ("0002-rmsnorm-block-size.patch", 6, 1),
    ("0003-device-selection.patch", 12, 0),
    ("0004-gems-default-on.patch", 1, 1),
]


@pytest.fixture
def rw(tmp_path: Path) -> ReviewWS:
    return make_review_workspace(tmp_path)


def layer(r: review_cmd.ReviewResult, label: str) -> LayerReview:
    return next(x for x in r.layers if x.label == label)


def test_layers_list_their_patches_with_files_and_line_counts(rw: ReviewWS) -> None:
    """Each layer lists its patches in series order with subject, files, lines added/removed, and totals."""
    r = review_cmd.run(rw.ws, "minillm")
    assert [x.label for x in r.layers] == ["common", "vendor/acme"]
    common = layer(r, "common")
    assert [(p.name, p.added, p.removed) for p in common.patches] == COMMON
    assert (common.added, common.removed) == (26, 2)
    assert common.patches[3].subject == "Turn FlagGems on by default"
    assert common.patches[1].files == ("csrc/kernels/rmsnorm.cu", "csrc/ops.cpp")
    assert common.dir == "series/minillm" and common.error is None
    acme = layer(r, "vendor/acme")
    assert [(p.name, p.added, p.removed) for p in acme.patches] == [("0001-mlu-device.patch", 5, 2)]
    assert acme.files == ("minillm/flagscale_device.py", RUNNER)
    assert r.patch_count == 5


def test_files_touched_by_two_layers_are_collisions(rw: ReviewWS) -> None:
    """A file changed by the common layer and a vendor layer is listed with every patch touching it."""
    r = review_cmd.run(rw.ws, "minillm")
    by_path = {c.path: c for c in r.collisions}
    assert sorted(by_path) == ["minillm/flagscale_device.py", RUNNER]
    assert by_path[RUNNER].layers == ("common", "vendor/acme")
    assert by_path[RUNNER].patches == (
        "common/0001-enable-flag-gems.patch",
        "common/0004-gems-default-on.patch",
        "vendor/acme/0001-mlu-device.patch",
    )


def test_marker_coverage_counts_added_upstream_lines_inside_regions(rw: ReviewWS) -> None:
    """Coverage = fenced / counted added lines of upstream files; BEG/END, blank and non-upstream files excluded."""
    r = review_cmd.run(rw.ws, "minillm")
    common = layer(r, "common")
    assert common.coverage == Coverage(8, 8) and common.coverage.share == 1.0
    acme = layer(r, "vendor/acme")
    # model_runner.py: the marked device line (covered) and the unmarked line (not);
    # flagscale_device.py is the common layer's new file, not upstream: not counted
    assert acme.coverage == Coverage(2, 1) and acme.coverage.share == 0.5
    assert acme.patches[0].coverage == Coverage(2, 1)


def test_file_coverage_reads_regions_single_markers_and_unclosed_beg() -> None:
    """Inside a BEG/END pair or on a single-line marker is covered; an unclosed BEG covers to the end."""
    config = MarkerConfig()
    text = (
        b"a = 1\n"  # 0 added, uncovered
        b"# --- FLAGSCALE MODIFICATION BEG ---\n"  # 1 marker: not counted
        b"b = 2\n"  # 2 covered
        b"\n"  # 3 blank: not counted
        b"# --- FLAGSCALE MODIFICATION END ---\n"  # 4 marker
        b"c = 3  # --- FLAGSCALE MODIFICATION ---\n"  # 5 single-line marker: covered
        b"d = 4\n"  # 6 uncovered
        b"# --- FLAGSCALE MODIFICATION BEG ---\n"  # 7 unclosed
        b"e = 5\n"  # 8 covered to the end
    )
    assert file_coverage("x.py", text, range(9), config) == Coverage(5, 3)
    # no comment syntax: the file cannot carry markers, so its lines are not counted (check warns instead)
    assert file_coverage("x.unknownext", text, [0, 2], config) == Coverage(0, 0)
    assert Coverage().share is None


def test_vendor_option_keeps_common_and_that_vendor_only(rw: ReviewWS) -> None:
    """--vendor V reviews the common layer and V's layer; unknown or layer-less vendors are usage errors."""
    add_vendor_files(rw.root, "bravo")
    assert [x.label for x in review_cmd.run(rw.ws, "minillm").layers] == ["common", "vendor/acme", "vendor/bravo"]
    r = review_cmd.run(rw.ws, "minillm", vendor="bravo")
    assert [x.label for x in r.layers] == ["common", "vendor/bravo"]
    assert r.collisions == ()
    with pytest.raises(UsageError, match="unknown vendor"):
        review_cmd.run(rw.ws, "minillm", vendor="nobody")
    (rw.root / "vendors" / "charlie").mkdir()
    (rw.root / "vendors" / "charlie" / "vendor.yaml").write_text("name: charlie\ndevice_type: X\n")
    with pytest.raises(UsageError, match="no layer for backend"):
        review_cmd.run(rw.ws, "minillm", vendor="charlie")


def test_history_gives_each_layer_size_at_the_commits_that_touched_it(rw: ReviewWS) -> None:
    """One point per workspace commit touching the layer dir, read from that commit's tree, oldest first."""
    r = review_cmd.run(rw.ws, "minillm")
    common, acme = layer(r, "common"), layer(r, "vendor/acme")
    assert [p.commit for p in common.history] == [rw.commits["common"], rw.commits["rewrite"]]
    assert [(p.patches, p.added, p.removed, p.total) for p in common.history] == [(3, 25, 1, 26), (4, 26, 2, 28)]
    assert [p.commit for p in acme.history] == [rw.commits["vendor"]]
    assert acme.history[-1].total == acme.added + acme.removed
    assert [p.age for p in common.history] == [2, 1] and acme.history[0].age == 0
    assert common.history[1].subject == "Turn FlagGems on by default"
    assert r.notes == ()


def test_history_reads_commits_not_the_working_files(rw: ReviewWS) -> None:
    """An uncommitted edit changes today's stats but not the history; review leaves the repos untouched."""
    series = rw.root / "series" / "minillm"
    (series / "series").write_text((series / "series").read_text().replace("0004-gems-default-on.patch\n", ""))
    status = git(rw.root, "status", "--porcelain")
    repo = GitRepo.open(rw.w.checkout)
    before = (snapshot(rw.root), repo.head(), repo.read_ref(STATE_REF))
    r = review_cmd.run(rw.ws, "minillm")
    assert len(layer(r, "common").patches) == 3
    assert layer(r, "common").history[-1].patches == 4
    repo = GitRepo.open(rw.w.checkout)
    assert (snapshot(rw.root), repo.head(), repo.read_ref(STATE_REF)) == before
    assert git(rw.root, "status", "--porcelain") == status


def test_history_is_capped_at_the_last_commits(rw: ReviewWS) -> None:
    """limit=N keeps the last N commits touching each layer."""
    (rw.root / "series" / "minillm" / "series").write_text("0001-enable-flag-gems.patch\n")
    last = commit_all(rw.root, "Drop three patches")
    r = review_cmd.run(rw.ws, "minillm", limit=2)
    assert [p.commit for p in layer(r, "common").history] == [rw.commits["rewrite"], last]
    assert layer(r, "common").history[-1].total == 7
    assert len(review_cmd.run(rw.ws, "minillm", limit=1).layers[0].history) == 1


def test_history_is_skipped_with_a_note_outside_git(tmp_path: Path) -> None:
    """A workspace that is not a git repository still gets stats and coverage, and a note instead of history."""
    rw = make_review_workspace(tmp_path, git_repo=False)
    r = review_cmd.run(rw.ws, "minillm")
    assert all(x.history == () for x in r.layers)
    assert any("not the top of a git repository" in n for n in r.notes)
    assert layer(r, "common").coverage == Coverage(8, 8)


def test_a_patch_that_does_not_apply_is_reported_in_its_layer(rw: ReviewWS) -> None:
    """A vendor patch that no longer applies gives the layer an error; stats of every patch remain."""
    patch = rw.root / "vendors" / "acme" / "minillm" / "0001-mlu-device.patch"
    patch.write_text(patch.read_text().replace("         self.config = config\n", "         self.cfg = config\n"))
    r = review_cmd.run(rw.ws, "minillm")
    acme = layer(r, "vendor/acme")
    assert acme.error is not None and "minillm/model_runner.py" in acme.error
    assert acme.patches[0].coverage is None and acme.patches[0].added == 5
    assert layer(r, "common").error is None


def test_without_a_checkout_coverage_is_not_computed(rw: ReviewWS) -> None:
    """No backend checkout: stats and history still come, coverage is None and a note says why."""
    shutil.rmtree(rw.w.checkout)
    r = review_cmd.run(rw.ws, "minillm")
    assert all(x.coverage is None for x in r.layers)
    assert any("no checkout" in n for n in r.notes)
    assert layer(r, "common").added == 26


def test_cli_text_json_and_html(rw: ReviewWS, tmp_path: Path) -> None:
    """review prints layers, patches, shared files and history; --format json and --html work."""
    r = rw.w.cli("review", "minillm")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "common  series/minillm/  4 patches, 5 files, +26 -2, markers 100% (8/8 lines)" in out
    assert "vendor/acme  vendors/acme/minillm/  1 patch, 2 files, +5 -2, markers 50% (1/2 lines)" in out
    assert "0004-gems-default-on.patch" in out and "Turn FlagGems on by default" in out
    assert "files touched by more than one layer:" in out and f"  {RUNNER}  common/0001" in out
    assert f"    {rw.commits['rewrite'][:12]}      28 lines (+26 -2, 4 patches)  Turn FlagGems on by default" in out
    j = rw.w.cli("review", "--format", "json", "--vendor", "acme")
    data = json.loads(j.output)
    assert [x["label"] for x in data["layers"]] == ["common", "vendor/acme"]
    assert data["layers"][1]["coverage"] == {"counted": 2, "covered": 1, "share": 0.5}
    assert data["patch_count"] == 5 and data["collisions"][1]["path"] == RUNNER
    page = tmp_path / "review.html"
    h = rw.w.cli("-q", "review", "--html", str(page))
    assert h.exit_code == 0 and h.output == ""
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_text_output_hides_control_characters_of_untrusted_subjects(rw: ReviewWS) -> None:
    """A patch subject with terminal escape sequences is printed with them neutralised."""
    patch = rw.root / "series" / "minillm" / "0004-gems-default-on.patch"
    patch.write_bytes(patch.read_bytes().replace(b"Subject: Turn", b"Subject: \x1b[31mTurn", 1))
    r = rw.w.cli("review")
    assert "\x1b" not in r.output and "?[31mTurn FlagGems on by default" in r.output
