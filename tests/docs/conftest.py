from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from milab.docs import facts as F
from milab.docs.parser import parse_text
from milab.docs.rules import check_page, find_shellcheck

PAGES = Path(__file__).parent / "pages"


def run_rules(text: str, rule: str | None = None, *, file: str = "page.md", tutorials=None, shellcheck=None):
    """Parse a page given as text and return the findings of one rule (or all)."""
    pages = parse_text(textwrap.dedent(text).lstrip("\n"), file)
    out = []
    for p in pages:
        facts = F.extract(p)
        out += check_page(p, facts, tutorials=tutorials or [], shellcheck=shellcheck,
                          only={rule} if rule else None)
    return out


@pytest.fixture
def rules():
    return run_rules


@pytest.fixture(scope="session")
def shellcheck():
    path = find_shellcheck()
    if not path:
        pytest.skip("shellcheck is not installed")
    return path
