"""Hostile input to ARM, Entra and IMDS: a bounded corpus of malformed requests, sent to an
emulator of its own, gets only 4xx answers in each service's shape; the emulator stays up,
its state still saves, and its log holds no traceback."""
from __future__ import annotations

import itertools
import uuid

import pytest
import requests
from support import operator_token, proxied_session

from milab.targets.emulator import EmbeddedEmulator

M = "https://management.azure.com"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    emu = EmbeddedEmulator(state_dir=tmp_path_factory.mktemp("hostile"))
    try:
        s = proxied_session(emu.env)
        token = operator_token(s, emu.env)
        sub = emu.env["AZURE_SUBSCRIPTION_ID"]
        auth = {"Authorization": f"Bearer {token}"}
        rg = f"/subscriptions/{sub}/resourceGroups/hostile"
        assert s.put(f"{M}{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=auth).ok
        vm = s.put(f"{M}{rg}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-07-01", headers=auth,
                   json={"location": "westus", "identity": {"type": "SystemAssigned"},
                         "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}}).json()
        corpus = f"/subscriptions/{sub}/resourceGroups/corpus"  # the corpus may delete what is in it
        assert s.put(f"{M}{corpus}?api-version=2021-04-01", json={"location": "westus"}, headers=auth).ok
        target = s.put(f"{M}{corpus}/providers/Microsoft.Compute/virtualMachines/vm2?api-version=2024-07-01",
                       headers=auth, json={"location": "westus", "properties": {"hardwareProfile": {}}}).json()
        ctl = requests.Session()
        ctl.trust_env = False
        ctx = ctl.get(f"{emu.env['MILAB_EMULATOR_URL']}/_milab/vm-context", params={"id": vm["id"]},
                      headers={"X-Milab-Control": emu.env["MILAB_CONTROL_KEY"]}, timeout=10).json()
        yield {"emu": emu, "s": s, "auth": auth, "sub": sub, "rg": rg, "vm": vm, "vm_proxy": ctx["HTTP_PROXY"],
               "corpus": corpus, "target_vm": target["id"]}
    finally:
        emu.stop()


def _arm_corpus(sub: str, rg: str, vm_id: str):
    paths = [rg, vm_id, f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
             f"{rg}/providers/Microsoft.Storage/storageAccounts/acct1", f"{rg}/providers/Microsoft.Network/vnets/v1",
             f"/subscriptions/{sub}", f"/subscriptions/{sub}/providers/Microsoft.Compute",
             f"/subscriptions/{sub}/providers/Microsoft.Compute/register", f"/subscriptions/{sub}/resources",
             f"/subscriptions/{sub}/operationresults/not-a-job", f"{rg}/resources", f"/subscriptions/{sub}/providers",
             f"{rg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
             f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions",
             f"{vm_id}/runCommand", f"{vm_id}/providers", "/", "/subscriptions", "/providers/x",
             f"/subscriptions/{sub}/resourceGroups/%ff%fe", f"/subscriptions/{sub}/resourceGroups/a%e",
             f"/subscriptions/{sub}/" + "x/" * 300, f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1/x/y/z"]
    bodies = [None, b"[" * 100000, b"{" * 5000, b"\xff\xfe\x00\x01", b'{"location": NaN}', b"null", b"[]", b'"x"',
              b"1", b'{"location": 1}', b'{"location": ["westus"]}', b'{"properties": [1]}',
              b'{"location": "westus", "tags": {"a": [1]}}', b'{"location": "westus", "identity": []}',
              b'{"location": "westus", "properties": ' + b'{"a":' * 970 + b"1" + b"}" * 970 + b"}",
              b'{"properties": {"roleDefinitionId": 1, "principalId": []}}', b'{"commandId": []}']
    for path, method in itertools.product(paths, ["GET", "PUT", "PATCH", "DELETE", "POST", "OPTIONS", "PROPFIND"]):
        yield method, path, "2024-07-01", None
    for path, body in itertools.product(paths[:5] + [paths[12], paths[14]], bodies):
        for method in ("PUT", "PATCH", "POST"):
            yield method, path, "2024-07-01", body
    for version in ("", "garbage", "2024-07-01\n", "9999-99-99", "2024-07-01-preview" * 50):
        yield "GET", vm_id, version, None
    for flt in ("'", "name eq", "name eq 'a' and", "((((", "tagName eq 'a' and tagValue", "x" * 5000, "\x00"):
        yield "GET", f"/subscriptions/{sub}/resources?$filter={flt}", "2021-04-01", None
        yield "GET", f"/subscriptions/{sub}/resourcegroups?$filter={flt}", "2021-04-01", None


def test_arm_corpus_is_answered_with_4xx(hostile):
    s, auth, sub = hostile["s"], hostile["auth"], hostile["sub"]
    seen = 0
    for method, path, version, body in _arm_corpus(sub, hostile["corpus"], hostile["target_vm"]):
        sep = "&" if "?" in path else "?"
        url = f"{M}{path}{sep}api-version={version}" if version else f"{M}{path}"
        r = s.request(method, url, data=body, headers={**auth, "Content-Type": "application/json"}, timeout=60)
        seen += 1
        assert r.status_code < 500, (method, path, body and body[:60], r.status_code, r.text[:300])
        if r.status_code >= 400 and method not in ("HEAD",) and r.content:
            assert set(r.json()) == {"error"}, (method, path, r.text[:300])
    assert seen > 500
    for token in ("", "x", "Bearer", "Bearer \xff", "Basic abc", "Bearer a.b.c", "Bearer " + "a" * 6000):
        r = s.put(f"{M}{hostile['corpus']}?api-version=2021-04-01", data=b"[" * 100000,
                  headers={"Authorization": token.encode("latin-1")}, timeout=30)
        assert r.status_code in (400, 401), (token[:20], r.status_code, r.text[:200])


def test_entra_corpus_is_answered_with_4xx(hostile):
    s, env = hostile["s"], hostile["emu"].env
    tenant = env["AZURE_TENANT_ID"]
    bodies = [b"", b"\xff\xfe", b"a=%zz&b=%", b"=" * 1000, b"&" * 1000, b"grant_type=client_credentials&" * 2000,
              b"--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\n", b"{}", b"[" * 100000,
              b"grant_type=client_credentials&client_id=" + env["AZURE_CLIENT_ID"].encode() +
              b"&client_secret=x&scope=%0A", b"grant_type=client_credentials&scope=" + b"%00" * 100]
    types = [None, "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=bogus",
             "multipart/form-data", "multipart/form-data; boundary=b", "text/plain; charset=utf-32", "\xff"]
    for path, body, ctype in itertools.product(("oauth2/v2.0/token", "oauth2/token"), bodies, types):
        headers = {"Content-Type": ctype.encode("latin-1")} if ctype else {}
        r = s.post(f"https://login.microsoftonline.com/{tenant}/{path}", data=body, headers=headers, timeout=30)
        assert 400 <= r.status_code < 500, (path, body[:40], ctype, r.status_code, r.text[:300])
        assert r.json()["error"] and r.json()["error_uri"].startswith("https://login.microsoftonline.com/error")
    for path in ("", "%ff", f"{tenant}/%ff", f"{tenant}/oauth2/v2.0/token/../../x", "common/discovery/instance/x"):
        for method in ("GET", "PUT", "PROPFIND"):
            r = s.request(method, f"https://login.microsoftonline.com/{path}", timeout=30)
            assert r.status_code < 500, (method, path, r.status_code, r.text[:200])


def test_imds_refuses_resources_with_control_characters(hostile):
    s = hostile["s"]
    proxies = {"http": hostile["vm_proxy"]}
    url = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
    good = s.get(url + "https://management.azure.com/", headers={"Metadata": "true"}, proxies=proxies, timeout=30)
    assert good.status_code == 200, good.text
    for resource in ("https://management.azure.com/%0A", "https://management.azure.com/%0D%0A",
                     "https://management.azure.com/%09", "%20https://management.azure.com/",
                     "https://management.azure.com/%00", "https://management.azure.com%E2%80%A8", "%ff%fe"):
        r = s.get(url + resource, headers={"Metadata": "true"}, proxies=proxies, timeout=30)
        assert r.status_code == 400, (resource, r.text)
        assert r.json()["error"] == "invalid_resource" and "AADSTS500011" in r.json()["error_description"]
    for query in ("api-version=2018-02-01&resource=" + "a" * 6000, "api-version=%ff&resource=x",
                  "api-version=2018-02-01&resource=https://management.azure.com/&client_id=%00",
                  "api-version=2018-02-01&resource=https://management.azure.com/&mi_res_id=%ff%fe",
                  "api-version=2018-02-01&resource=https://management.azure.com/&resource=x", "%ff=%fe", "&&&="):
        r = s.get(f"http://169.254.169.254/metadata/identity/oauth2/token?{query}", headers={"Metadata": "true"},
                  proxies=proxies, timeout=30)
        assert 400 <= r.status_code < 500, (query[:60], r.status_code, r.text[:200])


def test_emulator_alive_state_saved_and_no_traceback(hostile):
    """Runs last in this module: after the corpus the emulator answers, writes still save, and
    nothing it was sent left a traceback in its log."""
    s, auth, rg = hostile["s"], hostile["auth"], hostile["rg"]
    r = s.put(f"{M}{rg}/providers/Microsoft.Network/virtualNetworks/after?api-version=2023-09-01",
              json={"location": "westus"}, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    emu = hostile["emu"]
    assert emu.proc.poll() is None
    state = (emu.dir / "state.json").read_text()
    assert "virtualnetworks/after" in state.lower()
    log = emu.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
