# ruff: noqa: E501  (the corpus is a table: one case a line)
"""Hostile input (issue 8): every bad input gets one clear error line, the right exit code, and
nothing is written.

Each case puts one bad input into a fresh copy of the example workspace (a patch file, the series,
``upstream.lock``, ``vendor.yaml``, ``layer.yaml``, or the command line), snapshots every file of
the workspace and of the backend checkout (bytes, mode, symlink targets; the checkout's ``.git``
too, except its object store: an in-memory build may leave unreachable objects, never a moved
ref), runs the real CLI, and checks: the exit code (1 = a patch does not apply, 2 = usage or
input error, never 3), a single ``error: `` line naming the file (and line) where there is one,
no traceback, and the snapshot unchanged.

The corpus is this table; inputs that are small text live inline, big ones are generated.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from tests.wsutil import make_workspace

BACKEND = "minillm"
SERIES = Path("series", BACKEND)
LOCK = "upstream.lock"
VENDOR_YAML = Path("vendors", "acme", "vendor.yaml")
LAYER_YAML = Path("vendors", "acme", BACKEND, "layer.yaml")
HOSTILE = "0004-hostile.patch"
HOSTILE_PATH = f"series/{BACKEND}/{HOSTILE}"
FIRST = f"series/{BACKEND}/0001-enable-flag-gems.patch"

_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.org",
    "GIT_EDITOR": "false",
}


# --------------------------------------------------------------------------- the example, once


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded example with a vendor ``acme`` (layer for minillm, task inference), built once."""
    base = tmp_path_factory.mktemp("hostile-example")
    home = tmp_path_factory.mktemp("hostile-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        for key, value in _ENV.items():
            mp.setenv(key, value)
        w = make_workspace(base)
        for args in (
            ["vendor", "add", "acme", "--device-type", "Acme_X"],
            ["vendor", "layer", "acme", BACKEND, "--task", "inference"],
        ):
            r = w.cli(*args)
            assert r.exit_code == 0, r.output
    return w.root


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Path], object]  # what it returns is ignored (a lambda may return write_text's count)
    args: tuple[str, ...]
    code: int
    expect: str  # a substring of the single error line
    env: dict[str, str] = field(default_factory=dict)
    click_usage: bool = False  # click's own "Usage: … Error: …" for a bad option value


# --------------------------------------------------------------------------- snapshots


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under root: mode and content hash (link target for symlinks); skips .git/objects."""
    out: dict[str, tuple[int, str]] = {}
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root)
        parts = rel_dir.parts
        if ".git" in parts and "objects" in parts[parts.index(".git") :]:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(folder, name)
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = (st.st_mode, "-> " + os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                out[rel] = (st.st_mode, h.hexdigest())
            else:
                out[rel] = (st.st_mode, "")
    return out


# --------------------------------------------------------------------------- inputs


def add_patch(data: bytes | Callable[[Path], None], name: str = HOSTILE) -> Callable[[Path], None]:
    """Put a patch file (bytes, or written by a function given its path) at the end of the series."""

    def setup(root: Path) -> None:
        target = root / SERIES / name
        if callable(data):
            data(target)
        else:
            target.write_bytes(data)
        with open(root / SERIES / "series", "ab") as fh:
            fh.write(name.encode() + b"\n")

    return setup


def add_patches(*items: tuple[str, bytes]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for name, data in items:
            add_patch(data, name)(root)

    return setup


def write(rel: str | Path, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / rel).write_bytes(data)

    return setup


def edit(rel: str | Path, old: bytes, new: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / rel
        text = path.read_bytes()
        assert old in text, (rel, old)
        path.write_bytes(text.replace(old, new, 1))

    return setup


def series(text: bytes) -> Callable[[Path], None]:
    return write(SERIES / "series", text)


def lock_edit(old: bytes, new: bytes) -> Callable[[Path], None]:
    return edit(LOCK, old, new)


def chain(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for step in steps:
            step(root)

    return setup


def cli_first(*args: str) -> Callable[[Path], None]:
    """Run a (good) command first, e.g. apply, so that the case starts from an applied stack."""

    def setup(root: Path) -> None:
        r = CliRunner().invoke(main_group, ["-C", str(root), *args])
        assert r.exit_code == 0, r.output

    return setup


def nothing(root: Path) -> None:
    del root


def new_file(path: bytes, body: bytes = b"+x\n", mode: bytes = b"100644", header: bytes | None = None) -> bytes:
    """A git diff creating ``path`` (one line), the names spelled as given."""
    head = header if header is not None else b"diff --git a/" + path + b" b/" + path
    count = body.count(b"\n") - body.count(b"\\ No newline")
    return (
        b"Subject: hostile\n---\n" + head + b"\nnew file mode " + mode + b"\n--- /dev/null\n+++ b/" + path
        + b"\n@@ -0,0 +1" + (b"," + str(count).encode() if count != 1 else b"") + b" @@\n" + body
    )  # fmt: skip


def modify(path: bytes, hunk: bytes, *, old: bytes | None = None, new: bytes | None = None) -> bytes:
    old = old if old is not None else b"a/" + path
    new = new if new is not None else b"b/" + path
    return (
        b"Subject: hostile\n---\ndiff --git a/"
        + path
        + b" b/"
        + path
        + b"\n--- "
        + old
        + b"\n+++ "
        + new
        + b"\n"
        + hunk
    )


README_HUNK = (
    b"@@ -1,3 +1,3 @@\n # minillm\n \n-A tiny LLM serving engine (example upstream for fspatch).\n+A hostile engine.\n"
)


def link(path: bytes, target: bytes) -> bytes:
    return new_file(path, b"+" + target + b"\n\\ No newline at end of file\n", b"120000")


def binary_patch(block: bytes, path: bytes = b"assets/new.bin") -> bytes:
    return (
        b"Subject: hostile\n---\ndiff --git a/" + path + b" b/" + path + b"\nnew file mode 100644\n"
        b"GIT binary patch\n" + block + b"\n"
    )


def _b85_lines(deflated: bytes) -> bytes:
    out = b""
    for k in range(0, len(deflated), 52):
        chunk = deflated[k : k + 52]
        n = len(chunk)
        out += bytes((64 + n if n <= 26 else 96 + n - 26,)) + base64.b85encode(chunk, pad=True) + b"\n"
    return out


GOOD_BIN = zlib.compress(b"binary payload \x00\x01\x02", 9)
GARBAGE = bytes(random.Random(8).randrange(256) for _ in range(4096)) + b"\0"


def huge_patch(target: Path) -> None:
    """A 200 MB patch, sparse on disk: a valid start, then zeros up to 200 MB."""
    with open(target, "wb") as fh:
        fh.write(new_file(b"big.txt"))
        fh.truncate(200 << 20)


def symlinked_patch(target: Path) -> None:
    target.symlink_to("/etc/passwd")


def symlink_in_layer(target: Path) -> None:
    target.symlink_to("0001-enable-flag-gems.patch")


def directory_patch(target: Path) -> None:
    target.mkdir()


BILLION_LAUGHS = b"""format: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
backends: {}
"""


def deep_yaml(depth: int) -> bytes:
    return b"format: 1\nbackends: {}\nx: " + b"[" * depth + b"]" * depth + b"\n"


COMMIT = b"commit: "
APPLY = ("apply", BACKEND)
APPLY_ACME = ("apply", BACKEND, "--vendor", "acme")

# --------------------------------------------------------------------------- the corpus

# fmt: off
CASES: list[Case] = [
    # -- patch paths escaping the tree -------------------------------------------------------------
    Case("dotdot-in-diff-git-and-labels", add_patch(new_file(b"../evil.txt")), APPLY, 2, f"{HOSTILE_PATH}:6: path '../evil.txt' leaves the tree"),
    Case("dotdot-deep-in-plus-label", add_patch(new_file(b"minillm/../../../etc/cron.d/x")), APPLY, 2, "leaves the tree"),
    Case("absolute-path-in-labels", add_patch(new_file(b"/etc/passwd", header=b"diff --git a//etc/passwd b//etc/passwd")), APPLY, 2, "absolute path '/etc/passwd'"),
    Case("absolute-path-only-in-header", add_patch(b"diff --git a//tmp/x b//tmp/x\nnew file mode 100644\n"), APPLY, 2, "absolute path '/tmp/x'"),
    Case("plain-diff-absolute-with-p0", chain(add_patch(b"--- /dev/null\n+++ /tmp/evil\n@@ -0,0 +1 @@\n+x\n"), series(b"0001-enable-flag-gems.patch\n0004-hostile.patch -p0\n")), APPLY, 2, "absolute path '/tmp/evil'"),
    Case("quoted-octal-dotdot", add_patch(new_file(b"x", header=b'diff --git "a/\\056\\056/x" "b/\\056\\056/x"').replace(b"+++ b/x", b'+++ "b/\\056\\056/x"')), APPLY, 2, "leaves the tree"),
    Case("rename-to-outside", add_patch(b"diff --git a/README.md b/README.md\nsimilarity index 100%\nrename from README.md\nrename to ../README.md\n"), APPLY, 2, "leaves the tree"),
    Case("copy-from-absolute", add_patch(b"diff --git a/x b/x\nsimilarity index 100%\ncopy from /etc/shadow\ncopy to x\n"), APPLY, 2, "absolute path '/etc/shadow'"),
    Case("dot-git-config", add_patch(new_file(b".git/config")), APPLY, 2, "points into a .git directory"),
    Case("dot-git-uppercase-hooks", add_patch(new_file(b".GIT/hooks/post-checkout", mode=b"100755")), APPLY, 2, "points into a .git directory"),
    Case("nested-dot-git", add_patch(new_file(b"csrc/.git/hooks/pre-commit")), APPLY, 2, "points into a .git directory"),
    Case("dot-component", add_patch(new_file(b"./README2.md")), APPLY, 2, "not a clean relative path"),
    Case("nul-in-path", add_patch(new_file(b"a\\000b", header=b'diff --git "a/a\\000b" "b/a\\000b"').replace(b"+++ b/a\\000b", b'+++ "b/a\\000b"')), APPLY, 2, "NUL byte in path"),
    # -- symlinks --------------------------------------------------------------------------------
    Case("symlink-to-absolute-target", add_patch(link(b"evil", b"/tmp")), APPLY, 2, f"{HOSTILE_PATH}: evil: symlink target '/tmp' is an absolute path"),
    Case("symlink-climbing-out", add_patch(link(b"csrc/evil", b"../../..")), APPLY, 2, "symlink target '../../..' leaves the tree"),
    Case("symlink-into-dot-git", add_patch(link(b"hooks", b".git/hooks")), APPLY, 2, "points into a .git directory"),
    Case("symlink-chain-escapes", add_patch(link(b"csrc/up", b"..") + link(b"csrc/out", b"up/..")[len(b"Subject: hostile\n---\n"):]), APPLY, 2, "symlink target 'up/..' leaves the tree"),
    Case("write-beyond-inside-symlink-same-patch", add_patch(link(b"evil", b"minillm") + new_file(b"evil/x.py")[len(b"Subject: hostile\n---\n"):]), APPLY, 2, "evil/x.py: path lies beyond the symbolic link 'evil'"),
    Case("write-beyond-symlink-later-patch", add_patches(("0004-link.patch", link(b"evil", b"minillm")), ("0005-through.patch", new_file(b"evil/x.py"))), APPLY, 2, "series/minillm/0005-through.patch: evil/x.py: path lies beyond the symbolic link"),
    Case("file-where-directory-goes", add_patch(new_file(b"README.md/x")), APPLY, 1, "'README.md' is a file, not a directory"),
    # -- garbage, truncation, counts ------------------------------------------------------------
    Case("binary-garbage", add_patch(GARBAGE), APPLY, 2, "this is not a patch file"),
    Case("nul-in-description-without-diff", add_patch(b"Subject: x\n\nbody \0 here\n"), APPLY, 2, f"{HOSTILE_PATH}:3: binary data"),
    Case("truncated-hunk", add_patch(modify(b"README.md", README_HUNK[:-30])), APPLY, 2, "ends early"),
    Case("truncated-after-header", add_patch(modify(b"README.md", b"")), APPLY, 2, "expected a hunk"),
    Case("count-says-more", add_patch(modify(b"README.md", README_HUNK.replace(b"@@ -1,3 +1,3 @@", b"@@ -1,4 +1,3 @@"))), APPLY, 2, "ends early"),
    Case("count-says-fewer", add_patch(modify(b"README.md", README_HUNK.replace(b"@@ -1,3 +1,3 @@", b"@@ -1,2 +1,2 @@"))), APPLY, 2, "more"),
    Case("unknown-hunk-line-prefix", add_patch(modify(b"README.md", README_HUNK.replace(b"\n \n", b"\n*\n"))), APPLY, 2, f"{HOSTILE_PATH}:8: unexpected line in hunk"),
    Case("malformed-hunk-header", add_patch(modify(b"README.md", b"@@ -one +two @@\n x\n")), APPLY, 2, "malformed hunk header"),
    Case("hunk-without-file-header", add_patch(b"Subject: x\n---\n" + README_HUNK), APPLY, 2, "hunk without a file header"),
    Case("bad-file-mode", add_patch(new_file(b"x", mode=b"99999999")), APPLY, 2, "bad file mode"),
    Case("file-mode-git-cannot-store", add_patch(new_file(b"x", mode=b"100666")), APPLY, 2, f"{HOSTILE_PATH}:4: bad file mode '100666'"),
    Case("non-utf8-file-name", add_patch(new_file(b"caf\xe9.py")), APPLY, 2, f"{HOSTILE_PATH}: b'caf\\xe9.py': file name is not valid UTF-8"),
    Case("malformed-index-line", add_patch(modify(b"README.md", README_HUNK).replace(b"--- a/", b"index zz..yy\n--- a/")), APPLY, 2, "malformed 'index' line"),
    Case("both-sides-dev-null", add_patch(b"--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+x\n"), APPLY, 2, "both sides of the file diff are /dev/null"),
    Case("unterminated-quoted-name", add_patch(b'diff --git "a/x b/x\nnew file mode 100644\n'), APPLY, 2, "unterminated quoted file name"),
    Case("no-newline-marker-first", add_patch(modify(b"README.md", b"@@ -1 +1 @@\n\\ No newline at end of file\n-# minillm\n+# x\n")), APPLY, 2, "without a line before it"),
    Case("second-mail-in-file", add_patch(new_file(b"x.txt") + b"From 1234567890abcdef Mon Sep 17 00:00:00 2001\n"), APPLY, 2, "a second mail starts here"),
    # -- binary patches ---------------------------------------------------------------------------
    Case("binary-bad-base85", add_patch(binary_patch(b"literal 18\n" + bytes((64 + 5,)) + b"~~~~~~~~~~\n")), APPLY, 2, "bad base85"),
    Case("binary-bad-zlib", add_patch(binary_patch(b"literal 18\n" + _b85_lines(b"not zlib data at all!"))), APPLY, 2, "does not inflate"),
    Case("binary-wrong-size", add_patch(binary_patch(b"literal 99\n" + _b85_lines(GOOD_BIN))), APPLY, 2, "does not inflate to the 99 bytes"),
    Case("binary-line-length-letter", add_patch(binary_patch(b"literal 18\n" + b"1" + base64.b85encode(GOOD_BIN[:4]) + b"\n")), APPLY, 2, "length letter"),
    Case("binary-unbelievable-size", add_patch(binary_patch(b"literal 99999999999999999\n")), APPLY, 2, "is over the limit (the FSPATCH_MAX_BINARY_BYTES limit is"),
    Case("binary-corrupt-delta", add_patch(b"Subject: x\n---\ndiff --git a/assets/logo.bin b/assets/logo.bin\nGIT binary patch\ndelta 4\n" + _b85_lines(zlib.compress(b"\x90\x11\x05\x00")) + b"\n"), APPLY, 2, "corrupt binary delta"),
    # -- content that must not apply --------------------------------------------------------------
    Case("crlf-patch-for-lf-file", add_patch(modify(b"README.md", README_HUNK.replace(b"\n", b"\r\n").replace(b"@@ -1,3 +1,3 @@\r\n", b"@@ -1,3 +1,3 @@\n"))), APPLY, 1, f"{HOSTILE_PATH}: README.md: hunk 1 (@@ -1,3 +1,3 @@) does not apply"),
    Case("crlf-mixed-into-one-line", add_patch(modify(b"README.md", README_HUNK.replace(b" # minillm\n", b" # minillm\r\n"))), APPLY, 1, "does not apply"),
    Case("nul-in-hunk-context", add_patch(modify(b"README.md", README_HUNK.replace(b" # minillm\n", b" # mini\0llm\n"))), APPLY, 1, "does not apply"),
    Case("modify-missing-file", add_patch(modify(b"nosuch.py", b"@@ -1 +1 @@\n-a\n+b\n")), APPLY, 1, "nosuch.py: does not exist"),
    # -- patch files themselves -------------------------------------------------------------------
    Case("patch-of-200-mb", add_patch(huge_patch), APPLY, 2, f"{HOSTILE_PATH}: patch file is 209715200 bytes, over the 67108864-byte limit"),
    Case("patch-over-lowered-limit", nothing, APPLY, 2, f"{FIRST}: patch file is", env={"FSPATCH_MAX_PATCH_BYTES": "100"}),
    Case("patch-limit-env-not-a-number", nothing, APPLY, 2, "FSPATCH_MAX_PATCH_BYTES must be a positive number", env={"FSPATCH_MAX_PATCH_BYTES": "lots"}),
    Case("patch-is-a-directory", add_patch(directory_patch), APPLY, 2, "series/minillm/series:4: patch '0004-hostile.patch' listed in the series is a directory"),
    Case("patch-is-symlink-to-etc-passwd", add_patch(symlinked_patch), APPLY, 2, f"{HOSTILE_PATH}: patch file is a symlink"),
    Case("patch-is-symlink-inside-layer", add_patch(symlink_in_layer), APPLY, 2, "patch file is a symlink"),
    # -- series ---------------------------------------------------------------------------------
    Case("series-names-missing-file", series(b"0001-enable-flag-gems.patch\n0009-gone.patch\n"), APPLY, 2, "series/minillm/series:2: patch file '0009-gone.patch' listed in the series does not exist"),
    Case("series-dotdot", series(b"../x.patch\n"), APPLY, 2, "series/minillm/series:1: patch name '../x.patch' points outside the layer directory"),
    Case("series-absolute", series(b"# comment\n/etc/passwd\n"), APPLY, 2, "series/minillm/series:2: patch name '/etc/passwd' points outside"),
    Case("series-reverse-option", series(b"0001-enable-flag-gems.patch -R\n"), APPLY, 2, "series/minillm/series:1: unsupported option '-R'"),
    Case("series-listed-twice", series(b"0001-enable-flag-gems.patch\n0001-enable-flag-gems.patch\n"), APPLY, 2, "series/minillm/series:2: patch '0001-enable-flag-gems.patch' is listed twice"),
    Case("series-not-utf8", series(b"0001-enable-flag-gems.patch\n\xff\xfe.patch\n"), APPLY, 2, "series/minillm/series:2: not valid UTF-8"),
    Case("series-names-reserved-file", series(b"layer.yaml\n"), APPLY, 2, "series/minillm/series:1: 'layer.yaml' is reserved"),
    Case("series-control-character", series(b"0001\x1b[31m.patch\n"), APPLY, 2, "series/minillm/series:1: patch name"),
    # -- upstream.lock -----------------------------------------------------------------------
    Case("lock-commit-too-short", lock_edit(COMMIT, COMMIT + b"12345 #"), ("status",), 2, "upstream.lock:9:"),
    Case("lock-commit-uppercase", lambda root: (root / LOCK).write_text(_upper_commit((root / LOCK).read_text())), ("status",), 2, "upstream.lock:9:"),
    Case("lock-url-leading-dash", lock_edit(b"url: ", b"url: -oProxyCommand=touch${IFS}/tmp/pwned #"), APPLY, 2, "upstream.lock:7:"),
    Case("lock-url-ext-transport", lock_edit(b"url: ", b"url: 'ext::sh -c touch% /tmp/pwned' #"), APPLY, 2, "upstream.lock:7:"),
    Case("lock-mirror-fd-transport", lock_edit(b"    ref:", b"    mirrors: ['fd::17']\n    ref:"), APPLY, 2, "upstream.lock:"),
    Case("lock-path-dotdot", lock_edit(b"path: third_party/minillm", b"path: ../outside"), APPLY, 2, "upstream.lock:10:"),
    Case("lock-path-absolute", lock_edit(b"path: third_party/minillm", b"path: /tmp/outside"), APPLY, 2, "upstream.lock:10:"),
    Case("lock-ref-leading-dash", lock_edit(b"ref: v1.0", b"ref: --upload-pack=evil"), APPLY, 2, "upstream.lock:8:"),
    Case("lock-empty", write(LOCK, b""), ("status",), 2, "upstream.lock:1: the top level must be a mapping"),
    Case("lock-alias-bomb", write(LOCK, BILLION_LAUGHS), ("status",), 2, "upstream.lock:2: YAML anchors are not allowed"),
    Case("lock-alias-only", lock_edit(b"path: third_party/minillm", b"path: *p"), ("status",), 2, "upstream.lock:10: YAML aliases are not allowed"),
    Case("lock-duplicate-key", lock_edit(b"    path: third_party/minillm", b"    path: third_party/minillm\n    path: elsewhere"), ("status",), 2, "upstream.lock:11: duplicate key \"path\""),
    Case("lock-backends-is-a-list", lock_edit(b"backends:\n", b"backends:\n- x\nold:\n"), ("status",), 2, "upstream.lock:"),
    Case("lock-unknown-key", lock_edit(b"format: 1\n", b"format: 1\nbackend: oops\n"), ("status",), 2, "upstream.lock:5:"),
    Case("lock-format-2", lock_edit(b"format: 1\n", b"format: 2\n"), ("status",), 2, "upstream.lock:4:"),
    Case("lock-not-utf8", lock_edit(b"format: 1\n", b"format: 1\n# caf\xe9\n"), ("status",), 2, "upstream.lock:5: not valid UTF-8"),
    Case("lock-python-tag", lock_edit(b"format: 1\n", b"format: !!python/object/apply:os.system ['true']\n"), ("status",), 2, "upstream.lock:4: YAML tags are not allowed"),
    Case("lock-nested-too-deep", write(LOCK, deep_yaml(200)), ("status",), 2, "upstream.lock"),
    Case("lock-syntax-error", lock_edit(b"format: 1\n", b"format: [1\n"), ("status",), 2, "upstream.lock:"),
    Case("lock-top-level-list", write(LOCK, b"- format: 1\n"), ("status",), 2, "upstream.lock:1: the top level must be a mapping"),
    Case("lock-two-backends-share-path", lock_edit(b"backends:\n", b"backends:\n  other:\n    url: /nowhere\n    ref: v1\n    commit: " + b"a" * 40 + b"\n    path: third_party/minillm/sub\n"), ("status",), 2, "share checkout path"),
    # -- vendor.yaml and layer.yaml ------------------------------------------------------------
    Case("vendor-bad-device-type", edit(VENDOR_YAML, b"device_type: Acme_X", b"device_type: 'Acme X; rm -rf /'"), APPLY_ACME, 2, "vendors/acme/vendor.yaml:2:"),
    Case("vendor-name-mismatch", edit(VENDOR_YAML, b"name: acme", b"name: other"), APPLY_ACME, 2, "vendors/acme/vendor.yaml:1: name 'other' does not match"),
    Case("vendor-duplicate-key", edit(VENDOR_YAML, b"name: acme\n", b"name: acme\nname: acme\n"), APPLY_ACME, 2, "vendors/acme/vendor.yaml:2: duplicate key \"name\""),
    Case("vendor-wrong-type", edit(VENDOR_YAML, b"device_type: Acme_X", b"device_type: [Acme_X]"), APPLY_ACME, 2, "vendors/acme/vendor.yaml:2:"),
    Case("vendor-yaml-is-a-list", write(VENDOR_YAML, b"- name: acme\n"), APPLY_ACME, 2, "vendors/acme/vendor.yaml:1: the top level must be a mapping"),
    Case("layer-bad-task", edit(LAYER_YAML, b"- inference", b"- fly"), (*APPLY_ACME, "--task", "inference"), 2, "vendors/acme/minillm/layer.yaml:2:"),
    Case("layer-tasks-is-a-string", edit(LAYER_YAML, b"tasks:\n- inference", b"tasks: inference"), (*APPLY_ACME, "--task", "inference"), 2, "vendors/acme/minillm/layer.yaml:1:"),
    Case("layer-unknown-key", edit(LAYER_YAML, b"models: []", b"models: []\nowner: me"), (*APPLY_ACME, "--task", "inference"), 2, "vendors/acme/minillm/layer.yaml:4:"),
    Case("layer-bad-base-commit", edit(LAYER_YAML, b"upstream_commit: ", b"upstream_commit: xyz #"), (*APPLY_ACME, "--task", "inference"), 2, "vendors/acme/minillm/layer.yaml:5:"),
    Case("layer-anchor", edit(LAYER_YAML, b"models: []", b"models: &m []"), (*APPLY_ACME, "--task", "inference"), 2, "YAML anchors are not allowed"),
    # -- the command line ----------------------------------------------------------------------
    Case("unknown-backend", nothing, ("apply", "nosuch"), 2, "unknown backend 'nosuch' (known: minillm)"),
    Case("unknown-vendor", nothing, ("apply", BACKEND, "--vendor", "nosuch"), 2, "unknown vendor 'nosuch' (known: acme)"),
    Case("vendor-name-with-slash", nothing, ("apply", BACKEND, "--vendor", "../acme"), 2, "unknown vendor '../acme'"),
    Case("task-not-declared", nothing, (*APPLY_ACME, "--task", "train"), 2, "declares no task 'train'"),
    Case("task-unknown", nothing, (*APPLY_ACME, "--task", "fly"), 2, "Invalid value for '--task'", click_usage=True),
    Case("push-unknown-patch", cli_first("apply", BACKEND, "--upto", "0001"), ("push", "nosuch"), 2, "no patch 'nosuch'"),
    Case("goto-unknown-patch", cli_first("apply", BACKEND), ("goto", "nosuch"), 2, "no patch 'nosuch'"),
    Case("delete-unknown-patch", cli_first("apply", BACKEND), ("delete", "nosuch"), 2, "no patch 'nosuch'"),
    Case("new-patch-name-is-only-dots", cli_first("apply", BACKEND), ("new", "../.."), 2, "'../..' is not a usable patch name"),
    Case("rename-onto-existing-patch", cli_first("apply", BACKEND), ("rename", "0003", "0001-enable-flag-gems.patch"), 2, "cannot rename to 0001-enable-flag-gems.patch"),
    Case("backend-add-url-leading-dash", nothing, ("backend", "add", "evil", "--url", "-oProxyCommand=touch /tmp/pwned", "--ref", "v1"), 2, "refusing URL that starts with '-'"),
    Case("backend-add-url-ext", nothing, ("backend", "add", "evil", "--url", "ext::sh -c touch% /tmp/pwned", "--ref", "v1"), 2, "refusing URL with a command transport"),
    Case("backend-add-url-fd", nothing, ("backend", "add", "evil", "--url", "fd::3", "--ref", "v1"), 2, "refusing URL with a command transport"),
    Case("backend-add-path-outside", nothing, ("backend", "add", "evil", "--url", "/nowhere", "--ref", "v1", "--path", "../outside"), 2, "outside the workspace"),
    Case("backend-add-path-absolute", nothing, ("backend", "add", "evil", "--url", "/nowhere", "--ref", "v1", "--path", "/tmp/evil"), 2, "outside the workspace"),
    Case("backend-add-bad-name", nothing, ("backend", "add", "Evil Name!", "--url", "/nowhere", "--ref", "v1"), 2, "must match [a-z0-9_]+"),
    Case("backend-add-ref-leading-dash", nothing, ("backend", "add", "evil", "--url", "/nowhere", "--ref", "--upload-pack=x"), 2, ""),
]
# fmt: on


def _upper_commit(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(line.upper() if line.strip().startswith("commit:") else line for line in lines).replace(
        "COMMIT:", "commit:"
    )


# --------------------------------------------------------------------------- the test


@pytest.fixture
def workspace(example: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    shutil.copytree(example, root, symlinks=True)
    yield root


def test_corpus_is_big_enough() -> None:
    """Issue 8 asks for at least 50 hostile inputs, each with a unique id."""
    ids = [case.id for case in CASES]
    assert len(ids) >= 50 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_refused_cleanly_and_writes_nothing(
    case: Case, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad input: its exit code (never 3), one 'error:' line naming the culprit, no traceback, no byte written."""
    case.setup(workspace)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    before = _snapshot(workspace)
    outside = _snapshot(workspace.parent / "outside") if (workspace.parent / "outside").exists() else None
    result = CliRunner().invoke(main_group, ["-C", str(workspace), *case.args])
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{output}"
    )
    assert "Traceback" not in output and "internal error" not in output, output
    assert result.exit_code == case.code, output
    if case.click_usage:
        assert f"Error: {case.expect}" in output or case.expect in output, output
    else:
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), output
        assert case.expect in lines[0], output
    assert _snapshot(workspace) == before, "the command wrote to the workspace or checkout"
    assert not (workspace.parent / "outside").exists() or _snapshot(workspace.parent / "outside") == outside
    assert not Path("/tmp/pwned").exists()


def test_materialising_never_writes_through_a_symlinked_directory(workspace: Path, tmp_path: Path) -> None:
    """apply --to --force into a directory whose 'minillm' is a symlink elsewhere: the link is replaced, never followed."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "minillm").symlink_to(outside)
    (dest / "README.md").symlink_to(outside / "readme-target")
    r = CliRunner().invoke(main_group, ["-C", str(workspace), "apply", BACKEND, "--to", str(dest), "--force"])
    assert r.exit_code == 0, r.output
    assert list(outside.iterdir()) == []
    assert not (dest / "minillm").is_symlink() and (dest / "minillm" / "model_runner.py").is_file()
    assert not (dest / "README.md").is_symlink()


def test_checkout_removal_never_follows_a_symlinked_directory(tmp_path: Path) -> None:
    """Removing 'd/x' from a checkout where 'd' is a symlink to elsewhere leaves elsewhere/x alone."""
    from fspatch.git_adapter import _remove

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x").write_bytes(b"keep me")
    root = tmp_path / "co"
    root.mkdir()
    (root / "d").symlink_to(outside)
    _remove(root, "d/x")
    assert (outside / "x").read_bytes() == b"keep me"
