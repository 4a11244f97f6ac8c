"""The identity-lifecycle scenarios' denials can fail: with IMDS's contract off, the checks that a
removed or deleted identity gets no token fail; with RBAC off, the checks that a host is refused
before its grant (and that IAM on an identity grants nothing to it) fail."""
from __future__ import annotations

import pytest
from support import run_scenarios

CASES = {
    "--no-imds-checks": [
        "scenarios/test_vm_identity_config.py::test_procedure[rest-ua-remove-null-2018]",
        "scenarios/test_vm_identity_config.py::test_procedure[rest-sa-disable]",
        "scenarios/test_vmss_identity_config.py::test_procedure[rest-ua-remove-none]",
        "scenarios/test_vmss_identity_config.py::test_procedure[portal-sa-remove]",
        "scenarios/test_ua_identity_crud.py::test_procedure[rest-delete]",
    ],
    "--no-rbac": [
        "scenarios/test_rbac_assign.py::test_procedure[portal-vm-reader-storage]",
        "scenarios/test_rbac_assign.py::test_procedure[portal-vmss-reader-storage]",
        "scenarios/test_other_hosts.py::test_procedure[bicep-aci-system]",
        "scenarios/test_other_hosts.py::test_procedure[bicep-webapp-user]",
        "scenarios/test_ua_identity_crud.py::test_procedure[portal-role]",
    ],
}


@pytest.mark.parametrize("switch", sorted(CASES))
def test_lifecycle_denials_fail_against_a_permissive_emulator(tmp_path, switch):
    outcomes = run_scenarios(tmp_path, [switch], CASES[switch])
    not_failed = {o.name: o.outcome for o in outcomes if o.outcome != "failed"}
    assert not not_failed, f"with {switch} these denial checks did not fail: {not_failed}"
    assert len(outcomes) == len(CASES[switch])
