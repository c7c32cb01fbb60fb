"""Backend checkouts recreated from ``upstream.lock`` (what ``git submodule update --init`` does).

For each backend: a missing checkout is cloned (lock URL, then its mirrors; a relative URL is
resolved against the workspace, then its ``origin``: :mod:`fspatch.core.urls`) into a temporary
folder beside it and renamed into place only when the pinned commit is there, so a failed clone
leaves nothing behind; the fresh checkout is at the pinned commit, which is an applied state
with every layer empty (``new`` and ``push`` work at once).  An existing checkout that lacks the
pinned commit gets it fetched; its HEAD, files and stack are the user's and are not touched.
Used by ``sync`` and by ``check --sync``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from fspatch.core.urls import fetch_urls
from fspatch.core.workspace import LOCK_NAME, Backend, Workspace
from fspatch.errors import GitError, InputError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class SyncItem:
    backend: str
    path: str
    ref: str
    commit: str
    action: str  # "cloned", "fetched" or "present"
    url: str  # the URL used (resolved), empty when nothing was fetched


def urls_of(ws: Workspace, b: Backend) -> list[str]:
    """The URLs to try for a backend, resolved, lock URL first."""
    return fetch_urls(ws.root, [b.url, *b.mirrors])


def fetch_pin(repo: GitRepo, b: Backend, urls: list[str]) -> str:
    """Fetch the pinned ref (tag, then branch) until the pinned commit is there; the URL that had it."""
    errors: list[str] = []
    for url in urls:
        for spec in (f"+refs/tags/{b.ref}:refs/tags/{b.ref}", f"+refs/heads/{b.ref}:refs/fspatch/upstream/{b.ref}"):
            try:
                repo.fetch(url, [spec])
            except GitError as exc:
                errors.append(str(exc))
            if repo.has_commit(b.commit):
                return url
        if not repo.has_commit(b.commit):
            try:  # a pin that is no tag or branch tip any more: fetch everything the URL has
                repo.fetch(url, ["+refs/heads/*:refs/fspatch/upstream/*", "+refs/tags/*:refs/tags/*"])
            except GitError as exc:
                errors.append(str(exc))
            if repo.has_commit(b.commit):
                return url
    raise GitError(
        f"pinned commit {b.commit[:12]} of '{b.name}' could not be fetched from {', '.join(urls)}"
        + (f" ({errors[-1]})" if errors else "")
    )


def _lock_error(ws: Workspace, b: Backend, message: str) -> InputError:
    return InputError(message, path=LOCK_NAME, line=ws._lock_line("backends", b.name, "url"))


def sync_backend(ws: Workspace, b: Backend) -> SyncItem:
    path = ws.checkout_path(b)
    urls = urls_of(ws, b)
    if GitRepo.is_repo(path):
        repo = GitRepo.open(path)
        if repo.has_commit(b.commit):
            return SyncItem(b.name, b.path, b.ref, b.commit, "present", "")
        try:
            used = fetch_pin(repo, b, urls)
        except GitError as exc:
            raise _lock_error(ws, b, str(exc)) from None
        return SyncItem(b.name, b.path, b.ref, b.commit, "fetched", used)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{b.path} exists and is not a git checkout; move it away and run 'fspatch sync' again")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.fspatch-sync")
    shutil.rmtree(tmp, ignore_errors=True)
    errors: list[str] = []
    try:
        for url in urls:
            try:
                repo = GitRepo.clone(url, tmp)
            except GitError as exc:
                errors.append(str(exc))
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            if not repo.has_commit(b.commit):
                try:
                    fetch_pin(repo, b, [url])
                except GitError as exc:
                    errors.append(str(exc))
                    shutil.rmtree(tmp, ignore_errors=True)
                    continue
            repo.checkout(b.commit, reason="fspatch sync", force=True)
            if path.exists():
                path.rmdir()
            tmp.rename(path)
            return SyncItem(b.name, b.path, b.ref, b.commit, "cloned", url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tried = f" (tried {', '.join(urls)})" if urls != [b.url] else ""
    raise _lock_error(ws, b, f"cannot clone '{b.name}' from {b.url}{tried}" + (f": {errors[-1]}" if errors else ""))
