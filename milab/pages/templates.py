"""Turning a page's template (or template fragment) into a template a deployment can run.

Template pages show either a whole template (``$schema``, ``resources`` ...), deployed as it is
with its parameters bound, or the part a reader adds to their own VM or scale-set template ("add
the ``identity`` property at the same level as ``type``"; a ``resources`` entry with
``//other resource provider properties...``; a ``variables`` or ``parameters`` block). A fragment
is merged into a small base template of the harness's own (a virtual network, a network
interface and the VM or scale set the page's resource names), the page's properties winning, so
what the page wrote is what the deployment sends.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from .bind import Binder

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"

# template parameter names -> binder roles
PARAMETER_ROLES = {"vmname": "vm_name", "vmssname": "vmss_name", "resourcename": "ua_name", "identityname": "ua_name",
                   "location": "location", "adminusername": "admin_user", "adminpassword": "admin_password",
                   "rbacguid": None, "instancename": "container_group"}


def is_whole(doc: Any) -> bool:
    return isinstance(doc, dict) and ("$schema" in doc or ("resources" in doc and "contentVersion" in doc))


def _base(kind: str, api_version: str, binder: Binder, identity: bool = False) -> dict:
    compute = "Microsoft.Compute/virtualMachines" if kind == "vm" else "Microsoft.Compute/virtualMachineScaleSets"
    name = binder.values["vm_name" if kind == "vm" else "vmss_name"]
    net = [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": f"{name}-vnet",
            "location": "[resourceGroup().location]",
            "properties": {"addressSpace": {"addressPrefixes": ["10.40.0.0/16"]},
                           "subnets": [{"name": "default", "properties": {"addressPrefix": "10.40.0.0/24"}}]}}]
    image = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
    subnet = f"[resourceId('Microsoft.Network/virtualNetworks/subnets', '{name}-vnet', 'default')]"
    if kind == "vm":
        net.append({"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2023-09-01", "name": f"{name}-nic",
                    "location": "[resourceGroup().location]",
                    "dependsOn": [f"[resourceId('Microsoft.Network/virtualNetworks', '{name}-vnet')]"],
                    "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
                        "subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}}]}})
        props = {"hardwareProfile": {"vmSize": "Standard_B1s"},
                 "storageProfile": {"imageReference": image, "osDisk": {"createOption": "FromImage"}},
                 "osProfile": {"computerName": name[:15], "adminUsername": "azureuser",
                               "adminPassword": binder.values.get("admin_password", "")},
                 "networkProfile": {"networkInterfaces": [
                     {"id": f"[resourceId('Microsoft.Network/networkInterfaces', '{name}-nic')]"}]}}
        depends = [f"[resourceId('Microsoft.Network/networkInterfaces', '{name}-nic')]"]
        resource = {"type": compute, "apiVersion": api_version, "name": name, "location": "[resourceGroup().location]",
                    "dependsOn": depends, "properties": props}
    else:
        props = {"upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
            "storageProfile": {"imageReference": image, "osDisk": {"createOption": "FromImage"}},
            "osProfile": {"computerNamePrefix": "milab", "adminUsername": "azureuser",
                          "adminPassword": binder.values.get("admin_password", "")},
            "networkProfile": {"networkInterfaceConfigurations": [{"name": "nic", "properties": {
                "primary": True, "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": subnet}}}]}}]}}}
        resource = {"type": compute, "apiVersion": api_version, "name": name, "location": "[resourceGroup().location]",
                    "sku": {"name": "Standard_B1s", "capacity": 2},
                    "dependsOn": [f"[resourceId('Microsoft.Network/virtualNetworks', '{name}-vnet')]"],
                    "properties": props}
    if identity:
        resource["identity"] = {"type": "SystemAssigned"}
    # what a reader's own template has besides: the resource's name as a parameter and a variable, its id
    key = "vmName" if kind == "vm" else "vmssName"
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
            "parameters": {key: {"type": "string", "defaultValue": name}},
            "variables": {key: name, "vmResourceId": f"[resourceId('{compute}', '{name}')]"},
            "resources": [*net, resource], "outputs": {}}


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def _resources_of(doc: Any) -> list[dict]:
    if isinstance(doc, dict) and isinstance(doc.get("resources"), list):
        return [r for r in doc["resources"] if isinstance(r, dict)]
    if isinstance(doc, dict) and "type" in doc and "apiVersion" in doc:
        return [doc]
    return []


def _add(template: dict, doc: Any, host_too: bool = True) -> None:
    """Merge one fragment into the template: the host resource's properties (the page's winning),
    other resources added (one of each type and name), blocks of parameters and variables. An earlier
    fragment's host properties (``host_too=False``) are not kept: a page's fragments for the VM
    itself are alternatives (one per api-version) or the same again in full."""
    host = template["resources"][-1]
    fragment_resources = _resources_of(doc)
    for r in fragment_resources:
        if str(r.get("type", "")).lower() == host["type"].lower():
            if host_too:
                _merge(host, {k: v for k, v in r.items() if k not in ("name",)})
        else:
            same = [i for i, o in enumerate(template["resources"])
                    if (o.get("type"), o.get("name")) == (r.get("type"), r.get("name"))]
            if same:
                template["resources"][same[0]] = copy.deepcopy(r)
            else:
                template["resources"].insert(len(template["resources"]), copy.deepcopy(r))
    if isinstance(doc, dict):
        if "identity" in doc and not fragment_resources and host_too:
            host["identity"] = copy.deepcopy(doc["identity"])
        for key in ("variables", "parameters", "outputs"):
            if isinstance(doc.get(key), dict):
                template[key].update(copy.deepcopy(doc[key]))
        loose = {k: v for k, v in doc.items() if k not in ("resources", "identity", "variables", "parameters",
                                                              "outputs", "type", "apiVersion")}
        if loose and all(isinstance(v, dict) and "type" in v for v in loose.values()):
            template["parameters"].update(copy.deepcopy(loose))  # a bare parameters block
        elif loose and all(isinstance(v, str) for v in loose.values()):
            template["variables"].update(copy.deepcopy(loose))  # a bare variables block


def compose(doc: Any, proc, binder: Binder, earlier: list | None = None) -> tuple[dict, dict[str, str]]:
    """(template, parameters) for a page's template or fragment.

    A procedure's fragments add up, as they do in the reader's editor: a ``parameters`` block, then
    a ``variables`` block, then a ``resources`` entry that uses both make one template (``earlier``:
    the procedure's fragments before this one). A reader's template that a page assumes (an enabled
    system-assigned identity before "assign a role to it") is the base template with it
    (``Spec.template_identity``)."""
    if is_whole(doc):
        template = copy.deepcopy(doc)
    else:
        docs = [d for d in (earlier or []) if not is_whole(d)] + [doc]
        kind = "vmss" if "vmss" in proc.family or "scale" in (proc.title or "").lower() else "vm"
        api = next((r.get("apiVersion") for r in _resources_of(doc)
                    if str(r.get("type", "")).startswith("Microsoft.Compute/")), "2018-06-01")
        template = _base(kind, api, binder, identity=getattr(getattr(proc, "spec", None), "template_identity",
                                                             None) == "system")
        for i, d in enumerate(docs):
            _add(template, d, host_too=i == len(docs) - 1)
    declared = {**(template.get("variables") or {})}
    text = json.dumps(template)
    for name in sorted(set(re.findall(r"variables\('([A-Za-z]\w*)'\)", text)) - set(declared)):
        # a variable the page tells the reader to define with a value of theirs (<USERASSIGNEDIDENTITYNAME>)
        role = binder.role_of(f"<{name}>") or PARAMETER_ROLES.get(re.sub(r"[^a-z]", "", name.lower()))
        if role and binder.values.get(role):
            template.setdefault("variables", {})[name] = binder.values[role]
    parameters = {}
    for name, decl in (template.get("parameters") or {}).items():
        if isinstance(decl, dict) and "defaultValue" in decl:
            continue
        role = PARAMETER_ROLES.get(re.sub(r"[^a-z]", "", name.lower()))
        if role and binder.values.get(role):
            parameters[name] = binder.values[role]
        elif re.sub(r"[^a-z]", "", name.lower()) == "rbacguid":
            import uuid
            parameters[name] = str(uuid.uuid4())
    return template, parameters
