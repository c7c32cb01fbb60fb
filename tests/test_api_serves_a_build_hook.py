"""``fspatch.api`` for build hooks (issue 14 item 8): a PEP 517-style backend materialises a backend.

A tiny in-test ``build_backend`` module, as FlagScale's PEP 517 build would have, reads
``config_settings={'backend': …, 'device': …}`` and calls the API; it runs in a subprocess with
the installed fspatch.  The API raises the CLI's error classes with their exit codes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fspatch import api
from fspatch.commands import apply
from fspatch.errors import EXIT_USAGE, FspatchError, UsageError
from tests.fsflow import make_flagscale_workspace
from tests.wsutil import snapshot

HOOK = textwrap.dedent(
    '''
    """A PEP 517 build backend in miniature: the backend source comes from fspatch."""
    import json
    from pathlib import Path

    from fspatch import api
    from fspatch.errors import FspatchError


    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        settings = config_settings or {}
        ws = api.open_workspace(Path(__file__).parent)
        out = Path(wheel_directory) / "src" / settings["backend"]
        try:
            tree = api.materialize(
                ws, settings["backend"], out, device=settings.get("device"), task=settings.get("task")
            )
        except FspatchError as exc:
            raise SystemExit(f"fspatch: {exc} (exit {exc.exit_code})")
        report = {"backend": tree.backend, "vendor": tree.vendor, "files": tree.files, "layers": tree.layers}
        (Path(wheel_directory) / "report.json").write_text(json.dumps(report))
        return "flagscale-0.0.0-py3-none-any.whl"
    '''
)


def run_hook(root: Path, wheel_dir: Path, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, sys; sys.path.insert(0, '.'); import build_backend; "
        "print(build_backend.build_wheel(sys.argv[1], config_settings=json.loads(sys.argv[2])))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(wheel_dir), json.dumps(settings)], cwd=root, capture_output=True, text=True
    )


def test_a_pep517_hook_materialises_backend_and_vendor(tmp_path: Path) -> None:
    """build_wheel(config_settings={'backend': 'megatron', 'device': 'Acme_NPU'}) writes upstream +
    common + acme's layer, the same tree 'fspatch apply --to' writes; the checkout is untouched."""
    ws = make_flagscale_workspace(tmp_path)
    (ws.root / "build_backend.py").write_text(HOOK)
    checkout_before = snapshot(ws.checkout_path("megatron"))
    wheel = tmp_path / "wheel"
    p = run_hook(ws.root, wheel, {"backend": "Megatron-LM", "device": "Acme_NPU", "task": "train"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "flagscale-0.0.0-py3-none-any.whl"
    report = json.loads((wheel / "report.json").read_text())
    assert report == {
        "backend": "megatron",
        "vendor": "acme",
        "files": 6,
        "layers": [["common", 3], ["vendor/acme", 2]],
    }
    built = snapshot(wheel / "src" / "Megatron-LM")
    apply.run(ws, "megatron", vendor="acme", to=tmp_path / "cli-tree")
    assert built == snapshot(tmp_path / "cli-tree")
    assert b"# npu" in built["megatron/core/timers.py"] and b"3 * 10" in built["megatron/core/timers.py"]
    assert snapshot(ws.checkout_path("megatron")) == checkout_before


def test_the_hook_reports_fspatch_errors_with_their_exit_code(tmp_path: Path) -> None:
    ws = make_flagscale_workspace(tmp_path)
    (ws.root / "build_backend.py").write_text(HOOK)
    p = run_hook(ws.root, tmp_path / "wheel", {"backend": "megatron", "device": "Nope_X"})
    assert p.returncode == 1
    assert p.stderr.strip() == "fspatch: no vendor has device type 'Nope_X' (known: Acme_NPU) (exit 2)"


def test_api_errors_are_the_clis_classes(tmp_path: Path) -> None:
    ws = make_flagscale_workspace(tmp_path)
    handle = api.open_workspace(ws.root / "series")  # found from below, like the CLI
    assert handle.root == ws.root and handle.backends == ("megatron",) and handle.vendors == ("acme",)
    with pytest.raises(UsageError) as exc:
        api.materialize(handle, "megatron", tmp_path / "out", device="Acme_NPU", task="inference")
    assert exc.value.exit_code == EXIT_USAGE
    assert "declares no task 'inference'" in str(exc.value)
    with pytest.raises(FspatchError, match="unknown backend 'sglang'"):
        api.materialize(handle, "sglang", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UsageError, match="directory is not empty"):
        api.materialize(handle, "megatron", tmp_path / "full")
    assert api.materialize(handle, "megatron", tmp_path / "full", force=True).layers == (("common", 3),)
    with pytest.raises(UsageError, match="not an fspatch workspace"):
        api.open_workspace(tmp_path)
