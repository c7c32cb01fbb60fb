"""FlagScale's ``tools/patch/*.py`` entry points, backed by fspatch (the front end above the CLI).

``fspatch/compat/tools_patch/{patch,unpatch,merge}.py`` are drop-in copies of FlagScale's
scripts (``fspatch compat install FLAGSCALE_DIR`` writes them into ``tools/patch/``): called
with FlagScale's arguments, each runs ``fspatch -C <FlagScale root> <verb> <arguments>``, the
root found as FlagScale's scripts find it (two directories above the script).
"""

from __future__ import annotations

from pathlib import Path

TOOLS = ("patch", "unpatch", "merge")


def flagscale_root(script: Path) -> Path:
    """FlagScale's ``main_path``: ``<root>/tools/patch/<script>.py`` → ``<root>``."""
    return script.resolve().parents[2]


def run_tool(verb: str, argv: list[str], script: Path) -> None:
    """Run one FlagScale tool as fspatch's verb of that name; exits with fspatch's exit code."""
    from fspatch.cli import main

    if verb not in TOOLS:
        raise ValueError(f"not a FlagScale tool: {verb}")
    main(["-C", str(flagscale_root(script)), verb, *argv])

