"""One module per verb.  Contract: each exposes ``run(...)`` returning a result dataclass.

``fspatch.cli`` wires click to ``run`` and renders the result; commands never print.
"""
