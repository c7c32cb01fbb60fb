"""``make bench``: run every ``bench/bench_*.py`` and write ``BENCHMARKS.md`` at the repo root.

Each benchmark runs as a subprocess of this same Python; its output is streamed
as it comes and kept for the report.  A failing benchmark does not stop the
others; the run ends with the list of failures (exit 1 if any).

    python bench/run.py                 # all benchmarks
    python bench/run.py apply markers   # only bench_apply.py and bench_markers.py
    python bench/run.py --out FILE      # write the report elsewhere
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _cmd(*args: str) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else "-"


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "-"
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if m:
            ram = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        import pygit2

        pygit2_v, libgit2_v = pygit2.__version__, pygit2.LIBGIT2_VERSION
    except Exception:  # noqa: BLE001 - report what we can
        pygit2_v = libgit2_v = "-"
    try:
        from importlib.metadata import version

        fspatch_v = version("fspatch")
    except Exception:  # noqa: BLE001
        fspatch_v = "-"
    commit = _cmd("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = _cmd("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    quilt = _cmd("quilt", "--version") if shutil.which("quilt") else "not installed"
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("RAM", ram),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("Python", platform.python_version()),
        ("fspatch", f"{fspatch_v} (commit {commit}{' + local changes' if dirty not in ('', '-') else ''})"),
        ("pygit2 / libgit2", f"{pygit2_v} / {libgit2_v}"),
        ("git", _cmd("git", "--version").removeprefix("git version ")),
        ("quilt", quilt),
    ]


def run_one(script: Path) -> tuple[int, str, float]:
    """Run a benchmark, streaming its output (stdout and stderr merged); returns (rc, output, seconds)."""
    print(f"\n=== {script.name} ===", flush=True)
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    rc = proc.wait()
    secs = time.perf_counter() - t0
    print(f"=== {script.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {secs:.0f}s ===", flush=True)
    return rc, "".join(lines), secs


def report(results: list[tuple[Path, int, str, float]], info: list[tuple[str, str]], started: dt.datetime) -> str:
    out = [
        "# Benchmarks",
        "",
        f"Run {started.strftime('%Y-%m-%d %H:%M %Z').strip()} by `make bench` (`bench/run.py`). "
        "Figures are wall times on the machine below; other load on the machine shows up in them.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info),
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                          # every bench/bench_*.py, then this file",
        "python bench/bench_apply.py --help  # one benchmark alone (see bench/README.md)",
        "```",
        "",
        "Generated data (synthetic upstream trees, patch series, workspaces) is cached under "
        "`$FSPATCH_BENCH_DIR` (default `/tmp/fspatch-bench`).",
        "",
    ]
    for script, rc, text, secs in results:
        status = "ok" if rc == 0 else f"**FAILED** (exit {rc})"
        out += [f"## {script.stem}", "", f"`bench/{script.name}` — {status}, {secs:.0f} s.", ""]
        doc = _first_line(script)
        if doc:
            out += [doc, ""]
        out += ["```", text.rstrip("\n"), "```", ""]
    return "\n".join(out)


def _first_line(script: Path) -> str:
    m = re.match(r'\s*"""(.*?)(?:\n|""")', script.read_text(errors="replace"))
    return m.group(1).strip() if m else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="run only these benchmarks (apply, markers, ...)")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if a.only:
        wanted = {w.removeprefix("bench_").removesuffix(".py") for w in a.only}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    if not scripts:
        print("no benchmarks found", file=sys.stderr)
        return 2
    started = dt.datetime.now().astimezone()
    info = machine()
    print("\n".join(f"{k}: {v}" for k, v in info), flush=True)
    results = []
    for script in scripts:
        rc, text, secs = run_one(script)
        results.append((script, rc, text, secs))
    a.out.write_text(report(results, info, started))
    failed = [s.name for s, rc, _, _ in results if rc != 0]
    total = sum(r[3] for r in results)
    print(f"\nwrote {a.out} ({len(results)} benchmarks, {total:.0f}s)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
