"""``fspatch backend add``: pin an upstream and get (or reuse) its checkout."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fspatch.core.fetch import fetch_ref
from fspatch.core.urls import stored_form
from fspatch.core.workspace import Backend, LayerRef, Workspace, check_checkout_path, normalize_backend, valid_name
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo, check_url


@dataclass(frozen=True)
class BackendAddResult:
    backend: str
    url: str
    ref: str
    commit: str
    path: str
    cloned: bool


def run_add(
    ws: Workspace, name: str, *, url: str, ref: str, path: str | None = None, aliases: tuple[str, ...] = ()
) -> BackendAddResult:
    check_url(url)
    name = normalize_backend(name)
    if not valid_name(name):
        raise UsageError(f"backend name '{name}' must match [a-z0-9_]+")
    for alias in aliases:  # FlagScale's spellings (Megatron-LM): one backend each
        owner = ws.aliases().get(alias)
        if owner is not None and owner != name:
            raise UsageError(f"alias {alias!r} already names backend {owner!r}")
    if not aliases and name in ws.backends():
        aliases = ws.backends()[name].aliases  # re-adding keeps the aliases already declared
    rel = path or f"third_party/{name}"
    full = check_checkout_path(ws, name, rel)  # every refusal before anything is cloned
    local = Path(url.removeprefix("file://"))
    if not url.startswith("file://") and "://" not in url and ":" not in url.split("/")[0]:
        local = (ws.root / url) if not Path(url).is_absolute() else Path(url)
        url_for_git = str(local.resolve()) if local.exists() else url
    else:
        url_for_git = url
    if GitRepo.is_repo(full):
        return _finish(ws, GitRepo.open(full), name, url, url_for_git, ref, rel, cloned=False, aliases=aliases)
    if full.exists() and any(full.iterdir()):
        raise UsageError(f"{rel} exists and is not a git checkout; remove it or pick another --path")
    # What the clone creates (the checkout and any missing parents) goes again if anything fails.
    created = full
    while not created.parent.exists() and created.parent != ws.root:
        created = created.parent
    existed = full.exists()
    try:
        repo = GitRepo.clone(url_for_git, full)
        return _finish(ws, repo, name, url, url_for_git, ref, rel, cloned=True, aliases=aliases)
    except BaseException:
        if existed:  # an empty directory was there: leave it, empty
            for child in full.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _finish(
    ws: Workspace,
    repo: GitRepo,
    name: str,
    url: str,
    url_for_git: str,
    ref: str,
    rel: str,
    *,
    cloned: bool,
    aliases: tuple[str, ...] = (),
) -> BackendAddResult:
    """Resolve the ref (fetching it if needed), check it out in a fresh clone, record the backend."""
    commit = repo.resolve(ref)
    if commit is None:
        try:  # the one fetch policy (core/fetch.py): a tag, then a branch, from the given URL
            commit = fetch_ref(ws.root, repo, url_for_git, (), ref, None)
        except UsageError:
            commit = None
    if commit is None:
        raise UsageError(f"ref '{ref}' not found in {url}")
    if cloned:
        repo.checkout(commit, reason="fspatch backend add", force=False)
    ws.set_backend(
        Backend(
            name=name, url=stored_form(url), ref=ref, commit=commit, path=rel, mirrors=(), version=None, aliases=aliases
        )
    )
    layer_dir = ws.layer_dir(LayerRef(name, None))
    made = not layer_dir.exists()
    ws.ensure_layer_dir(name)
    try:
        ws.save_lock()  # last: the lock names the checkout only once it is complete
    except BaseException:
        if made:  # a lock that could not be written (read-only, disk full): the new layer goes again
            shutil.rmtree(layer_dir, ignore_errors=True)
        raise
    return BackendAddResult(name, url, ref, commit, rel, cloned)
