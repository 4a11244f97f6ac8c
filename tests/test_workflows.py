"""The GitHub Actions workflows: actionlint passes, the nightly signs in by OIDC federation (no
secret), uploads reports and always runs the janitor; pull requests run make test and the docs gate."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _actionlint() -> str:
    found = Path(sys.executable).with_name("actionlint")
    return str(found) if found.exists() else shutil.which("actionlint") or "actionlint"


def test_actionlint_passes():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 2
    r = subprocess.run([_actionlint(), *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_nightly_uses_federation_and_always_sweeps():
    text = (WORKFLOWS / "nightly.yml").read_text()
    assert "id-token: write" in text and "azure/login@" in text and "client-id:" in text
    assert "secret" not in text.lower().replace("no client secret", "")
    janitor = text[text.index("Janitor"):]
    assert "if: always()" in janitor.split("run:")[0] and "milab janitor" in janitor
    assert "upload-artifact" in text and "path: reports/" in text
    assert "--target azure" in text and "--record-responses" in text and "milab parity" in text


def test_pull_requests_run_the_tests_and_the_docs_gate():
    text = (WORKFLOWS / "pr.yml").read_text()
    assert "pull_request" in text and "make test" in text and "docs check . --changed-since" in text


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    r = subprocess.run([_actionlint(), str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
