"""Every Key Vault denial check can fail: against an emulator that authorizes everything
(``--no-rbac``: access policies and Azure RBAC alike, on the data plane and in ARM) and accepts
any well-formed token (``--no-token-checks``: audience, issuer and expiry unchecked), every test
of both Key Vault families fails, and each fails at a denial assertion ("expected 40x <code>"),
not in set-up. The same tests pass against the real emulator in the normal run."""
from __future__ import annotations

import re

from support import run_scenarios

SCENARIOS = ["scenarios/test_key_vault.py", "scenarios/test_key_vault_rbac.py"]
DENIAL = re.compile(r"expected 40[13] \w+")


def test_keyvault_denials_fail_against_a_permissive_emulator(tmp_path):
    outcomes = {o.name: o for o in run_scenarios(tmp_path, ["--no-rbac", "--no-token-checks"], SCENARIOS, "2")}
    assert len(outcomes) >= 34, sorted(outcomes)
    wrong = {n: o.outcome if o.outcome != "failed" else f"failed elsewhere: {o.failure[:300]}"
             for n, o in outcomes.items() if not (o.outcome == "failed" and DENIAL.search(o.failure))}
    assert not wrong, f"with a permissive emulator these Key Vault tests did not fail at a denial check: {wrong}"
