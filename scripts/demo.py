#!/usr/bin/env python3
"""`make demo`: the main job of fspatch on the embedded example, printed as a user sees it.

Offline and deterministic: generates an upstream repository (Python, C++, CUDA,
two tagged releases) and a workspace with a three-patch common layer, then walks
apply → edit → refresh → status → diff, and the later verbs where they exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: scripts.example

from scripts.example import common_patches, make_series, make_upstream  # noqa: E402

STEP = 0
# A fixed identity, so the demo prints the same patch headers on every machine.
ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Dana Developer",
    GIT_AUTHOR_EMAIL="dana@flagscale.example",
    GIT_CONFIG_NOSYSTEM="1",
)


def banner(text: str) -> None:
    global STEP
    STEP += 1
    print(f"\n\033[1m== {STEP}. {text}\033[0m" if sys.stdout.isatty() else f"\n== {STEP}. {text}")


def fspatch(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    print(f"$ fspatch {' '.join(args)}")
    r = subprocess.run([sys.executable, "-m", "fspatch", *args], cwd=cwd, capture_output=True, text=True, env=ENV)
    out = (r.stdout + r.stderr).rstrip()
    if out:
        print(out)
    if r.returncode not in ok:
        print(f"[demo] unexpected exit code {r.returncode}", file=sys.stderr)
        raise SystemExit(1)
    if r.returncode:
        print(f"(exit {r.returncode})")
    return r


def show(path: Path, title: str) -> None:
    print(f"$ cat {title}")
    print(path.read_text().rstrip())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def has_verb(verb: str) -> bool:
    from fspatch.cli import main_group

    return verb in main_group.commands


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-out").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    up = out / "upstream-minillm"
    ws = out / "workspace"

    banner("An upstream project with two releases (v1.0, v1.1)")
    tags = make_upstream(up)
    for tag, commit in sorted(tags.items()):
        print(f"{tag} {commit}")

    banner("A workspace pinning minillm v1.0, with a common layer of three patches")
    fspatch(out, "init", str(ws))
    fspatch(ws, "backend", "add", "minillm", "--url", str(up), "--ref", "v1.0")
    make_series(up, "v1.0", ws / "series/minillm", common_patches())
    show(ws / "upstream.lock", "upstream.lock")
    show(ws / "series/minillm/series", "series/minillm/series")

    banner("Build the stack in memory and check out its top")
    fspatch(ws, "apply", "minillm")
    fspatch(ws, "-v", "series")

    banner("Edit in place, look at the pending diff, refresh the top patch")
    norm = ws / "third_party/minillm/minillm/layers/norm.py"
    edit(
        norm,
        "        self.device = device_type()\n",
        '        self.device = device_type()\n        self.fused = self.device != "cpu"\n',
    )
    fspatch(ws, "status")
    fspatch(ws, "diff")
    fspatch(ws, "refresh")
    fspatch(ws, "refresh")
    fspatch(ws, "status")

    banner("A new patch, popped and pushed again")
    fspatch(ws, "new", "batch-log", "-m", "Log the batch size in execute()")
    runner = ws / "third_party/minillm/minillm/model_runner.py"
    edit(
        runner,
        "        hidden = self.norm(batch)\n",
        "        hidden = self.norm(batch)\n"
        "        # --- FLAGSCALE MODIFICATION BEG ---\n"
        '        print(f"batch of {len(batch)}")\n'
        "        # --- FLAGSCALE MODIFICATION END ---\n",
    )
    fspatch(ws, "refresh")
    show(ws / "series/minillm/0004-batch-log.patch", "series/minillm/0004-batch-log.patch")
    fspatch(ws, "pop", "-a")
    fspatch(ws, "push", "-a")
    fspatch(ws, "status", "--format", "json")

    banner("Nothing lost: an unrefreshed edit blocks a pop, with nothing changed")
    edit(runner, "        return hidden\n", "        return hidden  # not refreshed yet\n")
    fspatch(ws, "pop", ok=(2,))
    edit(runner, "        return hidden  # not refreshed yet\n", "        return hidden\n")

    if has_verb("check"):
        banner("Markers: a change outside FLAGSCALE MODIFICATION markers is found, then wrapped")
        fspatch(ws, "new", "unmarked", "-m", "An unmarked change")
        edit(runner, "        return hidden\n", "        hidden = list(hidden)\n        return hidden\n")
        fspatch(ws, "refresh")
        fspatch(ws, "check", "--markers", ok=(0, 1))
        fspatch(ws, "refresh", "--mark")
        fspatch(ws, "check", "--markers")
        fspatch(ws, "diff")

    if has_verb("pull-upstream"):
        banner("pull-upstream to v1.1: one conflict, resolved, then continue")
        r = fspatch(ws, "pull-upstream", "minillm", "v1.1", "--stop", ok=(0, 1))
        if r.returncode == 1:
            cu = ws / "third_party/minillm/csrc/kernels/rmsnorm.cu"
            print("$ # resolve: keep upstream's 512 default and our wide block for large rows")
            text = cu.read_text()
            start = text.index("<<<<<<<")
            end = text.index(">>>>>>>")
            end = text.index("\n", end) + 1
            text = (
                text[:start]
                + "  // --- FLAGSCALE MODIFICATION BEG ---\n"
                + "  dim3 block(n >= 1024 ? 1024 : 512);\n"
                + "  // --- FLAGSCALE MODIFICATION END ---\n"
                + text[end:]
            )
            cu.write_text(text)
            fspatch(ws, "continue")
        fspatch(ws, "status")

    if has_verb("vendor"):
        banner("A vendor layer on top of the common one, exported as diff.patch + diff.yaml")
        fspatch(ws, "vendor", "add", "acme_npu", "--device-type", "Acme_NPU", "--contact", "npu@acme.example")
        fspatch(ws, "vendor", "layer", "acme_npu", "minillm", "--task", "inference", "--model", "minillm-7b")
        fspatch(ws, "apply", "minillm", "--vendor", "acme_npu", "--task", "inference")
        fspatch(ws, "new", "npu-device", "-m", "Run RMSNorm on the Acme NPU", "--vendor", "acme_npu")
        dev = ws / "third_party/minillm/minillm/flagscale_device.py"
        edit(
            dev,
            '    return os.environ.get("FLAGSCALE_DEVICE", "cuda")\n',
            "    # --- FLAGSCALE MODIFICATION BEG [acme_npu] ---\n"
            '    return os.environ.get("FLAGSCALE_DEVICE", "npu")\n'
            "    # --- FLAGSCALE MODIFICATION END [acme_npu] ---\n",
        )
        fspatch(ws, "refresh", "--vendor", "acme_npu")
        if has_verb("export"):
            subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
            subprocess.run(["git", "add", "-A", "upstream.lock", "series", "vendors", "schemas"], cwd=ws, check=True)
            subprocess.run(
                ["git", "-c", "user.name=Demo", "-c", "user.email=demo@example.org", "commit", "-qm", "Workspace"],
                cwd=ws,
                check=True,
                env=dict(ENV, GIT_AUTHOR_DATE="@1700000000 +0000", GIT_COMMITTER_DATE="@1700000000 +0000"),
            )
            fspatch(ws, "export", "minillm", "--vendor", "acme_npu")
            for p in sorted((ws / "vendors/acme_npu").rglob("diff.*")) + [ws / "vendors/history.yaml"]:
                show(p, str(p.relative_to(ws)))

    print(f"\nDemo workspace left in {ws}")


if __name__ == "__main__":
    main()
