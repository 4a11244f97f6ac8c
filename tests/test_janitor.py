"""The janitor deletes milab resource groups whose expiry passed, and nothing else."""
from __future__ import annotations

import datetime as dt
import uuid

from milab.targets.base import EXPIRES_TAG, OWNER_TAG, RUN_TAG
from milab.targets.janitor import expired, run_janitor

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_expiry_rules():
    assert expired({OWNER_TAG: "true", EXPIRES_TAG: "2025-12-31T23:00:00Z"}, NOW)
    assert not expired({OWNER_TAG: "true", EXPIRES_TAG: "2026-01-01T01:00:00Z"}, NOW)
    assert expired({OWNER_TAG: "true", EXPIRES_TAG: "garbage"}, NOW)
    assert not expired({EXPIRES_TAG: "2020-01-01T00:00:00Z"}, NOW)  # not milab's
    assert not expired(None, NOW)


def test_janitor_sweeps_expired_groups_on_the_emulator(arm, emu_env, monkeypatch, capsys):
    for k in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID"):
        monkeypatch.setenv(k, emu_env[k])
    prefix = f"jan{uuid.uuid4().hex[:6]}"
    base = f"/subscriptions/{arm.sub}/resourceGroups/"
    tags = {OWNER_TAG: "true", RUN_TAG: "r1"}
    arm.call("PUT", base + f"{prefix}-old", body={"location": "westus",
                                                   "tags": {**tags, EXPIRES_TAG: "2020-01-01T00:00:00Z"}})
    arm.call("PUT", base + f"{prefix}-new", body={"location": "westus",
                                                   "tags": {**tags, EXPIRES_TAG: "2999-01-01T00:00:00Z"}})
    arm.call("PUT", base + f"{prefix}-other", body={"location": "westus"})
    assert run_janitor(dry_run=True, prefix=prefix) == 0
    assert arm.call("GET", base + f"{prefix}-old").status_code == 200
    assert run_janitor(prefix=prefix) == 0
    assert arm.call("GET", base + f"{prefix}-old").status_code == 404
    assert arm.call("GET", base + f"{prefix}-new").status_code == 200
    assert arm.call("GET", base + f"{prefix}-other").status_code == 200
    assert "1 resource group(s) deleted" in capsys.readouterr().out
