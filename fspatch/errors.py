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


class EnvironmentFailure(FspatchError):
    """The machine refused a read or write (disk full, read-only, name too long…); exit 2.

    Raised where a journalled verb has already put everything back (or says it could not);
    any other ``OSError`` reaching the CLI is described the same way by :func:`describe_os_error`.
    """


_OS_HINTS = {
    "ENOSPC": "the disk is full; free some space and run the command again",
    "EDQUOT": "the disk quota is used up; free some space and run the command again",
    "EFBIG": "the file is over the size the system allows (a file size limit?)",
    "EROFS": "the file system is read-only",
    "EACCES": "permission denied; make it writable (or run as its owner)",
    "EPERM": "the operation is not permitted (an immutable or append-only file?)",
    "EBUSY": "the file or folder is busy (a mount point, or in use)",
    "ENAMETOOLONG": "a name is over the file system's limit (255 bytes a component on most)",
    "EMFILE": "too many open files",
    "EIO": "an input/output error from the disk",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an environment failure: the path, what the system said, and what to do."""
    import errno as _errno

    name = _errno.errorcode.get(exc.errno or 0, "")
    where = exc.filename if exc.filename is not None else None
    what = exc.strerror or str(exc) or type(exc).__name__
    text = f"{where}: {what}" if where is not None else what
    if name:
        text += f" ({name})"
    hint = _OS_HINTS.get(name)
    return f"{text}; {hint}" if hint else text
