"""`fspatch import quilt` and `fspatch export --format quilt`: real Debian series, headers and bytes kept."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.core.interop import numbered_name, quilt_sources
from fspatch.core.patch import format_patch, parse_patch
from fspatch.core.workspace import LayerRef
from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot

DEBIAN = Path(__file__).parent / "data" / "debian"
LESS = DEBIAN / "less-590"
ZLIB = DEBIAN / "zlib-1.2.13.dfsg"
HAVE_QUILT = shutil.which("quilt") is not None


def _tree(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if not k.startswith((".pc", "patches"))}


def debian_workspace(tmp: Path, package: Path, name: str = "pkg") -> WS:
    """A workspace whose backend's upstream is the fixture's original files, one commit tagged v1."""
    up = tmp / "upstream"
    shutil.copytree(package / "upstream", up)
    git(up, "init", "-q")
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", "upstream", date=1_700_000_000)
    git(up, "tag", "v1")
    w = WS(tmp / "ws", up, name)
    assert CliRunner().invoke(main_group, ["init", str(w.root)]).exit_code == 0
    r = w.cli("backend", "add", name, "--url", str(up), "--ref", "v1")
    assert r.exit_code == 0, r.output
    return w


def quilt_push(package: Path, dest: Path) -> dict[str, bytes]:
    """What Debian's tools make of the series: `quilt push -a` (GNU `patch` in order without quilt)."""
    shutil.copytree(package / "upstream", dest)
    patches = package / "debian" / "patches"
    if HAVE_QUILT:
        env = {**os.environ, "QUILT_PATCHES": str(patches), "QUILT_PC": str(dest / ".pc")}
        subprocess.run(["quilt", "push", "-a", "-q"], cwd=dest, env=env, check=True, capture_output=True)
    else:
        for name in (patches / "series").read_text().split():
            # quilt keeps no backups in the tree; bare GNU patch writes FILE.orig when a hunk applies at an offset.
            patch = ["patch", "-p1", "-s", "--no-backup-if-mismatch", "-i", str(patches / name)]
            subprocess.run(patch, cwd=dest, check=True)
    return _tree(dest)


@pytest.mark.parametrize("package", [LESS, ZLIB], ids=["less-590", "zlib-1.2.13"])
def test_debian_series_imports_and_applies_as_quilt_push_does(tmp_path: Path, package: Path) -> None:
    """A real Debian series imports in order and fspatch's checkout equals `quilt push -a` on upstream."""
    w = debian_workspace(tmp_path, package)
    r = w.cli("import", "quilt", str(package))
    assert r.exit_code == 0, r.output
    names = (package / "debian" / "patches" / "series").read_text().split()
    layer = (w.series_dir / "series").read_text().split()
    assert layer == [numbered_name(n.removesuffix(".patch"), i) for i, n in enumerate(names, 1)]
    assert "imported at the end of the layer, checked to apply there, not pushed" in r.output
    r = w.cli("apply", w.backend)
    assert r.exit_code == 0, r.output
    assert _tree(w.checkout) == quilt_push(package, tmp_path / "quilt")


def test_dep3_and_mail_headers_survive_import(tmp_path: Path) -> None:
    """Author, subject (folded lines joined), Date, Origin, Bug-* and the description survive the import."""
    w = debian_workspace(tmp_path, LESS)
    assert w.cli("import", "quilt", str(LESS / "debian" / "patches")).exit_code == 0
    files = sorted(w.series_dir.glob("*.patch"))
    first = parse_patch(files[0].read_bytes())
    assert first.subject == "less-is-more-434417"  # headerless: its quilt name
    assert first.description == "http://bugs.debian.org/434417"
    cve = parse_patch(files[1].read_bytes())
    assert cve.author == "Mark Nudelman <markn@greenwoodsoftware.com>"
    assert cve.subject == "End OSC8 hyperlink on invalid embedded escape sequence."
    assert cve.extra_headers == (
        ("Date", "Fri, 7 Oct 2022 19:25:46 -0700"),
        ("Origin", "upstream, https://github.com/gwsw/less/commit/a78e1351113cef564d790a730d657a321624d79c"),
        ("Bug-Debian-Security", "https://security-tracker.debian.org/tracker/CVE-2022-46663"),
        ("Bug-Debian", "https://bugs.debian.org/1030825"),
        ("Applied-Upstream", "609"),
    )
    folded = parse_patch(files[4].read_bytes())
    assert folded.subject.startswith("Fix incorrect display when filename contains control chars. Such chars")


def test_import_export_import_is_byte_identical_from_the_second_step(tmp_path: Path) -> None:
    """Debian patches: import → export quilt → import gives the first import's files, byte for byte."""
    w = debian_workspace(tmp_path / "a", LESS)
    assert w.cli("import", "quilt", str(LESS)).exit_code == 0
    out = tmp_path / "out"
    r = w.cli("export", "--format", "quilt", "--out", str(out))
    assert r.exit_code == 0, r.output
    exported = out / w.backend / "patches"
    assert snapshot(exported) == {k: v for k, v in snapshot(w.series_dir).items()}
    w2 = debian_workspace(tmp_path / "b", LESS)
    assert w2.cli("import", "quilt", str(out / w.backend)).exit_code == 0
    assert snapshot(w2.series_dir) == snapshot(w.series_dir)


def test_canonical_patches_survive_import_and_export_byte_for_byte(tmp_path: Path) -> None:
    """The example's canonical layer: export quilt → import elsewhere → export again, every byte kept."""
    w = make_workspace(tmp_path / "a")
    original = snapshot(w.series_dir)
    for name, data in original.items():
        if name != "series":
            assert format_patch(parse_patch(data)) == data, name  # the premise: canonical files
    out = tmp_path / "out"
    assert w.cli("export", "--format", "quilt", "--out", str(out)).exit_code == 0
    w2 = make_workspace(tmp_path / "b", patches=False, upstream=w.upstream)
    r = w2.cli("import", "quilt", str(out / "minillm" / "patches"))
    assert r.exit_code == 0, r.output
    assert snapshot(w2.series_dir) == original
    out2 = tmp_path / "out2"
    assert w2.cli("export", "--format", "quilt", "--out", str(out2)).exit_code == 0
    assert snapshot(out2) == snapshot(out)


@pytest.mark.skipif(not HAVE_QUILT, reason="quilt is not installed")
def test_exported_quilt_dir_pushes_with_quilt_to_the_stack_tree(tmp_path: Path) -> None:
    """`QUILT_PATCHES=patches quilt push -a` of the export, on a copy of upstream, gives fspatch's tree."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    out = tmp_path / "out"
    assert w.cli("export", "minillm", "--format", "quilt", "--out", str(out)).exit_code == 0
    tree = tmp_path / "tree"
    git(tmp_path, "clone", "-q", "--branch", "v1.0", str(w.upstream), str(tree))
    shutil.rmtree(tree / ".git")
    shutil.copytree(out / "minillm" / "patches", tree / "patches")
    env = {**os.environ, "QUILT_PATCHES": "patches"}
    subprocess.run(["quilt", "push", "-a", "-q"], cwd=tree, env=env, check=True, capture_output=True)
    assert _tree(tree) == {k: v for k, v in snapshot(w.checkout).items()}


def test_strip_level_p0_is_honoured_and_stored_as_a_git_diff(tmp_path: Path) -> None:
    """A `-p0` series entry with `file.orig`/`file` names is read at strip 0 and stored as `a/`,`b/`."""
    w = make_workspace(tmp_path, patches=False)
    quilt = tmp_path / "q" / "patches"
    quilt.mkdir(parents=True)
    readme = (w.checkout / "README.md").read_bytes().split(b"\n")
    diff = (
        b"Description: say hello\n Longer text.\nForwarded: not-needed\n---\n"
        b"--- README.md.orig\t2024-01-01 00:00:00.000000000 +0000\n"
        b"+++ README.md\t2024-01-01 00:00:01.000000000 +0000\n"
        b"@@ -1,3 +1,4 @@\n " + readme[0] + b"\n+hello\n \n " + readme[2] + b"\n"
    )
    (quilt / "hello.diff").write_bytes(diff)
    (quilt / "series").write_bytes(b"# local\nhello.diff -p0\n")
    r = w.cli("import", "quilt", str(quilt.parent))
    assert r.exit_code == 0, r.output
    stored = (w.series_dir / "0001-hello.patch").read_bytes()
    assert b"diff --git a/README.md b/README.md\n" in stored
    p = parse_patch(stored)
    assert (p.subject, p.description, p.extra_headers) == ("say hello", "Longer text.", (("Forwarded", "not-needed"),))
    assert (w.series_dir / "series").read_text() == "0001-hello.patch\n"
    assert w.cli("apply", "minillm").exit_code == 0
    assert (w.checkout / "README.md").read_bytes().split(b"\n")[:2] == [readme[0], b"hello"]


def test_keep_names_keeps_quilt_names_verbatim(tmp_path: Path) -> None:
    """--keep-names stores zlib's extension-less quilt names as they are."""
    w = debian_workspace(tmp_path, ZLIB)
    r = w.cli("import", "quilt", "--keep-names", str(ZLIB))
    assert r.exit_code == 0, r.output
    assert (w.series_dir / "series").read_text() == "cflags-for-minizip\nuse-dso-really\n"
    assert w.cli("apply", w.backend).exit_code == 0


def test_imported_patches_are_numbered_after_the_layer(tmp_path: Path) -> None:
    """Imported patches go after the layer's highest NNNN- number, the series keeps its lines."""
    w = make_workspace(tmp_path)
    before = (w.series_dir / "series").read_text()
    out = tmp_path / "out"
    assert w.cli("export", "--format", "quilt", "--out", str(out)).exit_code == 0
    r = w.cli("import", "quilt", "--no-check", str(out / "minillm"))
    assert r.exit_code == 0, r.output
    new = [n for n in (w.series_dir / "series").read_text().splitlines() if n not in before.splitlines()]
    old = [n for n in before.splitlines() if n and not n.startswith("#")]
    assert [n[:5] for n in new] == [f"{i:04d}-" for i in range(len(old) + 1, 2 * len(old) + 1)]
    assert [n[5:] for n in new] == [n[5:] for n in old]
    assert (w.series_dir / "series").read_text().startswith(before)


def test_patch_that_does_not_apply_writes_nothing(tmp_path: Path) -> None:
    """A series whose patch does not apply on the layer's top is a conflict (exit 1); nothing is written."""
    w = make_workspace(tmp_path)
    quilt = tmp_path / "q"
    quilt.mkdir()
    (quilt / "bad.patch").write_bytes(
        b"Subject: bad\n---\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-no such line\n+x\n"
    )
    (quilt / "series").write_text("bad.patch\n")
    before = snapshot(w.root)
    r = w.cli("import", "quilt", str(quilt))
    assert r.exit_code == 1
    assert snapshot(w.root) == before
    r = w.cli("import", "quilt", "--no-check", str(quilt))
    assert r.exit_code == 0, r.output
    assert "not checked" in r.output


def test_vendor_layer_import_needs_the_layer_and_lands_there(tmp_path: Path) -> None:
    """--vendor V appends to V's layer (checked on upstream + common); a missing layer is a usage error."""
    w = make_workspace(tmp_path)
    quilt = tmp_path / "q"
    quilt.mkdir()
    (quilt / "hello.patch").write_bytes(
        b"From: V <v@example.org>\nSubject: vendor hello\n---\n"
        b"diff --git a/VENDOR.txt b/VENDOR.txt\nnew file mode 100644\n--- /dev/null\n+++ b/VENDOR.txt\n@@ -0,0 +1 @@\n+hello\n"
    )
    (quilt / "series").write_text("hello.patch\n")
    assert w.cli("vendor", "add", "acme", "--device-type", "X").exit_code == 0
    r = w.cli("import", "quilt", "--vendor", "acme", str(quilt))
    assert r.exit_code == 2 and "no layer" in r.output
    assert w.cli("vendor", "layer", "acme", "minillm", "--task", "train").exit_code == 0
    r = w.cli("import", "quilt", "--vendor", "acme", str(quilt))
    assert r.exit_code == 0, r.output
    layer = w.ws().layer_dir(LayerRef("minillm", "acme"))
    assert (layer / "series").read_text() == "0001-hello.patch\n"
    assert w.cli("apply", "minillm", "--vendor", "acme").exit_code == 0
    assert (w.checkout / "VENDOR.txt").read_bytes() == b"hello\n"
    out = tmp_path / "out"
    assert w.cli("export", "--vendor", "acme", "--format", "quilt", "--out", str(out)).exit_code == 0
    assert snapshot(out) == {f"minillm/vendors/acme/patches/{k}": v for k, v in snapshot(layer).items()
                             if k in ("series", "0001-hello.patch")}


def test_quilt_sources_reads_debian_layout_in_series_order() -> None:
    """`DIR`, `DIR/patches` and `DIR/debian/patches` all find the series; order is the series'."""
    a = [s.name for s in quilt_sources(LESS)]
    b = [s.name for s in quilt_sources(LESS / "debian" / "patches")]
    assert a == b == (LESS / "debian" / "patches" / "series").read_text().split()


@pytest.mark.parametrize("step", ["import:journal", "import:patch", "import:series"])
def test_import_killed_at_any_step_is_undone_by_recover(tmp_path: Path, step: str) -> None:
    """An import killed (SIGKILL) after some writes leaves a journal; `fspatch recover` restores every byte."""
    w = make_workspace(tmp_path)
    git(w.root, "init", "-q")
    before = snapshot(w.root)
    env = {**os.environ, "FSPATCH_CRASH_AT": step}
    run = [sys.executable, "-m", "fspatch", "-C", str(w.root)]
    killed = subprocess.run([*run, "import", "quilt", "--no-check", str(ZLIB)], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    env.pop("FSPATCH_CRASH_AT")
    refused = subprocess.run([*run, "import", "quilt", str(ZLIB)], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "recover" in refused.stderr
    done = subprocess.run([*run, "recover"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert snapshot(w.root) == before


def test_export_format_takes_one_form_and_one_report(tmp_path: Path) -> None:
    """`--format quilt --format json` reports JSON; two forms, or quilt without --out, are usage errors."""
    w = make_workspace(tmp_path)
    out = tmp_path / "out"
    r = w.cli("export", "--format", "quilt", "--format", "json", "--out", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["form"] == "quilt" and [x["layer"] for x in data["layers"]] == ["common"]
    assert w.cli("export", "--format", "quilt").exit_code == 2
    assert w.cli("export", "--format", "quilt", "--format", "mbox", "--out", str(out)).exit_code == 2


def test_compressed_quilt_patches_import_like_plain_ones(tmp_path: Path) -> None:
    """quilt reads `.gz`/`.bz2`/`.xz` patches; so does the import, into the same plain stored bytes."""
    plain = debian_workspace(tmp_path / "plain", ZLIB)
    assert plain.cli("import", "quilt", str(ZLIB)).exit_code == 0
    quilt = tmp_path / "q"
    shutil.copytree(ZLIB / "debian" / "patches", quilt)
    (quilt / "cflags-for-minizip.gz").write_bytes(gzip.compress((quilt / "cflags-for-minizip").read_bytes()))
    (quilt / "use-dso-really.xz").write_bytes(lzma.compress((quilt / "use-dso-really").read_bytes()))
    (quilt / "series").write_text("cflags-for-minizip.gz\nuse-dso-really.xz\n")
    packed = debian_workspace(tmp_path / "packed", ZLIB)
    r = packed.cli("import", "quilt", str(quilt))
    assert r.exit_code == 0, r.output
    assert snapshot(packed.series_dir) == snapshot(plain.series_dir)
