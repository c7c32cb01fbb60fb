"""Patch names as people type them: the name given to ``new``, numbers, prefixes, ``layer/name``.

Why one module: every verb that takes a PATCH must accept back what fspatch prints and what
the user typed when the patch was made.  ``fspatch new second`` stores ``0002-second.patch``;
``push second``, ``delete second`` and ``diff 0002`` must all find it, and so must the forms
that ``review`` and ``blame`` print (``common/0002-second.patch``,
``vendor/acme/0001-npu.patch``) and workspace paths (``series/mini/0002-second.patch``).

A query is resolved in this order, within one layer; the first rule with hits wins, and a
rule with several hits is an error that lists them (never a guess):

1. the file name exactly (``0002-second.patch``);
2. the file name without ``.patch`` (``0002-second``);
3. the name as given to ``new`` (``second``, ``"enable gems"``): the query's slug equals the
   file name without its ``NNNN-`` number and ``.patch``;
4. the number alone (``2``, ``02``, ``0002``);
5. a unique prefix of the file name (``0002-s``).

A query with a ``/`` names its layer (``common/…``, ``vendor/V/…``, ``V/…``, ``series/B/…``,
``vendors/V/B/…``) and is looked up there only.  A query without one is looked up in the
layer the verb works on, then in the other layers of the backend; a hit in exactly one other
layer is taken (so ``diff 0004`` finds the common layer's patch while a vendor layer is on
top), hits in several are an error naming each as ``layer/name``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fspatch.errors import UsageError

COMMON = "common"
_NUMBERED = re.compile(r"^(\d{4})-")
_NUMBER_ONLY = re.compile(r"^\d{1,4}$")


def slug(name: str) -> str:
    """The file-name form of a name typed by a person: ``enable gems`` → ``enable-gems``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")


def bare(file_name: str) -> str:
    """A patch file name without its number and suffix: ``0002-second.patch`` → ``second``."""
    return _NUMBERED.sub("", file_name).removesuffix(".patch")


def number_of(file_name: str) -> int | None:
    """The ``NNNN-`` number of a patch file name, if it has one."""
    m = _NUMBERED.match(file_name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class LayerNames:
    """One layer's patch names, as a resolver sees them.

    ``vendor`` is None for the common layer; ``dir`` is its workspace directory (for messages),
    e.g. ``series/mini`` or ``vendors/acme/mini``.
    """

    vendor: str | None
    dir: str
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        return COMMON if self.vendor is None else f"vendor/{self.vendor}"


@dataclass(frozen=True)
class PatchQuery:
    """A typed PATCH split into its layer part (when it named one) and its name part."""

    layer: str | None  # None: not named; "common"; or a vendor name
    name: str


def split_query(query: str, backend: str) -> PatchQuery:
    """Split off a layer prefix: ``common/0004`` → (common, 0004); ``0004`` → (None, 0004).

    Accepted prefixes: ``common/``, ``vendor/V/``, ``V/``, ``series/BACKEND/``,
    ``vendors/V/BACKEND/`` (a leading ``./`` is ignored).  Patch file names never hold a ``/``.
    """
    text = query.strip()
    while text.startswith("./"):
        text = text[2:]
    if "/" not in text:
        return PatchQuery(None, text)
    parts = [p for p in text.split("/") if p]
    if len(parts) < 2:
        raise UsageError(f"'{query}' is not a patch name (give NAME or LAYER/NAME, e.g. common/0004)")
    *head, name = parts
    if head == [COMMON]:
        return PatchQuery(COMMON, name)
    if len(head) == 2 and head[0] == "series":
        _same_backend(query, head[1], backend)
        return PatchQuery(COMMON, name)
    if len(head) == 2 and head[0] == "vendor":
        return PatchQuery(head[1], name)
    if len(head) == 3 and head[0] == "vendors":
        _same_backend(query, head[2], backend)
        return PatchQuery(head[1], name)
    if len(head) == 1:
        return PatchQuery(head[0], name)
    raise UsageError(
        f"'{query}' is not a patch name; layer forms are common/NAME, vendor/VENDOR/NAME, VENDOR/NAME, "
        f"series/{backend}/NAME and vendors/VENDOR/{backend}/NAME"
    )


def _same_backend(query: str, given: str, backend: str) -> None:
    if given != backend:
        raise UsageError(f"'{query}' names backend '{given}', but the verb works on '{backend}'")


def match_name(names: Sequence[str], query: str) -> list[str]:
    """The names matching ``query`` by the first rule (of the five in the module doc) that has hits."""
    if not query:
        return []
    if query in names:
        return [query]
    if query + ".patch" in names:
        return [query + ".patch"]
    wanted = slug(query)
    given = [n for n in names if bare(n) == wanted or bare(n) == wanted.removesuffix(".patch")]
    if given:
        return given
    if _NUMBER_ONLY.match(query):
        numbered = [n for n in names if number_of(n) == int(query)]
        if numbered:
            return numbered
    return [n for n in names if n.startswith(query)]


def resolve_in_layer(layer: LayerNames, query: str) -> str:
    """One patch of one layer, or a UsageError naming the layer (unknown or ambiguous)."""
    hits = match_name(layer.names, query)
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise UsageError(f"patch '{query}' is ambiguous in {layer.dir}: " + ", ".join(hits))
    raise UsageError(f"no patch '{query}' in {layer.dir}/series")


def resolve(layers: Sequence[LayerNames], query: str, current: str | None, backend: str) -> tuple[str | None, str]:
    """(vendor or None for common, file name) of the patch ``query`` means.

    ``layers`` are the backend's layers (common first); ``current`` is the vendor of the layer
    the verb works on (None: common).  See the module doc for the rules.
    """
    q = split_query(query, backend)
    by_key = {layer.vendor: layer for layer in layers}
    if q.layer is not None:
        key = None if q.layer == COMMON else q.layer
        if key not in by_key:
            known = ", ".join(layer.label for layer in layers) or "none"
            raise UsageError(f"'{query}': no layer '{q.layer}' for backend '{backend}' (layers: {known})")
        return key, resolve_in_layer(by_key[key], q.name)
    here = by_key.get(current)
    if here is not None and match_name(here.names, q.name):
        return current, resolve_in_layer(here, q.name)
    elsewhere = [
        (layer, hits) for layer in layers if layer.vendor != current if (hits := match_name(layer.names, q.name))
    ]
    if len(elsewhere) == 1 and len(elsewhere[0][1]) == 1:
        layer, hits = elsewhere[0]
        return layer.vendor, hits[0]
    if elsewhere:
        found = [f"{layer.label}/{h}" for layer, hits in elsewhere for h in hits]
        raise UsageError(f"patch '{query}' is ambiguous: " + ", ".join(found) + " (say which, e.g. " + found[0] + ")")
    where = here.dir if here is not None else (layers[0].dir if layers else f"series/{backend}")
    raise UsageError(f"no patch '{query}' in {where}/series" + (" or the other layers" if len(layers) > 1 else ""))


def new_file_name(name: str, existing: Sequence[str], position: int) -> str:
    """The file name ``new NAME`` creates when inserted at ``position`` of a series.

    A name that already has a ``NNNN-`` number is kept.  Otherwise the number is chosen so that
    the series stays in number order: one more than the nearest numbered patch before the
    position, provided it is below the next numbered patch after it (``0000`` when inserting
    first).  With no free number between the neighbours the name stays unnumbered
    (``second.patch``): never a series that reads 0003, 0001, 0002.
    """
    s = slug(name)
    if not s or s == ".patch":
        raise UsageError(f"'{name}' is not a usable patch name")
    if not s.endswith(".patch"):
        s += ".patch"
    if _NUMBERED.match(s):
        return s
    number = number_at(existing, position)
    return s if number is None else f"{number:04d}-{s}"


def number_at(existing: Sequence[str], position: int) -> int | None:
    """The ``NNNN`` a patch inserted at ``position`` gets so the series stays in number order
    (the rule of :func:`new_file_name`); None when no number fits between the neighbours."""
    before = [n for x in existing[:position] if (n := number_of(x)) is not None]
    after = [n for x in existing[position:] if (n := number_of(x)) is not None]
    if not after:
        return (max(before) + 1) if before else 1
    low = max(before) if before else -1
    high = min(after)
    candidate = low + 1 if before else (1 if high > 1 else 0)
    return None if candidate >= high else candidate  # unnumbered rather than out of order


__all__ = [
    "COMMON",
    "LayerNames",
    "PatchQuery",
    "bare",
    "match_name",
    "new_file_name",
    "number_at",
    "number_of",
    "resolve",
    "resolve_in_layer",
    "slug",
    "split_query",
]
