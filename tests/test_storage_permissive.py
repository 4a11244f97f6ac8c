"""Every storage denial check can fail: against an emulator whose Blob gateway is permissive
(``--permissive-storage``: any credential or none is re-signed with the account key, so bearer
permissions, audiences, expiry, SAS and Shared Key signatures are not checked) and whose ARM
skips RBAC (``--no-rbac``: ``listKeys`` / ``listServiceSas`` without a role), every storage
scenario fails, and each fails at a denial assertion ("expected 4xx <code>"), not in set-up; so
does every test of ``tests/test_storage_denials.py`` (copy sources, credentials on public
containers, public access, role-assignment conditions, SAS source addresses, user delegation).
The same tests pass against the real emulator in the normal run."""
from __future__ import annotations

import re

from support import run_scenarios

SCENARIOS = ["scenarios/test_storage_rbac.py", "scenarios/test_storage_key.py", "scenarios/test_storage_sas.py",
             "tests/test_storage_denials.py"]
DENIAL = re.compile(r"expected 4\d\d \w+|\(4\d\d, '\w+'\)")


def test_storage_denials_fail_against_a_permissive_gateway(tmp_path):
    outcomes = {o.name: o for o in run_scenarios(tmp_path, ["--permissive-storage", "--no-rbac"], SCENARIOS, "2")}
    assert len(outcomes) >= 42, outcomes
    assert sum(n.startswith("tests.test_storage_denials") for n in outcomes) >= 12, outcomes
    wrong = {n: o.outcome if o.outcome != "failed" else f"failed elsewhere: {o.failure[:300]}"
             for n, o in outcomes.items() if not (o.outcome == "failed" and DENIAL.search(o.failure))}
    assert not wrong, f"with a permissive storage gateway these tests did not fail at a denial check: {wrong}"
