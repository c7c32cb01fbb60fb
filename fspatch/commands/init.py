"""``fspatch init``: make a folder an fspatch workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core.workspace import init_workspace


@dataclass(frozen=True)
class InitResult:
    root: str
    created: tuple[str, ...]


def run(root: Path) -> InitResult:
    created = init_workspace(root)
    return InitResult(str(root), tuple(str(p.relative_to(root)) for p in created))
