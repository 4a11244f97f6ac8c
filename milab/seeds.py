"""Where the seed pages are, and where a page and its sections start in them.

The seed files (``../shared/seeds`` beside the repository, or ``$MILAB_SEEDS``) are the copies of
the documentation this project reproduces. The tutorial matrix links a page and each section to
the seed file and line of its heading, and a project test checks that every section title in the
registry is a real heading of its page (``tests/test_registry_sections.py``).

Headings are Markdown ``#`` lines; the 2019 export indents some of them and has ``#`` lines inside
a page (code comments, sub-titles), so a page runs from the heading of its title to the heading
of the next page title the registry knows.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path

ENV_VAR = "MILAB_SEEDS"
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def seeds_dir() -> Path:
    """``$MILAB_SEEDS``, else ``shared/seeds`` beside the repository (``../shared/seeds``)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return Path(value).expanduser()
    repo = Path(__file__).resolve().parents[1]
    return repo.parent / "shared" / "seeds"


def norm(text: str) -> str:
    """A heading as compared: case, spacing, typographic quotes and trailing punctuation aside."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split()).strip(" :.").lower()


@functools.lru_cache(maxsize=None)
def headings(seed: str, root: str | None = None) -> tuple[tuple[int, int, str], ...]:
    """``(line, level, text)`` of every heading of a seed file; empty when the file is missing."""
    path = Path(root or seeds_dir()) / seed
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    out = []
    in_fence = False
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = _HEADING.match(line)
        if m and not in_fence:
            out.append((number, len(m.group(1)), m.group(2)))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def front_matter_title(seed: str, root: str | None = None) -> str | None:
    path = Path(root or seeds_dir()) / seed
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.match(r"---\n(.*?)\n---", text, re.S)
    t = m and re.search(r"^title:\s*(.+)$", m.group(1), re.M)
    return t.group(1).strip().strip("'\"") if t else None


def _known_titles() -> set[str]:
    from milab import procedures, registry
    titles = {norm(t.page.title) for t in registry.TUTORIALS}
    titles |= {norm(title) for title, _, _ in procedures.PAGES.values()}
    return titles


def page_headings(title: str, seed: str, root: str | None = None) -> list[tuple[int, int, str]]:
    """The headings of one page of a seed: from its title's heading to the next known page's
    title. A seed that holds one page without a title heading (an include) is that page whole."""
    hs = headings(seed, root)
    want = norm(title)
    start = next((i for i, (_, _, text) in enumerate(hs) if norm(text) == want), None)
    if start is None:  # a one-page seed: titled by its front matter, or an include named by its file
        if (want == norm(Path(seed).stem) or want == norm(front_matter_title(seed, root) or "")
                or not any(h[1] == 1 for h in hs)):  # an include: no title of its own, one page
            return [(1, 0, title), *hs]
        return []
    known = _known_titles()
    end = next((i for i in range(start + 1, len(hs)) if norm(hs[i][2]) in known and norm(hs[i][2]) != want),
               len(hs))
    return list(hs[start:end])


def title_line(title: str, seed: str, root: str | None = None) -> int | None:
    """The line of the page's title heading in the seed (1 for a title-less include)."""
    hs = page_headings(title, seed, root)
    return hs[0][0] if hs else None


def section_line(title: str, seed: str, section: str, root: str | None = None) -> int | None:
    """The line of the section's heading within its page, or None when the page has no such heading."""
    want = norm(section)
    return next((line for line, _, text in page_headings(title, seed, root) if norm(text) == want), None)
