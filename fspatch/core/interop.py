"""Interop: patches in and out of quilt directories, mailboxes and git commits.

Why one module: the three importers and the two exporters share one rule for what a patch
becomes in a layer, one naming scheme and one write step, and that rule is what makes the round
trips exact.

The round-trip rule ("keep headers and bytes"), format version 1
-----------------------------------------------------------------
* **Import stores the canonical form**: ``format_patch(parse_patch(bytes, strip))``.  Headers
  survive: ``From:``/DEP-3 ``Author:`` become ``From:``; ``Subject:`` (one ``[PATCH …]`` tag
  dropped) or DEP-3 ``Description:`` become ``Subject:`` + description; every other header
  (``Date``, ``Origin``, ``Bug-Debian``, ``Forwarded``, ``Last-Update``, ``Message-Id`` …) stays,
  in its order, after ``Subject:``; description and trailers are kept; a ``-pN`` series entry is
  read with that strip level and stored as a git diff (``a/``, ``b/``, strip 1).  Two things are
  added or dropped, always the same way: a patch without a subject gets its source name as
  subject (``fix-foo`` for ``fix-foo.diff``), and a mail's transport headers (``MIME-Version``,
  ``Content-Type``, ``Content-Transfer-Encoding``; the body is decoded) are dropped.
* **``export --format quilt`` writes the layer's files**: its ``series`` and patch files, byte
  for byte.  Hence a canonical patch (one that has a subject and is a fixed point of
  ``format_patch∘parse_patch``, as every patch fspatch writes is) survives import → export byte
  for byte, and any patch is byte-identical from the second import on.
* **``export --format mbox`` writes git format-patch mails** built from the parsed patches (the
  diff canonical).  Importing that mbox gives back the layer's patches byte for byte, except that
  a patch without a ``Date:`` header gains one (git am needs a date; it is the pinned upstream
  commit's committer date); from the second round on, mbox → import → mbox is byte-identical.

Mailboxes are read and written as *mboxrd*: a message line matching ``>*From `` gains one ``>``
on export and loses one on import.  ``git am`` reads such lines exactly with
``--patch-format=mboxrd``; without it a description line that starts with ``From `` keeps the
``>`` (the only difference, and a rare one).
"""

from __future__ import annotations

import bz2
import email
import email.header
import email.policy
import email.utils
import lzma
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

from fspatch.core.journal import crash_point, refuse_if_pending, transaction
from fspatch.core.names import number_at
from fspatch.core.patch import Patch, format_diff, format_patch, parse_diff, parse_message, parse_patch
from fspatch.core.series import SeriesEntry, parse_series
from fspatch.core.stack import Builder, PatchSource, load_state, split_author
from fspatch.core.workspace import RESERVED_NAMES, LayerRef, Workspace, max_patch_bytes, read_patch_bytes
from fspatch.errors import InputError, UsageError
from fspatch.git_adapter import GitRepo

__all__ = [
    "ImportedPatch",
    "LayerImport",
    "Source",
    "InsertPoint",
    "add_to_layer",
    "insert_point",
    "numbered_at",
    "commit_sources",
    "find_quilt_dir",
    "format_mbox",
    "mail_source",
    "mbox_sources",
    "numbered_name",
    "quilt_sources",
    "split_mbox",
]

_NUMBERED = re.compile(r"^\d{4}-")
_MBOX_FROM = re.compile(rb"From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}\r?")
_QUOTED_FROM = re.compile(rb"^>+From ", re.M)
_TO_QUOTE = re.compile(rb"^(>*From )", re.M)
_TRANSPORT = frozenset({"mime-version", "content-type", "content-transfer-encoding"})
_COMPRESSED = (".gz", ".bz2", ".xz", ".lzma")  # what quilt reads besides plain files (.zst is not in the stdlib)
_EXTENSIONS = (".patch", ".diff", ".dpatch")


@dataclass(frozen=True)
class Source:
    """One patch to import: where it came from, the name to derive its file name from, the patch."""

    display: str  # e.g. debian/patches/fix-foo.diff, a.mbox (mail 2), commit 1a2b3c4d5e6f
    name: str  # the source's own name (quilt name, mail file, subject)
    patch: Patch


@dataclass(frozen=True)
class ImportedPatch:
    name: str  # file name in the layer
    source: str
    subject: str


@dataclass(frozen=True)
class LayerImport:
    backend: str
    layer: str  # common or vendor/<name>
    layer_dir: str
    patches: tuple[ImportedPatch, ...]
    skipped: tuple[str, ...]  # sources holding no diff (cover letters), not imported
    checked: bool  # True when the patches were applied in memory where they were inserted
    at_end: bool = True  # placed at the end of the layer's series (else after ``after``)
    after: str | None = None  # the patch they follow in the series; None: first


# --------------------------------------------------------------------------- quilt


def find_quilt_dir(path: Path) -> Path:
    """The directory holding the quilt ``series``: ``path``, ``path/patches`` or ``path/debian/patches``."""
    for folder in (path, path / "patches", path / "debian" / "patches"):
        if (folder / "series").is_file():
            return folder
    raise UsageError(f"{path}: no quilt series here (looked for series, patches/series and debian/patches/series)")


def quilt_sources(path: Path) -> list[Source]:
    """Every patch of a quilt directory's series, in order, parsed with its ``-pN``."""
    folder = find_quilt_dir(path)
    series = folder / "series"
    shown = _shown(series, path)
    entries = parse_series(series.read_bytes(), shown)
    out: list[Source] = []
    for entry in entries:
        file = folder.joinpath(*entry.name.split("/"))
        display = _shown(file, path)
        raw = read_patch_bytes(file, display, folder)
        suffix = PurePosixPath(entry.name).suffix
        if suffix in _COMPRESSED:
            raw = _decompress(suffix, raw, display)
        patch = parse_patch(raw, display, entry.strip)
        out.append(Source(display, entry.name, _with_subject(patch, _stem(entry.name))))
    return out


def _decompress(suffix: str, raw: bytes, display: str) -> bytes:
    """A ``.gz``/``.bz2``/``.xz`` patch, inflated to at most the patch size limit (no zip bombs)."""
    limit = max_patch_bytes()
    engine: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor
    if suffix == ".gz":
        engine = zlib.decompressobj(wbits=47)
    elif suffix == ".bz2":
        engine = bz2.BZ2Decompressor()
    else:
        engine = lzma.LZMADecompressor()
    try:
        data = engine.decompress(raw, limit + 1)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise InputError(f"cannot decompress: {exc}", path=display) from None
    if len(data) > limit:
        raise InputError(f"decompresses to over the {limit}-byte patch limit (FSPATCH_MAX_PATCH_BYTES)", path=display)
    return data


def _shown(file: Path, base: Path) -> str:
    try:
        return (base.name + "/" + file.relative_to(base).as_posix()) if file != base else base.name
    except ValueError:
        return str(file)


def _stem(name: str) -> str:
    """``debian/0003-fix-foo.diff.gz`` → ``fix-foo``."""
    base = PurePosixPath(name).name
    for ext in _COMPRESSED:
        base = base.removesuffix(ext)
    for ext in _EXTENSIONS:
        base = base.removesuffix(ext)
    return _NUMBERED.sub("", base) or base


def _with_subject(patch: Patch, fallback: str) -> Patch:
    return patch if patch.subject else replace(patch, subject=fallback)


# --------------------------------------------------------------------------- mailboxes


def split_mbox(data: bytes) -> list[tuple[int, bytes]]:
    """Mails of an mbox (or one plain patch file): (1-based first line, mboxrd-unquoted bytes).

    A mail starts at a ``From <id> <date>`` line (``git format-patch`` writes ``From <sha> Mon
    Sep 17 00:00:00 2001``); a file that does not start with one is one mail.  Blank-only
    chunks are dropped.
    """
    lines = data.split(b"\n")
    starts = [i for i, line in enumerate(lines) if _MBOX_FROM.fullmatch(line)]
    if not starts or any(line.strip() for line in lines[: starts[0]]):
        starts = [0, *starts]
    out: list[tuple[int, bytes]] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        first = start + 1 if _MBOX_FROM.fullmatch(lines[start]) else start
        chunk = b"\n".join(lines[first:end]) + (b"\n" if end < len(lines) else b"")
        if chunk.strip():
            out.append((first + 1, _QUOTED_FROM.sub(lambda m: m.group(0)[1:], chunk)))
    return out


def mail_source(raw: bytes, display: str, name: str) -> Source:
    """One mail (git format-patch output, or a mail client's single-part text mail) as a patch."""
    raw = _decode_body(raw, display)
    patch = parse_patch(raw, display)
    extra = tuple((k, v) for k, v in patch.extra_headers if k.lower() not in _TRANSPORT)
    patch = replace(patch, extra_headers=extra)
    return Source(display, name, _with_subject(patch, _stem(name)))


def mbox_sources(files: Sequence[Path]) -> tuple[list[Source], list[str]]:
    """Every mail of every file, in order; mails without a diff (cover letters) are skipped."""
    out: list[Source] = []
    skipped: list[str] = []
    for path in files:
        display = str(path)
        data = read_patch_bytes(path, display)
        mails = split_mbox(data)
        for n, (line, raw) in enumerate(mails, 1):
            shown = display if len(mails) == 1 else f"{display} (mail {n}, line {line})"
            try:
                src = mail_source(raw, shown, path.name)
            except InputError as exc:
                if exc.line is not None and len(mails) > 1:
                    raise type(exc)(exc.message, path=display, line=exc.line + line - 1) from None
                raise
            if not src.patch.files:
                skipped.append(f"{shown}: {src.patch.subject or 'no subject'} (no diff)")
                continue
            out.append(replace(src, name=src.patch.subject))
    return out, skipped


def _decode_body(raw: bytes, display: str) -> bytes:
    """Undo a quoted-printable or base64 transfer encoding (mail clients); git's 8bit is kept as is."""
    head, sep, _ = raw.partition(b"\n\n")
    if not sep or not re.search(rb"(?im)^content-transfer-encoding:[ \t]*(quoted-printable|base64)", head):
        if re.search(rb"(?im)^content-type:[ \t]*multipart/", head):
            raise InputError("multipart mail: save the patch as plain text (git format-patch output)", path=display)
        return raw
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.is_multipart():
        raise InputError("multipart mail: save the patch as plain text (git format-patch output)", path=display)
    body = msg.get_payload(decode=True)
    if not isinstance(body, bytes):
        raise InputError("mail body cannot be decoded", path=display)
    return head + b"\n\n" + body


# --------------------------------------------------------------------------- commits


def commit_sources(repo: GitRepo, spec: str) -> list[Source]:
    """First-parent commits of ``A..B`` (``A..`` means ``A..HEAD``), oldest first, as patches."""
    old, sep, new = spec.partition("..")
    if not sep or not old or new.startswith("."):
        raise UsageError(f"{spec!r}: give a range A..B (commits reachable from B and not from A)")
    a = repo.resolve(old)
    b = repo.resolve(new or "HEAD")
    if a is None or b is None:
        raise UsageError(f"{old if a is None else new or 'HEAD'!r} is not a commit of {repo.workdir}")
    ids = repo.first_parent_range(a, b)
    out: list[Source] = []
    for cid in ids:
        info = repo.commit_info(cid)
        parent_tree = repo.tree_of(info.parents[0]) if info.parents else repo.empty_tree()
        display = f"commit {cid[:12]}"
        files = parse_diff(repo.diff_trees(parent_tree, info.tree), display)
        subject, description, trailers = parse_message(info.message)
        patch = Patch(
            author=f"{info.author_name} <{info.author_email}>",
            subject=subject or cid[:12],
            description=description,
            trailers=trailers,
            extra_headers=(("Date", mail_date(info.author_time, info.author_offset)),),
            files=files,
        )
        out.append(Source(display, subject or cid[:12], patch))
    return out


def mail_date(time: int, offset_minutes: int) -> str:
    """RFC 2822 date as git format-patch writes it: ``Tue, 14 Nov 2023 22:13:20 +0100``."""
    tz = timezone(timedelta(minutes=offset_minutes))
    return email.utils.format_datetime(datetime.fromtimestamp(time, tz))


# --------------------------------------------------------------------------- writing into a layer


def numbered_name(stem: str, number: int) -> str:
    """``fix foo`` and 4 → ``0004-fix-foo.patch`` (git format-patch's slug, at most 52 characters)."""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", stem).strip("-.")[:52].rstrip("-.") or "patch"
    return f"{number:04d}-{slug}.patch"


def numbered_at(stem: str, existing: Sequence[str], position: int) -> str:
    """``fix foo`` inserted at ``position`` → ``NNNN-fix-foo.patch`` with the number that keeps
    the series in number order (as ``new`` numbers), or ``fix-foo.patch`` when none fits."""
    number = number_at(existing, position)
    if number is not None:
        return numbered_name(stem, number)
    return numbered_name(stem, 0).removeprefix("0000-")


@dataclass(frozen=True)
class InsertPoint:
    """Where imported patches go: index in the series, and the commit they are checked on
    (None: the layer's whole stack, built in memory)."""

    index: int
    commit: str | None


def insert_point(ws: Workspace, layer: LayerRef, entries: Sequence[SeriesEntry], *, append: bool) -> InsertPoint:
    """After the layer's top applied patch, as ``quilt import`` inserts (the series start when
    the layer was applied and then popped to nothing, as quilt); at the end with ``append``, when
    the whole layer is applied, or when it is not applied (no checkout, no stack saved yet,
    another vendor's layer), where there is no top to go after."""
    end = InsertPoint(len(entries), None)
    if append:
        return end
    backend = ws.backend(layer.backend)
    path = ws.checkout_path(backend)
    if not GitRepo.is_repo(path):
        return end
    repo = GitRepo.open(path)
    state, _ = load_state(repo)
    if state is None:
        return end  # never applied (no stack saved): no top to go after, and no push to keep
    ls = state.layer(layer.label)
    if ls is None:
        return end
    if [e.name for e in entries[: len(ls.applied)]] != ls.names():
        raise UsageError(
            f"{layer.dir}/series changed under the applied patches; rebuild the stack with "
            f"'fspatch apply {backend.name}' (or import with --append)"
        )
    if len(ls.applied) == len(entries):
        return end
    return InsertPoint(len(ls.applied), ls.top if repo.has_commit(ls.top) else None)


def add_to_layer(
    ws: Workspace, layer: LayerRef, sources: Sequence[Source], *, keep_names: bool = False, check: bool = True,
    skipped: Sequence[str] = (), append: bool = False,
) -> LayerImport:
    """Insert ``sources`` into the layer's series at :func:`insert_point`, canonical, numbered
    to keep the series in number order (:func:`numbered_at`).

    With ``check`` (and a checkout of the backend), every new patch is applied in memory where
    it goes first (on the top applied patch, or on the layer's whole stack at the end): a patch
    that does not apply is a conflict and nothing is written.  As in quilt, the unapplied
    patches after an insertion are not re-checked.  Writes are journalled (``fspatch recover``
    undoes a killed import).
    """
    ws_git = ws.root / ".git"
    if ws_git.is_dir():
        refuse_if_pending(ws_git, str(ws_git), ws.root)  # before reading layers a killed verb half wrote
    if not sources:
        raise UsageError("nothing to import: no patch with a diff was found")
    if layer.vendor is not None:
        ws.vendor_info(layer.vendor)
    entries = ws.read_layer_series(layer)
    point = insert_point(ws, layer, entries, append=append)
    names = [e.name for e in entries]
    taken = set(names)
    planned: list[tuple[str, Source, bytes]] = []
    for src in sources:
        position = point.index + len(planned)
        name = src.name if keep_names else numbered_at(_stem(src.name), names, position)
        if keep_names and PurePosixPath(name).suffix in _COMPRESSED:
            name = name.rsplit(".", 1)[0]  # stored uncompressed
        if name in RESERVED_NAMES or PurePosixPath(name).name in RESERVED_NAMES:
            raise UsageError(f"{src.display}: {name!r} is reserved in a layer directory; import without --keep-names")
        path = ws.patch_path(layer, name)
        if name in taken or path.exists():
            raise UsageError(f"{src.display}: {layer.dir.as_posix()}/{name} already exists")
        taken.add(name)
        names.insert(position, name)
        planned.append((name, src, format_patch(src.patch)))

    checked = False
    if check:
        stored = [(src.display, parse_patch(data, src.display)) for _, src, data in planned]
        checked = _check_applies(ws, layer, stored, point.commit)

    new_entries = [*entries[: point.index], *(SeriesEntry(name) for name, _, _ in planned), *entries[point.index :]]
    rel_dir = layer.dir.as_posix()
    with transaction(
        "import", ws.root, git_dir=ws_git if ws_git.is_dir() else None, dirs=[rel_dir], files=[f"{rel_dir}/series"]
    ):
        ws.ensure_layer_dir(layer)
        for name, _, data in planned:
            ws.write_patch(layer, name, data)
            crash_point("import:patch")
        ws.write_layer_series(layer, new_entries)
        crash_point("import:series")
    return LayerImport(
        layer.backend,
        layer.label,
        rel_dir,
        tuple(ImportedPatch(name, src.display, src.patch.subject) for name, src, _ in planned),
        tuple(skipped),
        checked,
        point.index == len(entries),
        entries[point.index - 1].name if point.index > 0 else None,
    )


def _check_applies(
    ws: Workspace, layer: LayerRef, patches: Sequence[tuple[str, Patch]], on: str | None = None
) -> bool:
    """Apply the new patches on commit ``on`` (else the layer's top), in memory; False when there
    is no checkout."""
    from fspatch.core.export import FilesReader, build_stack

    backend = ws.backend(layer.backend)
    path = ws.checkout_path(backend)
    if not GitRepo.is_repo(path):
        return False
    repo = GitRepo.open(path)
    if not repo.has_commit(backend.commit):
        return False
    if on is not None:
        top = on
    else:
        stack = build_stack(repo, FilesReader(ws), backend.name, layer.vendor)
        top = stack.top if layer.vendor is not None else stack.common_top
    builder = Builder(repo, backend.commit)
    for display, patch in patches:
        top = builder.apply(top, PatchSource(display, display, patch))
    return True


# --------------------------------------------------------------------------- mbox export


def format_mbox(
    patches: Sequence[tuple[str, str, Patch]], *, date: str, fallback: tuple[str, str], version: str
) -> bytes:
    """``git format-patch --stdout``-style mails, one per (commit id, patch name, patch), mboxrd-quoted.

    ``date`` is used for a patch without a ``Date:`` header, ``fallback`` (name, e-mail) for one
    without a usable author (as the stack builder does), the name's stem for one without subject.
    """
    out: list[bytes] = []
    total = len(patches)
    for n, (commit, name, patch) in enumerate(patches, 1):
        who, mail = split_author(patch.author, fallback)
        tag = "[PATCH]" if total == 1 else f"[PATCH {n:0{len(str(total))}d}/{total}]"
        subject = _one_line(patch.subject or _stem(name))
        head = [f"From: {_address(who, mail)}", f"Subject: {_header_words(f'{tag} {subject}')}"]
        extras = list(patch.extra_headers)
        if not any(k.lower() == "date" for k, _ in extras):
            extras.insert(0, ("Date", date))
        head.extend(f"{k}: {_one_line(v)}" for k, v in extras)
        head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit"]
        trailers = "\n".join(f"{k}: {v}" for k, v in patch.trailers)
        body = "\n\n".join(part for part in (patch.description, trailers) if part)
        body_bytes = _TO_QUOTE.sub(rb">\1", (body + "\n" if body else "").encode("utf-8", "surrogateescape"))
        out.append(
            f"From {commit} Mon Sep 17 00:00:00 2001\n".encode()
            + "\n".join(head).encode("utf-8", "surrogateescape")
            + b"\n\n"
            + body_bytes
            + b"---\n"
            + format_diff(patch.files)
            + f"-- \nfspatch {version}\n\n".encode()
        )
    return b"".join(out)


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _header_words(value: str) -> str:
    """RFC 2047-encode a header value that is not plain ASCII (as git format-patch does)."""
    if value.isascii():
        return value
    return email.header.Header(value, "utf-8", maxlinelen=10_000).encode(linesep="\n")


def _address(name: str, mail: str) -> str:
    return f"{name if name.isascii() else _header_words(name)} <{mail}>"
