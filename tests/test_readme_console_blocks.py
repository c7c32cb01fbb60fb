"""Every ```console block of README.md is what running it prints (issue 16, item 13).

The blocks are one session, in README order, started where the README says: a directory made
by ``make tour`` (``scripts/tour.py DIR``), holding the example upstream ``upstream-minillm``
and a quilt series ``example-patches/``, with ``fspatch`` on PATH and git's identity set to
the one the README shows.  Each ``$ command`` line runs in bash (a ``cd`` carries over to the
next line); the lines below it, up to the next ``$``, are its output (stdout and stderr), where
a line ``...`` stands for any number of lines.  The tour directory's absolute path is written
``/path/to/tour``.

``FSPATCH_UPDATE_README=1 pytest tests/test_readme_console_blocks.py`` rewrites the blocks with
what the commands print (keeping ``...`` elisions that still match), for a person to review.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"^```console\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
PLACE = "/path/to/tour"


@dataclass
class Step:
    command: str
    expected: list[str]


def parse_blocks(text: str) -> list[tuple[re.Match[str], list[Step]]]:
    out = []
    for m in BLOCK.finditer(text):
        steps: list[Step] = []
        for line in m.group(1).splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            else:
                assert steps, f"README console block starts with output, not a '$ ' command: {line!r}"
                steps[-1].expected.append(line)
        out.append((m, steps))
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """``...`` in expected matches any run of lines (also none)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


def tour_env(bin_dir: Path, home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FSPATCH_")) and k not in ("NO_COLOR", "PAGER")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Dana Developer",
        GIT_AUTHOR_EMAIL="dana@flagscale.example",
        GIT_COMMITTER_NAME="Dana Developer",
        GIT_COMMITTER_EMAIL="dana@flagscale.example",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00Z",
        TERM="dumb",
        LC_ALL="C.UTF-8",
    )
    return env


def run_step(command: str, cwd: Path, env: dict[str, str], tour: Path) -> tuple[list[str], Path]:
    pwd_file = tour.parent / ".pwd"
    script = f"{command}\n__rc=$?\npwd > {pwd_file}\nexit $__rc\n"
    r = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    new_cwd = Path(pwd_file.read_text().strip())
    text = r.stdout.replace(str(tour.resolve()), PLACE).replace(str(tour), PLACE)
    return text.rstrip("\n").split("\n") if text.strip() else [], new_cwd


def test_readme_console_blocks_are_real(tmp_path: Path) -> None:
    """Run every console block of README.md from the place it names; each output is what README shows."""
    tour = tmp_path / "tour"
    subprocess.run([sys.executable, str(REPO / "scripts" / "tour.py"), str(tour)], check=True, capture_output=True)
    home = tmp_path / "home"
    home.mkdir()
    env = tour_env(Path(sys.executable).parent, home)
    text = README.read_text()
    blocks = parse_blocks(text)
    assert len(blocks) >= 8, "the tour is made of console blocks"
    cwd = tour
    update = os.environ.get("FSPATCH_UPDATE_README") == "1"
    failures = []
    new_text, last = [], 0
    for m, steps in blocks:
        rendered = []
        for step in steps:
            actual, cwd = run_step(step.command, cwd, env, tour)
            ok = matches(step.expected, actual)
            if not ok:
                failures.append(
                    f"$ {step.command}\n--- README\n" + "\n".join(step.expected) + "\n--- got\n" + "\n".join(actual)
                )
            rendered.append(f"$ {step.command}")
            rendered += step.expected if ok else actual
        new_text.append(text[last : m.start()] + "```console\n" + "\n".join(rendered) + "\n```\n")
        last = m.end()
    if update:
        README.write_text("".join(new_text) + text[last:])
        return
    assert failures == [], "\n\n".join(failures)


def test_the_readme_says_where_the_tour_starts_and_how_to_get_fspatch() -> None:
    """No link out of the repository; the tour's starting place; PATH/venv; pre-commit with a rev tag."""
    text = README.read_text()
    assert "../shared" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (REPO / target).exists(), target
    assert "make tour" in text and "source .venv/bin/activate" in text
    assert re.search(r"rev: v\d+\.\d+\.\d+", text), "the pre-commit example pins a rev tag"


def test_the_matcher() -> None:
    """`...` matches any run of lines, including none; everything else must be equal."""
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert not matches(["a"], [])
    assert matches([], [])
