#!/usr/bin/env python3
"""FlagScale's tools/patch/patch.py, backed by fspatch (written by 'fspatch compat install').

Same arguments as FlagScale's script; runs 'fspatch -C <FlagScale root> patch ...'.
"""

import sys
from pathlib import Path

from fspatch.compat import run_tool

if __name__ == "__main__":
    run_tool("patch", sys.argv[1:], Path(__file__))
