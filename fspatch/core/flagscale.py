"""Reading the old FlagScale layout, and splitting vendor patches from the common layer.

The layout (what ``fspatch import flagscale PATH`` reads)::

    flagscale/backends/<Backend>/**.patch         per-file patches against upstream → common layer
    hardware/<Vendor_Model>/<backend>/diff.patch  one patch against upstream (may embed common)
    hardware/<Vendor_Model>/<backend>/*.patch     or per-file patches (``*.patch.encrypted`` too)
    hardware/<Vendor_Model>/<backend>/diff.yaml   metadata (schemas/diff.schema.json, strict)
    hardware/patch_history.yaml                   vendor → task → [{backends, commits}]

Backend names are normalised (``Megatron-LM`` → ``megatron``); vendor directory names become
vendor names lowercased (``Cambricon_MLU`` → ``cambricon_mlu``; the original is the device type
in diff.yaml).

Splitting (why trees, not hunk surgery): a vendor patch either sits on upstream+common or
embeds the common layer's changes.  It embeds them when at least one of its hunks is identical
(same removed and added lines, same file) to a hunk of the common layer squashed against
upstream; it is then applied on upstream, else on upstream+common.  The vendor layer is the tree
diff between upstream+common and that result, where an embedding vendor's result takes the vendor's content
only for the files its patches name (every other file keeps the common layer's, so nothing of
the common layer is silently reverted).  The layer thus holds exactly the vendor's own changes
and every hunk identical to the common layer's disappears.  The identical hunks are counted for the
import report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.patch import FileDiff, Hunk, parse_diff
from fspatch.core.stack import apply_files
from fspatch.core.workspace import normalize_backend, valid_name
from fspatch.errors import ConflictError, HunkFailed, InputError, UsageError
from fspatch.git_adapter import GitRepo

__all__ = ["FlagScaleRepo", "SplitResult", "VendorDir", "hunk_keys", "scan", "split_vendor"]


@dataclass(frozen=True)
class VendorDir:
    dirname: str  # e.g. Cambricon_MLU
    vendor: str  # e.g. cambricon_mlu
    backend: str  # normalised
    patches: tuple[tuple[str, bytes], ...]  # (file name, raw bytes), sorted by name
    diff_yaml: bytes | None
    display: str  # hardware/<dir>/<backend>


@dataclass(frozen=True)
class FlagScaleRepo:
    root: Path
    common: dict[str, tuple[tuple[str, bytes], ...]]  # backend → ((relative path, bytes), …)
    vendors: tuple[VendorDir, ...]
    history: bytes | None


def _vendor_name(dirname: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", dirname).lower().strip("_-")
    if not name:
        raise UsageError(f"hardware/{dirname}: cannot make a vendor name from this directory")
    return name


def _backend(name: str, display: str) -> str:
    b = normalize_backend(name)
    if not valid_name(b):
        raise UsageError(f"{display}: {name!r} is not a usable backend name")
    return b


def scan(root: Path) -> FlagScaleRepo:
    """Find the common patches, vendor directories and history of a FlagScale-style repository."""
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    common: dict[str, tuple[tuple[str, bytes], ...]] = {}
    backends_dir = root / "flagscale" / "backends"
    if backends_dir.is_dir():
        for d in sorted(p for p in backends_dir.iterdir() if p.is_dir()):
            files = sorted((p.relative_to(d).as_posix(), p.read_bytes()) for p in d.rglob("*.patch") if p.is_file())
            if files:
                b = _backend(d.name, f"flagscale/backends/{d.name}")
                if b in common:
                    raise UsageError(f"flagscale/backends/{d.name}: backend {b!r} appears twice")
                common[b] = tuple(files)
    vendors: list[VendorDir] = []
    hw = root / "hardware"
    if hw.is_dir():
        for vd in sorted(p for p in hw.iterdir() if p.is_dir()):
            for bd in sorted(p for p in vd.iterdir() if p.is_dir()):
                names = sorted(
                    p.name
                    for p in bd.iterdir()
                    if p.is_file() and (p.name.endswith(".patch") or p.name.endswith(".patch.encrypted"))
                )
                if not names:
                    continue
                display = f"hardware/{vd.name}/{bd.name}"
                if any(n.startswith("diff.patch") for n in names) and len(names) > 1:
                    raise UsageError(f"{display}: holds diff.patch and other patches; keep one form")
                yaml_path = bd / "diff.yaml"
                vendors.append(
                    VendorDir(
                        vd.name,
                        _vendor_name(vd.name),
                        _backend(bd.name, display),
                        tuple((n, (bd / n).read_bytes()) for n in names),
                        yaml_path.read_bytes() if yaml_path.is_file() else None,
                        display,
                    )
                )
    hist = hw / "patch_history.yaml"
    return FlagScaleRepo(root, common, tuple(vendors), hist.read_bytes() if hist.is_file() else None)


def hunk_keys(files: Sequence[FileDiff]) -> set[tuple[str, tuple[bytes, ...], tuple[bytes, ...]]]:
    """(path, old lines, new lines) of every text hunk: what "identical hunk" means."""
    return {(fd.path, tuple(h.old_lines()), tuple(h.new_lines())) for fd in files for h in fd.hunks}


def _key(fd: FileDiff, h: Hunk) -> tuple[str, tuple[bytes, ...], tuple[bytes, ...]]:
    return (fd.path, tuple(h.old_lines()), tuple(h.new_lines()))


@dataclass(frozen=True)
class SplitResult:
    embeds_common: bool
    groups: tuple[tuple[str, tuple[FileDiff, ...]], ...]  # (source patch name, its remaining diffs)
    hunks_total: int
    hunks_removed: int  # hunks identical to a common hunk
    lines_removed: int  # their added + removed lines


def split_vendor(
    repo: GitRepo,
    upstream: str,
    common_top: str,
    patches: Sequence[tuple[str, Sequence[FileDiff]]],
    display: str,
    unauthenticated: frozenset[str] = frozenset(),
) -> SplitResult:
    """The vendor's own changes on top of upstream+common (see the module docstring).

    Patches named in ``unauthenticated`` (decrypted from CBC files) are applied strictly.
    """
    common_keys = hunk_keys(parse_diff(repo.diff_trees(repo.tree_of(upstream), repo.tree_of(common_top)), "<common>"))
    total = removed = lines = 0
    for _, files in patches:
        for fd in files:
            for h in fd.hunks:
                total += 1
                if _key(fd, h) in common_keys:
                    removed += 1
                    lines += sum(1 for kind, _ in h.lines if kind != " ")
    embeds = removed > 0
    tree = repo.tree_of(upstream if embeds else common_top)
    for name, files in patches:
        try:
            tree = apply_files(repo, tree, files, strict=name in unauthenticated)
        except HunkFailed as exc:
            where = "upstream" if embeds else "upstream + common"
            raise ConflictError(f"does not apply on {where}: {exc}", path=f"{display}/{name}") from None
        except ConflictError as exc:
            raise ConflictError(exc.message, path=f"{display}/{name}") from None
        except InputError as exc:
            raise type(exc)(exc.message, path=f"{display}/{name}") from None
    if embeds:
        # Files the vendor names take the vendor's content; every other file keeps the common
        # layer's, so a vendor patch that embeds only part of the common layer reverts nothing.
        named = {p for _, files in patches for fd in files for p in (fd.old_path, fd.new_path) if p is not None}
        tree = repo.update_tree(repo.tree_of(common_top), {p: repo.entry(tree, p) for p in sorted(named)})
    own = parse_diff(repo.diff_trees(repo.tree_of(common_top), tree), "<vendor>")
    groups: list[tuple[str, tuple[FileDiff, ...]]] = []
    taken: set[int] = set()
    for name, files in patches:
        paths = {p for fd in files for p in (fd.old_path, fd.new_path) if p is not None}
        mine = []
        for i, fd in enumerate(own):
            if i not in taken and ({fd.old_path, fd.new_path} & paths):
                taken.add(i)
                mine.append(fd)
        if mine:
            groups.append((name, tuple(mine)))
    rest = tuple(fd for i, fd in enumerate(own) if i not in taken)
    if rest:  # a change to upstream+common the patches did not name (only when embedding reverts)
        groups.append(("rest", rest))
    return SplitResult(embeds, tuple(groups), total, removed, lines)
