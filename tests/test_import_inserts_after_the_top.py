"""`import quilt|mbox|commits` inserts after the top applied patch, as `quilt import` does (issue 16, left open).

On a partly applied layer the imported patches go right after its top applied patch, unapplied,
so the next ``push`` applies them first; they are checked to apply there (not at the end); their
``NNNN-`` keeps the series in number order (unnumbered when no number fits, as ``new``).  After
``pop -a`` they go first, as quilt.  ``--append`` puts them at the end, checked on the whole
layer.  The last line says where they went.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot, write_patches

GELU = "csrc/kernels/gelu.cu"
GELU_TEXT = (
    '#include "ops.h"\n'
    "\n"
    "__global__ void gelu_kernel(float* out, const float* in, int n) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) out[i] = 0.5f * in[i] * (1.0f + tanhf(0.79788456f * in[i]));\n"
    "}\n"
)
CU = "csrc/kernels/rmsnorm.cu"


def _add_gelu(root: Path) -> None:
    (root / GELU).write_text(GELU_TEXT)


def _wider_block(root: Path) -> None:
    """Changes the line 0002-rmsnorm-block-size.patch changes: applies on 0001, not after 0002."""
    path = root / CU
    text = path.read_text()
    assert "  dim3 block(256);\n" in text
    path.write_text(text.replace("  dim3 block(256);\n", "  dim3 block(512);\n"))


def _series(w: WS) -> list[str]:
    return [n for n in (w.series_dir / "series").read_text().splitlines() if n and not n.startswith("#")]


def _partly_applied(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    r = w.cli("apply", "minillm", "--upto", "0001")
    assert r.exit_code == 0, r.output
    return w


def _quilt_dir(w: WS, tmp_path: Path, *steps) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "incoming"
    write_patches(w.upstream, "v1.0", out, list(steps))
    return out


def test_quilt_import_goes_after_the_top_applied_patch(tmp_path: Path) -> None:
    """0001 applied of 0001..0003: the import lands between 0001 and 0002, unapplied; push applies it next."""
    w = _partly_applied(tmp_path)
    incoming = _quilt_dir(w, tmp_path, ("0001-gelu-kernel.patch", "Add a GELU kernel", _add_gelu))
    before = _series(w)
    r = w.cli("import", "quilt", str(incoming))
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == (
        "common/minillm: 1 patch imported after 0001-enable-flag-gems.patch, the top applied patch, "
        "checked to apply there, not pushed"
    )
    # no number fits between 0001 and 0002: unnumbered rather than out of order (as 'new')
    assert _series(w) == [before[0], "gelu-kernel.patch", *before[1:]]
    assert (w.series_dir / "gelu-kernel.patch").is_file()
    assert w.cli("series").output.splitlines() == [
        f"> {before[0]}",
        "- gelu-kernel.patch",
        *(f"- {n}" for n in before[1:]),
    ]
    assert not (w.checkout / GELU).exists()  # not pushed
    r = w.cli("push")
    assert r.exit_code == 0 and r.output.splitlines() == ["Applying gelu-kernel.patch", "Now at gelu-kernel.patch"]
    assert (w.checkout / GELU).read_text() == GELU_TEXT
    r = w.cli("push", "-a")
    assert r.exit_code == 0 and r.output.splitlines()[-1] == f"Now at {before[-1]}", r.output


def test_the_check_is_made_where_the_patch_goes(tmp_path: Path) -> None:
    """A patch made on 0001's tree that changes 0002's line: accepted after 0001, refused with --append."""
    w = _partly_applied(tmp_path)
    incoming = _quilt_dir(w, tmp_path, ("wider-block.patch", "Widen the RMSNorm block", _wider_block))
    before_ws, before_co = snapshot(w.root / "series"), snapshot(w.checkout)
    r = w.cli("import", "quilt", "--append", str(incoming))
    assert r.exit_code == 1, r.output
    assert CU in r.output and "Traceback" not in r.output
    assert snapshot(w.root / "series") == before_ws and snapshot(w.checkout) == before_co
    r = w.cli("import", "quilt", str(incoming))
    assert r.exit_code == 0, r.output
    assert _series(w)[1] == "wider-block.patch"
    r = w.cli("push")
    assert r.exit_code == 0, r.output
    assert "  dim3 block(512);\n" in (w.checkout / CU).read_text()


def test_append_puts_them_at_the_end_numbered_after_the_layer(tmp_path: Path) -> None:
    """--append: at the end, NNNN after the highest number, the message says so."""
    w = _partly_applied(tmp_path)
    incoming = _quilt_dir(w, tmp_path, ("gelu.patch", "Add a GELU kernel", _add_gelu))
    before = _series(w)
    r = w.cli("import", "quilt", "--append", str(incoming))
    assert r.exit_code == 0, r.output
    assert "imported at the end of the layer, checked to apply there" in r.output.splitlines()[-1]
    assert _series(w) == [*before, "0004-gelu.patch"]


def _mbox(w: WS, tmp_path: Path) -> tuple[Path, Path]:
    """A real git format-patch mail of a commit adding the GELU kernel on v1.0 (and that clone)."""
    clone = tmp_path / "contrib"
    git(tmp_path, "clone", "-q", str(w.upstream), str(clone))
    git(clone, "checkout", "-q", "-b", "gelu", "v1.0")
    _add_gelu(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "Add a GELU kernel\n\nTanh approximation, as in the reference.", date=1_700_000_000)
    mail = tmp_path / "gelu.mbox"
    mail.write_text(git(clone, "format-patch", "-1", "--stdout"))
    return mail, clone


def test_mbox_after_pop_all_goes_first(tmp_path: Path) -> None:
    """Everything popped: the mail goes to the start of the layer, as quilt imports with nothing applied."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    assert w.cli("pop", "-a").exit_code == 0
    mail, _ = _mbox(w, tmp_path)
    before = _series(w)
    r = w.cli("import", "mbox", str(mail))
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == (
        "common/minillm: 1 patch imported at the start of the layer (none of it applied), "
        "checked to apply there, not pushed"
    )
    assert _series(w) == ["0000-Add-a-GELU-kernel.patch", *before]
    r = w.cli("push")
    assert r.exit_code == 0 and r.output.splitlines()[0] == "Applying 0000-Add-a-GELU-kernel.patch", r.output


def test_commits_go_after_the_top_applied_patch(tmp_path: Path) -> None:
    """import commits A..B on a partly applied layer: after the top, and push applies the commit's change."""
    w = _partly_applied(tmp_path)
    _, clone = _mbox(w, tmp_path)
    git(w.checkout, "fetch", "-q", str(clone), "gelu:refs/heads/contrib")
    head_before = git(w.checkout, "rev-parse", "HEAD")
    r = w.cli("import", "commits", "contrib~1..contrib")
    assert r.exit_code == 0, r.output
    assert "imported after 0001-enable-flag-gems.patch, the top applied patch" in r.output.splitlines()[-1]
    assert _series(w)[1] == "Add-a-GELU-kernel.patch"
    assert git(w.checkout, "rev-parse", "HEAD") == head_before  # not pushed
    assert w.cli("push").exit_code == 0
    assert (w.checkout / GELU).read_text() == GELU_TEXT


def test_installed_fspatch_import_mbox_in_a_subprocess(tmp_path: Path) -> None:
    """The installed fspatch says where the mail went, and 'fspatch push' applies it next."""
    w = _partly_applied(tmp_path)
    mail, _ = _mbox(w, tmp_path)
    exe = str(Path(sys.executable).parent / "fspatch")
    p = subprocess.run([exe, "import", "mbox", str(mail)], cwd=w.root, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "imported after 0001-enable-flag-gems.patch, the top applied patch" in p.stdout
    p = subprocess.run([exe, "push"], cwd=w.root, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.splitlines()[0] == "Applying Add-a-GELU-kernel.patch", p.stdout + p.stderr
