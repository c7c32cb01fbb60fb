"""Fetching upstream commits into a backend checkout: the one fetch policy.

Why one module: a pinned commit missing from the checkout (``apply`` on a fresh
clone) and a new ref to move the pin to (``pull-upstream``) are fetched the same way,
from the lock's URL and then its mirrors, tags before branches, into
``refs/tags/*`` and ``refs/fspatch/upstream/*`` (never the user's branches).
"""

from __future__ import annotations

import re
from pathlib import Path

from fspatch.core.urls import fetch_urls
from fspatch.core.workspace import Backend
from fspatch.errors import GitError, UsageError
from fspatch.git_adapter import GitRepo

_HEX = re.compile(r"[0-9a-f]{7,40}")


def _specs(ref: str) -> list[list[str]]:
    """Refspecs to try for REF, in order: a tag, a branch, then (for a hex id) everything."""
    specs = [[f"+refs/tags/{ref}:refs/tags/{ref}"], [f"+refs/heads/{ref}:refs/fspatch/upstream/{ref}"]]
    if _HEX.fullmatch(ref):
        specs.append(["+refs/heads/*:refs/fspatch/upstream/*", "+refs/tags/*:refs/tags/*"])
    return specs


def ensure_commit(repo: GitRepo, backend: Backend, root: Path | None = None) -> None:
    """Fetch the pinned upstream commit from the lock's URL or mirrors when the checkout lacks it
    (relative URLs resolved against the workspace ``root``, then its origin: :mod:`fspatch.core.urls`)."""
    if repo.has_commit(backend.commit):
        return
    errors = []
    stored = [backend.url, *backend.mirrors]
    for url in fetch_urls(root, stored) if root is not None else stored:
        for spec in _specs(backend.ref)[:2]:
            try:
                repo.fetch(url, spec)
            except GitError as exc:
                errors.append(str(exc))
                continue
            break  # the tag fetched: the branch is not tried (as before)
        if repo.has_commit(backend.commit):
            return
    raise GitError(
        f"pinned commit {backend.commit} of '{backend.name}' is not in {backend.path} and could not be fetched"
        + (f" ({errors[-1]})" if errors else "")
    )


def fetch_url(root: Path, url: str) -> str:
    """A URL as git takes it: a relative one resolved against the workspace, then its origin
    (:mod:`fspatch.core.urls`), anything else as given."""
    return fetch_urls(root, [url])[0]


def resolve_local(repo: GitRepo, ref: str) -> str | None:
    """The commit REF names without a fetch (a commit id or a tag the checkout has), else None.

    :func:`fetch_ref` asks this first; a caller that must not write before some check (a fetch
    writes refs) knows from it whether the fetch would.
    """
    if ref.startswith("-"):
        raise UsageError(f"bad ref {ref!r}")
    if _HEX.fullmatch(ref) and len(ref) == 40 and repo.has_commit(ref):
        return ref
    if _HEX.fullmatch(ref) and repo.read_ref(f"refs/tags/{ref}") is None:
        # An abbreviated id of a commit the checkout already has is that commit, as git checkout
        # takes it, without a fetch of every branch and tag (0.1 s from a local mirror, more over
        # a network).  Decision (docs/replay.md, perf13c): an upstream branch spelled as that hex
        # is not looked for; an ambiguous or unknown prefix is fetched as before.
        local = repo.commit_by_prefix(ref)
        if local is not None:
            return local
    if repo.read_ref(f"refs/tags/{ref}") is not None:
        got = repo.resolve(f"refs/tags/{ref}")
        if got is not None:
            return got
    return None


def fetch_ref(root: Path, repo: GitRepo, lock_url: str, mirrors: tuple[str, ...], ref: str, url: str | None) -> str:
    """The commit id of REF, fetched from --url, else the lock's URL, else its mirrors."""
    local = resolve_local(repo, ref)
    if local is not None:
        return local
    errors: list[str] = []
    for u in [url] if url else [lock_url, *mirrors]:
        src = fetch_url(root, u)
        for spec in _specs(ref):
            try:
                repo.fetch(src, spec)
            except GitError as exc:
                errors.append(str(exc))
                continue
            for cand in (f"refs/fspatch/upstream/{ref}", f"refs/tags/{ref}", ref):
                got = repo.resolve(cand)
                if got is not None and (cand != ref or repo.has_commit(got)):
                    return got
    got = repo.resolve(ref)
    if got is not None:
        return got
    raise UsageError(f"ref '{ref}' not found in {url or lock_url}" + (f" ({errors[-1]})" if errors else ""))
