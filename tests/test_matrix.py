"""`fspatch matrix` on two vendors x two backends: pinned / common / trial-rebase columns in every output form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fspatch.commands import matrix as matrix_cmd
from scripts.example import git
from tests.test_check_fixtures import two_backends
from tests.wsutil import WS, snapshot


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> WS:
    return two_backends(tmp_path_factory.mktemp("tpl"))


@pytest.fixture
def w(template: WS, tmp_path: Path) -> WS:
    """A private copy of the two-backend, two-vendor workspace (repos included)."""
    dest = tmp_path / "copy"
    shutil.copytree(template.root.parent, dest, symlinks=True)
    return WS(dest / "ws", template.upstream)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _cells(w: WS, *args: str) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    """(backend, layer) -> (pinned, common, onto) statuses from the JSON form."""
    r = w.cli("matrix", "--format", "json", *args)
    assert r.exit_code == 0, r.output
    return {
        (row["backend"], row["layer"]): (row["pinned"]["status"], row["common"]["status"],
                                         row["onto"]["status"] if row["onto"] else None)
        for row in json.loads(r.output)["rows"]
    }


def test_every_layer_of_two_backends_and_two_vendors_applies(w: WS) -> None:
    """The healthy workspace: one row per backend x (common + vendor), all ok, as an aligned text table."""
    r = w.cli("matrix")
    assert r.exit_code == 0
    assert r.output == (
        "backend  layer        patches  pinned  common\n"
        "minillm  common       3        ok      n/a\n"
        "minillm  vendor/acme  1        ok      ok\n"
        "minillm  vendor/bolt  1        ok      ok\n"
        "tinyllm  common       1        ok      n/a\n"
        "tinyllm  vendor/acme  1        ok      ok\n"
        "tinyllm  vendor/bolt  1        ok      ok\n"
    )


def test_trial_rebase_counts_clean_and_conflicting_patches_and_changes_nothing(w: WS) -> None:
    """--onto v1.1 replays like pull-upstream: minillm's 0002 conflicts (its vendors are blocked), tinyllm is clean;
    no ref, journal, checkout or workspace file changes."""
    co = w.checkout
    before = (git(co, "for-each-ref"), git(co, "rev-parse", "HEAD"), snapshot(w.root), (co / ".git/index").read_bytes())
    r = w.cli("matrix", "--onto", "v1.1", "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["onto"]["minillm"]["ref"] == "v1.1"
    assert doc["onto"]["minillm"]["commit"] == git(w.upstream, "rev-parse", "v1.1").strip()
    onto = {(row["backend"], row["layer"]): row["onto"] for row in doc["rows"]}
    common = onto[("minillm", "common")]
    assert (common["status"], common["clean"], common["conflicts"]) == ("conflict", 2, 1)
    assert common["detail"] == "series/minillm/0002-rmsnorm-block-size.patch: csrc/kernels/rmsnorm.cu"
    assert onto[("minillm", "vendor/acme")]["status"] == "blocked"
    assert {onto[("tinyllm", layer)]["status"] for layer in ("common", "vendor/acme", "vendor/bolt")} == {"clean"}
    after = (git(co, "for-each-ref"), git(co, "rev-parse", "HEAD"), snapshot(w.root), (co / ".git/index").read_bytes())
    assert after == before
    text = w.cli("matrix", "--onto", "v1.1").output.splitlines()
    assert text[0].split() == ["backend", "layer", "patches", "pinned", "common", "onto", "v1.1"]
    assert text[1].endswith("conflict (2 clean, 1 conflict)")
    assert "minillm common onto: series/minillm/0002-rmsnorm-block-size.patch: csrc/kernels/rmsnorm.cu" in text


def test_vendor_layer_that_does_not_apply_on_common_is_reported_not_fatal(w: WS) -> None:
    """A broken vendor layer shows 'fails' in the common column with the patch line; matrix still exits 0."""
    bolt = w.root / "vendors/bolt/minillm/0001-bolt-device.patch"
    _replace(bolt, "-    return os.environ", "-    return os.environX")
    cells = _cells(w)
    assert cells[("minillm", "vendor/bolt")] == ("ok", "fails", None)
    assert cells[("minillm", "vendor/acme")] == ("ok", "ok", None)
    md = w.cli("matrix", "--format", "markdown").output
    assert md.splitlines()[0] == "| backend | layer | patches | pinned | common |"
    assert "| minillm | vendor/bolt | 1 | ✅ ok | ❌ fails |" in md
    assert "- minillm vendor/bolt common: vendors/bolt/minillm/0001-bolt-device.patch:" in md


def test_common_layer_failure_blocks_its_vendor_rows(w: WS) -> None:
    """A common patch that does not apply: pinned fails on every row of that backend, vendor layers are blocked."""
    _replace(w.root / "series/minillm/0002-rmsnorm-block-size.patch", "-  dim3 block(256);", "-  dim3 block(128);")
    cells = _cells(w, "--onto", "v1.1")
    assert cells[("minillm", "common")] == ("fails", "n/a", "unknown")
    assert cells[("minillm", "vendor/acme")] == ("fails", "blocked", "unknown")
    assert cells[("tinyllm", "vendor/acme")] == ("ok", "ok", "clean")


def test_onto_per_backend_and_unknown_refs(w: WS) -> None:
    """--onto BACKEND=REF targets one backend; a ref the checkout lacks is 'unknown', not an error."""
    cells = _cells(w, "--onto", "tinyllm=v1.1")
    assert cells[("tinyllm", "common")][2] == "clean" and cells[("minillm", "common")][2] is None
    cells = _cells(w, "--onto", "v9.9")
    assert {c[2] for c in cells.values()} == {"unknown"}
    m = matrix_cmd.run(w.ws(), ["minillm"], onto=["v9.9"])
    assert m.rows[0].onto is not None and "v9.9 not found in third_party/minillm" in m.rows[0].onto.detail


def test_github_matrix_is_one_line_of_include_entries(w: WS) -> None:
    """--github-matrix prints {"include": [...]} on one line, one entry per row, filtered by --vendor."""
    r = w.cli("matrix", "--github-matrix")
    assert r.exit_code == 0 and r.output.count("\n") == 1
    include = json.loads(r.output)["include"]
    assert include[:2] == [{"backend": "minillm", "vendor": "", "layer": "common"},
                           {"backend": "minillm", "vendor": "acme", "layer": "vendor/acme"}]
    assert len(include) == 6
    only = json.loads(w.cli("matrix", "--github-matrix", "--vendor", "bolt", "tinyllm").output)["include"]
    assert only == [{"backend": "tinyllm", "vendor": "", "layer": "common"},
                    {"backend": "tinyllm", "vendor": "bolt", "layer": "vendor/bolt"}]


def test_matrix_usage_errors_exit_2(w: WS) -> None:
    """Unknown backend or vendor, a BACKEND=REF for an unknown backend, --github-matrix with --onto: exit 2."""
    assert w.cli("matrix", "nosuch").exit_code == 2
    assert w.cli("matrix", "--vendor", "nosuch").exit_code == 2
    assert w.cli("matrix", "--onto", "nosuch=v1.1").exit_code == 2
    assert w.cli("matrix", "--github-matrix", "--onto", "v1.1").exit_code == 2
