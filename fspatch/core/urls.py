"""Upstream URLs of ``upstream.lock``: how a relative URL is stored and where it leads.

Why: ``backend add mini --url ../up`` used to store ``../up`` and then hand it to git as it
was, so every later fetch (and a fresh clone of the workspace) failed with "unsupported URL
protocol".  The rule now is git's own for submodules: a relative URL (``./x``, ``../x``, or a
plain relative path) is stored as typed, POSIX-spelled, and means a path relative to the
workspace.  It is resolved, in this order, against

1. the workspace root itself, when that path exists (the workspace where it was added, or a
   clone laid out side by side with its upstreams), then
2. the workspace repository's ``origin`` URL, as ``git submodule`` does (a clone of
   ``/srv/ws`` finds ``../up`` at ``/srv/up``; a clone of ``https://host/org/ws`` at
   ``https://host/org/up``).

Absolute paths, ``file://`` and network URLs are used as they are.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from pathlib import Path

from fspatch.errors import FspatchError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^[^/\\:]+@[^/\\:]+:|^[A-Za-z0-9.-]+:(?!//)")  # user@host:path, host:path


def is_relative(url: str) -> bool:
    """True for a workspace-relative URL (not absolute, no scheme, not scp-like ``host:path``)."""
    if not url or _SCHEME.match(url) or url.startswith("/"):
        return False
    return not (_SCP.match(url) and not url.startswith("."))


def stored_form(url: str) -> str:
    """How a URL typed to ``backend add`` is stored: relative ones normalised (``./a/../b`` → ``b``)."""
    if not is_relative(url):
        return url
    return posixpath.normpath(url.replace("\\", "/"))


def join_url(base: str, rel: str) -> str:
    """``rel`` (relative) against ``base`` as git joins submodule URLs: ``../up`` of ``/srv/ws`` is ``/srv/up``."""
    base = base.rstrip("/")
    if base.endswith(".git"):
        base = base[:-4]
    m = _SCHEME.match(base)
    if m:
        head, path = base[: m.end()], base[m.end() :]
        host, _, rest = path.partition("/")
        joined = posixpath.normpath(posixpath.join("/" + rest, rel))
        return f"{head}{host}{joined}"
    scp = _SCP.match(base)
    if scp and not base.startswith(("/", ".")):
        head, rest = base[: scp.end()], base[scp.end() :]
        joined = posixpath.normpath(posixpath.join(rest or ".", rel))
        return head + joined
    return posixpath.normpath(posixpath.join(base, rel))


def candidates(url: str, root: Path, origin: str | None) -> list[str]:
    """Where a stored URL may be, best first (one item for a non-relative URL)."""
    if not is_relative(url):
        return [url]
    out = [str((root / url).resolve())]
    if origin:
        base = origin
        if is_relative(origin):  # an origin that is itself a relative path is relative to the root
            base = str((root / origin).resolve())
        joined = join_url(base, url)
        if joined not in out:
            out.append(joined)
    return out


def resolve_url(url: str, root: Path, origin: str | None = None) -> str:
    """The URL git should use for a stored URL: the first candidate that exists locally, else the best guess.

    A network candidate (from an ``origin`` on a server) cannot be checked without fetching; it
    is taken when no local candidate exists.
    """
    found = candidates(url, root, origin)
    if len(found) == 1:
        return found[0]
    for c in found:
        if not _SCHEME.match(c) and not _SCP.match(c) and Path(c).exists():
            return c
    for c in found[1:]:
        if _SCHEME.match(c) or _SCP.match(c):
            return c
    return found[0]


def workspace_origin(root: Path) -> str | None:
    """The workspace repository's ``origin`` URL, when the workspace is a git clone."""
    from fspatch.git_adapter import GitRepo

    if not GitRepo.is_repo(root):
        return None
    try:
        return GitRepo.open(root).remote_url("origin")
    except FspatchError:
        return None


def fetch_urls(root: Path, urls: Sequence[str]) -> list[str]:
    """The URLs git should try, in order, for stored URLs (the lock's, then its mirrors), resolved."""
    origin = workspace_origin(root) if any(is_relative(u) for u in urls) else None
    out: list[str] = []
    for url in urls:
        resolved = resolve_url(url, root, origin)
        if resolved not in out:
            out.append(resolved)
    return out


__all__ = ["candidates", "fetch_urls", "is_relative", "join_url", "resolve_url", "stored_form", "workspace_origin"]
