"""Every page title and section title in the registry is a real heading of its page in the seeds,
so the matrix's links land on the heading and the docs gate finds the section."""
from __future__ import annotations

import pytest

from milab import procedures, registry, seeds

SEEDS = seeds.seeds_dir()
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"no seed pages at {SEEDS} (set {seeds.ENV_VAR})")


def _pages():
    out = {(t.page.title, t.page.seed) for t in registry.TUTORIALS if t.page.seed}
    out |= {(title, seed) for title, _, seed in procedures.PAGES.values()}
    return sorted(out)


@pytest.mark.parametrize("title,seed", _pages())
def test_page_title_is_a_heading_of_its_seed(title, seed):
    assert seeds.title_line(title, seed) is not None, f"{title!r} is no page of {seed}"


def test_every_section_is_a_heading_of_its_page():
    missing = [f"{t.key}: {s!r} ({t.page.seed})" for t in registry.TUTORIALS if t.page.seed for s in t.sections
               if seeds.section_line(t.page.title, t.page.seed, s) is None]
    assert not missing, "sections that are not headings of their page:\n" + "\n".join(missing)


def test_lifecycle_procedures_name_their_page_heading():
    missing = [f"{p.id} [{p.variant}]: {p.section!r}" for p in procedures.PROCEDURES if p.section
               if seeds.section_line(*procedures.PAGES[p.page][::2], p.section) is None]
    assert not missing, "\n".join(missing)


def test_a_wrong_section_is_found_missing(tmp_path):
    (tmp_path / "page.txt").write_text("# A page\n\n## Real heading\n\ntext\n\n# Another page\n\n## Other\n")
    assert seeds.section_line("A page", "page.txt", "Real heading", root=str(tmp_path)) == 3
    assert seeds.section_line("A page", "page.txt", "real  heading.", root=str(tmp_path)) == 3
    assert seeds.section_line("A page", "page.txt", "Invented heading", root=str(tmp_path)) is None
    assert seeds.title_line("No such page", "page.txt", root=str(tmp_path)) is None
