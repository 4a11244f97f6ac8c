"""Every Graph and Data Lake denial check can fail: against an emulator whose Graph APIs authorize
everything (``--permissive-graph``), whose Data Lake skips ACLs (``--permissive-datalake``), whose
services accept any well-formed token (``--no-token-checks``) and whose IMDS hands out a fresh
token every time (``--no-imds-token-cache``), every denial test of both families fails, and each
at a denial assertion ("expected 40x <code>"), not in set-up. The same tests pass against the
real emulator in the normal run."""
from __future__ import annotations

import re

from support import run_scenarios

SCENARIOS = ["scenarios/test_graph.py", "scenarios/test_data_lake.py"]
SWITCHES = ["--permissive-graph", "--permissive-datalake", "--no-token-checks", "--no-imds-token-cache"]
DENIAL = re.compile(r"expected 40[13] \w+")


def test_graph_and_data_lake_denials_fail_against_a_permissive_emulator(tmp_path):
    outcomes = {o.name: o for o in run_scenarios(tmp_path, SWITCHES, [*SCENARIOS, "-k", "denied"], "2")}
    assert len(outcomes) == 32, sorted(outcomes)
    wrong = {n: o.outcome if o.outcome != "failed" else f"failed elsewhere: {o.failure[:300]}"
             for n, o in outcomes.items() if not (o.outcome == "failed" and DENIAL.search(o.failure))}
    assert not wrong, f"with a permissive emulator these tests did not fail at a denial check: {wrong}"
