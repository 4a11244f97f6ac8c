"""The scenarios' denial checks can fail: against an emulator made permissive (RBAC off,
token checks off, or the IMDS contract off) every denial test of the ARM-read and
token-endpoint families must fail, while the same tests pass against the real emulator."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from milab.targets.emulator import ENV_VAR, EmbeddedEmulator

ROOT = Path(__file__).resolve().parent.parent


def run_scenarios(tmp_path: Path, switch: str, selection: list[str]) -> dict[str, str]:
    emu = EmbeddedEmulator(extra_args=[switch])
    try:
        junit = tmp_path / "junit.xml"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AZURE_", "MILAB_"))}
        env[ENV_VAR] = str(emu.env_file)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--no-reports", "-q",
               f"--junitxml={junit}", "-o", "addopts=", *selection]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        emu.stop()
    assert junit.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        name = case.get("name")
        outcomes[name] = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
    assert outcomes, proc.stdout[-3000:]
    return outcomes


CASES = {
    "--no-rbac": ["scenarios/test_arm_read.py::test_arm_read",
                  "scenarios/test_arm_read.py::test_arm_read_denied_ungranted_vm"],
    "--no-token-checks": ["scenarios/test_arm_read.py::test_arm_read_denied_wrong_audience",
                          "scenarios/test_arm_read.py::test_arm_read_denied_expired_token"],
    "--no-imds-checks": [f"scenarios/test_token_endpoint.py::{t}" for t in (
        "test_metadata_header_required", "test_unknown_resource_is_invalid_resource",
        "test_malformed_requests_are_invalid_request", "test_x_forwarded_for_is_rejected",
        "test_vm_without_identity", "test_two_user_identities_need_a_selector",
        "test_more_than_one_selector_is_refused", "test_identities_of_another_vm_are_not_available")],
}


@pytest.mark.parametrize("switch", sorted(CASES))
def test_denials_fail_against_a_permissive_emulator(tmp_path, switch):
    outcomes = run_scenarios(tmp_path, switch, CASES[switch])
    not_failed = {name: o for name, o in outcomes.items() if o != "failed"}
    assert not not_failed, f"with {switch} these denial checks did not fail: {not_failed}"
    assert len(outcomes) >= len(CASES[switch])
