"""`fspatch import mbox` and `fspatch export --format mbox`: git format-patch mails in and out, through `git am`."""

from __future__ import annotations

from pathlib import Path

from fspatch.core.interop import format_mbox, mail_source, split_mbox
from fspatch.core.patch import Patch, parse_diff, parse_patch
from scripts.example import git, git_bytes
from tests.wsutil import WS, make_workspace, snapshot


def layer_patches(w: WS) -> list[Patch]:
    names = (w.series_dir / "series").read_text().split()
    return [parse_patch((w.series_dir / n).read_bytes(), n) for n in names]


def export_mbox(w: WS, out: Path) -> Path:
    r = w.cli("export", "minillm", "--format", "mbox", "--out", str(out))
    assert r.exit_code == 0, r.output
    return out / "series" / "minillm.mbox"


def git_am(upstream: Path, where: Path, mbox: Path, *args: str) -> Path:
    git(where.parent, "clone", "-q", "--branch", "v1.0", str(upstream), str(where))
    git(where, "am", "-q", "--keep-cr", *args, str(mbox))
    return where


def test_mbox_export_applies_with_git_am_with_the_patches_authors_and_subjects(tmp_path: Path) -> None:
    """`git am --keep-cr` of the exported mbox on the pinned upstream gives fspatch's tree, authors and messages."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    mbox = export_mbox(w, tmp_path / "out")
    am = git_am(w.upstream, tmp_path / "am", mbox)
    patches = layer_patches(w)
    log = git(am, "log", "--reverse", "--format=%an <%ae>%x00%B%x01", "v1.0..HEAD").split("\x01\n")
    got = [tuple(entry.split("\x00", 1)) for entry in log if entry]
    assert got == [(p.author, p.message()) for p in patches]
    assert git(am, "rev-parse", "HEAD^{tree}") == git(w.checkout, "rev-parse", "HEAD^{tree}")
    stack = git(w.checkout, "log", "--reverse", "--format=%H", "v1.0..HEAD").split()
    assert [line.split()[1] for line in mbox.read_text().splitlines() if line.startswith("From ") and " 2001" in line] == stack


def test_mbox_round_trip_is_byte_identical_from_the_second_step(tmp_path: Path) -> None:
    """Layer → mbox → import keeps every patch (a Date header added); mbox and layer bytes are stable after."""
    a = make_workspace(tmp_path / "a")
    first = export_mbox(a, tmp_path / "out-a")
    b = make_workspace(tmp_path / "b", patches=False, upstream=a.upstream)
    r = b.cli("import", "mbox", str(first))
    assert r.exit_code == 0, r.output
    assert len(layer_patches(b)) == len(layer_patches(a)) == 3
    for old, new in zip(layer_patches(a), layer_patches(b), strict=True):
        assert new.extra_headers[0][0] == "Date" and new.extra_headers[1:] == old.extra_headers
        assert (new.author, new.subject, new.description, new.trailers, new.files) == (
            old.author, old.subject, old.description, old.trailers, old.files,
        )
    second = export_mbox(b, tmp_path / "out-b")
    assert second.read_bytes() == first.read_bytes()
    c = make_workspace(tmp_path / "c", patches=False, upstream=a.upstream)
    assert c.cli("import", "mbox", str(second)).exit_code == 0
    assert snapshot(c.series_dir) == snapshot(b.series_dir)


def test_git_format_patch_mails_import_with_author_subject_date_and_trailers(tmp_path: Path) -> None:
    """git format-patch output (UTF-8 author, trailers, a cover letter) imports in order and applies to git's tree."""
    w = make_workspace(tmp_path, patches=False)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "--branch", "v1.0", str(w.upstream), str(work))
    env_author = ["-c", "user.name=Jörg Müller", "-c", "user.email=joerg@example.org"]
    (work / "README.md").write_text("# minillm\n\nA tiny LLM serving engine, patched.\n")
    git(work, *env_author, "commit", "-q", "-a", "--author=Jörg Müller <joerg@example.org>",
        "-m", "Say it is patched\n\nFrom now on the README says so.\n\nSigned-off-by: Jörg Müller <joerg@example.org>",
        date=1_700_000_100)
    (work / "NEW.txt").write_bytes(b"new\r\nfile\r\n")
    git(work, "add", "NEW.txt")
    git(work, "commit", "-q", "-m", "Add a CRLF file", date=1_700_000_200)
    out = tmp_path / "mails"
    git(work, "format-patch", "-q", "--cover-letter", "-o", str(out), "v1.0")
    files = sorted(out.glob("*.patch"))
    assert len(files) == 3
    r = w.cli("import", "mbox", *map(str, files))
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "0000-cover-letter.patch" in r.output
    assert (w.series_dir / "series").read_text() == "0001-Say-it-is-patched.patch\n0002-Add-a-CRLF-file.patch\n"
    first, second = layer_patches(w)
    assert first.author == "Jörg Müller <joerg@example.org>"
    assert first.subject == "Say it is patched"
    assert first.description == "From now on the README says so."
    assert first.trailers == (("Signed-off-by", "Jörg Müller <joerg@example.org>"),)
    assert first.extra_headers == (("Date", "Tue, 14 Nov 2023 22:15:00 +0000"),)
    assert second.subject == "Add a CRLF file"
    assert w.cli("apply", "minillm").exit_code == 0
    assert git(w.checkout, "rev-parse", "HEAD^{tree}") == git(work, "rev-parse", "HEAD^{tree}")


def test_one_mbox_file_with_many_mails_splits_on_from_lines(tmp_path: Path) -> None:
    """`git format-patch --stdout` (one file, many mails) imports every mail, `[PATCH n/m]` dropped."""
    w = make_workspace(tmp_path, patches=False)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "--branch", "v1.0", str(w.upstream), str(work))
    for i in range(3):
        (work / f"f{i}.txt").write_text(f"{i}\n")
        git(work, "add", ".")
        git(work, "commit", "-q", "-m", f"Add f{i}", date=1_700_000_000 + i)
    mbox = tmp_path / "all.mbox"
    mbox.write_bytes(git_bytes(work, "format-patch", "--stdout", "v1.0"))
    assert mbox.read_text().count("Subject: [PATCH ") == 3
    r = w.cli("import", "mbox", str(mbox))
    assert r.exit_code == 0, r.output
    assert [p.subject for p in layer_patches(w)] == ["Add f0", "Add f1", "Add f2"]


def test_mboxrd_quoting_keeps_from_lines_of_a_description(tmp_path: Path) -> None:
    """`From `/`>From ` description lines and a UTF-8 author and subject survive export → import and `git am`."""
    w = make_workspace(tmp_path)
    diff = parse_diff(
        b"diff --git a/NOTE b/NOTE\nnew file mode 100644\n--- /dev/null\n+++ b/NOTE\n@@ -0,0 +1 @@\n+note\n"
    )
    patch = Patch(
        author="Jörg Müller <joerg@example.org>",
        subject="Quote tést",
        description="From the start.\n>From a quote.\nFrom abc Mon Sep 17 00:00:00 2001",
        files=diff,
    )
    data = format_mbox([("0" * 40, "x.patch", patch)], date="Thu, 1 Jan 2004 00:00:00 +0000",
                       fallback=("f", "f@x"), version="test")
    assert b"\n>From the start.\n>>From a quote.\n>From abc Mon" in data
    mails = split_mbox(data)
    assert len(mails) == 1
    back = mail_source(mails[0][1], "x", "x").patch
    assert (back.author, back.subject, back.description, back.files) == (
        patch.author, patch.subject, patch.description, patch.files,
    )
    mbox = tmp_path / "q.mbox"
    mbox.write_bytes(data)
    am = git_am(w.upstream, tmp_path / "am", mbox, "--patch-format=mboxrd")
    assert git(am, "log", "-1", "--format=%an <%ae>%n%B") == f"{patch.author}\n{patch.message()}\n"


def test_plain_patch_file_without_from_line_is_one_mail() -> None:
    """A file that does not start with a `From <id> <date>` line is one mail, bytes unchanged."""
    raw = b"From: A <a@x>\nSubject: [PATCH v2 3/7] thing\n\nbody\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    assert split_mbox(raw) == [(1, raw)]
    assert mail_source(raw, "x", "x").patch.subject == "thing"
