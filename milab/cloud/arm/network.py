"""Microsoft.Network: the resources a VM stands on, stored and checked as far as the pages need.

``virtualNetworks`` (with their ``subnets``, inline and as child resources), ``networkInterfaces``,
``publicIPAddresses`` and ``networkSecurityGroups``. What Azure checks and the emulator checks
too: a network interface's IP configuration names a subnet (and optionally a public IP address
and a network security group) that exists, or the PUT is refused with Network's own answer,
400 ``InvalidResourceReference``: "Resource <id> referenced by resource <nic id> was not found.
Please make sure that the referenced resource exists, and that both resources are in the same
region." (as Azure answers ``az network nic create`` for a subnet of a virtual network that does
not exist; quoted in Azure/azure-cli#8569 and #1237 and MicrosoftDocs/azure-docs#81734), naming
the virtual network itself, with a ``NotFound`` detail, when the network is missing. Private and
public IP addresses are allocated from the address space, and every resource reports
``provisioningState: Succeeded`` synchronously (201 on create, which the SDK pollers accept).
"""
from __future__ import annotations

import ipaddress
import uuid

from .base import Call, ResourceType
from .errors import ArmError

VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
NIC = "Microsoft.Network/networkInterfaces"
PIP = "Microsoft.Network/publicIPAddresses"
NSG = "Microsoft.Network/networkSecurityGroups"


class _NetworkType(ResourceType):
    api_versions = ()  # every published version (apiversions.accepted)
    identity_style = None

    def document(self, call: Call, rid: str, body: dict) -> dict:
        res = super().document(call, rid, body)
        res.setdefault("etag", f'W/"{uuid.uuid4()}"')
        res["properties"].setdefault("resourceGuid", str(uuid.uuid4()))
        return res


def _subnet_doc(vnet_id: str, sub: dict) -> dict:
    name = sub.get("name")
    props = dict(sub.get("properties") or {})
    props["provisioningState"] = "Succeeded"
    return {"id": f"{vnet_id}/subnets/{name}", "name": name, "type": SUBNET, "properties": props,
            "etag": f'W/"{uuid.uuid4()}"'}


class VirtualNetwork(_NetworkType):
    type = VNET

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        for sub in (body.get("properties") or {}).get("subnets") or []:
            if not isinstance(sub, dict) or not sub.get("name"):
                raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: every subnet needs a name.")

    def _subnets(self, call: Call, res: dict, body: dict) -> None:
        wanted = {(s.get("name") or "").lower(): s for s in (body.get("properties") or {}).get("subnets") or []}
        for child in call.state.children(res["id"]):
            if child["type"].lower() == SUBNET.lower() and child["name"].lower() not in wanted:
                call.state.delete(child["id"])
        for sub in wanted.values():
            call.state.put(_subnet_doc(res["id"], sub))
        res["properties"].pop("subnets", None)

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        self._subnets(call, res, body)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = super().replace(call, existing, body)
        self._subnets(call, res, body)
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        props = dict(out.get("properties") or {})
        props["subnets"] = [{k: v for k, v in s.items() if not k.startswith("_")}
                            for s in call.state.children(res["id"]) if s["type"].lower() == SUBNET.lower()]
        out["properties"] = props
        return out


class Subnet(_NetworkType):
    type = SUBNET
    location_required = False


def _exists(call: Call, rid: str | None, want_type: str) -> bool:
    found = call.state.get(rid) if rid else None
    return bool(found and found["type"].lower() == want_type.lower())


def _reference_error(call: Call, ref_id: str, by: str) -> ArmError:
    parent = ref_id.rsplit("/subnets/", 1)[0] if "/subnets/" in ref_id.lower() else None
    if parent and call.state.get(parent) is None:  # the network itself is missing: Network names it
        ref_id = parent
    return ArmError(400, "InvalidResourceReference",
                    f"Resource {ref_id} referenced by resource {by} was not found. Please make sure that the "
                    f"referenced resource exists, and that both resources are in the same region.",
                    details=[{"code": "NotFound", "message": f"Resource {ref_id} not found."}] if parent else None)


class NetworkInterface(_NetworkType):
    type = NIC

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        props = body.get("properties") or {}
        configs = props.get("ipConfigurations")
        if not isinstance(configs, list) or not configs:
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: a network interface needs at "
                                                        "least one IP configuration (properties.ipConfigurations).")
        rid = call.ref.id
        for cfg in configs:
            cp = (cfg or {}).get("properties") or {}
            subnet = (cp.get("subnet") or {}).get("id")
            if not subnet:
                raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: the IP configuration "
                                                            f"'{(cfg or {}).get('name')}' names no subnet.")
            if not _exists(call, subnet, SUBNET):
                raise _reference_error(call, subnet, rid)
            pip = (cp.get("publicIPAddress") or {}).get("id")
            if pip and not _exists(call, pip, PIP):
                raise _reference_error(call, pip, rid)
        nsg = (props.get("networkSecurityGroup") or {}).get("id")
        if nsg and not _exists(call, nsg, NSG):
            raise _reference_error(call, nsg, rid)

    def document(self, call: Call, rid: str, body: dict) -> dict:
        res = super().document(call, rid, body)
        configs = []
        for i, cfg in enumerate(res["properties"].get("ipConfigurations") or []):
            cfg = dict(cfg)
            props = dict(cfg.get("properties") or {})
            props.setdefault("privateIPAllocationMethod", "Dynamic")
            props.setdefault("privateIPAddress", _next_address(call, props["subnet"]["id"], i))
            props["provisioningState"] = "Succeeded"
            props.setdefault("primary", i == 0)
            cfg["properties"] = props
            cfg["id"] = f"{rid}/ipConfigurations/{cfg.get('name')}"
            configs.append(cfg)
        res["properties"]["ipConfigurations"] = configs
        res["properties"].setdefault("macAddress", "00-0D-3A-" + "-".join(uuid.uuid4().hex[i:i + 2].upper()
                                                                         for i in (0, 2, 4)))
        return res


def _next_address(call: Call, subnet_id: str, offset: int) -> str:
    subnet = call.state.get(subnet_id) or {}
    prefix = (subnet.get("properties") or {}).get("addressPrefix") or "10.0.0.0/24"
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        net = ipaddress.ip_network("10.0.0.0/24")
    used = sum(1 for r in call.state.resources.values() if r["type"].lower() == NIC.lower())
    return str(net.network_address + 4 + used + offset)  # Azure keeps the first four addresses


class PublicIPAddress(_NetworkType):
    type = PIP

    def document(self, call: Call, rid: str, body: dict) -> dict:
        res = super().document(call, rid, body)
        props = res["properties"]
        props.setdefault("publicIPAllocationMethod", "Static" if (body.get("sku") or {}).get("name") == "Standard"
                         else "Dynamic")
        props.setdefault("publicIPAddressVersion", "IPv4")
        props.setdefault("ipAddress", f"20.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}."
                                      f"{uuid.uuid4().int % 250 + 1}")
        return res


class NetworkSecurityGroup(_NetworkType):
    type = NSG

    def document(self, call: Call, rid: str, body: dict) -> dict:
        res = super().document(call, rid, body)
        rules = []
        for rule in res["properties"].get("securityRules") or []:
            rule = dict(rule)
            rule["id"] = f"{rid}/securityRules/{rule.get('name')}"
            rule.setdefault("properties", {})["provisioningState"] = "Succeeded"
            rules.append(rule)
        res["properties"]["securityRules"] = rules
        return res


TYPES = (VirtualNetwork(), Subnet(), NetworkInterface(), PublicIPAddress(), NetworkSecurityGroup())
