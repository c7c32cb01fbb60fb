"""The workspace model: YAML round trips, atomic writes, series files, finding the root, the lock,
layers and vendors.  Every test builds its own workspace under ``tmp_path`` (hermetic)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from fspatch.core.series import SeriesEntry, format_series, parse_series, read_series
from fspatch.core.workspace import (
    Backend,
    LayerRef,
    Workspace,
    find_root,
    init_workspace,
    normalize_backend,
    valid_name,
)
from fspatch.core.yamlio import (
    atomic_write,
    dump_yaml,
    load_yaml,
    overwrite,
    parse_yaml,
    save_yaml,
)
from fspatch.errors import InputError, PathEscapeError, UsageError

C1 = "0123456789abcdef0123456789abcdef01234567"
C2 = "89abcdef0123456789abcdef0123456789abcdef"

LOCK = f"""\
# Upstreams this workspace patches.
format: 1

backends:
  # the inference engine
  vllm:
    url: https://github.com/vllm-project/vllm.git   # primary
    mirrors:
      - git@gitee.com:mirrors/vllm.git
    ref: 'v0.8.5'
    commit: {C1}
    path: third_party/vllm
    version: "0.8.5"
  megatron:
    url: https://github.com/NVIDIA/Megatron-LM.git
    ref: core_r0.12.0
    commit: {C2}
    path: third_party/Megatron-LM
# trailing note
"""


def _workspace(tmp_path: Path, lock: str = LOCK) -> Workspace:
    """A workspace with the given lock, a common vllm layer, and vendor 'cambricon'."""
    (tmp_path / "upstream.lock").write_text(lock)
    common = tmp_path / "series" / "vllm"
    common.mkdir(parents=True)
    (common / "0001-a.patch").write_text("a\n")
    (common / "0002-b.patch").write_text("b\n")
    (common / "series").write_text("# common vllm patches\n0001-a.patch\n\n0002-b.patch -p1\n")
    vendor = tmp_path / "vendors" / "cambricon"
    (vendor / "vllm").mkdir(parents=True)
    (vendor / "vendor.yaml").write_text("name: cambricon\ndevice_type: Cambricon_MLU\n")
    (tmp_path / "vendors" / "not_a_vendor").mkdir()
    return Workspace.load(tmp_path)


# --------------------------------------------------------------------------- YAML round trip


@pytest.mark.parametrize(
    "text",
    [
        LOCK,
        "a:\n  - 1\n  - 2\nb:\n  c: 1\n",
        "a:\n    b:\n    - 1\n    - x\n",
        "---\n# c\na: [1, 2]\nb: {}\nc: |\n  text\n  more\n",
        "# before the start\n---\na: 1\n",
        "a: " + "word " * 100 + "end\n",
    ],
)
def test_noop_save_is_byte_identical(text: str) -> None:
    """Loading and dumping unchanged data gives the same bytes: comments, order, quotes, style."""
    assert dump_yaml(parse_yaml(text, "x.yaml")) == text.encode()


def test_edit_keeps_comments_and_key_order(tmp_path: Path) -> None:
    """Changing one value rewrites only that value; every comment and key stays in place."""
    path = tmp_path / "upstream.lock"
    path.write_text(LOCK)
    data = load_yaml(path, "lock")
    data["backends"]["megatron"]["ref"] = "core_r0.13.0"
    save_yaml(path, data)
    assert path.read_text() == LOCK.replace("core_r0.12.0", "core_r0.13.0")


def test_noop_save_does_not_touch_the_file(tmp_path: Path) -> None:
    """Saving unchanged data writes nothing: same inode, same mtime."""
    path = tmp_path / "upstream.lock"
    path.write_text(LOCK)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    before = path.stat()
    save_yaml(path, load_yaml(path, "lock"))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_dump_is_deterministic_and_block_style() -> None:
    """The same plain data always gives the same bytes: 2-space block style, quoted as needed."""
    data = {
        "format": 1,
        "backends": {},
        "models": ["a", "b"],
        "versions": {"v": "0.8", "n": "1234"},
    }
    first = dump_yaml(data)
    assert first == dump_yaml(data)
    assert first == (
        b"format: 1\nbackends: {}\nmodels:\n- a\n- b\nversions:\n  v: '0.8'\n  n: '1234'\n"
    )
    assert parse_yaml(first, "x")["versions"] == {"v": "0.8", "n": "1234"}


def test_duplicate_key_is_one_error_at_the_duplicate_line() -> None:
    """ruamel's duplicate-key error becomes a single InputError at the second occurrence."""
    with pytest.raises(InputError) as info:
        parse_yaml("format: 1\nbackends: {}\nformat: 1\n", "upstream.lock", "lock")
    assert (
        str(info.value)
        == 'upstream.lock:3: duplicate key "format" in the mapping that starts at line 1'
    )


def test_alias_bomb_fails_fast_with_a_line() -> None:
    """A "billion laughs" document is refused at its first anchor, without expanding anything."""
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        parse_yaml("\n".join(rows) + "\n", "bomb.yaml")
    assert time.monotonic() - start < 1.0
    assert str(info.value).startswith("bomb.yaml:1: YAML anchors are not allowed")


def test_alias_without_anchor_and_tags_are_refused() -> None:
    """Aliases and explicit tags (even !!str, which would load as a non-str) are input errors."""
    with pytest.raises(InputError, match=r"^x:2: YAML aliases are not allowed"):
        parse_yaml("a: 1\nb: *a\n", "x")
    with pytest.raises(
        InputError, match=r"^x:1: YAML tags are not allowed \(found '!!python/object"
    ):
        parse_yaml("a: !!python/object:os.system x\n", "x")
    with pytest.raises(InputError, match=r"^x:2: YAML tags are not allowed \(found '!!str'\)"):
        parse_yaml("a: 1\nb: !!str 2\n", "x")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: 1\nb: [1\n", 3, "flow sequence"),
        ("- 1\n- 2\n", 1, "top level must be a mapping"),
        ("", 1, "not empty"),
        ("a: 1\n---\nb: 2\n", 2, "single document"),
        ("[" * 200, 1, "nested too deeply"),
    ],
)
def test_malformed_yaml_is_one_input_error_with_a_line(text: str, line: int, fragment: str) -> None:
    """Syntax errors, non-mapping documents and deep nesting all name file and line."""
    with pytest.raises(InputError) as info:
        parse_yaml(text, "f.yaml")
    assert str(info.value).startswith(f"f.yaml:{line}: ")
    assert fragment in str(info.value) or fragment == "not empty"


def test_load_yaml_names_the_file_relative_to_the_root(tmp_path: Path) -> None:
    """Error paths are workspace-relative when the root is given, as given otherwise."""
    path = tmp_path / "vendors" / "x" / "vendor.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("name: x\ndevice_type: 'a b'\n")
    with pytest.raises(InputError, match=r"^vendors/x/vendor.yaml:2: device_type: "):
        load_yaml(path, "vendor", root=tmp_path)
    with pytest.raises(InputError) as info:
        load_yaml(path, "vendor")
    assert str(info.value).startswith(f"{path}:2: ")


def test_yaml_modules_are_not_imported_at_start_up() -> None:
    """Importing the core workspace model does not import ruamel.yaml or jsonschema (~70 ms)."""
    code = (
        "import sys, fspatch.core.workspace, fspatch.core.series, fspatch.core.schema\n"
        "bad = [m for m in ('ruamel.yaml', 'jsonschema') if m in sys.modules]\n"
        "sys.exit(1 if bad else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_temp_files_and_keeps_mode(tmp_path: Path) -> None:
    """A write replaces the file whole, leaves nothing beside it, and keeps its permission bits."""
    path = tmp_path / "series"
    path.write_bytes(b"old\n")
    path.chmod(0o640)
    assert atomic_write(path, b"new\n") is True
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]


def test_atomic_write_of_identical_bytes_does_not_rewrite(tmp_path: Path) -> None:
    """Identical bytes leave the file alone: same inode and mtime (no spurious rebuilds)."""
    path = tmp_path / "x.patch"
    path.write_bytes(b"same\n")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    before = path.stat()
    assert atomic_write(path, b"same\n") is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_atomic_write_creates_new_files_with_umask_mode_and_parents(tmp_path: Path) -> None:
    """A new file gets 0o666 minus the umask (like open()), its folders are created."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "a" / "b" / "new.yaml"
        atomic_write(path, b"x: 1\n")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"x: 1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the rename fails the old content survives and the temporary file is removed."""
    path = tmp_path / "upstream.lock"
    path.write_bytes(b"old\n")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstream.lock"]


def test_overwrite_rewrites_in_place_shorter_or_longer_and_keeps_mode(tmp_path: Path) -> None:
    """In place: same inode, the old tail gone when the new bytes are shorter, the mode kept."""
    path = tmp_path / "0001-a.patch"
    path.write_bytes(b"--- a/x.cu\n" * 400)
    path.chmod(0o640)
    ino = path.stat().st_ino
    assert overwrite(path, b"short\n", tmp_path) is True
    assert path.read_bytes() == b"short\n"
    assert overwrite(path, b"longer than before " * 300, tmp_path) is True
    assert path.read_bytes() == b"longer than before " * 300
    assert path.stat().st_ino == ino and stat.S_IMODE(path.stat().st_mode) == 0o640
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert overwrite(path, b"longer than before " * 300, tmp_path) is False
    assert path.stat().st_mtime_ns == 1_000_000_000 * 10**9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001-a.patch"]


def test_overwrite_never_writes_through_a_second_hard_link_or_a_link_out(tmp_path: Path) -> None:
    """A hard-linked file is replaced by rename (its other name keeps the old bytes), a missing one
    is created, and a symlink leading out of the root is refused as by atomic_write."""
    root = tmp_path / "ws"
    root.mkdir()
    path = root / "0001-a.patch"
    path.write_bytes(b"old\n")
    snapshot = tmp_path / "snapshot.patch"
    os.link(path, snapshot)  # cp -al style backup
    assert overwrite(path, b"new\n", root) is True
    assert path.read_bytes() == b"new\n" and snapshot.read_bytes() == b"old\n"
    fresh = root / "series" / "0002-b.patch"
    assert overwrite(fresh, b"made\n", root) is True and fresh.read_bytes() == b"made\n"
    outside = tmp_path / "outside.patch"
    outside.write_bytes(b"keep\n")
    (root / "0003-c.patch").symlink_to(outside)
    with pytest.raises(PathEscapeError):
        overwrite(root / "0003-c.patch", b"evil\n", root)
    assert outside.read_bytes() == b"keep\n"


# --------------------------------------------------------------------------- series files

SERIES = b"""\
# vllm common layer

0001-a.patch
0002-b.patch -p0  # from upstream PR 1234
# 0003-disabled.patch
sub/0004-d.patch -p1 # trailing
"""


def test_series_parsing_skips_comments_and_blanks_and_records_strip() -> None:
    """Names, -pN and 1-based lines are read; comments (whole or trailing) and blanks are not."""
    assert parse_series(SERIES, "series") == [
        SeriesEntry("0001-a.patch", 1, 3),
        SeriesEntry("0002-b.patch", 0, 4),
        SeriesEntry("sub/0004-d.patch", 1, 6),
    ]


@pytest.mark.parametrize(
    ("text", "error", "line", "fragment"),
    [
        (b"a.patch\nb.patch -R\n", InputError, 2, "unsupported option '-R'"),
        (b"a.patch -p1 -p0\n", InputError, 1, "more than one -p"),
        (b"# x\n../x.patch\n", PathEscapeError, 2, "outside the layer"),
        (b"/etc/passwd\n", PathEscapeError, 1, "outside the layer"),
        (b"sub/../../x.patch\n", PathEscapeError, 1, "outside the layer"),
        (b"a.patch\n\nb.patch\na.patch -p1\n", InputError, 4, "listed twice (first at line 1)"),
        (b"./a.patch\n", InputError, 1, "not a normalised"),
    ],
)
def test_bad_series_lines_are_refused_with_their_line(
    text: bytes, error: type[InputError], line: int, fragment: str
) -> None:
    """Unknown options, escaping names and duplicates name the series file and the line."""
    with pytest.raises(error) as info:
        parse_series(text, "series/vllm/series")
    assert type(info.value) is error
    assert str(info.value).startswith(f"series/vllm/series:{line}: ")
    assert fragment in str(info.value)


def test_format_series_noop_is_byte_identical() -> None:
    """Writing back the entries just read reproduces the file exactly (even odd layouts)."""
    assert format_series(parse_series(SERIES, "s"), SERIES) == SERIES
    odd = b"a.patch\r\n  b.patch\t-p2\t# x\nc.patch"
    assert format_series(parse_series(odd, "s"), odd) == odd


def test_format_series_edits_keep_comments() -> None:
    """Insert, remove and rename touch only entry lines; comments and blanks stay put."""
    a, b, d = parse_series(SERIES, "s")
    edited = [
        SeriesEntry("0000-first.patch"),
        a,
        SeriesEntry("0001b-new.patch"),
        replace(d, name="sub/0004-dd.patch"),
    ]
    assert (
        format_series(edited, SERIES)
        == b"""\
# vllm common layer

0000-first.patch
0001-a.patch
0001b-new.patch
# 0003-disabled.patch
sub/0004-dd.patch -p1 # trailing
"""
    )
    appended = format_series([a, b, d, SeriesEntry("0005-e.patch", strip=0)], SERIES)
    assert appended == SERIES + b"0005-e.patch -p0\n"


def test_format_series_reorder_moves_lines_with_their_comments() -> None:
    """Reordering moves whole entry lines (trailing comments travel) through the entry slots."""
    a, b, d = parse_series(SERIES, "s")
    out = format_series([b, a, d], SERIES)
    assert out.split(b"\n")[2:4] == [b"0002-b.patch -p0  # from upstream PR 1234", b"0001-a.patch"]
    assert parse_series(out, "s") == [replace(b, line=3), replace(a, line=4), d]


def test_format_series_without_original_is_canonical() -> None:
    """A fresh series is one name a line, with -pN only when N is not 1."""
    entries = [SeriesEntry("a.patch"), SeriesEntry("b.patch", strip=0)]
    assert format_series(entries) == b"a.patch\nb.patch -p0\n"
    with pytest.raises(InputError, match="listed twice"):
        format_series([SeriesEntry("a.patch"), SeriesEntry("a.patch")])
    with pytest.raises(PathEscapeError):
        format_series([SeriesEntry("../a.patch")])


def test_read_series_names_the_display_path(tmp_path: Path) -> None:
    """read_series reports errors under the name the caller gives (workspace-relative)."""
    path = tmp_path / "series"
    path.write_bytes(b"x.patch -q\n")
    with pytest.raises(InputError, match=r"^series/vllm/series:1: "):
        read_series(path, "series/vllm/series")


# --------------------------------------------------------------------------- finding the root


def test_find_root_walks_up_to_the_nearest_lock(tmp_path: Path) -> None:
    """From deep inside (e.g. a backend checkout) the nearest folder with upstream.lock wins."""
    (tmp_path / "upstream.lock").write_text("format: 1\nbackends: {}\n")
    deep = tmp_path / "third_party" / "vllm" / "vllm" / "model_executor"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()
    assert find_root(tmp_path) == tmp_path.resolve()


def test_find_root_explicit_dir_must_hold_the_lock(tmp_path: Path) -> None:
    """-C DIR is used as is: it must contain upstream.lock, no walking up from it."""
    (tmp_path / "upstream.lock").write_text("format: 1\nbackends: {}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    assert find_root(Path("/"), explicit=tmp_path) == tmp_path.resolve()
    with pytest.raises(UsageError, match="not an fspatch workspace"):
        find_root(tmp_path, explicit=sub)
    with pytest.raises(UsageError, match="no such directory"):
        find_root(tmp_path, explicit=tmp_path / "missing")


def test_find_root_outside_a_workspace_says_how_to_start(tmp_path: Path) -> None:
    """Outside any workspace the error says so and points at 'fspatch init'."""
    with pytest.raises(UsageError) as info:
        find_root(tmp_path)
    assert str(info.value) == (
        "not an fspatch workspace (no upstream.lock here or in any parent); run 'fspatch init'"
    )


# --------------------------------------------------------------------------- names and the lock


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Megatron-LM", "megatron"),
        ("megatron-lm", "megatron"),
        ("megatron_lm", "megatron"),
        ("Megatron", "megatron"),
        ("llama.cpp", "llama_cpp"),
        ("llama-cpp", "llama_cpp"),
        ("vLLM", "vllm"),
        ("Some-Thing.x", "some_thing_x"),
    ],
)
def test_backend_aliases_normalise_to_the_stored_name(given: str, name: str) -> None:
    """Users may type upstream spellings; the stored name is lowercase [a-z0-9_]+."""
    assert normalize_backend(given) == name
    assert valid_name(name)


def test_unknown_backend_lists_the_known_ones(tmp_path: Path) -> None:
    """An unknown backend is a usage error naming every known backend."""
    ws = _workspace(tmp_path)
    assert ws.backend("Megatron-LM").path == "third_party/Megatron-LM"
    with pytest.raises(UsageError) as info:
        ws.backend("sglang")
    assert str(info.value) == "unknown backend 'sglang' (known: megatron, vllm)"


def test_lock_backends_load_as_values(tmp_path: Path) -> None:
    """upstream.lock entries become frozen Backend values, in lock order."""
    ws = _workspace(tmp_path)
    assert list(ws.backends()) == ["vllm", "megatron"]
    assert ws.backend("vllm") == Backend(
        "vllm",
        "https://github.com/vllm-project/vllm.git",
        "v0.8.5",
        C1,
        "third_party/vllm",
        ("git@gitee.com:mirrors/vllm.git",),
        "0.8.5",
    )


def test_set_backend_and_save_keep_comments(tmp_path: Path) -> None:
    """Updating a backend rewrites only the changed fields; comments and quote styles survive."""
    ws = _workspace(tmp_path)
    ws.set_backend(replace(ws.backend("vllm"), ref="v0.9.0", commit=C2))
    ws.save_lock()
    text = (tmp_path / "upstream.lock").read_text()
    assert text == LOCK.replace("'v0.8.5'", "'v0.9.0'").replace(f"commit: {C1}", f"commit: {C2}")
    ws.set_backend(
        Backend(
            "llama_cpp",
            "https://github.com/ggml-org/llama.cpp",
            "b5000",
            C1,
            "third_party/llama.cpp",
        )
    )
    ws.remove_backend("Megatron-LM")
    ws.save_lock()
    again = Workspace.load(tmp_path)
    assert list(again.backends()) == ["vllm", "llama_cpp"]
    assert "# the inference engine" in (tmp_path / "upstream.lock").read_text()


def test_set_backend_refuses_bad_values_before_changing_anything(tmp_path: Path) -> None:
    """An invalid URL, commit or clashing path is refused; the in-memory lock stays as it was."""
    ws = _workspace(tmp_path)
    before = ws.backends()
    for bad in (
        replace(ws.backend("vllm"), url="--upload-pack=touch x"),
        replace(ws.backend("vllm"), commit="abc1234"),
        replace(ws.backend("vllm"), path="third_party/Megatron-LM"),
        replace(ws.backend("vllm"), name="vLLM"),
    ):
        with pytest.raises(UsageError):
            ws.set_backend(bad)
    assert ws.backends() == before


def test_backends_added_to_a_fresh_lock_are_block_style(tmp_path: Path) -> None:
    """init writes 'backends: {}'; the first backend turns it into a readable block mapping."""
    init_workspace(tmp_path)
    ws = Workspace.load(tmp_path)
    ws.set_backend(
        Backend("vllm", "https://x/vllm.git", "main", C1, "third_party/vllm", version="0.8")
    )
    ws.save_lock()
    text = (tmp_path / "upstream.lock").read_text()
    assert text.endswith(
        f"format: 1\nbackends:\n  vllm:\n    url: https://x/vllm.git\n    ref: main\n"
        f"    commit: {C1}\n    path: third_party/vllm\n    version: '0.8'\n"
    )
    assert text.startswith("# fspatch upstream lock")


def test_lock_with_shared_checkout_paths_is_refused(tmp_path: Path) -> None:
    """Two backends in one checkout would clobber each other: load fails at the second path."""
    with pytest.raises(InputError, match=r"^upstream.lock:18: .*share checkout path"):
        _workspace(tmp_path, LOCK.replace("third_party/Megatron-LM", "third_party/vllm/megatron"))


def test_settings_defaults_apply(tmp_path: Path) -> None:
    """settings() fills in the marker defaults and overlays what the lock sets."""
    ws = _workspace(tmp_path)
    assert ws.settings() == {
        "markers": {"tag": "FLAGSCALE MODIFICATION", "syntaxes": {}, "exempt_new_files": True}
    }
    lock = LOCK + "settings:\n  markers:\n    syntaxes:\n      '*.cu': {line: '//'}\n"
    (tmp_path / "upstream.lock").write_text(lock)
    markers = Workspace.load(tmp_path).settings()["markers"]
    assert markers == {
        "tag": "FLAGSCALE MODIFICATION",
        "syntaxes": {"*.cu": {"line": "//"}},
        "exempt_new_files": True,
    }
    assert type(markers["syntaxes"]) is dict


def test_checkout_path_stays_inside_the_root(tmp_path: Path) -> None:
    """The checkout is root / path; a path that would leave the root is refused."""
    ws = _workspace(tmp_path)
    assert ws.checkout_path("vllm") == tmp_path / "third_party" / "vllm"
    with pytest.raises(InputError):
        ws.checkout_path(replace(ws.backend("vllm"), path="../elsewhere"))


# --------------------------------------------------------------------------- layers and vendors


def test_layer_refs_name_dirs_labels_and_ref_safe_ids() -> None:
    """LayerRef gives the directory, the report label and a git-ref-safe id; bad names fail."""
    common, vendor = LayerRef("vllm"), LayerRef("vllm", "cambricon")
    assert (common.dir, common.label, common.id) == (Path("series/vllm"), "common", "common")
    assert (vendor.dir, vendor.label, vendor.id) == (
        Path("vendors/cambricon/vllm"),
        "vendor/cambricon",
        "vendor-cambricon",
    )
    for backend, name in (("vLLM", None), ("vllm", "../x"), ("vllm", "a..b"), ("vllm", "x.lock")):
        with pytest.raises(UsageError):
            LayerRef(backend, name)


def test_read_layer_series_checks_patch_files(tmp_path: Path) -> None:
    """A series is read with its lines; a missing listed patch names the series file and line."""
    ws = _workspace(tmp_path)
    layer = LayerRef("vllm")
    assert [e.name for e in ws.read_layer_series(layer)] == ["0001-a.patch", "0002-b.patch"]
    (tmp_path / "series" / "vllm" / "0002-b.patch").unlink()
    with pytest.raises(InputError) as info:
        ws.read_layer_series(layer)
    assert str(info.value).startswith("series/vllm/series:4: patch file '0002-b.patch'")


def test_missing_series_file_or_common_dir_is_an_empty_layer(tmp_path: Path) -> None:
    """No series file (or no common dir yet) is an empty layer; a vendor without it is an error."""
    ws = _workspace(tmp_path)
    assert ws.read_layer_series(LayerRef("vllm", "cambricon")) == []
    assert ws.read_layer_series(LayerRef("megatron")) == []
    with pytest.raises(UsageError, match="has no layer for backend 'megatron'"):
        ws.read_layer_series(LayerRef("megatron", "cambricon"))


def test_write_layer_series_keeps_comments(tmp_path: Path) -> None:
    """Appending a patch to a layer keeps the hand-written comments of its series file."""
    ws = _workspace(tmp_path)
    layer = LayerRef("vllm")
    ws.write_patch(layer, "0003-c.patch", b"c\n")
    ws.write_layer_series(layer, [*ws.read_layer_series(layer), SeriesEntry("0003-c.patch")])
    assert (tmp_path / "series" / "vllm" / "series").read_text() == (
        "# common vllm patches\n0001-a.patch\n\n0002-b.patch -p1\n0003-c.patch\n"
    )
    assert ws.read_patch(layer, "0003-c.patch") == b"c\n"


def test_patch_paths_cannot_escape_or_use_reserved_names(tmp_path: Path) -> None:
    """A patch name may not leave its layer nor shadow series/layer.yaml/diff files."""
    ws = _workspace(tmp_path)
    layer = LayerRef("vllm", "cambricon")
    assert (
        ws.patch_path(layer, "x/0001-y.patch") == tmp_path / "vendors/cambricon/vllm/x/0001-y.patch"
    )
    with pytest.raises(PathEscapeError):
        ws.patch_path(layer, "../../../upstream.lock")
    with pytest.raises(UsageError):
        ws.patch_path(layer, "diff.patch")


def test_vendors_are_dirs_with_vendor_yaml(tmp_path: Path) -> None:
    """vendors() lists only folders holding vendor.yaml; unknown vendors list the known ones."""
    ws = _workspace(tmp_path)
    assert ws.vendors() == ["cambricon"]
    assert ws.vendor_info("cambricon")["device_type"] == "Cambricon_MLU"
    assert ws.vendor_layers("vLLM") == [LayerRef("vllm", "cambricon")]
    assert ws.vendor_layers("megatron") == []
    with pytest.raises(UsageError, match=r"unknown vendor 'metax' \(known: cambricon\)"):
        ws.vendor_info("metax")


def test_vendor_yaml_name_must_match_its_directory(tmp_path: Path) -> None:
    """vendor.yaml's name is the vendor id used in refs: it must equal the folder name."""
    ws = _workspace(tmp_path)
    (tmp_path / "vendors/cambricon/vendor.yaml").write_text("device_type: X\nname: mlu\n")
    with pytest.raises(InputError, match=r"^vendors/cambricon/vendor.yaml:2: name 'mlu'"):
        ws.vendor_info("cambricon")


def test_layer_meta_round_trip_and_validation(tmp_path: Path) -> None:
    """layer.yaml is empty until written, validated on save (naming the file) and on load."""
    ws = _workspace(tmp_path)
    layer = LayerRef("vllm", "cambricon")
    assert ws.layer_meta(layer) == {}
    ws.save_layer_meta(layer, {"tasks": ["inference"], "models": ["Qwen3-8B"]})
    assert ws.layer_meta(layer) == {"tasks": ["inference"], "models": ["Qwen3-8B"]}
    with pytest.raises(
        InputError, match=r"^vendors/cambricon/vllm/layer.yaml:3: tasks\[0\]: 'serve'"
    ):
        ws.save_layer_meta(layer, {"models": [], "tasks": ["serve"]})
    with pytest.raises(UsageError):
        ws.layer_meta(LayerRef("vllm"))


def test_init_creates_a_valid_workspace_and_refuses_twice(tmp_path: Path) -> None:
    """init makes lock, series/, vendors/ and schema copies; a second init changes nothing."""
    created = init_workspace(tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in created)
    assert names == [
        "schemas",
        "schemas/diff.schema.json",
        "schemas/history.schema.json",
        "schemas/layer.schema.json",
        "schemas/lock.schema.json",
        "schemas/pending.schema.json",
        "schemas/vendor.schema.json",
        "series",
        "upstream.lock",
        "vendors",
    ]
    ws = Workspace.load(tmp_path)
    assert ws.backends() == {} and ws.vendors() == []
    before = (tmp_path / "upstream.lock").read_bytes()
    with pytest.raises(UsageError, match="already an fspatch workspace"):
        init_workspace(tmp_path)
    assert (tmp_path / "upstream.lock").read_bytes() == before


def test_workspace_write_yaml_stays_inside_and_validates(tmp_path: Path) -> None:
    """diff.yaml and history.yaml go through the workspace: validated, inside the root."""
    ws = _workspace(tmp_path)
    diff = {
        "backends_commit": {"vllm": C1},
        "backends_version": {"vllm": "0.8.5"},
        "commit": C2,
        "contact": "a@b.c",
        "device_type": "Cambricon_MLU",
        "models": [],
        "task": ["inference"],
    }
    ws.write_yaml("vendors/cambricon/vllm/diff.yaml", diff, "diff")
    assert ws.read_yaml("vendors/cambricon/vllm/diff.yaml", "diff") == diff
    with pytest.raises(InputError, match=r"^vendors/cambricon/vllm/diff.yaml:5: commit: "):
        ws.write_yaml("vendors/cambricon/vllm/diff.yaml", {**diff, "commit": "abc1234"}, "diff")
    with pytest.raises(UsageError):
        ws.write_yaml("../outside.yaml", diff, None)


def test_ensure_layer_dir_creates_a_trackable_empty_layer(tmp_path: Path) -> None:
    """A new backend's common layer gets its folder and an empty series (so git keeps it)."""
    ws = _workspace(tmp_path)
    folder = ws.ensure_layer_dir("Megatron-LM")
    assert folder == tmp_path / "series" / "megatron"
    assert (folder / "series").read_bytes() == b""
    assert ws.read_layer_series(LayerRef("megatron")) == []
    assert ws.ensure_layer_dir(LayerRef("vllm")) == tmp_path / "series" / "vllm"
    assert (tmp_path / "series/vllm/series").read_text().startswith("# common vllm patches")
