"""Former home of the verb journal; everything now lives in :mod:`fspatch.core.journal`.

Kept only so ``commands/import_flagscale.py`` (being rewritten on its own branch) keeps
importing; new code imports :mod:`fspatch.core.journal`.
"""

from __future__ import annotations

from fspatch.core.journal import Journal, crash_point, refuse_if_pending, transaction

__all__ = ["Journal", "crash_point", "refuse_if_pending", "transaction"]
