#!/usr/bin/env python3
"""FlagScale's tools/patch/unpatch.py, backed by fspatch (written by 'fspatch compat install').

Same arguments as FlagScale's script; runs 'fspatch -C <FlagScale root> unpatch ...'.
"""

import sys
from pathlib import Path

from fspatch.compat import run_tool

if __name__ == "__main__":
    run_tool("unpatch", sys.argv[1:], Path(__file__))
