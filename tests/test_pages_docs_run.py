"""``milab docs check --run`` runs a changed page's own procedures: the steps are derived from the
changed text, so a fixed (or broken) command changes what runs and the verdict the gate reports."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from milab.cli import main
from milab.pages import az as azmod

SEEDS = next((p / "shared" / "seeds" for p in Path(__file__).resolve().parents if (p / "shared" / "seeds").is_dir()),
             None)
COSMOS_IDENTITIES = "000_288f15110d8d3935.txt"  # the Cosmos DB account identities page

pytestmark = [pytest.mark.skipif(SEEDS is None, reason="no shared/seeds next to the checkout"),
              pytest.mark.skipif(azmod.unavailable_reason() is not None, reason=azmod.unavailable_reason() or "")]


def _run(tmp_path: Path, text: str) -> dict:
    page = tmp_path / "page" / COSMOS_IDENTITIES
    page.parent.mkdir(parents=True)
    page.write_text(text)
    out = tmp_path / "out"
    main(["docs", "check", str(page), "--run", "--out", str(out), "--no-shellcheck", "-q"])
    doc = json.loads((out / "docs-findings.json").read_text())
    found = {}
    for f in doc["pages"][0]["findings"]:
        m = re.match(r"procedure (\S+) \(", f["message"])
        if f["rule"].startswith("RUN") and m:
            found[m.group(1)] = f
    return found


def test_a_changed_page_runs_its_own_steps(tmp_path):
    original = (SEEDS / COSMOS_IDENTITIES).read_text()
    before = _run(tmp_path / "before", original)
    assert set(before) == {"C0-SA", "C0-UA", "C0-ASSIGN"}, before
    ua = before["C0-UA"]
    assert ua["rule"] == "RUN001" and ua["severity"] == "error" and "at step 1" in ua["message"]
    assert "backtick" in ua["message"]
    # the page fixed: bash continuations instead of PowerShell's backticks
    fixed = re.sub(r" `\n", " \\\\\n", original)
    after = _run(tmp_path / "after", fixed)
    assert "at step 1" not in after["C0-UA"]["message"], after["C0-UA"]
