"""Every Cosmos DB denial check can fail: against an emulator whose Cosmos data plane is permissive
(``--permissive-cosmos``: any key, token or none is accepted and no sqlRoleAssignment is needed)
and whose ARM skips RBAC (``--no-rbac``: ``listKeys`` and the management calls without a role),
every Cosmos scenario fails, and each fails at a denial assertion ("expected 40x <code>"), not in
set-up. The same tests pass against the real emulator in the normal run."""
from __future__ import annotations

import re

from support import run_scenarios

SCENARIOS = ["scenarios/test_cosmos_keys.py", "scenarios/test_cosmos_rbac.py",
             "scenarios/test_cosmos_account_identity.py"]
DENIAL = re.compile(r"expected 40[13] \w+")


def test_cosmos_denials_fail_against_a_permissive_emulator(tmp_path):
    outcomes = {o.name: o for o in run_scenarios(tmp_path, ["--permissive-cosmos", "--no-rbac"], SCENARIOS, "2")}
    assert len(outcomes) >= 30, outcomes
    wrong = {n: o.outcome if o.outcome != "failed" else f"failed elsewhere: {o.failure[:300]}"
             for n, o in outcomes.items() if not (o.outcome == "failed" and DENIAL.search(o.failure))}
    assert not wrong, f"with a permissive Cosmos DB these tests did not fail at a denial check: {wrong}"
