"""``fspatch compat install DIR``: FlagScale's ``tools/patch/{patch,unpatch,merge}.py`` as fspatch shims.

A FlagScale checkout then keeps calling ``python tools/patch/patch.py --backend … --device-type …``
unchanged.  A script already there with other bytes (FlagScale's own) is replaced only with
``--force``; the files are written atomically, and one that already has the shim's bytes is
left alone, so installing twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.core.yamlio import atomic_write
from fspatch.errors import UsageError

TOOLS = ("patch", "unpatch", "merge")


@dataclass(frozen=True)
class CompatInstallResult:
    directory: str
    written: tuple[str, ...]
    unchanged: tuple[str, ...]


def _source(verb: str) -> bytes:
    return (Path(__file__).resolve().parent.parent / "compat" / "tools_patch" / f"{verb}.py").read_bytes()


def run_install(root: Path, *, force: bool = False) -> CompatInstallResult:
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory (a FlagScale checkout)")
    folder = root / "tools" / "patch"
    plan = [(folder / f"{v}.py", _source(v)) for v in TOOLS]
    others = [p for p, data in plan if p.exists() and p.read_bytes() != data]
    if others and not force:
        raise UsageError(
            f"{others[0]}: exists with other content (FlagScale's own script?); "
            "use --force to replace it (git keeps the original)"
        )
    written, unchanged = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for path, data in plan:
        if atomic_write(path, data):
            path.chmod(0o755)
            written.append(path.relative_to(root).as_posix())
        else:
            unchanged.append(path.relative_to(root).as_posix())
    return CompatInstallResult(str(root), tuple(written), tuple(unchanged))
