"""Untrusted input is bounded, and every refusal names the limit and how to raise it (issue 15, finding 11).

Also the hangs and silent acceptances of findings 10, 11 and 13: a FIFO standing as ``series``
is refused at once (never read, never blocked on), ``-p99999999999999999999`` and a
``diff --git`` header followed by garbage are refused, and ``refresh`` refuses a commit the
user made on top of the stack as ``pop`` and ``push`` do.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git
from tests.hardutil import cli, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace


@pytest.fixture
def w(tmp_path: Path) -> WS:
    return make_workspace(tmp_path)


def _add(w: WS, name: str, body: bytes, series_line: str | None = None) -> None:
    (w.series_dir / name).write_bytes(body)
    with open(w.series_dir / "series", "a") as fh:
        fh.write((series_line or name) + "\n")


def _binary(size: int) -> bytes:
    """A new-file binary literal of ``size`` zero bytes: a few KB on disk, ``size`` bytes inflated."""
    import base64

    deflated = zlib.compress(b"\0" * size, 9)
    lines = b""
    for k in range(0, len(deflated), 52):
        chunk = deflated[k : k + 52]
        n = len(chunk)
        lines += bytes((64 + n if n <= 26 else 96 + n - 26,)) + base64.b85encode(chunk, pad=True) + b"\n"
    return (
        b"Subject: big\n---\ndiff --git a/assets/big.bin b/assets/big.bin\nnew file mode 100644\n"
        b"GIT binary patch\nliteral %d\n" % size + lines + b"\n"
    )


def _refused(w: WS, args: tuple[str, ...], expect: str, env: dict[str, str] | None = None) -> str:
    before = tree_snapshot(w.root)
    r = cli(w.root, *args, env=env)
    line = one_error_line(r)
    assert r.exit_code == 2 and expect in line, line
    assert tree_snapshot(w.root) == before
    return line


def test_inflated_binary_size_is_bounded_and_named(w: WS) -> None:
    """A small patch whose literal inflates past the limit is refused before inflating; the line names the variable."""
    _add(w, "0004-big.patch", _binary(4 << 20))
    line = _refused(w, ("apply", "minillm"), "over the limit", env={"FSPATCH_MAX_BINARY_BYTES": str(1 << 20)})
    assert "FSPATCH_MAX_BINARY_BYTES limit is 1048576" in line and "0004-big.patch" in line
    r = cli(w.root, "apply", "minillm", env={"FSPATCH_MAX_BINARY_BYTES": str(8 << 20)})
    assert r.exit_code == 0, r.output


def test_two_gib_literal_is_refused_by_default(w: WS) -> None:
    """The 2 GiB literal of the finding: refused under the default limit from its header line alone."""
    body = b"Subject: big\n---\ndiff --git a/a.bin b/a.bin\nnew file mode 100644\nGIT binary patch\nliteral 2147483648\nzc${NkU|?WkU|?WkU|?WkU|?WkU|?WkU|?WkU|?WkU|?WkU|?Wk\n\n"
    _add(w, "0004-big.patch", body)
    _refused(w, ("apply", "minillm"), "the FSPATCH_MAX_BINARY_BYTES limit is 268435456")


def test_patch_size_limit_is_named(w: WS) -> None:
    """The patch file size limit names its variable."""
    _refused(w, ("apply", "minillm"), "set FSPATCH_MAX_PATCH_BYTES to raise it", env={"FSPATCH_MAX_PATCH_BYTES": "200"})


def test_series_length_is_bounded_and_named(w: WS) -> None:
    """A series longer than the limit is refused at the first line over it."""
    line = _refused(w, ("apply", "minillm"), "the series lists 3 patches", env={"FSPATCH_MAX_SERIES": "2"})
    assert "series/minillm/series:3:" in line and "FSPATCH_MAX_SERIES" in line


def test_patch_name_over_255_bytes_is_refused_cleanly(w: WS) -> None:
    """A series name with a 300-byte component: one line naming the limit, not ENAMETOOLONG deep inside."""
    (w.series_dir / "series").write_text("x" * 300 + ".patch\n")
    _refused(w, ("apply", "minillm"), "FSPATCH_MAX_NAME_BYTES")
    (w.series_dir / "series").write_text("0001-enable-flag-gems.patch\n")
    assert cli(w.root, "apply", "minillm").exit_code == 0
    r = cli(w.root, "new", "n" * 300, "-m", "long")
    assert r.exit_code == 2 and "FSPATCH_MAX_NAME_BYTES" in one_error_line(r)


def test_file_name_over_255_bytes_in_a_diff_is_refused(w: WS) -> None:
    """A diff creating a file with a 300-byte name component is refused at its line."""
    name = b"d/" + b"f" * 300
    _add(w, "0004-long.patch", b"Subject: x\n---\ndiff --git a/" + name + b" b/" + name + b"\nnew file mode 100644\n--- /dev/null\n+++ b/" + name + b"\n@@ -0,0 +1 @@\n+x\n")
    _refused(w, ("apply", "minillm"), "FSPATCH_MAX_NAME_BYTES")


def test_huge_strip_level_is_refused(w: WS) -> None:
    """-p99999999999999999999 in a series is refused, naming the line and the limit."""
    (w.series_dir / "series").write_text("0001-enable-flag-gems.patch -p99999999999999999999\n")
    line = _refused(w, ("apply", "minillm"), "FSPATCH_MAX_STRIP")
    assert "series/minillm/series:1:" in line


def test_fifo_as_series_is_refused_without_blocking(w: WS) -> None:
    """A FIFO standing as the series file: refused at once (no reader blocks on it)."""
    series = w.series_dir / "series"
    series.unlink()
    os.mkfifo(series)
    line = _refused(w, ("apply", "minillm"), "not a regular file")
    assert "series/minillm/series" in line


def test_diff_git_header_followed_by_garbage_is_refused(w: WS) -> None:
    """'diff --git a/README.md b/README.md' then garbage is not an empty diff: refused at the line."""
    _add(w, "0004-garbage.patch", b"Subject: x\n---\ndiff --git a/README.md b/README.md\n\x13\x99 garbage here\nmore\n")
    line = _refused(w, ("apply", "minillm"), "'diff --git' header without a change")
    assert "series/minillm/0004-garbage.patch:4:" in line


def test_refresh_refuses_a_commit_on_top_of_the_stack(w: WS) -> None:
    """A commit the user made on top of the stack is theirs: refresh refuses as pop and push do, HEAD stays."""
    apply_cmd.run(w.ws(), "minillm")
    readme = w.checkout / "README.md"
    readme.write_text(readme.read_text() + "user line\n")
    git(w.checkout, "commit", "-qam", "my own commit")
    for args in (("refresh",), ("pop",), ("push",)):
        before = tree_snapshot(w.root)
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "is not the top of the fspatch stack" in line, (args, line)
        assert tree_snapshot(w.root) == before
