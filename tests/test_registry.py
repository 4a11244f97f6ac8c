"""The registry ties pages to scenarios: each tutorial owns its main test and its denials."""
from __future__ import annotations

from milab import registry


def test_tutorial_owns_its_variant_tests_only():
    t = registry.find("arm_read", "linux-user-assigned")
    assert t.owns("scenarios/test_arm_read.py::test_arm_read[linux-user-assigned]")
    assert t.owns("test_arm_read.py::test_arm_read_denied_expired_token[linux-user-assigned]")
    assert not t.owns("scenarios/test_arm_read.py::test_arm_read[linux-system-assigned]")
    assert not t.owns("scenarios/test_storage_key.py::test_storage_key[linux-user-assigned]")
    assert t.selection() == "(test_arm_read.py and [linux-user-assigned])"


def test_unparametrised_family_owns_its_module():
    t = registry.find("token_endpoint")
    assert t.param_id is None
    assert t.owns("scenarios/test_token_endpoint.py::test_vm_without_identity")
    assert t.selection() == "test_token_endpoint.py"


def test_every_tutorial_names_an_existing_scenario_module_and_unique_key():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    keys = [t.key for t in registry.TUTORIALS]
    assert len(keys) == len(set(keys))
    for t in registry.TUTORIALS:
        assert (root / t.module).is_file(), t.module
        assert t.page.title and t.page.file.endswith(".md")
