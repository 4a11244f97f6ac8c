"""The README is the newcomer's way in: it must open with the two commands, CI must run the one it
names for the tests, its sections must each appear once, and every benchmark must be described.
(A stray paragraph once sat above the title for several commits; nothing noticed.)"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _first_block(text: str) -> list[str]:
    m = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert m, "the README has no code block"
    return [line.split("#", 1)[0].strip() for line in m.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_opens_with_the_two_commands():
    lines = README.splitlines()
    assert lines[0] == "# milab", f"the README's first line is {lines[0]!r}, not its title"
    # nothing but blank lines between the title and the commands
    block_at = next(i for i, line in enumerate(lines) if line.startswith("```"))
    assert all(not line.strip() for line in lines[1:block_at]), lines[1:block_at]
    assert _first_block(README) == ["make scenarios", "make test"]


def test_ci_runs_the_readme_test_command():
    run = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in run.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert _first_block(README)[1] in commands, commands
    makefile = (ROOT / "Makefile").read_text()
    for target in ("scenarios", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"the Makefile has no {target} target"


def test_each_section_appears_once():
    headings = Counter(line for line in README.splitlines() if re.match(r"#{1,2} ", line))
    assert [h for h, n in headings.items() if n > 1] == []


def test_every_benchmark_is_described_once():
    section = README.split("\n## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    makefile = (ROOT / "Makefile").read_text()
    for script in sorted((ROOT / "bench").glob("*.py")):
        name = f"bench/{script.name}"
        assert section.count(f"`{name}` prints") == 1, f"{name} is not described once in Benchmarks"
        assert f"$(PY) {name}" in makefile, f"`make bench` does not run {name}"
