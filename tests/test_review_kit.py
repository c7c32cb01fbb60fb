"""Shared builder for the review and blame tests: a git-tracked workspace with three layers.

upstream (the example's minillm v1.0)
  → common: the example's 0001..0003, then 0004 rewriting a line 0001 added
  → vendor/acme: 0001 changing the device line of the same file (marked), one unmarked line,
    and an unmarked change to a file the common layer created (not upstream: not counted).

The workspace repository gets one commit per stage, so the history has known sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.commands import apply, new, refresh
from fspatch.core.workspace import Workspace
from tests.gitutil import git
from tests.wsutil import WS, make_workspace

RUNNER = "minillm/model_runner.py"
GEMS_OFF = 'if os.environ.get("USE_FLAGGEMS", "0") == "1":'
GEMS_ON = 'if os.environ.get("USE_FLAGGEMS", "1") == "1":'
DEVICE_UPSTREAM = '        self.device = config.get("device", "cuda")\n'
DEVICE_VENDOR = (
    "        # --- FLAGSCALE MODIFICATION BEG ---\n"
    '        self.device = config.get("device", "mlu")\n'
    "        # --- FLAGSCALE MODIFICATION END ---\n"
)
UNMARKED = '        self.vendor = "acme"\n'


@dataclass
class ReviewWS:
    w: WS
    commits: dict[str, str]  # stage → workspace commit

    @property
    def ws(self) -> Workspace:
        return self.w.ws()

    @property
    def root(self) -> Path:
        return self.w.root

    @property
    def upstream(self) -> str:
        return self.ws.backends()["minillm"].commit


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").decode().strip()


def add_vendor_files(root: Path, vendor: str, backend: str = "minillm") -> None:
    """vendors/<v>/vendor.yaml and an empty layer with layer.yaml, as the schemas want them."""
    vdir = root / "vendors" / vendor
    (vdir / backend).mkdir(parents=True, exist_ok=True)
    (vdir / "vendor.yaml").write_text(
        f"name: {vendor}\ndevice_type: {vendor.capitalize()}_MLU\ncontact: {vendor} team <{vendor}@example.org>\n"
    )
    (vdir / backend / "layer.yaml").write_text("tasks: [inference]\nmodels: []\n")
    (vdir / backend / "series").write_text("")


def edit(path: Path, old: str, new_text: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new_text, 1))


def make_review_workspace(tmp: Path, *, git_repo: bool = True) -> ReviewWS:
    w = make_workspace(tmp)
    commits: dict[str, str] = {}
    if git_repo:
        git(w.root, "init", "-q", "-b", "main")
        (w.root / ".gitignore").write_text("third_party/\n")
        commits["common"] = commit_all(w.root, "Add the common layer")
    ws = w.ws()
    apply.run(ws, "minillm")
    new.run(ws, "minillm", "gems-default-on", message="Turn FlagGems on by default")
    edit(w.checkout / RUNNER, GEMS_OFF, GEMS_ON)
    refresh.run(w.ws(), "minillm")
    if git_repo:
        commits["rewrite"] = commit_all(w.root, "Turn FlagGems on by default")
    add_vendor_files(w.root, "acme")
    ws = w.ws()
    apply.run(ws, "minillm", vendor="acme")
    new.run(ws, "minillm", "mlu-device", message="Run the model on the MLU", vendor="acme")
    edit(w.checkout / RUNNER, DEVICE_UPSTREAM, DEVICE_VENDOR)
    edit(w.checkout / RUNNER, "        self.config = config\n", "        self.config = config\n" + UNMARKED)
    edit(w.checkout / "minillm" / "flagscale_device.py", '"cuda"', '"mlu"')
    refresh.run(w.ws(), "minillm", vendor="acme")
    if git_repo:
        commits["vendor"] = commit_all(w.root, "Add the acme vendor layer")
    return ReviewWS(w, commits)


def test_kit_builds_three_layers(tmp_path: Path) -> None:
    """The kit's workspace has 4 common patches and 1 acme patch, each stage committed."""
    rw = make_review_workspace(tmp_path)
    names = [(rw.root / "series" / "minillm" / "series").read_text().split()]
    assert names == [
        [
            "0001-enable-flag-gems.patch",
            "0002-rmsnorm-block-size.patch",
            "0003-device-selection.patch",
            "0004-gems-default-on.patch",
        ]
    ]
    assert (rw.root / "vendors" / "acme" / "minillm" / "series").read_text().split() == ["0001-mlu-device.patch"]
    assert list(rw.commits) == ["common", "rewrite", "vendor"]
