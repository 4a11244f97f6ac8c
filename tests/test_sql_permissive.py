"""Every Azure SQL denial check can fail: against an emulator whose SQL gateway lets every login in
as dbo past its firewall and resolves any name (``--permissive-sql``), whose tokens are not checked
(``--no-token-checks``: a token for another audience, an expired one) and whose ARM skips RBAC, every
SQL scenario fails, and each fails at a denial assertion ("expected SQL error N"), not in set-up.
The same tests pass against the real emulator in the normal run."""
from __future__ import annotations

import re

from support import run_scenarios

SCENARIOS = ["scenarios/test_sql.py"]
DENIAL = re.compile(r"expected (SQL error )?\d{3,5}")


def test_sql_denials_fail_against_a_permissive_emulator(tmp_path):
    outcomes = {o.name: o for o in run_scenarios(tmp_path, ["--permissive-sql", "--no-token-checks", "--no-rbac"],
                                                 SCENARIOS, "2")}
    assert len(outcomes) >= 9, outcomes
    wrong = {n: o.outcome if o.outcome != "failed" else f"failed elsewhere: {o.failure[:300]}"
             for n, o in outcomes.items() if not (o.outcome == "failed" and DENIAL.search(o.failure))}
    assert not wrong, f"with a permissive Azure SQL these tests did not fail at a denial check: {wrong}"
