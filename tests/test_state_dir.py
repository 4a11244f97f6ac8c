"""With a state directory the emulator keeps its tenant, keys, certificate and resources
across a restart, so tokens issued before the restart still validate."""
from __future__ import annotations

import requests

from milab.targets.emulator import EmbeddedEmulator


def _session(env):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": env["HTTPS_PROXY"], "http": env["HTTP_PROXY"]}
    s.verify = env["REQUESTS_CA_BUNDLE"]
    return s


def _token(s, env):
    r = s.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
               data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                     "client_secret": env["AZURE_CLIENT_SECRET"], "scope": "https://management.azure.com/.default"})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_state_survives_a_restart(tmp_path):
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        env = first.env
        s = _session(env)
        token = _token(s, env)
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
        s2 = _session(env2)
        r = s2.get(url + "?api-version=2021-04-01", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text  # the old token and the old group are both still good
        assert r.json()["name"] == "kept"
    finally:
        second.stop()
