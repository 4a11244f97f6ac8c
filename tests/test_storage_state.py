"""With a state directory, storage accounts, their keys and their blobs survive an emulator
restart: the account's data lives under the run directory and Azurite learns the account again
on its first request."""
from __future__ import annotations

import email.utils

from support import operator_token, proxied_session

from milab.cloud.storage.signing import shared_key_authorization
from milab.targets.emulator import EmbeddedEmulator

API = "2023-01-01"


def _arm(s, env):
    return {"Authorization": f"Bearer {operator_token(s, env)}"}


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
        s = proxied_session(env)
        h = _arm(s, env)
        rg = f"https://management.azure.com/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/kept"
        assert s.put(f"{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=h).status_code == 201
        acct = f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
        assert s.put(f"{acct}?api-version={API}", json={"location": "westus", "sku": {"name": "Standard_LRS"}},
                     headers=h).status_code == 202
        assert s.put(f"{acct}/blobServices/default/containers/box?api-version={API}", json={},
                     headers=h).status_code == 201
        key = s.post(f"{acct}/listKeys?api-version={API}", headers=h).json()["keys"][0]["value"]
        assert _blob(s, "PUT", name, "/box/kept.txt", key, b"kept").status_code == 201
    finally:
        first.stop()
    second = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s2 = proxied_session(second.env)
        r = _blob(s2, "GET", name, "/box/kept.txt", key)
        assert r.status_code == 200 and r.text == "kept", r.text
    finally:
        second.stop()
