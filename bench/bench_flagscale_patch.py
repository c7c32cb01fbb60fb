"""Issue 14, item 9 on real data: ``fspatch patch`` on FlagScale's per-file Megatron-LM layer.

FlagScale main ``da4935ec6`` keeps 72 per-file common patches in ``flagscale/backends/Megatron-LM``
for the gitlink ``third_party/Megatron-LM`` (``8479eb35``).  From the local mirrors (nothing is
fetched): import them, ``unpatch --backend Megatron-LM``, edit ``megatron/core/timers.py`` (a line
no patch changed and a line of the timers patch) and add a file, then run the installed
``fspatch patch --backend Megatron-LM`` as FlagScale's maintainers call it.  Checked: both
edits land in ``0031-megatron-core-timers.py.patch``, the top patch
``0072-tools-preprocess_data.py.patch`` keeps its bytes, the new file gets
``0073-megatron-core-<name>.patch``, the layer rebuilt from its files is the edited checkout, and
a second ``patch`` is a no-op.  Skipped when a mirror is missing.

    python bench/bench_flagscale_patch.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

MEGATRON = Path(os.environ.get("FSPATCH_MEGATRON_MIRROR", "/work/.mirror/NVIDIA+Megatron-LM/repo"))
FLAGSCALE = Path(os.environ.get("FSPATCH_FLAGSCALE_MIRROR", "/work/.mirror/FlagOpen+FlagScale/repo"))
COMMIT = "da4935ec6"
FSPATCH = Path(sys.executable).parent / "fspatch"
WHAT = "fspatch patch on FlagScale's 72 per-file Megatron-LM patches: the edit lands in its file's patch"


def run(cwd: Path, *args: str) -> str:
    p = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def tree(path: Path) -> dict[str, bytes]:
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }


def main() -> int:
    if not (MEGATRON / "HEAD").exists() or not (FLAGSCALE / "HEAD").exists():
        print(f"TARGET: issue 14 | {WHAT} | not measured | skipped (no mirror)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="fs14-"))
    try:
        fs = tmp / "FlagScale"
        fs.mkdir()
        archive = subprocess.run(
            ["git", "--git-dir", str(FLAGSCALE), "archive", COMMIT, "flagscale/backends/Megatron-LM"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(fs, filter="data")
        pin = run(tmp, "git", "--git-dir", str(FLAGSCALE), "rev-parse", f"{COMMIT}:third_party/Megatron-LM")
        pin = pin.strip()
        ws = tmp / "ws"
        run(tmp, str(FSPATCH), "init", str(ws))
        run(ws, "git", "init", "-q", "-b", "main")
        (ws / ".gitignore").write_text("third_party/\n")
        run(ws, str(FSPATCH), "backend", "add", "Megatron-LM", "--url", str(MEGATRON), "--ref", pin)
        run(ws, str(FSPATCH), "import", "flagscale", str(fs))
        run(ws, "git", "add", "-A")
        run(ws, "git", "-c", "user.name=b", "-c", "user.email=b@example.org", "commit", "-qm", "import")
        run(ws, str(FSPATCH), "unpatch", "--backend", "Megatron-LM")
        series = ws / "series" / "megatron"
        names = (series / "series").read_text().split()
        own = next(n for n in names if n.endswith("-megatron-core-timers.py.patch"))
        top = names[-1]
        top_bytes = (series / top).read_bytes()
        co = ws / "third_party" / "megatron"
        timers = co / "megatron/core/timers.py"
        text = timers.read_text()
        text = text.replace("class TimerBase(ABC):\n", "class TimerBase(ABC):\n    # bench: an upstream line\n", 1)
        text = text.replace("# groups inside their class.", "# groups inside their class (bench: the patch's line).", 1)
        timers.write_text(text)
        (co / "megatron/core/bench_new_op.py").write_text("def bench_new_op():\n    return 1\n")
        edited = tree(co)
        t0 = time.perf_counter()
        out = run(ws, str(FSPATCH), "patch", "--backend", "Megatron-LM")
        seconds = time.perf_counter() - t0
        names_after = (series / "series").read_text().split()
        new = names_after[-1]
        own_text = (series / own).read_text()
        checks = {
            "both edits in the file's patch": "+    # bench: an upstream line" in own_text
            and "(bench: the patch's line)" in own_text,
            "top patch unchanged": (series / top).read_bytes() == top_bytes,
            "new file, new patch": new.endswith("-megatron-core-bench_new_op.py.patch") and new not in names,
        }
        rebuilt = tmp / "rebuilt"
        run(ws, str(FSPATCH), "apply", "-b", "megatron", "--to", str(rebuilt))
        checks["rebuilt layer = edited checkout"] = tree(rebuilt) == edited
        again = run(ws, str(FSPATCH), "patch", "--backend", "Megatron-LM")
        checks["second patch is a no-op"] = "Nothing to patch" in again
        print(out.strip())
        for name, ok in checks.items():
            print(f"  {name}: {'ok' if ok else 'FAILED'}")
        verdict = "ok" if all(checks.values()) else "MISSED"
        print(f"TARGET: issue 14 | {WHAT} ({len(names)} patches: {own}) | {seconds:.2f} s | {verdict}")
        return 0 if verdict == "ok" else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
