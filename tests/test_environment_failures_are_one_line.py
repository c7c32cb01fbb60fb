"""Every environment failure is one clear line, exit 2, and the workspace exactly as before (issue 15, finding 12).

Disk full is real: the workspace lives on a small tmpfs, filled so that only a few pages are
free, and each changing verb runs at several free sizes (it either finishes, or says the disk is
full and leaves everything exactly as before, with no journal, temp file or lock behind; then
``recover`` finds nothing and no created file stays).  Read-only is real too: ``chattr +i``
(the tests run as root, where chmod is bypassed) and a read-only remount of the tmpfs.  A name
over 255 bytes reaches the file system (``FSPATCH_MAX_NAME_BYTES`` raised past it), and
5000-digit integers sit in ``upstream.lock`` and ``layer.yaml``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git, make_upstream
from tests.hardutil import cli, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace

ROOT = os.geteuid() == 0


def _mount(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return r.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a 4 MiB tmpfs, an upstream repository outside it); skipped where mounting is not allowed."""
    if not ROOT:
        pytest.skip("mounting a small tmpfs needs root (CI runs these as root)")
    where = tmp_path / "disk"
    if not _mount(where, "4m"):
        pytest.skip("mount -t tmpfs is not allowed here (no CAP_SYS_ADMIN)")
    up = tmp_path / "upstream"
    make_upstream(up)
    try:
        yield where, up
    finally:
        _umount(where)


def _fill(where: Path, free: int) -> Path:
    """Leave about ``free`` bytes free on the file system at ``where``."""
    filler = where / "filler.bin"
    filler.unlink(missing_ok=True)
    st = os.statvfs(where)
    room = st.f_bavail * st.f_frsize - free
    with open(filler, "wb") as fh:
        chunk = b"\0" * 65536
        while room > 0:
            n = fh.write(chunk[: min(room, len(chunk))])
            room -= n
    return filler


def _leftovers(root: Path) -> list[str]:
    """Temp files, journals, saved copies and locks that must never outlive a verb."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if "/objects/" in f"/{rel}/" or rel.endswith("filler.bin"):
            continue
        name = p.name
        if name.endswith(".tmp") or name in ("journal.json", "journal-saved", "lock", ".fspatch.lock", "index.lock"):
            out.append(rel)
    return out


def _source_patch(w: WS) -> bytes:
    return (w.series_dir / "0002-rmsnorm-block-size.patch").read_bytes()


# (verb args, set-up: upto for the initial apply)
VERBS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "push-a": (("push", "-a"), "0001"),
    "new": (("new", "extra", "-m", "Extra"), None),
    "apply-to": (("apply", "minillm", "--to", "{disk}/out"), "0001"),
    "import-quilt": (("import", "quilt", "{src}", "-b", "minillm", "--vendor", "acme", "--no-check"), None),
    "vendor-add": (("vendor", "add", "other", "--device-type", "Other_NPU", "--contact", "o@x"), None),
    "export-quilt": (("export", "minillm", "--vendor", "acme", "--out", "{disk}/exported"), None),
}

FREE = [0, 4096, 3 * 4096, 8 * 4096, 16 * 4096]


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_disk_full_is_one_line_and_nothing_changed(disk: tuple[Path, Path], verb: str) -> None:
    """At each free size the verb finishes or says the disk is full; refused runs change nothing, leave nothing."""
    where, up = disk
    args, upto = VERBS[verb]
    refused = 0
    for i, free in enumerate(FREE):
        base = where / f"run{i}"
        w = make_workspace(base, upstream=up)
        apply_cmd.run(w.ws(), "minillm", upto=upto)
        assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").exit_code == 0
        assert cli(w.root, "vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
        git(w.root, "init", "-q")
        git(w.root, "add", "upstream.lock", "series", "vendors")
        git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
        src = base / "quilt"
        src.mkdir()
        (src / "0001-x.patch").write_bytes(_source_patch(w))
        (src / "series").write_text("0001-x.patch\n")
        subs = {"{disk}": str(base), "{src}": str(src)}
        argv = [a.replace("{disk}", subs["{disk}"]).replace("{src}", subs["{src}"]) for a in args]
        before = tree_snapshot(base)
        filler = _fill(where, free)
        r = cli(w.root, *argv)
        filler.unlink()
        assert "internal error" not in r.output and "Traceback" not in r.output, (verb, free, r.output)
        if r.exit_code != 0:
            refused += 1
            line = one_error_line(r)
            assert r.exit_code == 2, (verb, free, r.output)
            assert "No space left on device" in line or "disk is full" in line, (verb, free, line)
            assert tree_snapshot(base) == before, (verb, free, line)
            rec = cli(w.root, "recover")
            assert rec.exit_code == 2 and "nothing to recover" in rec.output, rec.output
            assert tree_snapshot(base) == before
        assert _leftovers(base) == [], (verb, free, r.output)
        shutil.rmtree(base)
    assert refused >= 1, f"{verb}: the disk never filled up; the test proves nothing"


def test_apply_to_on_a_disk_that_fills_leaves_nothing(disk: tuple[Path, Path]) -> None:
    """apply --to DIR on a disk that fills half-way: one line, DIR gone again, no journal file left."""
    where, up = disk
    w = make_workspace(where / "ws0", upstream=up)
    out = where / "ws0" / "out"
    before = tree_snapshot(where / "ws0")
    filler = _fill(where, 8192)
    r = cli(w.root, "apply", "minillm", "--to", str(out))
    filler.unlink()
    line = one_error_line(r)
    assert r.exit_code == 2 and "No space left on device" in line, line
    assert not out.exists() and tree_snapshot(where / "ws0") == before
    assert _leftovers(where / "ws0") == []


def test_read_only_remount_is_one_line(disk: tuple[Path, Path]) -> None:
    """The whole workspace on a file system remounted read-only (EROFS): one line, exit 2, nothing changed."""
    where, up = disk
    w = make_workspace(where / "ro", upstream=up)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    before = tree_snapshot(w.root)
    assert subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True).returncode == 0
    try:
        for args in (("push",), ("new", "x", "-m", "X"), ("vendor", "add", "v", "--device-type", "V", "--contact", "v@x"),
                     ("fmt",), ("recover",)):
            r = cli(w.root, *args)
            line = one_error_line(r)
            assert r.exit_code == 2, (args, r.output)
            assert "Read-only file system" in line or "nothing to recover" in line, (args, line)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(where)], capture_output=True)
    assert tree_snapshot(w.root) == before


# -- read-only files and folders (chattr +i: root bypasses chmod) ------------------------------


def _chattr(flag: str, *paths: Path) -> bool:
    return shutil.which("chattr") is not None and all(
        subprocess.run(["chattr", flag, str(p)], capture_output=True).returncode == 0 for p in paths
    )


@pytest.fixture
def w(tmp_path: Path) -> WS:
    ws = make_workspace(tmp_path)
    apply_cmd.run(ws.ws(), "minillm", upto="0001")
    return ws


@pytest.mark.parametrize(
    ("frozen", "args"),
    [
        ("series/minillm/series", ("new", "x", "-m", "X")),
        ("series/minillm/series", ("delete", "0003")),
        ("series/minillm", ("new", "x", "-m", "X")),
        ("series/minillm/0001-enable-flag-gems.patch", ("refresh",)),
        ("third_party/minillm/csrc/ops.cpp", ("push", "-a")),
        ("third_party/minillm/minillm", ("push", "-a")),
        ("third_party/minillm/.git/fspatch", ("push",)),
        ("upstream.lock", ("backend", "add", "second", "--url", "{up}", "--ref", "v1.0")),
        ("vendors", ("vendor", "add", "v", "--device-type", "V", "--contact", "v@x")),
        ("series/minillm/0002-rmsnorm-block-size.patch", ("fmt",)),
    ],
    ids=["series-new", "series-delete", "layer-dir-new", "patch-refresh", "checkout-file-push", "checkout-dir-push",
         "journal-dir-push", "lock-backend-add", "vendors-dir-vendor-add", "patch-fmt"],
)
def test_read_only_file_or_folder_is_one_line_and_nothing_changed(w: WS, frozen: str, args: tuple[str, ...]) -> None:
    """An immutable file or folder (EPERM): one line naming it, exit 2, workspace and checkout exactly as before."""
    if not ROOT:
        pytest.skip("chattr +i needs root")
    target = w.root / frozen
    if frozen == "series/minillm/0001-enable-flag-gems.patch":
        (w.checkout / "README.md").write_text((w.checkout / "README.md").read_text() + "edit\n")
    if frozen == "series/minillm/0002-rmsnorm-block-size.patch":
        target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n", 1))  # not canonical: fmt rewrites it
    if frozen == "third_party/minillm/.git/fspatch":
        target.mkdir(exist_ok=True)
    argv = [a.replace("{up}", str(w.upstream)) for a in args]
    before = tree_snapshot(w.root)
    if not _chattr("+i", target):
        pytest.skip("chattr +i is not supported on this file system")
    try:
        r = cli(w.root, *argv)
        after = tree_snapshot(w.root)
    finally:
        _chattr("-i", target)
    line = one_error_line(r)
    assert r.exit_code == 2, r.output
    assert "Operation not permitted" in line or "Permission denied" in line, line
    assert after == before, line
    assert _leftovers(w.root) == []


def test_pull_upstream_checkout_refused_on_its_thread_is_one_line(w: WS) -> None:
    """A clean pull-upstream writes its new checkout on a second thread: libgit2's refusal there
    (an immutable file upstream changed) is still one line, exit 2, everything as before."""
    if not ROOT:
        pytest.skip("chattr +i needs root")
    apply_cmd.run(w.ws(), "minillm")
    git(w.upstream, "checkout", "-q", "--detach", "v1.0")  # a clean bump: only a file no patch touches
    (w.upstream / "minillm" / "__init__.py").write_text('__version__ = "1.0.1"\n')
    git(w.upstream, "commit", "-qam", "Release 1.0.1")
    git(w.upstream, "tag", "v1.0.1")
    target = w.checkout / "minillm" / "__init__.py"
    before = tree_snapshot(w.root)
    head = git(w.checkout, "rev-parse", "HEAD")
    if not _chattr("+i", target):
        pytest.skip("chattr +i is not supported on this file system")
    try:
        r = cli(w.root, "-q", "pull-upstream", "minillm", "v1.0.1", "--no-stop")
        after = tree_snapshot(w.root)
    finally:
        _chattr("-i", target)
    line = one_error_line(r)
    assert r.exit_code == 2, r.output
    assert "Operation not permitted" in line and "__init__.py" in line, line
    fetched = "third_party/minillm/.git/FETCH_HEAD"  # git's note of the last fetch, as after `git fetch`
    assert {k: v for k, v in after.items() if k != fetched} == {k: v for k, v in before.items() if k != fetched}
    assert git(w.checkout, "rev-parse", "HEAD") == head
    assert git(w.checkout, "status", "--porcelain") == ""
    assert _leftovers(w.root) == []
    done = cli(w.root, "pull-upstream", "minillm", "v1.0.1", "--no-stop")
    assert done.exit_code == 0, done.output
    assert git(w.checkout, "status", "--porcelain") == ""
    assert (w.checkout / "minillm" / "__init__.py").read_text() == '__version__ = "1.0.1"\n'


# -- names and numbers --------------------------------------------------------------------------


def test_name_over_the_file_system_limit_is_one_line(w: WS) -> None:
    """A 300-byte patch name with the limit raised past 255: the file system says ENAMETOOLONG, in one line."""
    before = tree_snapshot(w.root)
    r = cli(w.root, "new", "n" * 300, "-m", "Long", env={"FSPATCH_MAX_NAME_BYTES": "1000"})
    line = one_error_line(r)
    assert r.exit_code == 2 and "File name too long" in line and "ENAMETOOLONG" in line, line
    assert tree_snapshot(w.root) == before and _leftovers(w.root) == []


def test_name_over_the_limit_is_refused_naming_the_limit(w: WS) -> None:
    """With the default limit the name never reaches the file system: the refusal names the limit."""
    r = cli(w.root, "new", "n" * 300, "-m", "Long")
    line = one_error_line(r)
    assert r.exit_code == 2 and "FSPATCH_MAX_NAME_BYTES" in line, line


def test_series_line_over_255_bytes_is_one_line(w: WS) -> None:
    """A series line naming a 300-byte file: refused with the file and line."""
    with open(w.series_dir / "series", "a") as fh:
        fh.write("p" * 300 + ".patch\n")
    r = cli(w.root, "push", "-a")
    line = one_error_line(r)
    assert r.exit_code == 2 and "series/minillm/series:4" in line and "FSPATCH_MAX_NAME_BYTES" in line, line


def test_5000_digit_integer_in_upstream_lock_is_one_line(w: WS) -> None:
    lock = w.root / "upstream.lock"
    lock.write_text(lock.read_text().replace("format: 1", "format: " + "9" * 5000))
    for args in (("status",), ("push",), ("backend", "list")):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "upstream.lock:4:" in line and "5000 digits" in line, (args, line)
    r = cli(w.root, "check")  # check reports it as a finding with file and line
    assert r.exit_code == 1 and "upstream.lock:4: yaml-syntax: an integer of 5000 digits" in r.output, r.output


def test_5000_digit_integer_in_layer_yaml_is_one_line(w: WS) -> None:
    assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").exit_code == 0
    assert cli(w.root, "vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
    layer = w.root / "vendors/acme/minillm/layer.yaml"
    layer.write_text(layer.read_text() + "extra: " + "7" * 5000 + "\n")
    for args in (("apply", "minillm", "--vendor", "acme", "--task", "inference"), ("vendor", "layer", "acme", "minillm", "--task", "train")):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "layer.yaml:7:" in line and "5000 digits" in line, (args, line)
    r = cli(w.root, "check")
    assert r.exit_code == 1 and "layer.yaml:7: yaml-syntax: an integer of 5000 digits" in r.output, r.output


# -- busy ---------------------------------------------------------------------------------------


def _bind(source: Path, target: Path) -> bool:
    return subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    ("busy", "args"),
    [
        ("series/minillm/series", ("new", "extra", "-m", "Extra")),
        ("series/minillm/0001-enable-flag-gems.patch", ("rename", "0001", "gems")),
        ("vendors/acme/vendor.yaml", ("vendor", "add", "acme", "--contact", "new@x")),
    ],
    ids=["series-new", "patch-rename", "vendor-yaml-vendor-add"],
)
def test_busy_mount_point_is_one_line_and_nothing_changed(w: WS, tmp_path: Path, busy: str, args: tuple[str, ...]) -> None:
    """A workspace file that is a mount point (a bind mount: replacing it is EBUSY, as the kernel
    says for a real mount point): one line naming it, exit 2, workspace and checkout as before."""
    if not ROOT:
        pytest.skip("mount --bind needs root (CI runs these as root)")
    assert cli(w.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").exit_code == 0
    git(w.root, "init", "-q")  # the workspace a git repository: vendor add is journalled there
    target = w.root / busy
    source = tmp_path / "bound-source"
    source.write_bytes(target.read_bytes())  # the same bytes: only the mount makes it different
    if not _bind(source, target):
        pytest.skip("mount --bind is not allowed here (no CAP_SYS_ADMIN)")
    try:
        before = tree_snapshot(w.root)
        r = cli(w.root, *args)
        after = tree_snapshot(w.root)
    finally:
        _umount(target)
    line = one_error_line(r)
    assert r.exit_code == 2, r.output
    assert "EBUSY" in line and busy.rsplit("/", 1)[-1] in line, line
    assert after == before, line
    assert _leftovers(w.root) == []
