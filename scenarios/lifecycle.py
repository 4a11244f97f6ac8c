"""What the identity-configuration scenarios share: a host (a VM or a scale set) in the state a
procedure starts from, the procedure's steps as the page gives them (REST requests at the page's
api-versions, the page's template fragment deployed through Microsoft.Resources/deployments,
the portal's ARM calls), and the checks a user cares about: the identity as ARM shows it, and
from inside the host a token issued, or refused after a disable or remove."""
from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError

from fixtures.hosts import instance_host, vm_body, vmss_body
from milab.guest import HttpStep, parse_output, render
from milab.reporting import checks
from milab.targets import Vm

from .helpers import claims

ARM = "https://management.azure.com/"
IMDS_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
COMPUTE = {"vm": "Microsoft.Compute/virtualMachines", "vmss": "Microsoft.Compute/virtualMachineScaleSets"}
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
_ID = re.compile(r"<(ID\d)(-NO-SLASH)?>")


@dataclass
class Case:
    kind: str  # vm | vmss
    rg: object
    name: str
    os: str
    identities: dict = field(default_factory=dict)  # "ID1" -> UserIdentity
    system_before: str | None = None

    @property
    def path(self) -> str:
        return f"{self.rg.id}/providers/{COMPUTE[self.kind]}/{self.name}"


def _names(facts: dict) -> list[str]:
    found = set(facts.get("before", {}) and facts["before"].get("users") or [])
    found |= {m.group(1) for m in _ID.finditer(json.dumps(facts))}
    exp = facts.get("expect") or {}
    found |= set(exp.get("users", [])) | set(exp.get("refused", []))
    if "<USERASSIGNEDIDENTITYNAME>" in json.dumps(facts):
        found.add("ID1")
    return sorted(found)


def substitute(value, case: Case):
    """Put the case's identities where the page has ``<ID1>`` (or ``<ID1-NO-SLASH>``)."""
    text = json.dumps(value)

    def repl(m):
        uid = case.identities[m.group(1)].id
        return uid.lstrip("/") if m.group(2) else uid

    return json.loads(_ID.sub(repl, text))


def _identity_block(before: dict, case: Case) -> dict | None:
    kinds = {"none": None, "system": "SystemAssigned", "user": "UserAssigned", "both": "SystemAssigned, UserAssigned"}
    kind = kinds[before["identity"]]
    if kind is None:
        return None
    block = {"type": kind}
    if before.get("users"):
        block["userAssignedIdentities"] = {case.identities[n].id: {} for n in before["users"]}
    return block


def prepare(kind: str, facts: dict, target, arm_rest, rg, user_identity) -> Case:
    """The host and identities a procedure starts from (none when the procedure creates the host)."""
    os_name = "linux"  # the configure procedures do not depend on the OS; Linux guests run the page's curl
    case = Case(kind, rg, target.unique_name(kind)[-20:].replace("-", ""), os_name)
    for n in _names(facts):
        case.identities[n] = user_identity(rg, f"{case.name}-{n}")
    if facts.get("before") is not None:
        body = host_body(case, target)
        block = _identity_block(facts["before"], case)
        if block:
            body["identity"] = block
        r = arm_rest.call("PUT", case.path, "2018-06-01", body)
        assert r.status in (200, 201), f"creating the {kind} the procedure starts from: {r.status} {r.text[:400]}"
        case.system_before = ((r.body or {}).get("identity") or {}).get("principalId")
    return case


def host_body(case: Case, target) -> dict:
    if case.kind == "vm":
        return vm_body(target, case.rg, case.name, case.os)
    return vmss_body(target, case.rg, case.name, case.os)


def run_steps(facts: dict, case: Case, target, arm_rest):
    """Send the procedure's steps; returns the last reply (or the deployment's error)."""
    last = None
    for step in facts["steps"]:
        if "template" in step:
            last = deploy_fragment(step["template"], case, target)
            continue
        body = substitute(step.get("body"), case) if step.get("body") is not None else None
        if isinstance(body, dict) and body.pop("<VM>", None):
            body = {**host_body(case, target), **body}
        last = arm_rest.call(step["method"], case.path, step["api_version"], body)
        if step["method"] == "GET":
            assert last.status == 200, f"the page's GET of the {case.kind}: {last.status} {last.text[:300]}"
        elif step["method"] == "PUT" and last.status in (200, 201) and case.system_before is None:
            pass
    return last


def deploy_fragment(spec: dict, case: Case, target):
    """The page's template fragment (api-version, identity block, location expression as the page has
    them) in a complete template, deployed as ``az deployment group create`` would."""
    body = host_body(case, target)
    props = copy.deepcopy(body["properties"])
    secret = props.get("osProfile", props.get("virtualMachineProfile", {}).get("osProfile", {}))
    password = secret.pop("adminPassword", None)
    secret["adminPassword"] = "[parameters('adminPassword')]"
    identity = json.loads(json.dumps(spec["identity"]).replace("<USERASSIGNEDIDENTITYNAME>", "uaName"))
    resource = {"apiVersion": spec["api_version"], "type": COMPUTE[case.kind], "name": "[parameters('vmName')]",
                "location": spec.get("location", "[resourceGroup().location]"), "identity": identity,
                "properties": props}
    if case.kind == "vmss":
        resource["sku"] = body["sku"]
    resources = [resource]
    variables = {"vmResourceId": f"[resourceId('{COMPUTE[case.kind]}', parameters('vmName'))]"}
    if "ID1" in case.identities:
        variables["uaName"] = case.identities["ID1"].name
    parameters = {"vmName": {"type": "string"}, "adminPassword": {"type": "securestring"}}
    values = {"vmName": {"value": case.name}, "adminPassword": {"value": password}}
    if spec.get("role"):
        # the template page's role section: parameters builtInRoleType and rbacGuid, variable Reader
        parameters.update({"builtInRoleType": {"type": "string", "defaultValue": spec["role"]},
                           "rbacGuid": {"type": "string"}})
        values["rbacGuid"] = {"value": str(uuid.uuid4())}
        variables["Reader"] = ("[concat('/subscriptions/', subscription().subscriptionId, "
                               "'/providers/Microsoft.Authorization/roleDefinitions/', "
                               f"'{READER}')]")
        resources.append({"apiVersion": "2017-09-01", "type": "Microsoft.Authorization/roleAssignments",
                          "name": "[parameters('rbacGuid')]",
                          "properties": {"roleDefinitionId": "[variables(parameters('builtInRoleType'))]",
                                         "principalId": "[reference(variables('vmResourceId'), '2017-12-01', "
                                                        "'Full').identity.principalId]",
                                         "scope": "[resourceGroup().id]"},
                          "dependsOn": [f"[concat('{COMPUTE[case.kind]}/', parameters('vmName'))]"]})
    template = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "parameters": parameters, "variables": variables,
                "resources": resources}
    try:
        target.lro(target.deployments.deployments.begin_create_or_update(
            case.rg.name, f"{case.name}-deploy", {"properties": {"mode": "Incremental", "template": template,
                                                                 "parameters": values}}))
    except HttpResponseError as e:
        return _Failed(e)
    return None


@dataclass
class _Failed:
    error: HttpResponseError

    @property
    def status(self) -> int:
        return self.error.status_code or 0

    @property
    def code(self) -> str | None:
        return self.error.error.code if self.error.error else None

    @property
    def text(self) -> str:
        return str(self.error)


def guest(case: Case, target) -> Vm:
    """Where in-host steps run: the VM, or the scale set's first instance."""
    if case.kind == "vm":
        return Vm(target, case.rg.name, case.name, case.path, case.os)
    return instance_host(target, case.rg, case.path, case.os)


def expected_type(expect: dict) -> str | None:
    system, users = expect["system"], bool(expect["users"])
    return {(True, True): "SystemAssigned, UserAssigned", (True, False): "SystemAssigned",
            (False, True): "UserAssigned"}.get((system, users))


def check_arm(case: Case, expect: dict, arm_rest) -> dict:
    """The identity as ARM shows it, in the dictionary format of 2018-06-01 (what the pages' GET shows)."""
    r = arm_rest.call("GET", case.path, "2018-06-01")
    assert r.status == 200, r.text[:300]
    ident = r.body.get("identity")
    want = expected_type(expect)
    if want is None:
        assert not ident or ident.get("type") in (None, "None"), f"identity should be gone, ARM shows {ident}"
        return {}
    assert ident and ident["type"] == want, f"ARM shows identity {ident}, the page says type {want!r}"
    shown = {k.lower() for k in (ident.get("userAssignedIdentities") or {})}
    assert shown == {case.identities[n].id.lower() for n in expect["users"]}, (
        f"user-assigned identities shown {sorted(shown)}, expected {expect['users']}")
    if expect["system"]:
        assert ident.get("principalId"), ident
    return ident


SPLIT = "milab-next-step"


BATCH = 2  # Run Command keeps the last 4 KiB of output: two token answers fit, three do not


def imds_batch(vm: Vm, selectors: list[dict]) -> list:
    """Several IMDS token requests, two to an in-guest script (one Run Command each on Azure)."""
    steps = [HttpStep("GET", f"{IMDS_URL}?api-version=2018-02-01&resource={ARM}" +
                      "".join(f"&{k}={v}" for k, v in sel.items()), {"Metadata": "true"}) for sel in selectors]
    if vm.os != "linux":  # a Windows guest's stand-in runs declared steps only: one step per run
        return [vm.http(step.method, step.url, step.headers) for step in steps]
    results = []
    for i in range(0, len(steps), BATCH):
        chunk = steps[i:i + BATCH]
        code, out, err = vm.target.run_in_vm(vm, f"echo {SPLIT}\n".join(render(step, vm.os) for step in chunk))
        parts = out.split(SPLIT)
        assert len(parts) == len(chunk), f"the in-guest steps printed {len(parts)} results for {len(chunk)}: " \
                                         f"{err[-300:]}"
        results += [parse_output(part, step, err) for part, step in zip(parts, chunk)]
    return results


def check_tokens(case: Case, expect: dict, ident: dict, target) -> None:
    """From inside the host: which identity IMDS issues a token for, and which it refuses."""
    vm = guest(case, target)
    everyone = (1 if expect["system"] else 0) + len(expect["users"])
    checks = [({}, 200 if everyone == 1 or expect["system"] else 400, ident.get("principalId") if expect["system"]
               else (case.identities[expect["users"][0]].principal_id if everyone == 1 else None), "no selector")]
    if everyone > 1:
        checks += [({"client_id": case.identities[n].client_id}, 200, case.identities[n].principal_id, n)
                   for n in expect["users"]]
    checks += [({"client_id": case.identities[n].client_id}, 400, None, f"removed {n}")
               for n in expect.get("refused", [])]
    results = target.wait_for(lambda: imds_batch(vm, [c[0] for c in checks]),
                              lambda rs: all(r.status == c[1] for r, c in zip(rs, checks)),
                              "IMDS to reflect the identity change")
    for r, (selector, status, oid, what) in zip(results, checks):
        assert r.status == status, f"IMDS from inside the {case.kind} ({what}): expected {status}, got {r.status}: " \
                                   f"{r.body[:300]}"
        if status == 200:
            assert claims(r.json()["access_token"])["oid"] == oid, f"token for the wrong identity ({what})"
        else:
            assert r.error_code() == "invalid_request", f"IMDS refusal ({what}): {r.body[:300]}"


def check_principal_gone(principal_id: str, case: Case, target, arm_rest) -> None:
    """A system-assigned identity that ends takes its service principal with it: it can no longer be granted."""
    def assign():
        return arm_rest.call("PUT", f"{case.rg.id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                             "2022-04-01", {"properties": {
                                 "roleDefinitionId": f"/subscriptions/{target.subscription_id}/providers/"
                                                     f"Microsoft.Authorization/roleDefinitions/{READER}",
                                 "principalId": principal_id, "principalType": "ServicePrincipal"}})
    got = target.wait_for(assign, lambda r: r.status == 400, "the service principal to be deleted")
    assert got.status == 400 and got.code == "PrincipalNotFound", f"{got.status} {got.text[:300]}"


def run_case(kind: str, facts: dict, target, arm_rest, rg, user_identity) -> None:
    """One procedure end to end: the starting state, the page's steps, then what the user checks."""
    case = prepare(kind, facts, target, arm_rest, rg, user_identity)
    reply = run_steps(facts, case, target, arm_rest)
    if "expect_error" in facts:
        want = facts["expect_error"]
        checks.record(f"the page's request as written ({facts.get('page_defect')})", check="as written",
                      passed=reply is not None and reply.status == want["status"] and reply.code == want["code"],
                      status=getattr(reply, "status", None), code=getattr(reply, "code", None),
                      expected=f"{want['status']} {want['code']}")
        assert reply is not None and reply.status == want["status"] and reply.code == want["code"], (
            f"the page's request as written ({facts.get('page_defect')}) should fail with {want['status']} "
            f"{want['code']}; got {getattr(reply, 'status', None)} {getattr(reply, 'code', None)}: "
            f"{getattr(reply, 'text', '')[:300]}")
        return
    if reply is not None:
        failed = reply.status >= 400
        checks.record("the page's request", check="main flow", passed=not failed, status=reply.status,
                      code=reply.code if failed else None, expected="2xx")
    if reply is not None and hasattr(reply, "error"):
        raise AssertionError(f"the deployment failed: {reply.text[:600]}")
    if reply is not None and reply.status >= 400:
        raise AssertionError(f"the page's request failed: {reply.status} {reply.text[:400]}")
    if facts.get("deleted"):
        gone = target.wait_for(lambda: arm_rest.call("GET", case.path, "2018-06-01"), lambda r: r.status == 404,
                               f"the {kind} to be deleted")
        assert gone.status == 404 and gone.code == "ResourceNotFound", gone.text[:300]
        for n, ua in case.identities.items():  # user-assigned identities outlive the host
            assert arm_rest.call("GET", ua.id, "2018-11-30").status == 200, f"{n} should survive the {kind}"
        check_principal_gone(case.system_before, case, target, arm_rest)
        return
    ident = check_arm(case, facts["expect"], arm_rest)
    if facts.get("role"):  # the template's role assignment: the identity reads its resource group
        vm = guest(case, target)
        token = vm.imds_token(ARM, "2018-02-01").json()["access_token"]
        got = target.wait_for(lambda: vm.http("GET", f"https://management.azure.com{case.rg.id}?api-version="
                                                     f"2016-09-01", {"Authorization": f"Bearer {token}"}),
                              lambda r: r.status == 200, "the template's role assignment to take effect")
        assert got.status == 200, f"{facts['role']} on the group should let the identity read it: {got.body[:300]}"
    check_tokens(case, facts["expect"], ident, target)
    if facts.get("system_principal_gone"):
        assert case.system_before, "the procedure starts from a system-assigned identity"
        check_principal_gone(case.system_before, case, target, arm_rest)


TEMPLATES = __import__("pathlib").Path(__file__).with_name("templates")


def load_template(name: str) -> dict:
    """A template file as ``az deployment group create`` reads it (comments allowed)."""
    import json5
    return json5.loads((TEMPLATES / name).read_text())


def deploy(target, rg_name: str, name: str, template: dict, parameters: dict):
    """Deploy through Microsoft.Resources/deployments; the finished deployment's properties."""
    poller = target.deployments.deployments.begin_create_or_update(rg_name, name, {"properties": {
        "mode": "Incremental", "template": template,
        "parameters": {k: {"value": v} for k, v in parameters.items()}}})
    return target.lro(poller).properties


def arm_get_from(host: Vm, token: str, path: str, api_version: str):
    return host.http("GET", f"https://management.azure.com{path}?api-version={api_version}",
                     {"Authorization": f"Bearer {token}"})
