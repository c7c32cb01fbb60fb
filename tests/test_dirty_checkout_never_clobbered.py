"""A command that would overwrite local edits, or a patch that does not apply, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from fspatch.commands import apply as apply_cmd
from fspatch.commands import pop as pop_cmd
from fspatch.commands import push as push_cmd
from fspatch.errors import ConflictError, DirtyCheckoutError, UsageError
from tests.wsutil import WS, make_workspace, snapshot


def _state(w: WS) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, str], str]:
    repo = pygit2.Repository(str(w.checkout))
    refs = {n: str(repo.references[n].target) for n in repo.references}
    return snapshot(w.root), snapshot(w.checkout), refs, str(repo.head.target)


@pytest.mark.parametrize("verb", ["pop", "apply-upto"])
def test_unrefreshed_edit_blocks_the_move_and_nothing_changes(tmp_path: Path, verb: str) -> None:
    """An edit to a file the move would rewrite is refused (exit 2) with no byte or ref changed."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    norm = w.checkout / "minillm/layers/norm.py"
    norm.write_text(norm.read_text() + "# my unsaved work\n")
    before = _state(w)
    with pytest.raises(DirtyCheckoutError) as exc:
        if verb == "pop":
            pop_cmd.run(w.ws(), "minillm")
        else:
            apply_cmd.run(w.ws(), "minillm", upto="0001")
    assert "minillm/layers/norm.py" in str(exc.value)
    assert exc.value.exit_code == 2
    assert _state(w) == before


def test_untracked_file_in_the_way_blocks_push(tmp_path: Path) -> None:
    """An untracked file where a patch creates one is never overwritten."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0002")
    (w.checkout / "minillm/flagscale_device.py").write_text("mine\n")
    before = _state(w)
    with pytest.raises(DirtyCheckoutError):
        push_cmd.run(w.ws(), "minillm")
    assert _state(w) == before


def test_edits_elsewhere_are_carried_not_lost(tmp_path: Path) -> None:
    """Edits to files a pop does not touch stay in the checkout, as with git checkout."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    readme = w.checkout / "README.md"
    readme.write_text("local notes\n")
    pop_cmd.run(w.ws(), "minillm")
    assert readme.read_text() == "local notes\n"


def test_patch_that_does_not_apply_checks_out_nothing(tmp_path: Path) -> None:
    """A hunk that matches nowhere: one error naming patch, file and hunk; checkout and refs unchanged."""
    w = make_workspace(tmp_path)
    p = w.series_dir / "0002-rmsnorm-block-size.patch"
    p.write_bytes(p.read_bytes().replace(b"   dim3 grid(rows);\n", b"   dim3 grid(rows, 2);\n"))
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    before = _state(w)
    with pytest.raises(ConflictError) as exc:
        apply_cmd.run(w.ws(), "minillm")
    msg = str(exc.value)
    assert msg.startswith("series/minillm/0002-rmsnorm-block-size.patch: csrc/kernels/rmsnorm.cu: hunk 1 (@@ -")
    assert msg.endswith("does not apply")
    assert exc.value.exit_code == 1
    assert _state(w) == before


def test_moved_head_is_not_silently_abandoned(tmp_path: Path) -> None:
    """If someone moved HEAD away from the stack, apply refuses unless --force."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    repo = pygit2.Repository(str(w.checkout))
    repo.set_head(repo.revparse_single("v1.0").id)
    repo.checkout_tree(repo.revparse_single("v1.0").peel(pygit2.Tree), strategy=pygit2.enums.CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]  # pygit2 stub gap
    with pytest.raises(UsageError, match="not the top of the fspatch stack"):
        apply_cmd.run(w.ws(), "minillm")
    apply_cmd.run(w.ws(), "minillm", force=True)
