"""Error classes that carry their exit code (DESIGN §5).

Only the ``fspatch.cli`` package turns these into a line on stderr and an exit status; core code
raises them and never exits.  Exit codes: 0 ok, 1 findings or conflicts,
2 usage or input error, 3 internal error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class FspatchError(Exception):
    """Root of every error fspatch reports to a user (never with a traceback)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class UsageError(FspatchError):
    """Bad arguments, unknown backend/vendor/patch, wrong state for the verb."""


class InputError(FspatchError):
    """A workspace file (YAML, series, patch) is malformed or violates its schema."""


class PatchParseError(InputError):
    """A patch file cannot be parsed; names file and line."""


class DirtyCheckoutError(FspatchError):
    """The checkout has edits that the command would overwrite; nothing was changed."""


class PathEscapeError(InputError):
    """A patch or file path points outside the tree it must stay in."""


class ConflictError(FspatchError):
    """A patch does not apply, or a merge has conflicts."""

    exit_code = EXIT_FINDINGS


class HunkFailed(ConflictError):
    """One hunk of one file does not apply at its place or any line offset (never fuzz)."""

    def __init__(self, file: str, index: int, header: str) -> None:
        super().__init__(f"{file}: hunk {index} ({header}) does not apply")
        self.file = file
        self.index = index
        self.header = header


class GitError(FspatchError):
    """Git could not do what was asked (missing ref, fetch failed, …)."""
