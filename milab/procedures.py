"""The identity-lifecycle procedures of the seeds (``../shared/procedures.md``), as registry data.

Every procedure of the families ``vm_identity_config``, ``vmss_identity_config``,
``ua_identity_crud``, ``rbac_assign`` and ``other_hosts`` is listed in :data:`PROCEDURES` with
its page, pivot and how this project reproduces it:

* ``scenario``: a scenario here runs it (REST as the page's requests at the page's
  api-versions and bodies, templates through the deployment engine, SDK pivots with
  azure-mgmt-*), then checks what a user cares about (the identity as ARM shows it; a token
  from inside the host, or its refusal);
* ``portal``: the portal's clicks reproduced by the ARM calls the portal makes (marked so);
* ``bicep``: a Bicep file (no compiler here) reproduced by its ARM JSON equivalent;
* ``page-runner``: CLI and PowerShell pivots, run by the page runner (``az`` itself);
* ``unwritten``: the page's pivot is a ``TODO`` stub; nothing to reproduce.

The ``scenario``, ``portal`` and ``bicep`` rows are registry tutorials (family, variant = the
procedure's slug), so the docs gate maps and ``--run``s each; their facts carry the page's
requests. Placeholders in bodies: ``<ID1>``/``<ID2>`` are user-assigned identity resource ids,
``<ID1-NO-SLASH>`` the same without the leading ``/`` (as some pages print them), ``<VM>`` a
complete VM body the page elides ("other resource provider properties").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEED_2019 = "004_68e52737ddb40452.txt"


@dataclass(frozen=True)
class Procedure:
    id: str  # the row id of procedures.md
    family: str
    page: str  # key of PAGES
    pivot: str  # REST | template | portal | SDK | CLI | PowerShell | Bicep | concept
    how: str  # scenario | portal | bicep | page-runner | unwritten
    section: str
    seed_lines: str
    variant: str | None = None  # the registry variant (scenario/portal/bicep rows)
    facts: Any = None


PAGES: dict[str, tuple[str, str, str]] = {  # key -> (title as the gate parses it, docs file name, seed)
    "vm-portal": ("Configure managed identities for Azure resources on a VM using the Azure portal",
                  "qs-configure-portal-windows-vm.md", SEED_2019),
    "vm-cli": ("Configure managed identities for Azure resources on an Azure VM using Azure CLI",
               "qs-configure-cli-windows-vm.md", SEED_2019),
    "vm-ps": ("Configure managed identities for Azure resources on an Azure VM using PowerShell",
              "qs-configure-powershell-windows-vm.md", SEED_2019),
    "vm-template": ("Configure managed identities for Azure resources on an Azure VM using a templates",
                    "qs-configure-template-windows-vm.md", SEED_2019),
    "vm-rest": ("Configure Managed identities for Azure resources on an Azure VM using REST API calls",
                "qs-configure-rest-vm.md", SEED_2019),
    "vmss-portal": ("Configure managed identities for Azure resources on a virtual machine scale set using the "
                    "Azure portal", "qs-configure-portal-windows-vmss.md", SEED_2019),
    "vmss-cli": ("Configure managed identities for Azure resources on a virtual machine scale set using Azure CLI",
                 "qs-configure-cli-windows-vmss.md", SEED_2019),
    "vmss-ps": ("Configure managed identities for Azure resources on virtual machine scale sets using PowerShell",
                "qs-configure-powershell-windows-vmss.md", SEED_2019),
    "vmss-template": ("Configure managed identities for Azure resources on an Azure virtual machine scale using a "
                      "template", "qs-configure-template-windows-vmss.md", SEED_2019),
    "vmss-rest": ("Configure managed identities for Azure resources on a virtual machine scale set using REST API "
                  "calls", "qs-configure-rest-vmss.md", SEED_2019),
    "ua-portal": ("Create, list, delete or assign a role to a user-assigned managed identity using the Azure portal",
                  "how-to-manage-ua-identity-portal.md", SEED_2019),
    "ua-cli": ("Create, list or delete a user-assigned managed identity using the Azure CLI",
               "how-to-manage-ua-identity-cli.md", SEED_2019),
    "ua-ps": ("Create, list or delete a user-assigned managed identity using Azure PowerShell",
              "how-to-manage-ua-identity-powershell.md", SEED_2019),
    "ua-template": ("Create, list and delete a user-assigned managed identity using Azure Resource Manager",
                    "how-to-manage-ua-identity-arm.md", SEED_2019),
    "ua-rest": ("Create, list or delete a user-assigned managed identity using REST API calls",
                "how-to-manage-ua-identity-rest.md", SEED_2019),
    "overview": ("What is managed identities for Azure resources?", "overview.md", SEED_2019),
    "assign-portal": ("Assign a managed identity access to a resource by using the Azure portal",
                      "howto-assign-access-portal.md", SEED_2019),
    "assign-cli": ("Assign a managed identity access to a resource using Azure CLI", "howto-assign-access-cli.md",
                   SEED_2019),
    "assign-ps": ("Assign a managed identity access to a resource using PowerShell",
                  "howto-assign-access-powershell.md", SEED_2019),
    "cosmos-vm": ("Use managed identities from a virtual machine to access Azure Cosmos DB",
                  "managed-identity-based-authentication.md", "002_3ac18aa7751238e2.txt"),
    # seed 001 is an include without a title: the gate names it by its file
    "other-hosts": ("001_b0c92987657c19fd", "managed-identities-other-hosts.md", "001_b0c92987657c19fd.txt"),
    "cosmos-identity": ("000_288f15110d8d3935", "cosmos-managed-identities.md", "000_288f15110d8d3935.txt"),
}

V18, V17 = "2018-06-01", "2017-12-01"
SA = {"type": "SystemAssigned"}
NONE = {"type": "None"}


def _ua(*names, fmt="dict", both=False, type_=None):
    t = type_ or ("SystemAssigned, UserAssigned" if both else "UserAssigned")
    if fmt == "dict":
        return {"type": t, "userAssignedIdentities": {f"<{n}>": {} for n in names}}
    return {"type": t, "identityIds": [f"<{n}>" for n in names]}


def _case(before, steps, expect=None, error=None, **extra):
    out = {"before": before, "steps": steps}
    if expect is not None:
        out["expect"] = expect
    if error is not None:
        out["expect_error"] = error
    out.update(extra)
    return out


def _patch(api, identity):
    return {"method": "PATCH", "api_version": api, "body": {"identity": identity}}


def _put(api, identity):
    return {"method": "PUT", "api_version": api, "body": {"<VM>": True, "identity": identity}}


def _expect(system=False, users=(), gone=()):
    return {"system": system, "users": list(users), "refused": list(gone)}


def _none():
    return {"identity": "none", "users": []}


def _before(identity="none", users=()):
    return {"identity": identity, "users": list(users)}


# ----------------------------------------------------------------------------- VMs and scale sets

def _config_cases(host: str) -> list[Procedure]:
    """The configure pages of VMs (host ``vm``) and scale sets (``vmss``): the same procedures, the
    same two api-version formats, the same PUT/PATCH semantics (the scale-set pages mirror the VM ones)."""
    fam = "vm_identity_config" if host == "vm" else "vmss_identity_config"
    R = "VMR" if host == "vm" else "VMSSR"
    T = "VMT" if host == "vm" else "VMSST"
    P = "VMP" if host == "vm" else "VMSSP"
    rest, tmpl, portal = f"{host}-rest", f"{host}-template", f"{host}-portal"
    lines = {"vm": {"R-SA-create": "4779-4878", "R-SA-enable": "4880-5007", "R-SA-disable": "5009-5055",
                    "R-UA-create": "5061-5265", "R-UA-assign": "5267-5458", "R-UA-remove": "5460-5631",
                    "T-SA-enable": "4435-4487", "T-SA-disable": "4538-4567", "T-UA-assign": "4577-4702",
                    "T-UA-remove": "4704-4737", "T-SA-role": "4489-4536", "P-SA-create": "3851-3890", "P-SA-enable": "3892-3901",
                    "P-SA-remove": "3903-3915", "P-UA-assign": "3921-3946", "P-UA-remove": "3948-3956"},
             "vmss": {"R-SA-create": "6523-6646", "R-SA-enable": "6648-6784", "R-SA-disable": "6786-6839",
                      "R-UA-create": "6845-7090", "R-UA-assign": "7092-7281", "R-UA-remove": "7283-7451",
                      "T-SA-enable": "6199-6260", "T-SA-disable": "6262-6290", "T-UA-assign": "6300-6438",
                      "T-UA-remove": "6440-6470", "P-SA-enable": "5692-5711", "P-SA-remove": "5713-5721",
                      "P-UA-assign": "5727-5745", "P-UA-remove": "5747-5782"}}[host]
    what = "VM" if host == "vm" else "virtual machine scale set"
    # the pages' own headings (the VM and scale-set pages word them differently)
    h = {"vm": {"R-SA-create": "Enable system-assigned managed identity during creation of an Azure VM",
                "R-SA-enable": "Enable system-assigned identity on an existing Azure VM",
                "R-SA-disable": "Disable system-assigned managed identity from an Azure VM",
                "R-UA-create": "Assign a user-assigned managed identity during the creation of an Azure VM",
                "R-UA-assign": "Assign a user-assigned managed identity to an existing Azure VM",
                "R-UA-remove": "Remove a user-assigned managed identity from an Azure VM",
                "T-SA-enable": "Enable system-assigned managed identity during creation of an Azure VM or on an "
                               "existing VM",
                "T-SA-disable": "Disable a system-assigned managed identity from an Azure VM",
                "T-UA-assign": "Assign a user-assigned managed identity to an Azure VM",
                "T-UA-remove": "Remove a user-assigned managed identity from an Azure VM"},
         "vmss": {"R-SA-create": "Enable system-assigned managed identity during creation of a virtual machine "
                                 "scale set",
                  "R-SA-enable": "Enable system-assigned managed identity on an existing virtual machine scale set",
                  "R-SA-disable": "Disable system-assigned managed identity from a virtual machine scale set",
                  "R-UA-create": "Assign a user-assigned managed identity during the creation of a virtual machine "
                                 "scale set",
                  "R-UA-assign": "Assign a user-assigned managed identity to an existing Azure virtual machine "
                                 "scale set",
                  "R-UA-remove": "Remove a user-assigned managed identity from a virtual machine scale set",
                  "T-SA-enable": "Enable system-assigned managed identity during creation the creation of a virtual "
                                 "machines scale set or an existing virtual machine scale set",
                  "T-SA-disable": "Disable a system-assigned managed identity from an Azure virtual machine scale set",
                  "T-UA-assign": "Assign a user-assigned managed identity to a virtual machine scale set",
                  "T-UA-remove": "Remove user-assigned managed identity from an Azure virtual machine scale set"}}[host]
    out: list[Procedure] = []

    def add(pid, page, pivot, how, section, variant, case):
        out.append(Procedure(pid, fam, page, pivot, how, section, f"004:{lines[_line_key(pid, R, T, P)]}",
                             variant, case))

    # REST: the page's requests, at the page's api-versions, with the page's bodies
    add(f"{R}-SA-create", rest, "REST", "scenario", h["R-SA-create"], "rest-sa-create",
        _case(None, [_put(V18, SA)], _expect(system=True)))
    add(f"{R}-SA-enable", rest, "REST", "scenario", h["R-SA-enable"], "rest-sa-enable",
        _case(_none(), [{"method": "GET", "api_version": V18}, _patch(V18, SA)], _expect(system=True)))
    add(f"{R}-SA-enable", rest, "REST", "scenario", h["R-SA-enable"],
        "rest-sa-enable-keep-users-2018",
        _case(_before("user", ["ID1", "ID2"]), [_patch(V18, _ua("ID1", "ID2", both=True))],
              _expect(system=True, users=["ID1", "ID2"])))
    add(f"{R}-SA-enable", rest, "REST", "scenario", h["R-SA-enable"],
        "rest-sa-enable-keep-users-2017",
        _case(_before("user", ["ID1", "ID2"]), [_patch(V17, _ua("ID1", "ID2", fmt="array", both=True))],
              _expect(system=True, users=["ID1", "ID2"])))
    add(f"{R}-SA-disable", rest, "REST", "scenario", h["R-SA-disable"], "rest-sa-disable",
        _case(_before("system"), [{"method": "GET", "api_version": V18}, _patch(V18, NONE)], _expect(),
              system_principal_gone=True))
    add(f"{R}-SA-disable", rest, "REST", "scenario", h["R-SA-disable"],
        "rest-sa-disable-keep-users",
        _case(_before("both", ["ID1"]), [_patch(V18, _ua("ID1"))], _expect(users=["ID1"]),
              system_principal_gone=True))
    add(f"{R}-UA-create", rest, "REST", "scenario", h["R-UA-create"], "rest-ua-create-2018-as-written",
        # the page's 2018-06-01 body lists the identity in the 2017-12-01 array format (gate API004)
        _case(None, [_put(V18, _ua("ID1", fmt="array"))], error={"status": 400, "code": "InvalidParameter"},
              page_defect="identityIds at api-version 2018-06-01"))
    add(f"{R}-UA-create", rest, "REST", "scenario", h["R-UA-create"], "rest-ua-create-2018", _case(None, [_put(V18, _ua("ID1"))], _expect(users=["ID1"])))
    add(f"{R}-UA-create", rest, "REST", "scenario", h["R-UA-create"], "rest-ua-create-2017",
        _case(None, [_put(V17, _ua("ID1", fmt="array"))], _expect(users=["ID1"])))
    assign_api = V18 if host == "vm" else "2018-12-01"
    add(f"{R}-UA-assign", rest, "REST", "scenario", h["R-UA-assign"], "rest-ua-assign-2018-as-written",
        # VM page: the identity key lacks its leading '/'; scale-set page: api-version 2018-12-01 (gate API001)
        _case(_none(), [_patch(assign_api, {"type": "UserAssigned", "userAssignedIdentities": {
            "<ID1-NO-SLASH>" if host == "vm" else "<ID1>": {}}})],
              error={"status": 400, "code": "InvalidParameter" if host == "vm" else "NoRegisteredProviderFound"},
              page_defect="identity id without its leading '/'" if host == "vm" else
              "Microsoft.Compute has no api-version 2018-12-01"))
    add(f"{R}-UA-assign", rest, "REST", "scenario", h["R-UA-assign"], "rest-ua-assign-2018", _case(_none(), [{"method": "GET", "api_version": V18},
                                                            _patch(V18, _ua("ID1"))], _expect(users=["ID1"])))
    add(f"{R}-UA-assign", rest, "REST", "scenario", h["R-UA-assign"], "rest-ua-assign-2017", _case(_none(), [_patch(V17, _ua("ID1", fmt="array"))],
                                                 _expect(users=["ID1"])))
    add(f"{R}-UA-assign", rest, "REST", "scenario", h["R-UA-assign"], "rest-ua-assign-add-id2-2018",
        _case(_before("both", ["ID1"]), [_patch(V18, _ua("ID2", both=True))],
              _expect(system=True, users=["ID1", "ID2"])))
    add(f"{R}-UA-assign", rest, "REST", "scenario", h["R-UA-assign"], "rest-ua-assign-add-id2-2017",
        # the array format replaces the list: the page lists ID1 again
        _case(_before("both", ["ID1"]), [_patch(V17, _ua("ID1", "ID2", fmt="array", both=True))],
              _expect(system=True, users=["ID1", "ID2"])))
    add(f"{R}-UA-remove", rest, "REST", "scenario", h["R-UA-remove"],
        "rest-ua-remove-null-2018",
        _case(_before("both", ["ID1", "ID2"]), [_patch(V18, {"type": "SystemAssigned, UserAssigned",
                                                            "userAssignedIdentities": {"<ID2>": None}})],
              _expect(system=True, users=["ID1"], gone=["ID2"])))
    add(f"{R}-UA-remove", rest, "REST", "scenario", h["R-UA-remove"],
        "rest-ua-remove-keep-list-2017",
        _case(_before("both", ["ID1", "ID2"]), [_patch(V17, _ua("ID1", fmt="array", both=True))],
              _expect(system=True, users=["ID1"], gone=["ID2"])))
    add(f"{R}-UA-remove", rest, "REST", "scenario", h["R-UA-remove"],
        "rest-ua-remove-all-keep-system",
        _case(_before("both", ["ID1", "ID2"]), [_patch(V18, SA)], _expect(system=True, gone=["ID1", "ID2"])))
    add(f"{R}-UA-remove", rest, "REST", "scenario", h["R-UA-remove"],
        "rest-ua-remove-none",
        _case(_before("both", ["ID1"]), [_patch(V18, NONE)], _expect(gone=["ID1"]), system_principal_gone=True))

    # templates: the page's fragment in a complete template, deployed through Microsoft.Resources/deployments
    tv17 = V17 if host == "vm" else "2017-03-30"  # the scale-set page's "2017-12-01" section uses 2017-03-30
    add(f"{T}-SA-enable", tmpl, "template", "scenario", h["T-SA-enable"], "template-sa-enable",
        _case(None, [{"template": {"api_version": V18, "identity": SA}}], _expect(system=True)))
    add(f"{T}-SA-enable", tmpl, "template", "scenario", h["T-SA-enable"], "template-sa-enable-existing",
        _case(_none(), [{"template": {"api_version": V18, "identity": SA}}], _expect(system=True)))
    add(f"{T}-SA-disable", tmpl, "template", "scenario", h["T-SA-disable"], "template-sa-disable",
        _case(_before("system"), [{"template": {"api_version": V18, "identity": NONE}}], _expect(),
              system_principal_gone=True))
    if host == "vmss":
        add(f"{T}-SA-disable", tmpl, "template", "scenario", h["T-SA-disable"], "template-sa-disable-as-written",
            # the page's fragment: "[parameters(Location')]" does not parse (gate CODE009)
            _case(_before("system"), [{"template": {"api_version": V18, "identity": NONE,
                                                    "location": "[parameters(Location')]"}}],
                  error={"status": 400, "code": "InvalidTemplate"}, page_defect="[parameters(Location')]"))
    add(f"{T}-UA-assign", tmpl, "template", "scenario", h["T-UA-assign"],
        "template-ua-assign-2018",
        _case(_none(), [{"template": {"api_version": V18, "identity": {
            "type": "userAssigned", "userAssignedIdentities": {
                "[resourceID('Microsoft.ManagedIdentity/userAssignedIdentities/', "
                "variables('<USERASSIGNEDIDENTITYNAME>'))]": {}}}}}], _expect(users=["ID1"])))
    add(f"{T}-UA-assign", tmpl, "template", "scenario", h["T-UA-assign"],
        "template-ua-assign-2017",
        _case(_none(), [{"template": {"api_version": tv17, "identity": {
            "type": "userAssigned", "identityIds": [
                "[resourceID('Microsoft.ManagedIdentity/userAssignedIdentities/',"
                "variables('<USERASSIGNEDIDENTITYNAME>'))]"]}}}], _expect(users=["ID1"])))
    add(f"{T}-UA-remove", tmpl, "template", "scenario", h["T-UA-remove"], "template-ua-remove-none",
        _case(_before("user", ["ID1"]), [{"template": {"api_version": V18, "identity": NONE}}], _expect(gone=["ID1"])))
    add(f"{T}-UA-remove", tmpl, "template", "scenario", h["T-UA-remove"], "template-ua-remove-one-keep-system",
        _case(_before("both", ["ID1", "ID2"]), [{"template": {"api_version": V18, "identity": {
            "type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {
                "[resourceID('Microsoft.ManagedIdentity/userAssignedIdentities/', variables('<USERASSIGNEDIDENTITYNAME>'))]":
                    {}}}}}], _expect(system=True, users=["ID1"], gone=["ID2"])))
    if host == "vm":
        add("VMT-SA-role", tmpl, "template", "scenario", "Assign a role the VM's system-assigned managed identity",
            "template-sa-role", _case(None, [{"template": {"api_version": V18, "identity": SA, "role": "Reader"}}],
                                      _expect(system=True), role="Reader"))

    # portal: the ARM calls the Identity blade makes (marked as portal in the matrix)
    portal_api = "2024-07-01"
    if host == "vm":
        add(f"{P}-SA-create", portal, "portal", "portal", "Enable system-assigned managed identity during creation "
            "of a VM", "portal-sa-create", _case(None, [_put(portal_api, SA)], _expect(system=True)))
    add(f"{P}-SA-enable", portal, "portal", "portal", f"Enable system-assigned managed identity on an existing "
        f"{what}", "portal-sa-enable", _case(_none(), [_patch(portal_api, SA)], _expect(system=True)))
    add(f"{P}-SA-remove", portal, "portal", "portal", f"Remove system-assigned managed identity from a {what}",
        "portal-sa-remove", _case(_before("system"), [_patch(portal_api, NONE)], _expect(),
                                  system_principal_gone=True))
    add(f"{P}-UA-assign", portal, "portal", "portal", f"Assign a user-assigned managed identity to an existing "
        f"{what}", "portal-ua-assign", _case(_before("system"), [_patch(portal_api, _ua("ID1", both=True))],
                                             _expect(system=True, users=["ID1"])))
    add(f"{P}-UA-remove", portal, "portal", "portal", f"Remove a user-assigned managed identity from a {what}",
        "portal-ua-remove", _case(_before("user", ["ID1", "ID2"]), [_patch(portal_api, {
            "type": "UserAssigned", "userAssignedIdentities": {"<ID1>": None}})],
                                  _expect(users=["ID2"], gone=["ID1"])))
    return out


def _line_key(pid: str, *prefixes: str) -> str:
    for p in sorted(prefixes, key=len, reverse=True):
        if pid.startswith(p + "-"):
            return pid[len(p) - 1:]
    raise KeyError(pid)


def _runner(fam, pid, page, pivot, section, lines, how="page-runner") -> Procedure:
    return Procedure(pid, fam, page, pivot, how, section, lines)


PROCEDURES: list[Procedure] = [*_config_cases("vm"), *_config_cases("vmss")]


def _runner_rows() -> list[Procedure]:
    """CLI and PowerShell pivots (run by the page runner with az itself), unwritten TODO pivots, and
    the rows a Cosmos DB resource provider will serve."""
    rows = [
        # VMs
        ("vm_identity_config", "VMC-SA-create", "vm-cli", "CLI", "4004-4024"),
        ("vm_identity_config", "VMC-SA-enable", "vm-cli", "CLI", "4026-4040"),
        ("vm_identity_config", "VMC-SA-disable", "vm-cli", "CLI", "4042-4064"),
        ("vm_identity_config", "VMC-UA-create", "vm-cli", "CLI", "4070-4111"),
        ("vm_identity_config", "VMC-UA-assign", "vm-cli", "CLI", "4113-4148"),
        ("vm_identity_config", "VMC-UA-remove", "vm-cli", "CLI", "4150-4175"),
        ("vm_identity_config", "VMPS-SA-create", "vm-ps", "PowerShell", "4211-4228"),
        ("vm_identity_config", "VMPS-SA-enable", "vm-ps", "PowerShell", "4230-4249"),
        ("vm_identity_config", "VMPS-SA-disable", "vm-ps", "PowerShell", "4279-4307"),
        ("vm_identity_config", "VMPS-UA-create", "vm-ps", "PowerShell", "4313-4332"),
        ("vm_identity_config", "VMPS-UA-assign", "vm-ps", "PowerShell", "4334-4369"),
        ("vm_identity_config", "VMPS-UA-remove", "vm-ps", "PowerShell", "4371-4395"),
        ("vm_identity_config", "C2-VM-SA-PS", "cosmos-vm", "PowerShell", "002:62-82"),
        ("vm_identity_config", "C2-VM-SA-CLI", "cosmos-vm", "CLI", "002:84-93"),
        ("vm_identity_config", "C2-VM-UA-PS", "cosmos-vm", "PowerShell", "002:135-170"),
        ("vm_identity_config", "C2-VM-UA-CLI", "cosmos-vm", "CLI", "002:172-178"),
        ("vm_identity_config", "C2-CLEANUP-PS", "cosmos-vm", "PowerShell", "002:433-440"),
        ("vm_identity_config", "C2-CLEANUP-CLI", "cosmos-vm", "CLI", "002:442-449"),
        # scale sets
        ("vmss_identity_config", "VMSSC-SA-create", "vmss-cli", "CLI", "5838-5858"),
        ("vmss_identity_config", "VMSSC-SA-enable", "vmss-cli", "CLI", "5860-5874"),
        ("vmss_identity_config", "VMSSC-SA-disable", "vmss-cli", "CLI", "5876-5896"),
        ("vmss_identity_config", "VMSSC-UA-create", "vmss-cli", "CLI", "5902-5945"),
        ("vmss_identity_config", "VMSSC-UA-assign", "vmss-cli", "CLI", "5947-5976"),
        ("vmss_identity_config", "VMSSC-UA-remove", "vmss-cli", "CLI", "5978-6002"),
        ("vmss_identity_config", "VMSSPS-SA-create", "vmss-ps", "PowerShell", "6046-6058"),
        ("vmss_identity_config", "VMSSPS-SA-enable", "vmss-ps", "PowerShell", "6060-6078"),
        ("vmss_identity_config", "VMSSPS-SA-disable", "vmss-ps", "PowerShell", "6080-6095"),
        ("vmss_identity_config", "VMSSPS-UA-assign", "vmss-ps", "PowerShell", "6101-6124"),
        ("vmss_identity_config", "VMSSPS-UA-remove", "vmss-ps", "PowerShell", "6126-6145"),
        # user-assigned identities
        ("ua_identity_crud", "UAC-CREATE", "ua-cli", "CLI", "8642-8656"),
        ("ua_identity_crud", "UAC-LIST", "ua-cli", "CLI", "8658-8672"),
        ("ua_identity_crud", "UAC-DELETE", "ua-cli", "CLI", "8674-8686"),
        ("ua_identity_crud", "UAPS-CREATE", "ua-ps", "PowerShell", "8719-8731"),
        ("ua_identity_crud", "UAPS-LIST", "ua-ps", "PowerShell", "8733-8747"),
        ("ua_identity_crud", "UAPS-DELETE", "ua-ps", "PowerShell", "8749-8761"),
        ("ua_identity_crud", "C0-UA", "cosmos-identity", "CLI", "000:51-88"),
        ("ua_identity_crud", "C1-UA-CLI", "other-hosts", "CLI", "001:258-295"),
        ("ua_identity_crud", "C1-UA-PS", "other-hosts", "PowerShell", "001:368-400"),
        # role assignments
        ("rbac_assign", "AS-CLI-VM", "assign-cli", "CLI", "8386-8416"),
        ("rbac_assign", "AS-CLI-VMSS", "assign-cli", "CLI", "8400-8404"),
        ("rbac_assign", "AS-PS", "assign-ps", "PowerShell", "8424-8463"),
        # other hosts
        ("other_hosts", "C1-ACI-CLI", "other-hosts", "CLI", "001:62-96"),
        ("other_hosts", "C1-ACI-PS", "other-hosts", "PowerShell", "001:208-252"),
        ("other_hosts", "C1-APP-CLI", "other-hosts", "CLI", "001:406-451"),
        ("other_hosts", "C1-APP-PS", "other-hosts", "PowerShell", "001:567-634"),
    ]
    out = [Procedure(pid, fam, page, pivot, "page-runner", "", lines if ":" in lines else f"004:{lines}")
           for fam, pid, page, pivot, lines in rows]
    out += [Procedure(pid, fam, page, "portal", "unwritten", "", lines) for fam, pid, page, lines in (
        ("other_hosts", "C1-ACI-PORTAL", "other-hosts", "001:176-206"),
        ("other_hosts", "C1-APP-PORTAL", "other-hosts", "001:541-565"),
        ("ua_identity_crud", "C1-UA-PORTAL", "other-hosts", "001:342-366"))]
    out += [Procedure("C0-SA", "cosmos_account_identity", "cosmos-identity", "CLI", "page-runner", "", "000:16-49"),
            Procedure("C0-ASSIGN", "cosmos_account_identity", "cosmos-identity", "CLI", "page-runner", "", "000:90-125")]
    return out


def _vm_extras() -> list[Procedure]:
    """002's VM-creation tabs and clean-up, and the overview's lifecycle claims."""
    return [
        Procedure("C2-VM-SA-PORTAL", "vm_identity_config", "cosmos-vm", "portal", "portal",
                  "Create a VM with a system-assigned managed identity", "002:47-60", "cosmos-portal-sa-create",
                  _case(None, [_put("2024-07-01", SA)], _expect(system=True))),
        Procedure("C2-VM-SA-TEMPLATE", "vm_identity_config", "cosmos-vm", "template", "scenario",
                  "Create a VM with a system-assigned managed identity", "002:95-121",
                  "cosmos-template-sa-as-written",
                  # "[myResourceGroup().location]" is no template function (gate CODE009)
                  _case(None, [{"template": {"api_version": V18, "identity": SA,
                                             "location": "[myResourceGroup().location]"}}],
                        error={"status": 400, "code": "InvalidTemplate"},
                        page_defect="[myResourceGroup().location]")),
        Procedure("C2-VM-SA-TEMPLATE", "vm_identity_config", "cosmos-vm", "template", "scenario",
                  "Create a VM with a system-assigned managed identity", "002:95-121", "cosmos-template-sa",
                  _case(None, [{"template": {"api_version": V18, "identity": SA}}], _expect(system=True))),
        Procedure("C2-VM-UA-TEMPLATE", "vm_identity_config", "cosmos-vm", "template", "scenario",
                  "Create a VM with a user-assigned managed identity", "002:180-210", "cosmos-template-ua",
                  _case(None, [{"template": {"api_version": V18, "identity": {
                      "type": "userAssigned", "userAssignedIdentities": {
                          "[resourceID('Microsoft.ManagedIdentity/userAssignedIdentities/',"
                          "variables('<USERASSIGNEDIDENTITYNAME>'))]": {}}}}}], _expect(users=["ID1"]))),
        Procedure("C2-CLEANUP-PORTAL", "vm_identity_config", "cosmos-vm", "portal", "portal",
                  "Clean up steps", "002:423-431", "cosmos-portal-cleanup",
                  _case(_before("both", ["ID1"]), [{"method": "DELETE", "api_version": "2024-07-01"}],
                        None, deleted=True, system_principal_gone=True)),
        Procedure("OV-1", "vm_identity_config", "overview", "concept", "scenario",
                  "How a system-assigned managed identity works with an Azure VM", "004:226-250",
                  "overview-vm-deleted", _case(_before("both", ["ID1"]), [{"method": "DELETE", "api_version": V18}],
                                               None, deleted=True, system_principal_gone=True)),
    ]


def _ua_rows() -> list[Procedure]:
    F = "ua_identity_crud"
    return [
        Procedure("UAR-CREATE", F, "ua-rest", "REST", "scenario", "Create a user-assigned managed identity",
                  "004:8872-8906", "rest-create", {"api_version": "2015-08-31-preview", "step": "create"}),
        Procedure("UAR-LIST", F, "ua-rest", "REST", "scenario", "List user-assigned managed identities",
                  "004:8908-8926", "rest-list", {"api_version": "2015-08-31-preview", "step": "list"}),
        Procedure("UAR-DELETE", F, "ua-rest", "REST", "scenario", "Delete a user-assigned managed identity",
                  "004:8928-8953", "rest-delete", {"api_version": "2015-08-31-preview", "step": "delete"}),
        Procedure("UAT-CREATE", F, "ua-template", "template", "scenario", "Create a user-assigned managed identity",
                  "004:8796-8833", "template-create", {"api_version": "2018-11-30", "step": "template"}),
        Procedure("C1-UA-BICEP", F, "other-hosts", "Bicep", "bicep", "Create a user-assigned managed identity",
                  "001:297-340", "bicep-create", {"api_version": "2023-01-31", "step": "bicep"}),
        Procedure("UAP-CREATE", F, "ua-portal", "portal", "portal", "Create a user-assigned managed identity",
                  "004:8480-8518", "portal-create", {"api_version": "2023-01-31", "step": "create"}),
        Procedure("UAP-LIST", F, "ua-portal", "portal", "portal", "List user-assigned managed identities",
                  "004:8520-8572", "portal-list", {"api_version": "2023-01-31", "step": "list"}),
        Procedure("UAP-DELETE", F, "ua-portal", "portal", "portal", "Delete a user-assigned managed identity",
                  "004:8574-8585", "portal-delete", {"api_version": "2023-01-31", "step": "delete"}),
        Procedure("UAP-ROLE", F, "ua-portal", "portal", "portal", "Assign a role to a user-assigned managed identity",
                  "004:8587-8607", "portal-role", {"api_version": "2023-01-31", "step": "role",
                                                   "role": "User Access Administrator"}),
        Procedure("OV-2", F, "overview", "concept", "scenario",
                  "How a user-assigned managed identity works with an Azure VM", "004:251-275",
                  "overview-shared", {"api_version": "2018-11-30", "step": "shared", "role": "Reader"}),
    ]


def _rbac_rows() -> list[Procedure]:
    F = "rbac_assign"
    return [
        Procedure("AS-PORTAL", F, "assign-portal", "portal", "portal", "Use RBAC to assign a managed identity access "
                  "to another resource", "004:8201-8354", "portal-vm-reader-storage",
                  {"role": "Reader", "host": "vm", "api_version": "2022-04-01"}),
        Procedure("AS-PORTAL", F, "assign-portal", "portal", "portal", "Use RBAC to assign a managed identity access "
                  "to another resource", "004:8201-8354", "portal-vmss-reader-storage",
                  {"role": "Reader", "host": "vmss", "api_version": "2022-04-01"}),
    ]


def _other_host_rows() -> list[Procedure]:
    F = "other_hosts"
    return [
        Procedure("C1-ACI-BICEP", F, "other-hosts", "Bicep", "bicep", "Create an Azure service with a "
                  "system-assigned managed identity", "001:98-174", "bicep-aci-system",
                  {"host": "aci", "api_version": "2023-05-01", "role": "Reader"}),
        Procedure("C1-APP-BICEP", F, "other-hosts", "Bicep", "bicep", "Create an Azure service with a "
                  "user-assigned managed identity", "001:453-539", "bicep-webapp-user",
                  {"host": "site", "api_version": "2023-12-01", "role": "Reader"}),
    ]


PROCEDURES += [*_vm_extras(), *_ua_rows(), *_rbac_rows(), *_other_host_rows(), *_runner_rows()]


def tutorials(tutorial_cls, page_cls) -> list:
    """Registry tutorials for the procedures a scenario here runs (scenario, portal and Bicep rows)."""
    out = []
    for p in PROCEDURES:
        if p.variant is None:
            continue
        title, file, seed = PAGES[p.page]
        facts = {"pivot": p.pivot, "how": p.how, "procedure": p.id, "seed_lines": p.seed_lines, **(p.facts or {})}
        out.append(tutorial_cls(p.family, p.variant, page_cls(title, file, seed), (p.section,) if p.section else (),
                                f"scenarios/test_{p.family}.py::test_procedure[{p.variant}]", facts))
    return out
