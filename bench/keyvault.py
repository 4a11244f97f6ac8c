"""Key Vault benchmark: secret GET throughput and latency with azure-keyvault-secrets and a cached
token, side by side in one run with the same kind of read through the Blob gateway
(azure-storage-blob downloading a small blob with a cached token) as the reference.

Both go through the emulator's proxy and TLS like any client, as a user-assigned identity that
holds Key Vault Secrets User on an Azure RBAC vault and Storage Blob Data Reader on the account.
The emulator runs in this process (``bench/blob.py``'s ``start_emulator``); the load comes from a
separate client process per measurement (C threads, one SDK client each, N requests in all), so
client and server do not share an interpreter. Prints both rates, p50/p99 and their ratio;
asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


class CachedToken:
    """A credential that hands out one token fetched beforehand (no token requests during the run)."""

    def __init__(self, token: str, expires_on: int):
        from azure.core.credentials import AccessToken
        self._token = AccessToken(token, expires_on)

    def get_token(self, *scopes, **kwargs):
        return self._token


# -- the load client (a separate process) ---------------------------------------------------------
def client_main(spec: dict) -> dict:
    cred = CachedToken(spec["token"], spec["expires_on"])

    def make():
        if spec["mode"] == "keyvault":
            from azure.keyvault.secrets import SecretClient
            c = SecretClient(spec["url"], cred)
            return lambda: c.get_secret(spec["name"]).value
        from azure.storage.blob import BlobClient
        c = BlobClient.from_blob_url(spec["url"], credential=cred)
        return lambda: c.download_blob().readall()

    per = spec["requests"] // spec["concurrency"]

    def worker(n: int) -> tuple[float, float, list[float]]:
        op = make()
        for _ in range(20):  # warm-up: the challenge, TLS, the connection pool
            op()
        lat, start = [], time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            op()
            lat.append(time.perf_counter() - t)
        return start, time.perf_counter(), lat

    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        parts = list(pool.map(worker, [per] * spec["concurrency"]))
    lat = sorted(x for _, _, p in parts for x in p)
    wall = max(e for _, e, _ in parts) - min(s for s, _, _ in parts)
    return {"rate": len(lat) / wall, "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * .99)] * 1000}


# -- set-up ---------------------------------------------------------------------------------------------
def setup(emu) -> dict:
    import requests
    from azure.identity import ClientSecretCredential
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.keyvault.secrets import SecretClient
    from azure.storage.blob import BlobClient

    env = emu.operator_env()
    os.environ.update(env)
    cred = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
    sub, tid = env["AZURE_SUBSCRIPTION_ID"], env["AZURE_TENANT_ID"]
    rg, loc = "bench", "westus"
    ResourceManagementClient(cred, sub).resource_groups.create_or_update(rg, {"location": loc})
    ua = ManagedServiceIdentityClient(cred, sub).user_assigned_identities.create_or_update(rg, "bench", {"location": loc})
    auth = AuthorizationManagementClient(cred, sub)

    def grant(role: str, scope: str, principal: str) -> None:
        auth.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            principal_id=principal, principal_type="ServicePrincipal"))

    name = f"bench-kv{uuid.uuid4().hex[:8]}"
    vault = KeyVaultManagementClient(cred, sub).vaults.begin_create_or_update(rg, name, {
        "location": loc, "properties": {"tenantId": tid, "sku": {"family": "A", "name": "standard"},
                                        "enableRbacAuthorization": True}}).result()
    grant("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", vault.id, env["MILAB_OPERATOR_OBJECT_ID"])  # Secrets Officer
    grant("4633458b-17de-408a-b874-0445c86b69e6", vault.id, ua.principal_id)  # Secrets User
    value = os.urandom(512).hex()[:1024]  # a 1 KiB secret, the size of the blob below
    SecretClient(vault.properties.vault_uri, cred).set_secret("bench", value)

    storage = StorageManagementClient(cred, sub)
    acct = storage.storage_accounts.begin_create(rg, f"bench{uuid.uuid4().hex[:10]}", {
        "location": loc, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result()
    storage.blob_containers.create(rg, acct.name, "bench", {})
    key = storage.storage_accounts.list_keys(rg, acct.name).keys_property[0].value
    blob_url = f"{acct.primary_endpoints.blob}bench/small.bin"
    BlobClient.from_blob_url(blob_url, credential=key).upload_blob(value.encode(), overwrite=True)
    grant("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", acct.id, ua.principal_id)  # Storage Blob Data Reader

    ctl = requests.Session()
    ctl.trust_env = False

    def token(audience: str) -> tuple[str, int]:
        r = ctl.post(f"{emu.proxy_url}/_milab/tokens", headers={"X-Milab-Control": emu.control_key},
                     json={"object_id": ua.principal_id, "audience": audience}).json()
        return r["access_token"], int(r["expires_on"])

    kv_tok, kv_exp = token("https://vault.azure.net")
    st_tok, st_exp = token("https://storage.azure.com/")
    return {"keyvault": {"mode": "keyvault", "url": vault.properties.vault_uri, "name": "bench", "token": kv_tok,
                         "expires_on": kv_exp},
            "blob": {"mode": "blob", "url": blob_url, "token": st_tok, "expires_on": st_exp}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--requests", type=int, default=2000)
    ap.add_argument("-c", "--concurrency", type=int, default=8)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        print(json.dumps(client_main(json.loads(a.client))))
        return 0

    from blob import run_client, running_emulator  # bench/blob.py: the emulator in a thread of this process
    with running_emulator() as emu:
        specs = setup(emu)
        labels = {"keyvault": "Key Vault secret GET (azure-keyvault-secrets)",
                  "blob": "Blob GET via the gateway (azure-storage-blob)"}
        results = {key: run_client(__file__, {**spec, "requests": a.requests, "concurrency": a.concurrency})
                   for key, spec in specs.items()}
    print(f"1 KiB reads with a cached token, {a.requests} requests, {a.concurrency} client threads, "
          f"through the proxy and TLS")
    for key, r in results.items():
        print(f"  {labels[key]:48s} {r['rate']:7.0f} req/s   p50 {r['p50_ms']:6.1f} ms   "
              f"p99 {r['p99_ms']:6.1f} ms")
    print(f"  ratio Key Vault/Blob: {results['keyvault']['rate'] / results['blob']['rate']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
