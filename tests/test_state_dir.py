"""With a state directory the emulator keeps its tenant, keys, certificate and resources
across a restart, so tokens issued before the restart still validate."""
from __future__ import annotations

from support import operator_token, proxied_session

from milab.targets.emulator import EmbeddedEmulator


def test_state_survives_a_restart(tmp_path):
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        env = first.env
        s = proxied_session(env)
        token = operator_token(s, env)
        url = f"https://management.azure.com/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/kept"
        r = s.put(url + "?api-version=2021-04-01", json={"location": "westus"},
                  headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
    finally:
        first.stop()
    second = EmbeddedEmulator(state_dir=tmp_path)
    try:
        env2 = second.env
        assert env2["AZURE_TENANT_ID"] == env["AZURE_TENANT_ID"]
        assert env2["AZURE_SUBSCRIPTION_ID"] == env["AZURE_SUBSCRIPTION_ID"]
        s2 = proxied_session(env2)
        r = s2.get(url + "?api-version=2021-04-01", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text  # the old token and the old group are both still good
        assert r.json()["name"] == "kept"
    finally:
        second.stop()
