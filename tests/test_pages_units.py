"""The page runner's parts without a target: procedures found on parsed pages (Learn and the 2019
export), placeholders bound (and left unbound), outputs compared, failures classified, and the
network guard every Azure CLI process runs with."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from milab import redact
from milab.docs.parser import parse_text
from milab.pages import catalog
from milab.pages.bind import Binder
from milab.pages.classify import classify, diagnose_code
from milab.pages.compare import compare, compare_json
from milab.pages.derive import derive
from milab.pages.model import BASH, HTTP, MILAB_GAP, PAGE_DEFECT, POWERSHELL, TEMPLATE, VM
from milab.pages.runner import http_as_curl

SEEDS = next((p / "shared" / "seeds" for p in Path(__file__).resolve().parents if (p / "shared" / "seeds").is_dir()),
             None)


# -- the catalogue ------------------------------------------------------------------------------------------
def test_the_catalogue_has_the_151_procedures_of_the_inventory():
    ids = [s.id for s in catalog.SPECS]
    assert len(ids) == 151 and len(set(ids)) == 151
    assert {s.seed for s in catalog.SPECS} == {"000", "001", "002", "003", "004"}


def test_one_inventory_the_catalogue_and_procedures_py_agree():
    """milab/procedures.py (what the grid's rows are) and the page runner's catalogue name the same
    procedures: every procedures.py id is a catalogued one, of the same family, pivot and seed,
    its lines within the catalogued ones, so each page-runner verdict lands on its procedure's row."""
    from milab import procedures
    from milab.reporting import grid
    specs = {s.id: s for s in catalog.SPECS}
    for p in procedures.PROCEDURES:
        s = specs.get(p.id)
        assert s is not None, f"{p.id} of procedures.py is not catalogued"
        assert (p.family, p.pivot) == (s.family, s.pivot), (p.id, p.family, p.pivot, s.family, s.pivot)
        seed, lines = p.seed_lines.split(":")
        lo, hi = (int(x) for x in lines.split("-"))
        c_lo, c_hi = (int(x) for x in s.lines.split("-"))
        assert seed == s.seed and c_lo <= lo <= hi <= c_hi, (p.id, p.seed_lines, s.seed, s.lines)
        assert grid.procedure_row(s.family, s.id)[0] == p.family


@pytest.mark.skipif(SEEDS is None, reason="no shared/seeds next to the checkout")
def test_every_procedure_is_found_on_its_seed_page():
    import dataclasses
    from milab.docs.parser import parse_file
    parsed = {}
    for spec in catalog.SPECS:
        if spec.file not in parsed:
            parsed[spec.file] = parse_file(SEEDS / spec.file)
        pages = parsed[spec.file]
        proc = derive(dataclasses.replace(spec, boundaries=catalog.boundaries_for(spec)), pages)
        assert not re.search(r"is not on the page|' is not in ", proc.reason or ""), (spec.id, proc.reason)
        lo, hi = (int(x) for x in spec.lines.split(" ")[0].split(";")[0].split("-"))
        assert proc.line <= hi and proc.end_line >= lo, (spec.id, proc.line, proc.end_line, spec.lines)
        text = (SEEDS / spec.file).read_text(encoding="utf-8").splitlines()
        for step in proc.steps:  # a verdict's line is its step's first line of code, on the page
            where = text[step.line - 1]
            first = next(w for w in step.code.split() if w)
            assert where.strip() and not where.lstrip().startswith("```") and first in where, \
                (spec.id, step.index, step.line, where, first)
            for exp in step.expected:
                assert text[exp.line - 1].strip() and not text[exp.line - 1].lstrip().startswith("```"), \
                    (spec.id, step.index, exp.line)


def test_a_step_starts_at_its_first_line_of_code_not_at_the_blank_after_the_fence():
    page = parse_text("# T\n\n## Tpl\n\n```json\n\n{\"resources\": []\n```\n\n"
                      "## Req\n\n```http\n\nGET https://management.azure.com/x HTTP/1.1\n```\n"
                      "The response:\n\n```json\n\n{\"id\": 1}\n```\n", "t.md")
    tpl = derive(catalog.Spec(id="T-L", seed="004", lines="", page="T", sections=("Tpl",), pivot="template",
                              family="t", boundaries=("Req",)), page).steps
    assert [(s.language, s.line) for s in tpl] == [(TEMPLATE, 7)] and tpl[0].code.startswith("{")
    req = derive(catalog.Spec(id="T-M", seed="004", lines="", page="T", sections=("Req",), pivot="REST",
                              family="t"), page).steps
    assert [(s.language, s.line) for s in req] == [(HTTP, 14)] and [e.line for e in req[0].expected] == [20]


# -- deriving steps from an export-layout page ---------------------------------------------------------------
EXPORT = """# Configure things using REST

4/5/2019 • 2 minutes to read • Edit Online

## Enable it

1. Get a token:

```
az account get-access-token
```

2. Call ARM:

```
curl 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM?api-version=2018-06-01' -X PATCH -d '{"identity":{"type":"System
Assigned"}}' -H "Authorization: Bearer <ACCESS TOKEN>"
```

```
PATCH https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM?api-version=2018-06-01 HTTP/1.1
```

## Request body

```
{"identity": {"type": "SystemAssigned"}}
```

3. On the VM:

```
curl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/' -H Metadata:true
```

The response:

```
{"token_type": "Bearer"}
```

## Disable it

```
$vm = Get-AzVM -Name myVM
```

## Next steps
"""


def _spec(section, **kw):
    return catalog.Spec(id="T-1", seed="004", lines="1-9", page="Configure things using REST", sections=(section,),
                        pivot=kw.pop("pivot", "REST"), family="t", boundaries=("Enable it", "Disable it"), **kw)


def test_steps_of_an_export_procedure():
    pages = parse_text(EXPORT, "export.txt")
    proc = derive(_spec("Enable it"), pages)
    assert [s.language for s in proc.steps] == [BASH, BASH, BASH]
    assert '"type":"SystemAssigned"' in proc.steps[1].code  # the export's broken string is re-joined
    assert len(proc.steps[1].documents) == 2  # the raw request and the request body document it
    assert proc.steps[2].where == VM and proc.steps[2].expected[0].text.strip() == '{"token_type": "Bearer"}'
    ps = derive(_spec("Disable it", pivot="PowerShell"), pages)
    assert ps.steps[0].language == POWERSHELL and "not installed" in (ps.reason or "")


def test_templates_and_raw_http():
    page = "# T\n\n## Tpl\n\n```json\n{\"resources\": [],\n}\n```\n\n## Http\n\n```http\nGET https://x.test/a HTTP/1.1\n" \
           "Metadata: true\n```\n\n## Next steps\n"
    pages = parse_text(page, "t.md")
    spec = catalog.Spec(id="T-2", seed="004", lines="", page="T", sections=("Tpl",), pivot="template", family="t",
                        boundaries=("Http",))
    assert derive(spec, pages).steps[0].language == TEMPLATE
    import dataclasses
    http = derive(dataclasses.replace(spec, sections=("Http",), pivot="REST", boundaries=("Tpl",)), pages).steps[0]
    assert http.language == HTTP
    assert http_as_curl(http.code) == "curl -sS -X GET https://x.test/a -H 'Metadata: true'"


def test_a_procedures_template_fragments_add_up_into_the_readers_template():
    from milab.pages.templates import compose
    b = Binder({"vm_name": "vm1", "ua_name": "id1", "admin_password": "x"})
    spec = catalog.Spec(id="T-3", seed="004", lines="", page="T", sections=(), pivot="template",
                        family="vm_identity_config", template_identity="system")
    proc = type("P", (), {"family": spec.family, "title": "t", "spec": spec})()
    params = {"rbacGuid": {"type": "string"}}
    variables = {"Reader": "[concat('/roles/', 'acdd72a7')]"}
    assignment = {"apiVersion": "2017-09-01", "type": "Microsoft.Authorization/roleAssignments",
                  "name": "[parameters('rbacGuid')]",
                  "properties": {"principalId": "[reference(variables('vmResourceId'), '2017-12-01', 'Full')"
                                                ".identity.principalId]"},
                  "dependsOn": ["[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'))]"]}
    template, parameters = compose(assignment, proc, b, [params, variables])
    assert set(template["parameters"]) >= {"rbacGuid", "vmName"} and "Reader" in template["variables"]
    assert "vmResourceId" in template["variables"] and re.fullmatch(r"[0-9a-f-]{36}", parameters["rbacGuid"])
    vm = next(r for r in template["resources"] if r["type"] == "Microsoft.Compute/virtualMachines")
    assert vm["name"] == "vm1" and vm["identity"] == {"type": "SystemAssigned"}
    # the VM's own fragments are alternatives (one per api-version): the latest wins, whole
    ua = {"apiVersion": "2017-12-01", "type": "Microsoft.Compute/virtualMachines", "name": "[variables('vmName')]",
          "identity": {"type": "userAssigned", "identityIds": ["[resourceID('x', variables('USERASSIGNEDIDENTITYNAME'))]"]}}
    dict_form = {**ua, "apiVersion": "2018-06-01", "identity": {"type": "userAssigned", "userAssignedIdentities": {}}}
    template, _ = compose(ua, proc, b, [dict_form])
    vm = next(r for r in template["resources"] if r["type"] == "Microsoft.Compute/virtualMachines")
    assert vm["apiVersion"] == "2017-12-01" and "userAssignedIdentities" not in vm["identity"]
    assert template["variables"]["USERASSIGNEDIDENTITYNAME"] == "id1"


# -- binding ---------------------------------------------------------------------------------------------
def test_spellings_and_example_names_bind_to_one_value():
    b = Binder({"resource_group": "rg-1", "vm_name": "vm1", "subscription_id": "0000-sub"})
    out = b.bind("az vm show -g myResourceGroup -n <VM NAME> && az group show -n <RESOURCE_GROUP> "
                 "--subscription <SUBSCRIPTION-ID> # myVMSS stays, myVm is bound")
    assert out.text.count("rg-1") == 2 and "vm1" in out.text and "0000-sub" in out.text
    assert "myVMSS" in out.text and "vm1 is bound" in out.text and not out.unbound


def test_unknown_placeholders_stay_unbound():
    out = Binder({"resource_group": "rg"}).bind("az x --image <SKU Linux Image> -g <RESOURCE GROUP>")
    assert out.unbound == ["<SKU Linux Image>"] and "-g rg" in out.text


def test_values_printed_by_a_step_are_learnt_and_secrets_registered():
    b = Binder()
    token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    b.learn(json.dumps({"accessToken": token, "principalId": "p-1", "clientId": "c-1"}), "step 1")
    assert b.bind("<ACCESS TOKEN> <UAMI PRINCIPALID> <CLIENT ID>").text == f"{token} p-1 c-1"
    b.learn(json.dumps({"keys": [{"keyName": "key1", "value": "S3cretAccountKeyValue=="}]}), "step 2")
    assert "S3cretAccountKeyValue" not in redact.redact("--account-key S3cretAccountKeyValue==")


# -- comparing outputs ---------------------------------------------------------------------------------------
def test_json_compared_by_structure_and_fixed_values():
    page = '{"clientId": "aaaa", "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "tags": {}, ' \
           '"clientSecretUrl": "https://control/..."}'
    got = {"clientId": "bbbb", "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "tags": {}, "extra": 1}
    diffs = compare(page, "json", json.dumps(got))
    assert len(diffs) == 1 and "clientSecretUrl" in diffs[0]
    assert compare_json({"expires_in": 3599}, {"expires_in": "3599"})  # a number on the page, a string printed
    assert compare_json({"type": "SystemAssigned"}, {"type": "UserAssigned"})
    assert not compare_json({"principalId": "1234"}, {"principalId": "9f1c"})  # ids vary
    assert not compare_json({"type": "Microsoft.X/y"}, [{"type": "Microsoft.X/y"}, {"type": "Microsoft.X/y"}])
    # ARM's who-and-when metadata is names and times: a page's null matches what Azure fills in now
    assert not compare_json({"systemData": None}, {"systemData": {"createdBy": "x", "createdAt": "2026-01-01"}})
    assert compare_json({"systemData": None}, {"id": "x"}), "the key must still be there"
    assert compare_json({"systemData": None}, {"systemData": "x"}) and compare_json({"tags": None}, {"tags": {}})


def test_text_compared_by_line_shape_and_http_by_status_and_body():
    assert not compare("Hello world! :)", "text", "Hello world! :)\n")
    assert compare("Hello world! :)", "text", "Goodbye")
    assert not compare("Elapsed 12 s at 2019-01-01T00:00:00Z", "text", "Elapsed 3 s at 2026-12-01T10:00:00Z")
    http = 'HTTP/1.1 200 OK\nContent-Type: application/json\n\n{"token_type": "Bearer"}'
    assert not compare(http, "text", '{"token_type": "Bearer"}', status=200)
    assert compare(http, "text", '{"token_type": "Bearer"}', status=400)


# -- classifying failures --------------------------------------------------------------------------------------
def test_classification():
    assert classify("ERROR: 'shw' is misspelled or not recognized by the system.")[0] == PAGE_DEFECT
    assert classify("milab proxy: graph.windows.net:443 is not an emulated Azure endpoint")[0] == MILAB_GAP
    assert classify('{"error": {"code": "InvalidParameter"}}')[1] == "Azure refuses the request: InvalidParameter"
    assert classify("ok", needs_missing=["Microsoft.Web/sites"])[0] == MILAB_GAP
    code = "az identity create `\n  --name x"
    assert "backtick" in diagnose_code(code)
    assert classify("bash: line 2: --name: command not found", code=code)[1] == diagnose_code(code)


# -- the network guard ------------------------------------------------------------------------------------------
def test_the_network_guard_allows_only_loopback():
    guard = Path(__file__).resolve().parents[1] / "milab" / "pages" / "netguard"
    program = ("import socket\n"
               "def tryit(f):\n"
               "    try:\n        f(); return 'ok'\n"
               "    except PermissionError as e:\n        return 'refused'\n"
               "    except OSError:\n        return 'oserror'\n"
               "print(tryit(lambda: socket.create_connection(('10.1.2.3', 443), timeout=0.2)))\n"
               "print(tryit(lambda: socket.getaddrinfo('example.com', 443)))\n"
               "print(tryit(lambda: socket.create_connection(('127.0.0.1', 9), timeout=0.2)))\n")
    out = subprocess.run([sys.executable, "-c", program], env={"PYTHONPATH": str(guard)}, capture_output=True,
                         text=True, timeout=60).stdout.split()
    assert out == ["refused", "refused", "oserror"]  # loopback is reached (nothing listens on port 9)


def test_the_cli_pin_is_one_value():
    from milab.pages import az
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert re.search(rf"^AZ_CLI_PIN := {re.escape(az.PIN)}$", makefile, re.M)
    if az.az_binary() is not None:
        assert az.installed_version() == az.PIN


def test_a_procedure_can_rebind_an_example_name_its_command_uses_for_something_else():
    """'az vmss update -n myVM': the scale set is named myVM; the spec says so, the VM stays the VM's."""
    b = Binder({"vm_name": "vm1", "vmss_name": "ss1", "resource_group": "rg1"}, explicit={"myVM": "@vmss_name"})
    out = b.bind("az vmss update -n myVM -g myResourceGroup")
    assert out.text == "az vmss update -n ss1 -g rg1" and not out.unbound
    assert Binder({"vm_name": "vm1"}).bind("az vm show -n myVM").text == "az vm show -n vm1"


GUARDED = r"""
const net = require("net");
const port = Number(process.argv[2]);
const cases = {
  name: () => net.connect(443, "nosuch.example.com"),
  address: () => net.connect(443, "192.0.2.1"),
  loopback: () => net.connect({ host: "127.0.0.1", port }),
  port: () => net.connect(port),
  emulated: () => net.connect({ host: "acct.documents.azure.com", port: 443 }),
  emulated_other_port: () => net.connect(80, "acct.documents.azure.com"),
  two_labels: () => net.connect(443, "a.b.documents.azure.com"),
};
const out = {};
for (const [name, open] of Object.entries(cases)) {
  open().on("connect", function () { out[name] = "connected"; this.destroy(); finish(); })
    .on("error", (e) => { out[name] = e.message.startsWith("milab:") ? "refused" : e.code; finish(); });
}
function finish() {
  if (Object.keys(out).length === Object.keys(cases).length) { console.log(JSON.stringify(out)); process.exit(0); }
}
setTimeout(() => { console.log(JSON.stringify({ ...out, timeout: true })); process.exit(1); }, 10000);
"""


def test_javascript_steps_reach_loopback_only(tmp_path):
    """The guard every JavaScript step runs with (``@azure/cosmos`` takes no proxy): a host name
    that no loopback entry of /etc/hosts names, or an address that is not loopback, is refused
    before any DNS lookup; loopback connects; an emulated host's name on 443 goes to the emulator's
    HTTPS for such clients when MILAB_HTTPS_BY_NAME names it (here a bare listener), and only then.
    It runs in a network namespace of its own, so that a broken guard still reaches nothing (without
    the guard, the names go to DNS: EAI_AGAIN)."""
    from milab.cloud.nodejs import NODE, NODE_GUARD
    if not NODE.exists():
        pytest.skip("the pinned Node.js is not installed (make deps)")
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -rn (a network namespace of one's own) is not permitted here")
    program = tmp_path / "guarded.js"
    program.write_text(GUARDED)
    driver = ("import json, socket, subprocess, sys\n"
              "from milab.cloud.guest_init import loopback_up\n"
              "loopback_up()  # a new network namespace's lo is down (no iproute2 needed)\n"
              "s = socket.create_server(('127.0.0.1', 0))\n"
              "port = str(s.getsockname()[1])\n"
              "routes = {'MILAB_HTTPS_BY_NAME': '127.0.0.1:' + port, 'MILAB_EMULATED_HOSTS': '*.documents.azure.com'}\n"
              f"guard = ['--require={NODE_GUARD}']\n"
              "for opts, env in ((guard, routes), (guard, {}), ([], {})):\n"
              f"    done = subprocess.run([{str(NODE)!r}, *opts, {str(program)!r}, port], env={{'PATH': '/usr/bin:/bin', **env}},\n"
              "                          capture_output=True, text=True, timeout=30)\n"
              "    print(done.stdout.strip() or json.dumps({'stderr': done.stderr[-300:]}))\n")
    done = subprocess.run(["unshare", "-rn", sys.executable, "-c", driver], capture_output=True, text=True,
                          timeout=90)
    routed, guarded, bare = (json.loads(line) for line in done.stdout.splitlines())
    local = {"name": "refused", "address": "refused", "loopback": "connected", "port": "connected"}
    assert routed == {**local, "emulated": "connected", "emulated_other_port": "refused", "two_labels": "refused"}, \
        done.stdout + done.stderr
    assert guarded == {**local, "emulated": "refused", "emulated_other_port": "refused", "two_labels": "refused"}, \
        done.stdout + done.stderr
    assert bare["name"] in ("EAI_AGAIN", "ENOTFOUND") and bare["loopback"] == "connected", bare


def test_a_bound_value_is_never_rewritten_by_a_later_pass():
    """A storage key is random base64: '/ID1+' or '/myVM/' in it are not the page's example names."""
    key = "Zm9v/ID1+YmFy/myVM/+id2=" + "A" * 60 + "=="
    b = Binder({"ua_name": "id1abc", "ua2_name": "id2abc", "vm_name": "vm1", "account_key": key,
                "subscription_id": "11111111-1111-1111-1111-111111111111"})
    out = b.bind("az storage blob list --account-key <storage-account-key> # ID1 and ID2 on myVM")
    assert out.text == f"az storage blob list --account-key {key} # id1abc and id2abc on vm1"
    # a value holding a subscription path keeps its own subscription
    b.set("ua_id", "/subscriptions/22222222-2222-2222-2222-222222222222/x", "test")
    out = b.bind("--id <USER ASSIGNED IDENTITY ID> /subscriptions/33333333-3333-3333-3333-333333333333/y")
    assert out.text == ("--id /subscriptions/22222222-2222-2222-2222-222222222222/x "
                        "/subscriptions/11111111-1111-1111-1111-111111111111/y"), out
