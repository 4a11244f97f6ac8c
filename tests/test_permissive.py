"""The scenarios' denial checks can fail: against an emulator made permissive (RBAC off,
token checks off, or the IMDS contract off) every denial test of the ARM-read and
token-endpoint families must fail, while the same tests pass against the real emulator."""
from __future__ import annotations

import pytest
from support import run_scenarios


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
    outcomes = run_scenarios(tmp_path, [switch], CASES[switch])
    not_failed = {o.name: o.outcome for o in outcomes if o.outcome != "failed"}
    assert not not_failed, f"with {switch} these denial checks did not fail: {not_failed}"
    assert len(outcomes) >= len(CASES[switch])
