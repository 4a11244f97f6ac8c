"""Configure managed identities on VMs: every procedure of the configure pages this project
runs (REST as the page's requests, templates through Microsoft.Resources/deployments, the portal
as the ARM calls it makes), each followed by the identity as ARM shows it and a token from inside
the host, or its refusal after a disable or remove. The pages' CLI and PowerShell pivots are the
page runner's; milab/procedures.py lists them all and how each is reproduced."""
from __future__ import annotations

import pytest

from milab import registry

from .lifecycle import run_case

FAMILY = "vm_identity_config"
VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == FAMILY]
pytestmark = [pytest.mark.tutorial(family=FAMILY), pytest.mark.parametrize("variant", VARIANTS)]


def test_procedure(variant, tutorial_facts, target, arm_rest, shared_group, user_identity):
    run_case("vm", tutorial_facts, target, arm_rest, shared_group, user_identity)
