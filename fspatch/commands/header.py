"""``fspatch header``: show or set a patch's description (``quilt header``, ``stg edit``).

The header is the part of the patch file above its diff: ``From:``, ``Subject:``, other mail
headers, the description and the trailers.  Setting it rewrites that one file and, when the
patch is applied, the commit messages of it and the patches above (the trees stay the same, so
no file of the checkout is written).  Editing with ``$EDITOR`` is the CLI's job: it shows the
text from :func:`run_show` and passes the edited text to :func:`run_set`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.lookup import find_patch, working_layer
from fspatch.core.patch import Patch, format_patch, parse_message, parse_patch
from fspatch.core.restack import LayerEdit, execute
from fspatch.core.session import Session, read_patch
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class HeaderResult:
    backend: str
    layer: str
    patch: str
    path: str
    text: str  # the header as the patch file spells it
    changed: bool = False


def header_text(patch: Patch) -> str:
    """The header block of a patch file, without the ``---`` line and the diff."""
    data = format_patch(replace(patch, files=()))
    return data.decode("utf-8", "surrogateescape").removesuffix("---\n").rstrip("\n") + "\n"


def _target(s: Session, patch: str | None, layer: str | None) -> tuple[LayerRef, str]:
    if patch is not None:
        return find_patch(s, patch, layer)
    ref = working_layer(s, layer)
    ls = s.layer_state(ref)
    if ls is None or not ls.applied:
        raise UsageError(f"no patches of {ref.dir.as_posix()} are applied; name one: 'fspatch header PATCH'")
    return ref, ls.applied[-1].name


def _read(s: Session, ref: LayerRef, name: str) -> Patch:
    entry = next(e for e in s.entries(ref) if e.name == name)
    return read_patch(s.ws.patch_path(ref, name), f"{ref.dir.as_posix()}/{name}", entry.strip, s.ws.root)


def run_show(ws: Workspace, backend: str, patch: str | None = None, *, layer: str | None = None) -> HeaderResult:
    s = Session.open(ws, backend, fetch=False, read_only=True)
    ref, name = _target(s, patch, layer)
    p = _read(s, ref, name)
    return HeaderResult(s.backend.name, ref.label, name, f"{ref.dir.as_posix()}/{name}", header_text(p))


def run_set(
    ws: Workspace,
    backend: str,
    patch: str | None = None,
    *,
    message: str | None = None,
    text: str | None = None,
    layer: str | None = None,
) -> HeaderResult:
    """Set the description from ``message`` (subject, blank line, body, trailers — the author stays)
    or replace the whole header with ``text`` (as ``run_show`` gave it, edited)."""
    if (message is None) == (text is None):
        raise UsageError("give the new header as a message (-m) or as edited text, not both")
    s = Session.open(ws, backend)
    ref, name = _target(s, patch, layer)
    old = _read(s, ref, name)
    display = f"{ref.dir.as_posix()}/{name}"
    if message is not None:
        subject, description, trailers = parse_message(message)
        if not subject:
            raise UsageError("the message is empty; a patch needs at least a subject line")
        new = replace(old, subject=subject, description=description, trailers=trailers)
    else:
        assert text is not None
        head = parse_patch(text.rstrip("\n").encode("utf-8", "surrogateescape") + b"\n", display)
        if head.files:
            raise UsageError("the edited header holds a diff; only the header can be edited here")
        if not head.subject:
            raise UsageError("the edited header has no Subject: line")
        new = replace(head, files=old.files)
    if format_patch(new) == format_patch(old):  # the same header: no byte is written
        return HeaderResult(s.backend.name, ref.label, name, display, header_text(old), changed=False)
    ls = s.layer_state(ref)
    entries = tuple(s.entries(ref))
    applied = len(ls.applied) if ls is not None else 0
    if ls is not None and name in ls.names():
        s.require_head_at_stack()
        s.require_top_layer(ref)
    execute(s, ref, ls, LayerEdit(entries, {name: new}, (), applied), f"header {name}")
    return HeaderResult(s.backend.name, ref.label, name, display, header_text(new), changed=True)
