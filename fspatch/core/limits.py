"""Resource limits on untrusted input, each configurable and each named when it refuses.

Why limits at all: patches, series and YAML come from other organisations and CI bots run
fspatch unattended, so a 2.6 MB patch whose binary literal inflates to 2 GiB, or a name of
10,000 bytes, must be refused at once with a line that says which limit and how to raise it,
not run a machine out of memory at night.  The defaults are far above what real layers need
(the largest FlagScale layer has a few hundred patches; binary files in patches are logos and
small test fixtures) and far below what hurts.

Every limit is an environment variable holding a positive integer:

==============================  ===================  =====================================
variable                        default              what it bounds
==============================  ===================  =====================================
``FSPATCH_MAX_PATCH_BYTES``     64 MiB               size of one patch file on disk
``FSPATCH_MAX_BINARY_BYTES``    256 MiB              inflated binary data in one patch
``FSPATCH_MAX_SERIES``          100,000              patches listed in one series file
``FSPATCH_MAX_NAME_BYTES``      255                  one component of a file or patch name
``FSPATCH_MAX_PATH_BYTES``      4,096                a whole file or patch name
``FSPATCH_MAX_STRIP``           64                   the ``-pN`` strip level of a series line
==============================  ===================  =====================================
"""

from __future__ import annotations

import os

from fspatch.errors import UsageError

__all__ = ["DEFAULTS", "hint", "limit"]

DEFAULTS: dict[str, int] = {
    "FSPATCH_MAX_PATCH_BYTES": 64 << 20,
    "FSPATCH_MAX_BINARY_BYTES": 256 << 20,
    "FSPATCH_MAX_SERIES": 100_000,
    "FSPATCH_MAX_NAME_BYTES": 255,
    "FSPATCH_MAX_PATH_BYTES": 4096,
    "FSPATCH_MAX_STRIP": 64,
}


def limit(name: str) -> int:
    """The limit ``name`` (one of :data:`DEFAULTS`): its environment variable, else the default."""
    default = DEFAULTS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw) if raw.isdigit() and len(raw) <= 18 else 0
    if value <= 0:
        raise UsageError(f"{name} must be a positive number, not {raw[:40]!r}")
    return value


def hint(name: str) -> str:
    """The tail of a refusal: which limit, and how to raise it."""
    return f"(the {name} limit is {limit(name)}; set {name} to raise it)"
