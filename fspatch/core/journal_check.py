"""A journal found on disk is checked before anything acts on it (issue 15, finding 4).

Why: a journal is a list of orders (delete this file, write these saved bytes there, reset that
checkout, move those refs), and ``recover``/``abort`` carry them out.  Whoever can write a file
in a git dir (a workspace restored from a CI cache, a tarball from another organisation) could
otherwise make ``recover`` delete or overwrite any file the user can.  So a journal is read like
every other untrusted input: its shape is checked (types, hex ids, saved-blob names), and every
path in it must stay where the verb that wrote it could have written:

- ``root`` is this workspace; ``files``/``dirs``/``kept_dirs`` are relative, normalised, without
  ``..`` or ``.git``, inside fspatch's own areas (``upstream.lock``, ``series/``, ``vendors/``,
  ``schemas/``), and no symlink on the way leads out of the workspace;
- absolute entries exist only in the journal of ``apply --to DIR``, and only below the one
  directory the user confirms by naming it (``fspatch recover --to DIR``): a journal alone never
  makes fspatch touch a path outside the workspace and the checkouts;
- ``checkout`` appears only in a backend checkout's git dir inside the workspace; its paths are
  checkout-relative (no ``..``, no ``.git``, no symlink out of the checkout); its refs stay in
  ``refs/fspatch/`` (a stack verb) or are well-formed refs of the checkout (a replay's scope);
- a replay's plan names this backend, layer labels and series names (no path in them).

A journal that fails is refused with :class:`JournalRefused`: one line naming the journal and
what is wrong, and the way out (``fspatch recover --discard`` drops it after inspection).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fspatch.errors import UsageError

FSPATCH_REFS = "refs/fspatch/"
ALL_REFS = "refs/"
WORKSPACE_AREAS = ("upstream.lock", "series", "vendors", "schemas")
DISCARD = "inspect it, then drop it with 'fspatch recover --discard'"

_HEX = re.compile(r"[0-9a-f]{40}")
_BLOB = re.compile(r"b[0-9]{6}")
_OPERATION = re.compile(r"[a-z][a-z-]{0,39}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REF_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+@-]{0,254}")
_KEYS = {"format", "operation", "backend", "root", "files", "dirs", "kept_dirs", "checkout", "plan", "paused"}
_CHECKOUT_KEYS = {"head", "head_ref", "index", "refs", "ref_scope", "reset", "paths", "worktree"}


class JournalRefused(UsageError):
    """A journal on disk that fspatch will not act on (unsafe or malformed); nothing was done."""


def absolute_dir(raw: Mapping[str, Any]) -> str | None:
    """The directory outside the workspace an ``apply --to DIR`` journal names, or None."""
    dirs = raw.get("dirs")
    if isinstance(dirs, list):
        for d in dirs:
            if isinstance(d, str) and d.startswith("/"):
                return d
    return None


def check(raw: Mapping[str, Any], path: Path, *, git_dir: Path, root: Path, outside: Path | None = None) -> None:
    """Refuse (:class:`JournalRefused`) a journal whose orders could reach outside its place.

    ``outside`` is the directory the user named with ``recover --to``: only an ``apply --to``
    journal naming exactly that directory may have absolute entries, all below it.
    """
    try:
        _check(raw, git_dir=git_dir, root=root, outside=outside)
    except _Bad as exc:
        raise JournalRefused(f"{path}: refused, fspatch does not act on this journal: {exc}; {DISCARD}") from None


class _Bad(Exception):
    pass


def _check(raw: Mapping[str, Any], *, git_dir: Path, root: Path, outside: Path | None) -> None:
    if set(raw) != _KEYS:
        raise _Bad(f"unexpected fields {sorted(set(raw) ^ _KEYS)[:5]}")
    op = _str(raw["operation"], "operation")
    if not _OPERATION.fullmatch(op):
        raise _Bad(f"bad operation {op[:40]!r}")
    backend = raw["backend"]
    if backend is not None and not (isinstance(backend, str) and _NAME.fullmatch(backend)):
        raise _Bad(f"bad backend {str(backend)[:40]!r}")
    if not isinstance(raw["paused"], bool):
        raise _Bad("'paused' is not true or false")
    journal_root = _str(raw["root"], "root")
    if not os.path.isabs(journal_root) or os.path.realpath(journal_root) != os.path.realpath(root):
        raise _Bad(f"its root {journal_root[:200]!r} is not this workspace ({root})")
    saved = git_dir / "fspatch" / "journal-saved"
    files = _dict(raw["files"], "files")
    dirs = _list(raw["dirs"], "dirs")
    kept = _list(raw["kept_dirs"], "kept_dirs")
    absolute = absolute_dir(raw)
    if absolute is not None:
        _check_outside(raw, absolute, root=root, git_dir=git_dir, outside=outside)
    for rel, blob in files.items():
        _workspace_path(rel, root, absolute, "files")
        _blob(blob, saved, "files")
    for d in dirs:
        _workspace_path(d, root, absolute, "dirs")
    for d in kept:
        _workspace_path(d, root, absolute, "kept_dirs")
    checkout = raw["checkout"]
    if checkout is not None:
        _check_checkout(_dict(checkout, "checkout"), git_dir=git_dir, root=root, saved=saved)
    plan = raw["plan"]
    if plan is not None:
        _check_plan(_dict(plan, "plan"), backend)


def _check_outside(
    raw: Mapping[str, Any], absolute: str, *, root: Path, git_dir: Path, outside: Path | None
) -> None:
    """An ``apply --to DIR`` journal: one absolute folder, no checkout, confirmed by the user."""
    real = os.path.realpath(absolute)
    if raw["operation"] != "apply" or raw["checkout"] is not None or len(raw["dirs"]) != 1:
        raise _Bad(f"it names {absolute[:200]!r}, outside the workspace")
    for inner in (os.path.realpath(root), os.path.realpath(git_dir), os.path.expanduser("~")):
        if os.path.commonpath([real, inner]) == real:
            raise _Bad(f"it names {absolute[:200]!r}, which holds {inner}")
    if outside is None or os.path.realpath(outside) != real:
        raise _Bad(
            f"it is an interrupted 'apply --to {absolute[:200]}', outside the workspace: if you ran that, "
            f"undo it with 'fspatch recover --to {absolute[:200]}'"
        )


def _workspace_path(rel: str, root: Path, absolute: str | None, what: str) -> None:
    _plain(rel, what)
    if rel.startswith("/"):
        if absolute is None or os.path.commonpath([os.path.normpath(rel), os.path.normpath(absolute)]) != (
            os.path.normpath(absolute)
        ):
            raise _Bad(f"{what} entry {rel[:200]!r} is outside the workspace")
        if any(part == ".." for part in rel.split("/")) or os.path.normpath(rel) != rel:
            raise _Bad(f"{what} entry {rel[:200]!r} is not a normalised path")
        if rel != os.path.normpath(absolute):
            _no_link_out(Path(rel), Path(absolute), what)
        elif os.path.realpath(rel) != rel:
            raise _Bad(f"{what} entry {rel[:200]!r} is reached through a symlink")
        return
    parts = _relative(rel, what)
    if parts[0] not in WORKSPACE_AREAS or (parts[0] == "upstream.lock" and len(parts) > 1):
        raise _Bad(f"{what} entry {rel[:200]!r} is not one of fspatch's workspace files")
    _no_link_out(root / rel, root, what)


def _relative(rel: str, what: str) -> tuple[str, ...]:
    """The parts of a relative, normalised path without ``..`` and ``.git`` (else refused)."""
    parts = tuple(rel.split("/"))
    if any(p == ".." for p in parts) or rel.startswith("/"):
        raise _Bad(f"{what} entry {rel[:200]!r} points outside its tree")
    if any(p in ("", ".") for p in parts) or "\\" in rel:
        raise _Bad(f"{what} entry {rel[:200]!r} is not a normalised relative path")
    if any(p.casefold() == ".git" for p in parts):
        raise _Bad(f"{what} entry {rel[:200]!r} points into a .git directory")
    return parts


def _no_link_out(path: Path, top: Path, what: str) -> None:
    """No symlink on the way to ``path`` (its folders; the entry itself is replaced, not followed)."""
    real_top = os.path.realpath(top)
    parent = os.path.realpath(path.parent)
    if os.path.commonpath([parent, real_top]) != real_top:
        raise _Bad(f"{what} entry {str(path)[:200]!r}: a symlink on the way leads outside {top}")


def _check_checkout(ck: Mapping[str, Any], *, git_dir: Path, root: Path, saved: Path) -> None:
    if set(ck) != _CHECKOUT_KEYS:
        raise _Bad(f"unexpected checkout fields {sorted(set(ck) ^ _CHECKOUT_KEYS)[:5]}")
    real_git, real_root = os.path.realpath(git_dir), os.path.realpath(root)
    if real_git == os.path.realpath(root / ".git") or os.path.commonpath([real_git, real_root]) != real_root:
        raise _Bad("it names a checkout, but it is not in a backend checkout of this workspace")
    workdir = git_dir.parent
    for key in ("head",):
        if ck[key] is not None and not (isinstance(ck[key], str) and _HEX.fullmatch(ck[key])):
            raise _Bad(f"checkout.{key} is not a full commit id")
    if ck["head_ref"] is not None and not _ref_name(ck["head_ref"], "refs/heads/"):
        raise _Bad(f"checkout.head_ref {str(ck['head_ref'])[:80]!r} is not a branch")
    _blob(ck["index"], saved, "checkout.index")
    scope = ck["ref_scope"]
    if scope not in (FSPATCH_REFS, ALL_REFS):
        raise _Bad(f"checkout.ref_scope {str(scope)[:40]!r} is neither {FSPATCH_REFS} nor {ALL_REFS}")
    for name, target in _dict(ck["refs"], "checkout.refs").items():
        if not _ref_name(name, scope):
            raise _Bad(f"checkout.refs names {name[:80]!r}, outside {scope}")
        if not (isinstance(target, str) and _HEX.fullmatch(target)):
            raise _Bad(f"checkout.refs[{name[:80]!r}] is not a full commit id")
    if not isinstance(ck["reset"], bool):
        raise _Bad("checkout.reset is not true or false")
    for p in _list(ck["paths"], "checkout.paths"):
        _plain(p, "checkout.paths")
        _relative(p, "checkout.paths")
        _no_link_out(workdir / p, workdir, "checkout.paths")
    for p, blob in _dict(ck["worktree"], "checkout.worktree").items():
        _plain(p, "checkout.worktree")
        _relative(p, "checkout.worktree")
        _no_link_out(workdir / p, workdir, "checkout.worktree")
        _blob(blob, saved, "checkout.worktree")


def _check_plan(plan: Mapping[str, Any], backend: Any) -> None:
    from fspatch.core.series import check_patch_name
    from fspatch.errors import FspatchError

    if plan.get("backend") != backend:
        raise _Bad(f"its plan is for backend {str(plan.get('backend'))[:40]!r}, not {backend!r}")
    for lp in _list(plan.get("layers"), "plan.layers"):
        if not isinstance(lp, Mapping):
            raise _Bad("plan.layers holds a non-object")
        label = lp.get("label")
        if not (label == "common" or (isinstance(label, str) and _vendor_label(label))):
            raise _Bad(f"plan layer label {str(label)[:40]!r} is not common or vendor/NAME")
        for name in _list(lp.get("names"), "plan.layers.names"):
            try:
                check_patch_name(_str(name, "plan.layers.names"))
            except FspatchError as exc:
                raise _Bad(f"plan: {exc.message}") from None


def _vendor_label(label: str) -> bool:
    """A well-formed ``vendor/<name>`` label (parsed by the one label parser)."""
    from fspatch.core.workspace import valid_vendor, vendor_of_label

    try:
        vendor = vendor_of_label(label)
    except UsageError:
        return False
    return vendor is not None and valid_vendor(vendor)


def _ref_name(name: Any, scope: str) -> bool:
    """A well-formed ref below ``scope`` (git's rules, strictly: no ``..``, no ``.lock``, plain parts)."""
    if not isinstance(name, str) or not name.startswith(scope) or len(name) > 1024:
        return False
    parts = name.split("/")
    return len(parts) >= 2 and all(_REF_PART.fullmatch(p) and not p.endswith(".lock") for p in parts) and (
        ".." not in name
    )


def _blob(blob: Any, saved: Path, what: str) -> None:
    if blob is None:
        return
    if not (isinstance(blob, str) and _BLOB.fullmatch(blob)):
        raise _Bad(f"{what} names saved copy {str(blob)[:40]!r}, not one of its own")
    if not (saved / blob).is_file():
        raise _Bad(f"the saved copy {blob} it needs is missing from {saved}")


def _plain(text: Any, what: str) -> str:
    s = _str(text, what)
    if not s or len(s.encode("utf-8", "surrogateescape")) > 4096 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        raise _Bad(f"{what} entry {s[:80]!r} is empty, too long or has control bytes")
    return s


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"'{what}' is not a string")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"'{what}' is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"'{what}' is not a list")
    return value


__all__ = ["ALL_REFS", "DISCARD", "FSPATCH_REFS", "JournalRefused", "absolute_dir", "check"]
