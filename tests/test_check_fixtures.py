"""Workspaces for the check and matrix tests: two backends, two vendors, real repos (no tests here).

``two_backends(tmp)`` gives the embedded example (backend ``minillm``, 3 common patches) plus a
second backend ``tinyllm`` (its own small upstream with tags v1.0 and v1.1 and a 1-patch common
layer) and vendors ``acme`` and ``bolt`` with a layer on each backend.  Every patch is made by git
in a scratch clone (tests/wsutil.write_patches); vendor patches are made on top of the common layer.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from scripts.example import git, write_tree
from tests.wsutil import WS, make_workspace, write_patches

BEG = "# --- FLAGSCALE MODIFICATION BEG ---\n"
END = "# --- FLAGSCALE MODIFICATION END ---\n"

TINY_ENGINE = (
    '"""tinyllm engine."""\n'
    "\n"
    "\n"
    "class Engine:\n"
    "    def __init__(self, model):\n"
    "        self.model = model\n"
    "        self.device = \"cuda\"\n"
    "\n"
    "    def step(self, batch):\n"
    "        return self.model(batch)\n"
)


def make_tiny_upstream(path: Path) -> None:
    """tinyllm: v1.0, then v1.1 which changes a file no patch touches (a clean bump)."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    write_tree(path, {"tiny/__init__.py": b'__version__ = "1.0"\n', "tiny/engine.py": TINY_ENGINE.encode()})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Release 1.0", date=1_700_000_000)
    git(path, "tag", "v1.0")
    write_tree(path, {"tiny/__init__.py": b'__version__ = "1.1"\n'})
    git(path, "commit", "-q", "-am", "Release 1.1", date=1_700_003_600)
    git(path, "tag", "v1.1")


Edit = Callable[[Path], None]


def _edit(rel: str, old: str, new: str) -> Edit:
    def run(root: Path) -> None:
        p = root / rel
        text = p.read_text()
        assert old in text, (rel, old)
        p.write_text(text.replace(old, new, 1))

    return run


def _add(rel: str, text: str) -> Edit:
    def run(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)

    return run


def common_base(w: WS, backend: str, upstream: Path) -> Path:
    """A clone of ``upstream`` at the pin with the backend's common layer committed, tagged ``common``."""
    base = w.root.parent / f"{backend}-common"
    if base.exists():
        shutil.rmtree(base)
    git(w.root.parent, "clone", "-q", str(upstream), str(base))
    ref = w.ws().backend(backend).ref
    git(base, "checkout", "-q", ref)
    series = w.root / "series" / backend
    for name in (series / "series").read_text().split():
        git(base, "apply", "--index", str(series / name))
        git(base, "commit", "-q", "-m", name, date=1_700_000_000)
    git(base, "tag", "common")
    return base


def add_vendor(w: WS, vendor: str, device: str = "Acme_NPU") -> None:
    d = w.root / "vendors" / vendor
    d.mkdir(parents=True, exist_ok=True)
    (d / "vendor.yaml").write_text(f"name: {vendor}\ndevice_type: {device}\ncontact: ops@{vendor}.example\n")


def add_layer(w: WS, vendor: str, backend: str, base: Path, steps: list[tuple[str, str, Edit]]) -> Path:
    """A vendor layer on ``backend`` made on the common top (``base`` from common_base)."""
    d = w.root / "vendors" / vendor / backend
    d.mkdir(parents=True, exist_ok=True)
    (d / "layer.yaml").write_text("tasks: [inference]\nmodels: []\n")
    write_patches(base, "common", d, steps)
    return d


def two_backends(tmp: Path) -> WS:
    """minillm + tinyllm, each with a common layer; vendors acme and bolt with a layer on both."""
    w = make_workspace(tmp)
    tiny = tmp / "upstream-tiny"
    make_tiny_upstream(tiny)
    r = w.cli("backend", "add", "tinyllm", "--url", str(tiny), "--ref", "v1.0")
    assert r.exit_code == 0, r.output
    write_patches(tiny, "v1.0", w.root / "series" / "tinyllm", [
        ("0001-tiny-device.patch", "Pick the device through FlagScale",
         _edit("tiny/engine.py", '        self.device = "cuda"\n',
               f'        {BEG}        self.device = os.environ.get("FLAGSCALE_DEVICE", "cuda")\n        {END}')),
    ])
    mini_base = common_base(w, "minillm", w.upstream)
    tiny_base = common_base(w, "tinyllm", tiny)
    for vendor, device in (("acme", "Acme_NPU"), ("bolt", "Bolt_GPU")):
        add_vendor(w, vendor, device)
        add_layer(w, vendor, "minillm", mini_base, [
            (f"0001-{vendor}-device.patch", f"Default to the {vendor} device",
             _edit("minillm/flagscale_device.py", '"cuda")', f'"{vendor}")')),
        ])
        add_layer(w, vendor, "tinyllm", tiny_base, [
            (f"0001-{vendor}-kernels.patch", f"Add the {vendor} kernels",
             _add(f"tiny/vendors/{vendor}.py", f'"""{vendor} kernels."""\nNAME = "{vendor}"\n')),
        ])
    return w
