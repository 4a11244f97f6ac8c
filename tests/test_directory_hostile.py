"""Hostile input to Microsoft Graph, Azure AD Graph, Data Lake Gen1 (WebHDFS) and Gen2 (DFS): a
bounded corpus of malformed paths, queries, bodies and methods gets only 4xx answers in each
service's own shape, never a 5xx or a traceback, and the services keep answering."""
from __future__ import annotations

import itertools
import json
import uuid

import pytest

from support import operator_token

MSG = "https://graph.microsoft.com/v1.0"
BODIES = [None, b"[" * 100000, b"\xff\xfe\x00\x01", b'{"a": NaN}', b"[]"]
GRAPH_BODIES = [b'{"securityEnabledOnly": {"x": 1}}', b'{"ids": [1, 2], "@odata.id": 5, "displayName": [], '
                b'"principalId": null, "resourceId": 1, "appRoleId": [], "url": "../../x"}']


@pytest.fixture(scope="module")
def setup(http, emu_env, arm):
    rg = arm.group()
    hns = f"hostile{uuid.uuid4().hex[:8]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
                        f"{hns}", "2023-01-01", {"location": "westus", "kind": "StorageV2",
                                                 "sku": {"name": "Standard_LRS"}, "properties": {"isHnsEnabled": True}})
    assert r.status_code in (200, 201, 202), r.text
    adls = f"hostile{uuid.uuid4().hex[:8]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.DataLakeStore/accounts/"
                        f"{adls}", "2016-11-01", {"location": "westus"})
    assert r.status_code == 201, r.text
    tokens = {"graph": operator_token(http, emu_env, "https://graph.microsoft.com/.default"),
              "aad": operator_token(http, emu_env, "https://graph.windows.net/.default"),
              "gen1": operator_token(http, emu_env, "https://datalake.azure.net//.default"),
              "gen2": operator_token(http, emu_env, "https://storage.azure.com/.default")}
    yield {"tokens": tokens, "hns": hns, "adls": adls, "tenant": emu_env["AZURE_TENANT_ID"]}
    arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", "2021-04-01")


def _corpus(s):
    oid = str(uuid.uuid4())
    t = s["tenant"]
    yield "graph", [f"{MSG}/servicePrincipals?$filter=" + "(" * 300, f"{MSG}/servicePrincipals?$filter=%ff%fe",
                    f"{MSG}/servicePrincipals?$top=-1&$skiptoken=Xabc", f"{MSG}/servicePrincipals/{oid}/getMemberGroups",
                    f"{MSG}/groups/{oid}/members/$ref", f"{MSG}/servicePrincipals(appId='%00')", f"{MSG}/" + "x/" * 200,
                    f"{MSG}/directoryObjects/getByIds", f"{MSG}/groups", f"{MSG}/servicePrincipals/{oid}/appRoleAssignments",
                    "https://graph.microsoft.com/", "https://graph.microsoft.com/v1.0"]
    yield "aad", [f"https://graph.windows.net/{t}/servicePrincipals?api-version=1.6&$filter=startswith(",
                  f"https://graph.windows.net/{t}/groups/{oid}/$links/members?api-version=1.6",
                  f"https://graph.windows.net/{t}/getObjectsByObjectIds?api-version=1.6",
                  f"https://graph.windows.net/{t}/servicePrincipals/{oid}/getMemberGroups?api-version=1.6",
                  "https://graph.windows.net/", f"https://graph.windows.net/{t}/%ff?api-version=1.6"]
    base = f"https://{s['adls']}.azuredatalakestore.net/webhdfs/v1"
    yield "gen1", [f"{base}/?op=LISTSTATUS&listSize=x", f"{base}/a?op=SETACL&aclspec=" + "user:x:rwx," * 500,
                   f"{base}/a?op=OPEN&read=true&offset=-5", f"{base}/%00?op=MKDIRS", f"{base}/a?op=RENAME",
                   f"{base}/a?op=CHECKACCESS&fsaction=zzz", f"{base}?op=APPEND&append=true&offset=9",
                   f"https://{s['adls']}.azuredatalakestore.net/other"]
    dfs = f"https://{s['hns']}.dfs.core.windows.net"
    yield "gen2", [f"{dfs}/?resource=account", f"{dfs}/fs1?resource=filesystem&recursive=maybe",
                   f"{dfs}/fs1/a?resource=weird", f"{dfs}/fs1/a?action=flush&position=x",
                   f"{dfs}/fs1/a?action=setAccessControlRecursive&mode=bad", f"{dfs}/fs1/%2e%2e/x?resource=file",
                   f"{dfs}/fs1?resource=filesystem&recursive=false&maxResults=0", f"{dfs}/" + "d/" * 300]


def test_hostile_requests_get_4xx_in_each_services_shape(setup, http):
    seen = 0
    for service, urls in _corpus(setup):
        token = setup["tokens"][service]
        bodies = BODIES if service.startswith("gen") else BODIES + GRAPH_BODIES
        for url, body, method in itertools.product(urls, bodies, ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "x-ms-version": "2021-08-06"}
            r = http.request(method, url, data=body, headers=headers, timeout=60)
            seen += 1
            assert r.status_code < 500, (service, method, url, body[:40] if body else body, r.status_code, r.text[:300])
            if r.status_code >= 400 and method != "HEAD" and r.content:
                doc = json.loads(r.text)
                key = {"graph": "error", "aad": "odata.error", "gen1": "RemoteException", "gen2": "error"}[service]
                assert key in doc, (service, method, url, r.text[:300])
    assert seen > 900
    # and they still answer
    r = http.get(f"{MSG}/servicePrincipals?$top=1", headers={"Authorization": f"Bearer {setup['tokens']['graph']}"},
                 timeout=30)
    assert r.status_code == 200
