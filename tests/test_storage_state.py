"""With a state directory, storage accounts, their keys and their blobs survive an emulator
restart: the account's data lives under the run directory and Azurite learns the account again
on its first request."""
from __future__ import annotations

import email.utils

import requests

from milab.cloud.storage.signing import shared_key_authorization
from milab.targets.emulator import EmbeddedEmulator

API = "2023-01-01"


def _session(env):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": env["HTTPS_PROXY"], "http": env["HTTP_PROXY"]}
    s.verify = env["REQUESTS_CA_BUNDLE"]
    return s


def _arm(s, env):
    r = s.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
               data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                     "client_secret": env["AZURE_CLIENT_SECRET"], "scope": "https://management.azure.com/.default"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _blob(s, method, name, raw, key, body=None):
    h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    if body is not None:
        h["x-ms-blob-type"] = "BlockBlob"
    signed = {**h, "Content-Length": str(len(body))} if body else h
    h["Authorization"] = shared_key_authorization(method, raw, signed, name, key)
    return s.request(method, f"https://{name}.blob.core.windows.net{raw}", headers=h, data=body, timeout=60)


def test_blobs_and_keys_survive_a_restart(tmp_path):
    name = "keptacct01"
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        env = first.env
        s = _session(env)
        h = _arm(s, env)
        rg = f"https://management.azure.com/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/kept"
        assert s.put(f"{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=h).status_code == 201
        acct = f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
        assert s.put(f"{acct}?api-version={API}", json={"location": "westus", "sku": {"name": "Standard_LRS"}},
                     headers=h).status_code == 200
        assert s.put(f"{acct}/blobServices/default/containers/box?api-version={API}", json={},
                     headers=h).status_code == 201
        key = s.post(f"{acct}/listKeys?api-version={API}", headers=h).json()["keys"][0]["value"]
        assert _blob(s, "PUT", name, "/box/kept.txt", key, b"kept").status_code == 201
    finally:
        first.stop()
    second = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s2 = _session(second.env)
        r = _blob(s2, "GET", name, "/box/kept.txt", key)
        assert r.status_code == 200 and r.text == "kept", r.text
    finally:
        second.stop()
