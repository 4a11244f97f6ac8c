"""Cosmos DB with the Node.js SDK (``@azure/cosmos``, pinned in ``infra/package.json``) inside a VM
and on the host. The SDK takes no proxy from the environment and connects to
``<account>.documents.azure.com:443`` itself: a namespaced guest reaches that name on a loopback
address of its own (``CosmosGateway.guest_endpoints``); elsewhere the Node guard
(``netguard/node_guard.js``, which milab's environments load through ``NODE_OPTIONS``: the
operator's, every guest's) sends it to the emulator's HTTPS for such clients
(``MILAB_HTTPS_BY_NAME``). No program here sets the guard itself. With the account key: databases, containers, items
(create, upsert, read, replace with ``If-Match``, patch, delete), queries with parameters,
``TOP``, ``ORDER BY``, ``VALUE COUNT(1)``, pages of two, a cross-partition query through the SDK's
query plan; the errors it gets (404, 409, 412, a read-only key writing: 401). With
``DefaultAzureCredential`` (``@azure/identity``, the VM's identity from IMDS through the proxy):
403 substatus 5301 before a ``sqlRoleAssignment``, reads and writes after."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid

import pytest

from milab.cloud.nodejs import NODE, NODE_MODULES
from milab.targets.emulator import Control, EmbeddedEmulator
from support import Arm, make_vm, operator_token, proxied_session, run

API = "2024-11-15"

pytestmark = pytest.mark.skipif(not NODE.exists(), reason="the pinned Node.js is not installed (make deps)")

PROGRAM = r"""
const { CosmosClient } = require("@azure/cosmos");
const { DefaultAzureCredential } = require("@azure/identity");
const endpoint = process.env.COSMOS_ENDPOINT;
const fail = (e) => ({ status: e.code, sub: e.substatus ?? null, message: String(e.message).slice(0, 300) });
async function attempt(f) { try { return await f(); } catch (e) { return { error: fail(e) }; } }

async function keys(out) {
  const client = new CosmosClient({ endpoint, key: process.env.COSMOS_KEY });
  const { database } = await client.databases.createIfNotExists({ id: "nodedb" });
  const { container: c } = await database.containers.createIfNotExists({ id: "items", partitionKey: { paths: ["/pk"] } });
  for (let i = 0; i < 5; i++) await c.items.create({ id: `i${i}`, pk: i % 2 ? "odd" : "even", n: i });
  out.duplicate = await attempt(() => c.items.create({ id: "i0", pk: "even" }));
  const read = await c.item("i1", "odd").read();
  out.read = { status: read.statusCode, n: read.resource.n, etag: read.etag === read.resource._etag };
  read.resource.n = 10;
  const replaced = await c.item("i1", "odd").replace(read.resource, { accessCondition: { type: "IfMatch", condition: read.etag } });
  out.replaced = replaced.resource.n;
  out.stale = await attempt(() => c.item("i1", "odd").replace(read.resource, { accessCondition: { type: "IfMatch", condition: read.etag } }));
  const patched = await c.item("i2", "even").patch([{ op: "incr", path: "/n", value: 5 }]);
  out.patched = patched.resource.n;
  const upserted = await c.items.upsert({ id: "i3", pk: "odd", n: 30 });
  out.upserted = [upserted.statusCode, upserted.resource.n];
  const q = (query, options) => c.items.query(query, options).fetchAll().then((r) => r.resources);
  out.where = (await q({ query: "SELECT c.id FROM c WHERE c.pk = @pk AND c.n >= @min", parameters: [{ name: "@pk", value: "even" }, { name: "@min", value: 1 }] }, { partitionKey: "even" })).map((r) => r.id).sort();
  out.ordered = (await q("SELECT * FROM c ORDER BY c.n DESC", {})).map((r) => r.id);
  out.top = (await q("SELECT TOP 2 * FROM c WHERE c.pk = 'even' ORDER BY c.n", { partitionKey: "even" })).map((r) => r.id);
  out.count = await q("SELECT VALUE COUNT(1) FROM c", {});
  const pages = c.items.query("SELECT * FROM c WHERE c.pk = 'even'", { partitionKey: "even", maxItemCount: 2 });
  out.pages = [];
  while (pages.hasMoreResults()) { const page = await pages.fetchNext(); if (page.resources.length) out.pages.push(page.resources.length); }
  await c.item("i4", "even").delete();
  out.deleted = await attempt(() => c.item("i4", "even").read().then((r) => ({ status: r.statusCode })));
  const readOnly = new CosmosClient({ endpoint, key: process.env.COSMOS_READONLY_KEY }).database("nodedb").container("items");
  out.readonly_read = (await readOnly.item("i0", "even").read()).statusCode;
  out.readonly_write = await attempt(() => readOnly.items.create({ id: "ro", pk: "even" }));
}

async function entra(out) {
  const client = new CosmosClient({ endpoint, aadCredentials: new DefaultAzureCredential() });
  const c = client.database("nodedb").container("items");
  out.aad_read = await attempt(() => c.item("i0", "even").read().then((r) => ({ status: r.statusCode, id: r.resource.id })));
  out.aad_write = await attempt(() => c.items.upsert({ id: "aad", pk: "odd", n: 99 }).then((r) => ({ status: r.statusCode })));
  out.aad_query = await attempt(() => c.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll().then((r) => r.resources));
}

const out = {};
(process.argv[2] === "keys" ? keys(out) : entra(out))
  .then(() => console.log(JSON.stringify(out)))
  .catch((e) => { console.log(JSON.stringify({ ...out, unexpected: fail(e), stack: String(e.stack).slice(0, 800) })); });
"""


def new_account(arm, rg: str) -> tuple[str, str, dict]:
    name = f"n{uuid.uuid4().hex[:10]}"
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.DocumentDB/databaseAccounts/{name}"
    r = arm.call("PUT", path, API, {"location": "westus", "properties": {
        "databaseAccountOfferType": "Standard", "locations": [{"locationName": "westus"}]}})
    assert r.status_code == 200, r.text
    return name, path, arm.call("POST", f"{path}/listKeys", API).json()


def key_env(endpoint: str, keys: dict) -> dict[str, str]:
    return {"COSMOS_ENDPOINT": endpoint, "COSMOS_KEY": keys["primaryMasterKey"],
            "COSMOS_READONLY_KEY": keys["primaryReadonlyMasterKey"]}


def parsed(out: str, err: str) -> dict:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, out + err
    got = json.loads(lines[-1])
    assert "unexpected" not in got, json.dumps(got)
    return got


def check_keys(got: dict) -> None:
    """What the program's ``keys`` half must have seen."""
    assert got["duplicate"]["error"]["status"] == 409, got
    assert got["read"] == {"status": 200, "n": 1, "etag": True}, got
    assert got["replaced"] == 10 and got["stale"]["error"]["status"] == 412, got
    assert got["patched"] == 7 and got["upserted"] == [200, 30], got
    assert got["where"] == ["i2", "i4"], got
    assert got["ordered"] == ["i3", "i1", "i2", "i4", "i0"], got  # n: 30, 10, 7, 4, 0
    assert got["top"] == ["i0", "i4"], got
    assert got["count"] == [5], got
    assert got["pages"] == [2, 1], got
    assert got["deleted"] == {"status": 404}, got  # (the Node SDK's read answers a 404, it does not throw)
    assert got["readonly_read"] == 200 and got["readonly_write"]["error"]["status"] == 401, got


def node_program(control, vm: dict, mode: str, env: dict[str, str]) -> dict:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = (f"cat > \"$HOME/cosmos.js\" <<'PROGRAM'\n{PROGRAM}\nPROGRAM\n"
              f"{exports} NODE_PATH={NODE_MODULES} {NODE} \"$HOME/cosmos.js\" {mode}")
    status, out, err = run(control, vm, script, timeout=120)
    assert status == 0, out + err
    return parsed(out, err)


@pytest.fixture
def namespaced(emu_env):
    if emu_env.get("MILAB_GUEST_ISOLATION", "none") == "none":
        pytest.skip("an account's own loopback address exists only in a namespaced guest (root, --guest-isolation)")


def test_node_sdk_in_a_vm_with_keys_and_with_its_identity(arm, control):
    rg = arm.group()
    try:
        name, path, keys = new_account(arm, rg)
        vm = make_vm(arm, rg, "nodevm")
        endpoint = f"https://{name}.documents.azure.com:443/"
        check_keys(node_program(control, vm, "keys", key_env(endpoint, keys)))

        env = {"COSMOS_ENDPOINT": endpoint}
        denied = node_program(control, vm, "entra", env)
        for op in ("aad_read", "aad_write", "aad_query"):
            assert denied[op]["error"]["status"] == 403 and denied[op]["error"]["sub"] == 5301, denied
        assert vm["identity"]["principalId"] in denied["aad_read"]["error"]["message"], denied
        ra = arm.call("PUT", f"{path}/sqlRoleAssignments/{uuid.uuid4()}", API, {"properties": {
            "roleDefinitionId": f"{path}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002", "scope": "/",
            "principalId": vm["identity"]["principalId"]}})
        assert ra.status_code == 200, ra.text
        allowed = node_program(control, vm, "entra", env)
        assert allowed["aad_read"] == {"status": 200, "id": "i0"}, allowed
        assert allowed["aad_write"] == {"status": 201}, allowed
        assert allowed["aad_query"] == [5], allowed
    finally:
        arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", "2021-04-01")


def test_account_host_by_name_in_a_guest_is_tls_and_shrugs_off_garbage(namespaced, arm, control):
    """In the guest the account's name resolves to its own loopback address; plain HTTP, random bytes
    and a client that never finishes its handshake there end those connections only, and the next
    client (curl by name, bypassing the proxy) gets Cosmos's own 401. A host that is no account does
    not resolve: nothing else is reachable."""
    rg = arm.group()
    try:
        name, _, _ = new_account(arm, rg)
        vm = make_vm(arm, rg, "garbagevm")
        host = f"{name}.documents.azure.com"
        script = f"""
getent hosts {host}
exec 3<>/dev/tcp/{host}/443; printf 'GET / HTTP/1.1\\r\\nHost: {host}\\r\\n\\r\\n' >&3
timeout 5 cat <&3 > /tmp/plain; echo "plain: $? $(wc -c < /tmp/plain)"; exec 3>&-
head -c 20000 /dev/urandom 2>/dev/null > /dev/tcp/{host}/443; echo "random sent"
for i in 1 2 3 4 5; do exec {{fd}}<>/dev/tcp/{host}/443; done; echo "idle opened"
curl -sS --noproxy '*' https://{host}/ -w '\\nstatus %{{http_code}}\\n'
curl -sS --noproxy '*' --max-time 5 https://nosuch{uuid.uuid4().hex[:6]}.documents.azure.com/ 2>&1; echo "other: $?"
"""
        status, out, err = run(control, vm, script, timeout=60)
        assert out.splitlines()[0].split()[0].startswith("127.2."), out + err
        assert "plain: 0 0" in out, out + err  # the TLS listener closes a plain-text client, answering nothing
        assert "random sent" in out and "idle opened" in out, out + err
        body, _, code = out.partition("\nstatus ")
        assert code.strip().startswith("401"), out + err
        got = json.loads(body[body.index("{\"code\""):])
        assert got["code"] == "Unauthorized" and "ActivityId" in got["message"], got
        assert "other: 6" in out, out + err  # curl: could not resolve host
    finally:
        arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", "2021-04-01")



def test_node_sdk_on_the_host_reaches_the_account_by_name(arm, emu_env, tmp_path):
    """Outside a namespaced guest (the page runner's operator steps; guests without namespaces) the
    guard sends @azure/cosmos's connection to an emulated host to the emulator's HTTPS for clients
    that take no proxy (MILAB_HTTPS_BY_NAME); the TLS name and Host stay the account's."""
    rg = arm.group()
    try:
        name, _, keys = new_account(arm, rg)
        program = tmp_path / "cosmos.js"
        program.write_text(PROGRAM)
        # milab's printed environment, as `eval "$(milab serve --detach)"` gives a shell
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_PATH": str(NODE_MODULES),
               **{k: emu_env[k] for k in ("NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "MILAB_HTTPS_BY_NAME",
                                          "MILAB_EMULATED_HOSTS")},
               **key_env(f"https://{name}.documents.azure.com:443/", keys)}
        done = subprocess.run([str(NODE), str(program), "keys"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        check_keys(parsed(done.stdout, done.stderr))
    finally:
        arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", "2021-04-01")


# Run with milab's environment and nothing else: is the guard loaded, is a host that is not emulated
# refused before any lookup, and does an emulated one answer by name without a proxy? (Exits before
# connecting anywhere when the guard is missing, so that a failure sends nothing off the machine.)
PROBE = r"""
const net = require("net"), https = require("https");
if (net.Socket.prototype.connect.name !== "guardedConnect") {
  console.log(JSON.stringify({ guard: false, options: process.env.NODE_OPTIONS || null }));
  process.exit(0);
}
const out = { guard: true };
const outside = net.connect(443, "example.com");
outside.on("connect", () => { out.outside = "connected"; outside.destroy(); });
outside.on("error", (e) => { out.outside = e.message.startsWith("milab: example.com is not reachable") ? "refused" : e.code; });
https.get("https://management.azure.com/metadata/endpoints?api-version=2022-09-01", (res) => {
  let body = "";
  res.on("data", (d) => { body += d; });
  res.on("end", () => {
    out.emulated = res.statusCode;
    out.arm = (JSON.parse(body)[0] || {}).resourceManager;  // the cloud's endpoints, a list since 2019-05-01
    setTimeout(() => console.log(JSON.stringify(out)), 100);
  });
}).on("error", (e) => { out.emulated = e.code || e.message; console.log(JSON.stringify(out)); });
"""


def test_node_without_namespaces_gets_the_guard_from_milab(tmp_path):
    """Outside namespaces nothing but the guard keeps a Node program on the machine (it takes no
    proxy), so milab's environments load it: a guest of an emulator started with
    ``--guest-isolation none`` and a host process with the operator's printed environment alike
    refuse a host that is not emulated and reach an emulated one by name (no ``NODE_OPTIONS`` set by
    hand)."""
    emu = EmbeddedEmulator(extra_args=["--guest-isolation", "none"])
    try:
        env = emu.env
        assert env["MILAB_GUEST_ISOLATION"] == "none"
        assert "node_guard.js" in env["NODE_OPTIONS"], env.get("NODE_OPTIONS")
        expected = {"guard": True, "outside": "refused", "emulated": 200, "arm": "https://management.azure.com/"}

        program = tmp_path / "probe.js"
        program.write_text(PROBE)
        host_env = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        done = subprocess.run([str(NODE), str(program)], env=host_env, capture_output=True, text=True, timeout=60)
        assert json.loads(done.stdout.strip().splitlines()[-1]) == expected, done.stdout + done.stderr

        http = proxied_session(env)
        arm = Arm(http, operator_token(http, env), env["AZURE_SUBSCRIPTION_ID"])
        vm = make_vm(arm, arm.group(), "nodeguest")
        script = f"cat > \"$HOME/probe.js\" <<'PROGRAM'\n{PROBE}\nPROGRAM\n{NODE} \"$HOME/probe.js\""
        status, out, err = run(Control(env), vm, script, timeout=60)
        assert status == 0, out + err
        assert json.loads(out.strip().splitlines()[-1]) == expected, out + err
    finally:
        emu.stop()
