"""The procedures of the seed pages: where each is on its page and what it starts from.

One :class:`Spec` per row of the inventory (``../shared/procedures.md``: 151 procedures of the
five seeds, page x pivot x OS x identity kind). A spec locates its procedure by page title (or
seed file) and section headings, plus a tab or zone pivot on Learn pages; the steps themselves
are derived from the parsed page every time (``derive.py``), so a changed page runs its own
commands, bodies, roles and api-versions.

``given`` is the state the harness makes before the steps, for what the page does in the portal
or assumes from an earlier page (``vm:system`` a VM with a system-assigned identity, ``ua`` a
user-assigned identity, ``grant:Reader@rg`` a role for the VM's identity ...; see ``world.py``).
``branches`` re-make that state before a step that is an alternative to the previous one ("if
your VM has user-assigned identities, use ..."). ``bind`` gives a placeholder the value the
page's own prose names for it, with that prose's words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SEEDS = {"000": "000_288f15110d8d3935.txt", "001": "001_b0c92987657c19fd.txt", "002": "002_3ac18aa7751238e2.txt",
         "003": "003_89263606b3db56ad.txt", "004": "004_68e52737ddb40452.txt"}


@dataclass(frozen=True)
class Spec:
    id: str
    seed: str  # key of SEEDS
    lines: str  # where the inventory found it
    page: str  # page title (or the seed key for pages without one)
    sections: tuple[str, ...]  # headings; () is the whole page
    pivot: str
    family: str
    os: str = "any"
    identity: str = "system"
    title: str = ""
    tab: str | None = None
    zone: str | None = None
    given: tuple[str, ...] = ()
    branches: dict = field(default_factory=dict)
    bind: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    select: str | None = None
    exclude: str | None = None
    boundaries: tuple[str, ...] = ()
    reason: str | None = None  # the procedure cannot run here, whatever its steps
    gap: str | None = None  # what the emulator lacks for it (a milab gap), checked at run time by ``needs``
    needs: tuple[str, ...] = ()  # resource types (or hosts) the procedure needs the emulator to model
    template_identity: str | None = None  # the reader's template a page's fragments go into has this identity

    @property
    def file(self) -> str:
        return SEEDS[self.seed]


# ------------------------------------------------------------------------- pages of the seeds
OVERVIEW = "What is managed identities for Azure resources?"
QS_W_ARM = "Use a Windows VM system-assigned managed identity to access Resource Manager"
QS_L_ARM = "Use a Linux VM system-assigned managed identity to access Azure Resource Manager"
TW = "Tutorial: Use a Windows VM system-assigned managed identity to access "
TL = "Tutorial: Use a Linux VM system-assigned managed identity to access "
TW_UA = "Tutorial: Use a User-assigned Managed Identity on a Windows VM, to access Azure Resource Manager"
TL_SAS = "Tutorial: Use a Linux VM system-assigned identity to access Azure Storage via a SAS credential"
TL_UA = "Tutorial: Use a user-assigned managed identity on a Linux VM to access Azure Resource Manager"
VM_PORTAL = "Configure managed identities for Azure resources on a VM using the Azure portal"
VM_CLI = "Configure managed identities for Azure resources on an Azure VM using Azure CLI"
VM_PS = "Configure managed identities for Azure resources on an Azure VM using PowerShell"
VM_TPL = "Configure managed identities for Azure resources on an Azure VM using a templates"
VM_REST = "Configure Managed identities for Azure resources on an Azure VM using REST API calls"
SS_PORTAL = "Configure managed identities for Azure resources on a virtual machine scale set using the Azure portal"
SS_CLI = "Configure managed identities for Azure resources on a virtual machine scale set using Azure CLI"
SS_PS = "Configure managed identities for Azure resources on virtual machine scale sets using PowerShell"
SS_TPL = "Configure managed identities for Azure resources on an Azure virtual machine scale using a template"
SS_REST = "Configure managed identities for Azure resources on a virtual machine scale set using REST API calls"
TOKEN = "How to use managed identities for Azure resources on an Azure VM to acquire an access token"
SIGN_IN = "How to use managed identities for Azure resources on an Azure VM for sign in"
EXT = ("How to stop using the virtual machine managed identities extension and start using the Azure "
       "Instance Metadata Service")
AS_PORTAL = "Assign a managed identity access to a resource by using the Azure portal"
AS_CLI = "Assign a managed identity access to a resource using Azure CLI"
AS_PS = "Assign a managed identity access to a resource using PowerShell"
UA_PORTAL = "Create, list, delete or assign a role to a user-assigned managed identity using the Azure portal"
UA_CLI = "Create, list or delete a user-assigned managed identity using the Azure CLI"
UA_PS = "Create, list or delete a user-assigned managed identity using Azure PowerShell"
UA_TPL = "Create, list and delete a user-assigned managed identity using Azure Resource Manager"
UA_REST = "Create, list or delete a user-assigned managed identity using REST API calls"
SP_PORTAL = "View the service principal of a managed identity in the Azure portal"
SP_CLI = "View the service principal of a managed identity using Azure CLI"
SP_PS = "View the service principal of a managed identity using PowerShell"
FAQ = "FAQs and known issues with managed identities for Azure resources"
SERVICES = "Services that support managed identities for Azure resources"
COSMOS_VM = "Use managed identities from a virtual machine to access Azure Cosmos DB"
COSMOS_KEYS_2022 = "Tutorial: Use a managed identity to access Azure Cosmos DB - Windows"

# why whole kinds of procedure cannot run here
CONCEPT = "a concept section: it states facts and has no steps to run (the scenarios check them)"
RETIRED_ADLS = ("Azure Data Lake Storage Gen1 was retired on 2024-02-29 and is not emulated "
                "(its successor is ADLS Gen2)")
RETIRED_AAD_GRAPH = "Azure AD Graph (graph.windows.net) is retired and not emulated; Microsoft Graph is its successor"
RETIRED_EXTENSION = ("the managed identities VM extension (localhost:50342) is retired since January 2019 and "
                     "not emulated; IMDS replaces it")

DEPLOYMENTS = "Microsoft.Resources/deployments"
COSMOS = "Microsoft.DocumentDB/databaseAccounts"
KEY_VAULT = "Microsoft.KeyVault/vaults"
ACI = "Microsoft.ContainerInstance/containerGroups"
WEB = "Microsoft.Web/sites"
SQL = "Microsoft.Sql/servers"
GRAPH = "graph.microsoft.com"


def _s(id, seed, lines, page, sections, pivot, family, os="any", identity="system", title="", **kw) -> Spec:
    if isinstance(sections, str):
        sections = (sections,)
    return Spec(id, seed, lines, page, tuple(sections), pivot, family, os, identity, title, **kw)


SPECS: list[Spec] = [
    # --------------------------------------------------------------- 004: overview and quickstarts
    _s("OV-1", "004", "163-308", OVERVIEW, "How a system-assigned managed identity works with an Azure VM",
       "concept", "vm_identity_config", reason=CONCEPT,
       title="What is managed identities › How a system-assigned MI works with a VM"),
    _s("OV-2", "004", "163-308", OVERVIEW, "How a user-assigned managed identity works with an Azure VM",
       "concept", "ua_identity_crud", identity="user", reason=CONCEPT,
       title="What is managed identities › How a user-assigned MI works with a VM"),
    _s("QS-W-ARM", "004", "310-436", QS_W_ARM, (), "Windows tutorial", "arm_read", os="windows",
       given=("vm:system", "grant:Reader@rg"), title="Windows VM system-assigned MI → Resource Manager"),
    _s("QS-L-ARM", "004", "438-574", QS_L_ARM, (), "Linux tutorial", "arm_read", os="linux",
       given=("vm:system", "grant:Reader@rg"), title="Linux VM system-assigned MI → Resource Manager"),
    # --------------------------------------------------------------- 004: Windows tutorials
    _s("TW-ADLS", "004", "576-750", TW + "Azure Data Lake Store", (), "Windows tutorial", "data_lake",
       os="windows", title="Windows VM SA → Azure Data Lake Store"),
    _s("TW-STG-RBAC", "004", "752-994", TW + "Azure Storage", (), "Windows tutorial", "storage_rbac",
       os="windows", title="Windows VM SA → Azure Storage (RBAC)"),
    _s("TW-STG-KEY", "004", "996-1221", TW + "Azure Storage via access key", (), "Windows tutorial", "storage_key",
       os="windows", title="Windows VM SA → Storage via access key"),
    _s("TW-STG-SAS", "004", "1223-1473", TW + "Azure Storage via a SAS credential", (), "Windows tutorial",
       "storage_sas", os="windows", title="Windows VM SA → Storage via SAS"),
    _s("TW-SQL", "004", "1475-1666", TW + "Azure SQL", (), "Windows tutorial", "sql", os="windows",
       title="Windows VM SA → Azure SQL"),
    _s("TW-KV", "004", "1668-1801", TW + "Azure Key Vault", (), "Windows tutorial", "key_vault", os="windows",
       title="Windows VM SA → Key Vault"),
    _s("TW-COSMOS", "004", "1803-1987", TW + "Azure Cosmos DB", (), "Windows tutorial", "cosmos_keys",
       os="windows", given=("vm:system", "cosmos", "grant:Cosmos DB Account Reader Role@cosmos"), needs=(COSMOS,),
       title="Windows VM SA → Cosmos DB (2019)"),
    _s("TW-GRAPH", "004", "1989-2180", TW + "Azure AD Graph API", (), "Windows tutorial", "directory_graph",
       os="windows", title="Windows VM SA → Azure AD Graph"),
    _s("TW-UA-ARM", "004", "2182-2321", TW_UA, (), "Windows tutorial", "arm_read", os="windows", identity="user",
       title="User-assigned MI on a Windows VM → ARM"),
    # --------------------------------------------------------------- 004: Linux tutorials
    _s("TL-ADLS", "004", "2323-2469", TL + "Azure Data Lake Store", (), "Linux tutorial", "data_lake", os="linux",
       given=("vm:system", "adls", "adls-acl:/=r-x", "adls-acl:/{folder}=rwx+default"), gap=RETIRED_ADLS,
       needs=("Microsoft.DataLakeStore/accounts",), title="Linux VM SA → Azure Data Lake Store"),
    _s("TL-STG-RBAC", "004", "2471-2619", TL + "Azure Storage", (), "Linux tutorial", "storage_rbac", os="linux",
       given=("vm:system", "storage", "container", "blob:hello_world.txt=Hello world! :)",
              "grant:Storage Blob Data Reader@storage"),
       title="Linux VM SA → Azure Storage (RBAC)"),
    _s("TL-STG-KEY", "004", "2621-2868", TL + "Azure Storage via access key", (), "Linux tutorial", "storage_key",
       os="linux", given=("vm:system", "storage", "container", "grant:Storage Account Key Operator Service Role@storage"),
       title="Linux VM SA → Storage via access key"),
    _s("TL-STG-SAS", "004", "2870-3127", TL_SAS, (), "Linux tutorial", "storage_sas", os="linux",
       given=("vm:system", "storage", "container", "grant:Storage Account Contributor@storage"),
       title="Linux VM SA → Storage via SAS"),
    _s("TL-KV", "004", "3129-3267", TL + "Azure Key Vault", (), "Linux tutorial", "key_vault", os="linux",
       given=("vm:system", "keyvault", "secret", "policy:get@keyvault"), needs=(KEY_VAULT,),
       title="Linux VM SA → Key Vault"),
    _s("TL-COSMOS", "004", "3269-3498", TL + "Azure Cosmos DB", (), "Linux tutorial", "cosmos_keys", os="linux",
       given=("vm:system", "cosmos"), needs=(COSMOS,),
       bind={"ROLE NAME": "Cosmos DB Account Reader Role"}, title="Linux VM SA → Cosmos DB (2019)"),
    _s("TL-GRAPH", "004", "3500-3673", TL + "Azure AD Graph API", (), "Linux tutorial", "directory_graph",
       os="linux", given=("vm:system",), gap=RETIRED_AAD_GRAPH, needs=("graph.windows.net",),
       title="Linux VM SA → Azure AD Graph"),
    _s("TL-UA-ARM", "004", "3675-3830", TL_UA, (), "Linux tutorial", "arm_read", os="linux", identity="user",
       given=("vm",), title="User-assigned MI on a Linux VM → ARM"),
    # --------------------------------------------------------------- 004: configure a VM, portal
    _s("VMP-SA-create", "004", "3851-3890", VM_PORTAL, "Enable system-assigned managed identity during creation of a VM",
       "portal", "vm_identity_config", boundaries=("Create a virtual machine",),
       title="Configure MI on a VM (portal) › Enable SA during VM creation"),
    _s("VMP-SA-enable", "004", "3892-3901", VM_PORTAL, "Enable system-assigned managed identity on an existing VM",
       "portal", "vm_identity_config", title="Configure MI on a VM (portal) › Enable SA on an existing VM"),
    _s("VMP-SA-remove", "004", "3903-3915", VM_PORTAL, "Remove system-assigned managed identity from a VM",
       "portal", "vm_identity_config", title="Configure MI on a VM (portal) › Remove SA"),
    _s("VMP-UA-assign", "004", "3921-3946", VM_PORTAL, "Assign a user-assigned managed identity to an existing VM",
       "portal", "vm_identity_config", identity="user",
       boundaries=("Assign a user-assigned identity during the creation of a VM",),
       title="Configure MI on a VM (portal) › Assign UA to an existing VM"),
    _s("VMP-UA-remove", "004", "3948-3956", VM_PORTAL, "Remove a user-assigned managed identity from a VM",
       "portal", "vm_identity_config", identity="user", title="Configure MI on a VM (portal) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a VM, CLI
    _s("VMC-SA-create", "004", "4004-4024", VM_CLI,
       "Enable system-assigned managed identity during creation of an Azure VM", "CLI", "vm_identity_config",
       needs=(DEPLOYMENTS,), title="Configure MI on a VM (CLI) › Enable SA during VM creation"),
    _s("VMC-SA-enable", "004", "4026-4040", VM_CLI, "Enable system-assigned managed identity on an existing Azure VM",
       "CLI", "vm_identity_config", given=("vm",), title="Configure MI on a VM (CLI) › Enable SA on an existing VM"),
    _s("VMC-SA-disable", "004", "4042-4064", VM_CLI, "Disable system-assigned identity from an Azure VM", "CLI",
       "vm_identity_config", given=("vm:both",), branches={2: ("vm:system",)},
       title="Configure MI on a VM (CLI) › Disable SA"),
    _s("VMC-UA-create", "004", "4070-4111", VM_CLI,
       "Assign a user-assigned managed identity during the creation of an Azure VM", "CLI", "vm_identity_config",
       identity="user", needs=(DEPLOYMENTS,), title="Configure MI on a VM (CLI) › Assign UA during VM creation"),
    _s("VMC-UA-assign", "004", "4113-4148", VM_CLI, "Assign a user-assigned managed identity to an existing Azure VM",
       "CLI", "vm_identity_config", identity="user", given=("vm",),
       title="Configure MI on a VM (CLI) › Assign UA to an existing VM"),
    _s("VMC-UA-remove", "004", "4150-4175", VM_CLI, "Remove a user-assigned managed identity from an Azure VM", "CLI",
       "vm_identity_config", identity="user", given=("vm:user",), branches={2: ("vm:user",), 3: ("vm:both",)},
       title="Configure MI on a VM (CLI) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a VM, PowerShell
    _s("VMPS-SA-create", "004", "4211-4228", VM_PS,
       "Enable system-assigned managed identity during creation of an Azure VM", "PowerShell", "vm_identity_config",
       title="Configure MI on a VM (PowerShell) › Enable SA during VM creation"),
    _s("VMPS-SA-enable", "004", "4230-4249", VM_PS, "Enable system-assigned managed identity on an existing Azure VM",
       "PowerShell", "vm_identity_config", title="Configure MI on a VM (PowerShell) › Enable SA on an existing VM"),
    _s("VMPS-SA-group", "004", "4251-4277", VM_PS, "Add VM system assigned identity to a group", "PowerShell",
       "directory_graph", title="Configure MI on a VM (PowerShell) › Add VM SA to a group"),
    _s("VMPS-SA-disable", "004", "4279-4307", VM_PS, "Disable system-assigned managed identity from an Azure VM",
       "PowerShell", "vm_identity_config", title="Configure MI on a VM (PowerShell) › Disable SA"),
    _s("VMPS-UA-create", "004", "4313-4332", VM_PS, "Assign a user-assigned managed identity to a VM during creation",
       "PowerShell", "vm_identity_config", identity="user",
       title="Configure MI on a VM (PowerShell) › Assign UA during VM creation"),
    _s("VMPS-UA-assign", "004", "4334-4369", VM_PS, "Assign a user-assigned managed identity to an existing Azure VM",
       "PowerShell", "vm_identity_config", identity="user",
       title="Configure MI on a VM (PowerShell) › Assign UA to an existing VM"),
    _s("VMPS-UA-remove", "004", "4371-4395", VM_PS, "Remove a user-assigned managed identity from an Azure VM",
       "PowerShell", "vm_identity_config", identity="user", title="Configure MI on a VM (PowerShell) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a VM, templates
    _s("VMT-SA-enable", "004", "4435-4487", VM_TPL,
       "Enable system-assigned managed identity during creation of an Azure VM or on an existing VM", "template",
       "vm_identity_config", needs=(DEPLOYMENTS,),
       boundaries=("Assign a role the VM's system-assigned managed identity",),
       title="Configure MI on a VM (templates) › Enable SA"),
    _s("VMT-SA-role", "004", "4489-4536", VM_TPL, "Assign a role the VM's system-assigned managed identity",
       "template", "vm_identity_config", needs=(DEPLOYMENTS,), template_identity="system",
       title="Configure MI on a VM (templates) › Assign a role to the VM's SA in the template"),
    _s("VMT-SA-disable", "004", "4538-4567", VM_TPL, "Disable a system-assigned managed identity from an Azure VM",
       "template", "vm_identity_config", given=("vm:system",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VM (templates) › Disable SA"),
    _s("VMT-UA-assign", "004", "4577-4702", VM_TPL, "Assign a user-assigned managed identity to an Azure VM",
       "template", "vm_identity_config", identity="user", given=("ua",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VM (templates) › Assign UA"),
    _s("VMT-UA-remove", "004", "4704-4737", VM_TPL, "Remove a user-assigned managed identity from an Azure VM",
       "template", "vm_identity_config", identity="user", given=("vm:user",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VM (templates) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a VM, REST
    _s("VMR-SA-create", "004", "4779-4878", VM_REST,
       "Enable system-assigned managed identity during creation of an Azure VM", "REST", "vm_identity_config",
       title="Configure MI on a VM (REST) › Enable SA during VM creation"),
    _s("VMR-SA-enable", "004", "4880-5007", VM_REST, "Enable system-assigned identity on an existing Azure VM", "REST",
       "vm_identity_config", given=("vm", "ua:ID1", "ua:ID2"),
       title="Configure MI on a VM (REST) › Enable SA on an existing VM"),
    _s("VMR-SA-disable", "004", "5009-5055", VM_REST, "Disable system-assigned managed identity from an Azure VM",
       "REST", "vm_identity_config", given=("vm:system",), title="Configure MI on a VM (REST) › Disable SA"),
    _s("VMR-UA-create", "004", "5061-5265", VM_REST,
       "Assign a user-assigned managed identity during the creation of an Azure VM", "REST", "vm_identity_config",
       identity="user", given=("rg", "ua:ID1"), title="Configure MI on a VM (REST) › Assign UA during VM creation"),
    _s("VMR-UA-assign", "004", "5267-5458", VM_REST, "Assign a user-assigned managed identity to an existing Azure VM",
       "REST", "vm_identity_config", identity="user", given=("vm", "ua:ID1", "ua:ID2"),
       title="Configure MI on a VM (REST) › Assign UA to an existing VM"),
    _s("VMR-UA-remove", "004", "5460-5631", VM_REST, "Remove a user-assigned managed identity from an Azure VM",
       "REST", "vm_identity_config", identity="user", given=("ua:ID1", "ua:ID2", "vm:system+ID1+ID2"),
       title="Configure MI on a VM (REST) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a scale set, portal
    _s("VMSSP-SA-enable", "004", "5692-5711", SS_PORTAL,
       "Enable system-assigned managed identity on an existing virtual machine scale set", "portal",
       "vmss_identity_config", boundaries=("Enable system-assigned managed identity during creation of a virtual "
                                           "machine scale set",),
       title="Configure MI on a VMSS (portal) › Enable SA on an existing scale set"),
    _s("VMSSP-SA-remove", "004", "5713-5721", SS_PORTAL,
       "Remove system-assigned managed identity from a virtual machine scale set", "portal", "vmss_identity_config",
       title="Configure MI on a VMSS (portal) › Remove SA"),
    _s("VMSSP-UA-assign", "004", "5727-5745", SS_PORTAL,
       "Assign a user-assigned managed identity to an existing virtual machine scale set", "portal",
       "vmss_identity_config", identity="user",
       boundaries=("Assign a user-assigned managed identity during the creation of a virtual machine scale set",),
       title="Configure MI on a VMSS (portal) › Assign UA to an existing scale set"),
    _s("VMSSP-UA-remove", "004", "5747-5782", SS_PORTAL,
       "Remove a user-assigned managed identity from a virtual machine scale set", "portal", "vmss_identity_config",
       identity="user", title="Configure MI on a VMSS (portal) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a scale set, CLI
    _s("VMSSC-SA-create", "004", "5838-5858", SS_CLI,
       "Enable system-assigned managed identity during creation of an Azure virtual machine scale set", "CLI",
       "vmss_identity_config", needs=(DEPLOYMENTS,), title="Configure MI on a VMSS (CLI) › Enable SA during creation"),
    _s("VMSSC-SA-enable", "004", "5860-5874", SS_CLI,
       "Enable system-assigned managed identity on an existing Azure virtual machine scale set", "CLI",
       "vmss_identity_config", given=("vmss",), title="Configure MI on a VMSS (CLI) › Enable SA on existing"),
    _s("VMSSC-SA-disable", "004", "5876-5896", SS_CLI,
       "Disable system-assigned managed identity from an Azure virtual machine scale set", "CLI",
       "vmss_identity_config", given=("vmss:both",), branches={2: ("vmss:system",)},
       bind={"myVM": "@vmss_name"},  # 'az vmss update -n myVM': the page names its scale set myVM
       title="Configure MI on a VMSS (CLI) › Disable SA"),
    _s("VMSSC-UA-create", "004", "5902-5945", SS_CLI,
       "Assign a user-assigned managed identity during the creation of a virtual machine scale set", "CLI",
       "vmss_identity_config", identity="user", needs=(DEPLOYMENTS,),
       title="Configure MI on a VMSS (CLI) › Assign UA during creation"),
    _s("VMSSC-UA-assign", "004", "5947-5976", SS_CLI,
       "Assign a user-assigned managed identity to an existing virtual machine scale set", "CLI",
       "vmss_identity_config", identity="user", given=("vmss",),
       title="Configure MI on a VMSS (CLI) › Assign UA to existing"),
    _s("VMSSC-UA-remove", "004", "5978-6002", SS_CLI,
       "Remove a user-assigned managed identity from an Azure virtual machine scale set", "CLI",
       "vmss_identity_config", identity="user", given=("vmss:user",),
       branches={2: ("vmss:user",), 3: ("vmss:both",)}, title="Configure MI on a VMSS (CLI) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a scale set, PowerShell
    _s("VMSSPS-SA-create", "004", "6046-6058", SS_PS,
       "Enable system-assigned managed identity during the creation of an Azure virtual machine scale set",
       "PowerShell", "vmss_identity_config", title="Configure MI on VMSS (PowerShell) › Enable SA during creation"),
    _s("VMSSPS-SA-enable", "004", "6060-6078", SS_PS,
       "Enable system-assigned managed identity on an existing Azure virtual machine scale set", "PowerShell",
       "vmss_identity_config", title="Configure MI on VMSS (PowerShell) › Enable SA on existing"),
    _s("VMSSPS-SA-disable", "004", "6080-6095", SS_PS,
       "Disable the system-assigned managed identity from an Azure virtual machine scale set", "PowerShell",
       "vmss_identity_config", title="Configure MI on VMSS (PowerShell) › Disable SA"),
    _s("VMSSPS-UA-assign", "004", "6101-6124", SS_PS,
       "Assign a user-assigned managed identity to an existing Azure virtual machine scale set", "PowerShell",
       "vmss_identity_config", identity="user",
       boundaries=("Assign a user-assigned managed identity during creation of an Azure virtual machine scale set",),
       title="Configure MI on VMSS (PowerShell) › Assign UA to existing"),
    _s("VMSSPS-UA-remove", "004", "6126-6145", SS_PS,
       "Remove a user-assigned managed identity from an Azure virtual machine scale set", "PowerShell",
       "vmss_identity_config", identity="user", title="Configure MI on VMSS (PowerShell) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a scale set, templates
    _s("VMSST-SA-enable", "004", "6199-6260", SS_TPL,
       "Enable system-assigned managed identity during creation the creation of a virtual machines scale set or an "
       "existing virtual machine scale set", "template", "vmss_identity_config", needs=(DEPLOYMENTS,),
       title="Configure MI on a VMSS (template) › Enable SA"),
    _s("VMSST-SA-disable", "004", "6262-6290", SS_TPL,
       "Disable a system-assigned managed identity from an Azure virtual machine scale set", "template",
       "vmss_identity_config", given=("vmss:system",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VMSS (template) › Disable SA"),
    _s("VMSST-UA-assign", "004", "6300-6438", SS_TPL, "Assign a user-assigned managed identity to a virtual machine "
       "scale set", "template", "vmss_identity_config", identity="user", given=("ua",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VMSS (template) › Assign UA"),
    _s("VMSST-UA-remove", "004", "6440-6470", SS_TPL,
       "Remove user-assigned managed identity from an Azure virtual machine scale set", "template",
       "vmss_identity_config", identity="user", given=("vmss:user",), needs=(DEPLOYMENTS,),
       title="Configure MI on a VMSS (template) › Remove UA"),
    # --------------------------------------------------------------- 004: configure a scale set, REST
    _s("VMSSR-SA-create", "004", "6523-6646", SS_REST,
       "Enable system-assigned managed identity during creation of a virtual machine scale set", "REST",
       "vmss_identity_config", title="Configure MI on a VMSS (REST) › Enable SA during creation"),
    _s("VMSSR-SA-enable", "004", "6648-6784", SS_REST,
       "Enable system-assigned managed identity on an existing virtual machine scale set", "REST",
       "vmss_identity_config", given=("vmss", "ua:ID1", "ua:ID2"),
       title="Configure MI on a VMSS (REST) › Enable SA on existing"),
    _s("VMSSR-SA-disable", "004", "6786-6839", SS_REST,
       "Disable system-assigned managed identity from a virtual machine scale set", "REST", "vmss_identity_config",
       given=("vmss:system",), title="Configure MI on a VMSS (REST) › Disable SA"),
    _s("VMSSR-UA-create", "004", "6845-7090", SS_REST,
       "Assign a user-assigned managed identity during the creation of a virtual machine scale set", "REST",
       "vmss_identity_config", identity="user", given=("rg", "ua:ID1"),
       title="Configure MI on a VMSS (REST) › Assign UA during creation"),
    _s("VMSSR-UA-assign", "004", "7092-7281", SS_REST,
       "Assign a user-assigned managed identity to an existing Azure virtual machine scale set", "REST",
       "vmss_identity_config", identity="user", given=("vmss", "ua:ID1", "ua:ID2"),
       title="Configure MI on a VMSS (REST) › Assign UA to existing"),
    _s("VMSSR-UA-remove", "004", "7283-7451", SS_REST,
       "Remove a user-assigned managed identity from a virtual machine scale set", "REST", "vmss_identity_config",
       identity="user", given=("ua:ID1", "ua:ID2", "vmss:system+ID1+ID2"),
       title="Configure MI on a VMSS (REST) › Remove UA"),
    # --------------------------------------------------------------- 004: acquire a token
    _s("TOK-HTTP", "004", "7501-7561", TOKEN, "Get a token using HTTP", "REST", "token_endpoint", identity="system",
       given=("vm:system",), exclude=r"localhost:50342", title="Acquire an access token › Get a token using HTTP"),
    _s("TOK-EXT", "004", "7526-7561", TOKEN, "Get a token using HTTP", "REST", "vm_extension", given=("vm:system",),
       select=r"localhost:50342", gap=RETIRED_EXTENSION, needs=("localhost:50342",),
       title="Acquire an access token › Sample request via the VM extension endpoint"),
    _s("TOK-APPAUTH", "004", "7563-7583", TOKEN,
       "Get a token using the Microsoft.Azure.Services.AppAuthentication library for .NET", "SDK", "token_endpoint",
       title="Acquire an access token › Microsoft.Azure.Services.AppAuthentication (.NET)"),
    _s("TOK-CSHARP", "004", "7585-7618", TOKEN, "Get a token using C", "SDK", "token_endpoint",
       title="Acquire an access token › Get a token using C#"),
    _s("TOK-JAVA", "004", "7620-7665", TOKEN, "Get a token using Java", "SDK", "token_endpoint",
       title="Acquire an access token › Get a token using Java"),
    _s("TOK-GO", "004", "7667-7751", TOKEN, "Get a token using Go", "SDK", "token_endpoint",
       title="Acquire an access token › Get a token using Go"),
    _s("TOK-PS", "004", "7753-7781", TOKEN, "Get a token using Azure PowerShell", "PowerShell", "token_endpoint",
       os="windows", title="Acquire an access token › Get a token using Azure PowerShell"),
    _s("TOK-CURL", "004", "7783-7795", TOKEN, "Get a token using CURL", "REST", "token_endpoint", os="linux",
       given=("vm:system",), title="Acquire an access token › Get a token using CURL"),
    _s("TOK-CACHE", "004", "7797-7804", TOKEN, "Token caching", "concept", "token_endpoint", reason=CONCEPT,
       title="Acquire an access token › Token caching"),
    _s("TOK-ERR", "004", "7806-7825", TOKEN, "Error handling", "concept", "token_endpoint", reason=CONCEPT,
       title="Acquire an access token › Error handling"),
    _s("TOK-REF", "004", "7827-7842", TOKEN, "HTTP response reference", "concept", "token_endpoint", reason=CONCEPT,
       title="Acquire an access token › HTTP response reference"),
    _s("TOK-RETRY", "004", "7844-7855", TOKEN, "Retry guidance", "concept", "token_endpoint", reason=CONCEPT,
       title="Acquire an access token › Retry guidance"),
    # --------------------------------------------------------------- 004: sign in, SDKs, the extension
    _s("SI-CLI", "004", "7897-7909", SIGN_IN, "Azure CLI", "CLI", "sign_in", given=("vm:system", "grant:Reader@vm"),
       title="Use MI on a VM for sign in › Azure CLI"),
    _s("SI-PS", "004", "7911-7926", SIGN_IN, "Azure PowerShell", "PowerShell", "sign_in",
       title="Use MI on a VM for sign in › Azure PowerShell"),
    _s("EXT-PROV", "004", "8000-8076", EXT, "Provision the extension", "PowerShell + template", "vm_extension",
       reason=RETIRED_EXTENSION, title="Stop using the VM extension › Provision the extension"),
    _s("EXT-REM", "004", "8078-8092", EXT, "Remove the extension", "CLI + PowerShell", "vm_extension",
       given=("vm", "vmss"), exclude=r"localhost:50342", title="Stop using the VM extension › Remove the extension",
       boundaries=("Troubleshoot the virtual machine extension",)),
    _s("EXT-TOKEN", "004", "8094-8167", EXT, "Troubleshoot the virtual machine extension", "REST + PowerShell",
       "vm_extension", reason=RETIRED_EXTENSION,
       title="Stop using the VM extension › Acquire a token via the extension; restart it"),
    # --------------------------------------------------------------- 004: assign access
    _s("AS-PORTAL", "004", "8201-8354", AS_PORTAL, "Use RBAC to assign a managed identity access to another resource",
       "portal", "rbac_assign", title="Assign a MI access to a resource (portal)"),
    _s("AS-CLI-VM", "004", "8386-8416", AS_CLI, "Use RBAC to assign a managed identity access to another resource",
       "CLI", "rbac_assign", given=("vm:system", "storage"), exclude=r"DevTestVMSS",
       title="Assign a MI access to a resource (CLI) › VM → storage account Reader"),
    _s("AS-CLI-VMSS", "004", "8400-8404", AS_CLI, "Use RBAC to assign a managed identity access to another resource",
       "CLI", "rbac_assign", given=("vmss:system", "storage"), exclude=r"-n myVM ",
       title="Assign a MI access to a resource (CLI) › VMSS → storage account Reader"),
    _s("AS-PS", "004", "8424-8463", AS_PS, "Use RBAC to assign a managed identity access to another resource",
       "PowerShell", "rbac_assign", title="Assign a MI access to a resource (PowerShell)"),
    # --------------------------------------------------------------- 004: user-assigned identities
    _s("UAP-CREATE", "004", "8480-8518", UA_PORTAL, "Create a user-assigned managed identity", "portal",
       "ua_identity_crud", identity="user", title="Manage UA identities (portal) › Create"),
    _s("UAP-LIST", "004", "8520-8572", UA_PORTAL, "List user-assigned managed identities", "portal",
       "ua_identity_crud", identity="user", title="Manage UA identities (portal) › List"),
    _s("UAP-DELETE", "004", "8574-8585", UA_PORTAL, "Delete a user-assigned managed identity", "portal",
       "ua_identity_crud", identity="user", title="Manage UA identities (portal) › Delete"),
    _s("UAP-ROLE", "004", "8587-8607", UA_PORTAL, "Assign a role to a user-assigned managed identity", "portal",
       "ua_identity_crud", identity="user", title="Manage UA identities (portal) › Assign a role to a UA"),
    _s("UAC-CREATE", "004", "8642-8656", UA_CLI, "Create a user-assigned managed identity", "CLI", "ua_identity_crud",
       identity="user", given=("rg",), title="Manage UA identities (CLI) › Create"),
    _s("UAC-LIST", "004", "8658-8672", UA_CLI, "List user-assigned managed identities", "CLI", "ua_identity_crud",
       identity="user", given=("ua",), title="Manage UA identities (CLI) › List"),
    _s("UAC-DELETE", "004", "8674-8686", UA_CLI, "Delete a user-assigned managed identity", "CLI", "ua_identity_crud",
       identity="user", given=("ua",), title="Manage UA identities (CLI) › Delete"),
    _s("UAPS-CREATE", "004", "8719-8731", UA_PS, "Create a user-assigned managed identity", "PowerShell",
       "ua_identity_crud", identity="user", title="Manage UA identities (PowerShell) › Create"),
    _s("UAPS-LIST", "004", "8733-8747", UA_PS, "List user-assigned managed identities", "PowerShell",
       "ua_identity_crud", identity="user", title="Manage UA identities (PowerShell) › List"),
    _s("UAPS-DELETE", "004", "8749-8761", UA_PS, "Delete a user-assigned managed identity", "PowerShell",
       "ua_identity_crud", identity="user", title="Manage UA identities (PowerShell) › Delete"),
    _s("UAT-CREATE", "004", "8796-8833", UA_TPL, "Create a user-assigned managed identity", "template",
       "ua_identity_crud", identity="user", given=("rg",), needs=(DEPLOYMENTS,),
       title="Manage UA identities (ARM template) › Create"),
    _s("UAR-CREATE", "004", "8872-8906", UA_REST, "Create a user-assigned managed identity", "REST",
       "ua_identity_crud", identity="user", given=("rg",), title="Manage UA identities (REST) › Create"),
    _s("UAR-LIST", "004", "8908-8926", UA_REST, "List user-assigned managed identities", "REST", "ua_identity_crud",
       identity="user", given=("ua",), title="Manage UA identities (REST) › List"),
    _s("UAR-DELETE", "004", "8928-8953", UA_REST, "Delete a user-assigned managed identity", "REST",
       "ua_identity_crud", identity="user", given=("ua",), title="Manage UA identities (REST) › Delete"),
    # --------------------------------------------------------------- 004: service principals, FAQ, services
    _s("SP-PORTAL", "004", "8959-8986", SP_PORTAL, "View the service principal", "portal", "directory_graph",
       title="View the service principal of a MI (portal)"),
    _s("SP-CLI", "004", "8988-9030", SP_CLI, "View the service principal", "CLI", "directory_graph",
       given=("vm:system",), gap="Microsoft Graph (graph.microsoft.com) is not emulated yet", needs=(GRAPH,),
       bind={"VM or application name": "@vm_name"}, title="View the service principal of a MI (CLI)"),
    _s("SP-PS", "004", "9032-9061", SP_PS, "View the service principal", "PowerShell", "directory_graph",
       title="View the service principal of a MI (PowerShell)"),
    _s("FAQ-BOUNDARY", "004", "9083-9085", FAQ, "What is the security boundary of managed identities for Azure "
       "resources?", "concept", "token_endpoint", identity="any", reason=CONCEPT,
       title="FAQs › Security boundary is the resource"),
    _s("FAQ-DEFAULT", "004", "9087-9091", FAQ, "What identity will IMDS default to if don't specify the identity in "
       "the request?", "concept", "token_endpoint", identity="any", reason=CONCEPT,
       title="FAQs › Which identity IMDS defaults to"),
    _s("FAQ-LIMITS", "004", "9093-9115", FAQ, "Should I use the managed identities for Azure resources IMDS endpoint "
       "or the VM extension endpoint?", "concept", "faq", identity="any", reason=CONCEPT,
       title="FAQs › IMDS vs extension: limits"),
    _s("FAQ-TENANT", "004", "9117-9126", FAQ, "Will managed identities be recreated automatically if I move a "
       "subscription to another directory?", "concept", "faq", identity="any", reason=CONCEPT,
       title="FAQs › Subscription moved to another directory"),
    _s("FAQ-VMMOVE", "004", "9156-9176", FAQ, "VM fails to start after being moved from resource group or "
       "subscription", "concept", "faq", identity="any", given=("vm:system",),
       boundaries=("VM extension provisioning fails",), title="FAQs › VM fails to start after a move"),
    _s("FAQ-UAMOVE", "004", "9197-9199", FAQ, "Moving a user-assigned managed identity to a different resource "
       "group/subscription", "concept", "faq", identity="any", reason=CONCEPT,
       title="FAQs › Moving a UA breaks it"),
    _s("SVC-RESID", "004", "9339-9422", SERVICES, "Azure services that support Azure AD authentication", "reference",
       "token_endpoint", identity="any", reason=CONCEPT,
       title="Services that support MI › Resource IDs of services that accept Entra tokens"),
    # --------------------------------------------------------------- 000: a Cosmos DB account with identities
    _s("C0-SA", "000", "16-49", "000", "Create an account with a system-assigned managed identity", "CLI",
       "cosmos_account_identity", identity="system", given=("rg",), needs=(COSMOS,),
       title="Cosmos DB account with managed identities › Create an account with a system-assigned MI"),
    _s("C0-UA", "000", "51-88", "000", "Create a user-assigned managed identity", "CLI", "ua_identity_crud",
       identity="user", given=("rg",), title="Cosmos DB account with managed identities › Create a UA"),
    _s("C0-ASSIGN", "000", "90-125", "000", "Assign a user-assigned managed identity to an account", "CLI",
       "cosmos_account_identity", identity="system+user", given=("cosmos:system", "ua"), needs=(COSMOS,),
       title="Cosmos DB account with managed identities › Assign the UA to the account"),
    # --------------------------------------------------------------- 001: other hosts
    _s("C1-ACI-CLI", "001", "62-96", "001", "Create an Azure service with a system-assigned managed identity", "CLI",
       "other_hosts", os="linux", zone="azure-interface-cli", given=("rg",), needs=(ACI,),
       title="Other hosts › Container instance with SA (CLI)"),
    _s("C1-ACI-BICEP", "001", "98-174", "001", "Create an Azure service with a system-assigned managed identity",
       "Bicep", "other_hosts", os="linux", zone="azure-interface-bicep",
       title="Other hosts › Container instance with SA (Bicep)"),
    _s("C1-ACI-PORTAL", "001", "176-206", "001", "Create an Azure service with a system-assigned managed identity",
       "portal", "other_hosts", zone="azure-interface-portal",
       reason="portal: the pivot is unwritten ('TODO' steps)", title="Other hosts › Container instance with SA (portal)"),
    _s("C1-ACI-PS", "001", "208-252", "001", "Create an Azure service with a system-assigned managed identity",
       "PowerShell", "other_hosts", os="linux", zone="azure-interface-powershell",
       title="Other hosts › Container instance with SA (PowerShell)"),
    _s("C1-UA-CLI", "001", "258-295", "001", "Create a user-assigned managed identity", "CLI", "ua_identity_crud",
       identity="user", zone="azure-interface-cli", given=("rg",), title="Other hosts › Create a UA (CLI)"),
    _s("C1-UA-BICEP", "001", "297-340", "001", "Create a user-assigned managed identity", "Bicep", "ua_identity_crud",
       identity="user", zone="azure-interface-bicep", title="Other hosts › Create a UA (Bicep)"),
    _s("C1-UA-PORTAL", "001", "342-366", "001", "Create a user-assigned managed identity", "portal",
       "ua_identity_crud", identity="user", zone="azure-interface-portal",
       reason="portal: the pivot is unwritten ('TODO' steps)", title="Other hosts › Create a UA (portal)"),
    _s("C1-UA-PS", "001", "368-400", "001", "Create a user-assigned managed identity", "PowerShell",
       "ua_identity_crud", identity="user", zone="azure-interface-powershell",
       title="Other hosts › Create a UA (PowerShell)"),
    _s("C1-APP-CLI", "001", "406-451", "001", "Create an Azure service with a user-assigned managed identity", "CLI",
       "other_hosts", identity="user", zone="azure-interface-cli", given=("rg", "ua"), needs=(WEB,),
       title="Other hosts › Web app with a UA (CLI)"),
    _s("C1-APP-BICEP", "001", "453-539", "001", "Create an Azure service with a user-assigned managed identity",
       "Bicep", "other_hosts", identity="user", zone="azure-interface-bicep",
       title="Other hosts › Web app with a UA (Bicep)"),
    _s("C1-APP-PORTAL", "001", "541-565", "001", "Create an Azure service with a user-assigned managed identity",
       "portal", "other_hosts", identity="user", zone="azure-interface-portal",
       reason="portal: the pivot is unwritten ('TODO' steps)", title="Other hosts › Web app with a UA (portal)"),
    _s("C1-APP-PS", "001", "567-634", "001", "Create an Azure service with a user-assigned managed identity",
       "PowerShell", "other_hosts", identity="user", zone="azure-interface-powershell",
       title="Other hosts › Web app with a UA (PowerShell)"),
    # --------------------------------------------------------------- 002: a VM's identity to Cosmos DB (2023)
    _s("C2-VM-SA-PORTAL", "002", "47-60", COSMOS_VM, "Create a VM with a system-assigned managed identity", "portal",
       "vm_identity_config", tab="azure-portal", title="VM MI → Cosmos DB › Create a VM with SA (portal)"),
    _s("C2-VM-SA-PS", "002", "62-82", COSMOS_VM, "Create a VM with a system-assigned managed identity", "PowerShell",
       "vm_identity_config", tab="azure-powershell", title="VM MI → Cosmos DB › Create a VM with SA (PowerShell)"),
    _s("C2-VM-SA-CLI", "002", "84-93", COSMOS_VM, "Create a VM with a system-assigned managed identity", "CLI",
       "vm_identity_config", tab="azure-cli", given=("rg",), needs=(DEPLOYMENTS,),
       title="VM MI → Cosmos DB › Create a VM with SA (CLI)"),
    _s("C2-VM-SA-TEMPLATE", "002", "95-121", COSMOS_VM, "Create a VM with a system-assigned managed identity",
       "template", "vm_identity_config", tab="azure-resource-manager", given=("rg",), needs=(DEPLOYMENTS,),
       title="VM MI → Cosmos DB › Create a VM with SA (template)"),
    _s("C2-VM-UA-PS", "002", "135-170", COSMOS_VM, "Create a VM with a user-assigned managed identity", "PowerShell",
       "vm_identity_config", identity="user", tab="azure-powershell",
       title="VM MI → Cosmos DB › Create a VM with UA (PowerShell)"),
    _s("C2-VM-UA-CLI", "002", "172-178", COSMOS_VM, "Create a VM with a user-assigned managed identity", "CLI",
       "vm_identity_config", identity="user", tab="azure-cli", given=("rg", "ua"), needs=(DEPLOYMENTS,),
       title="VM MI → Cosmos DB › Create a VM with UA (CLI)"),
    _s("C2-VM-UA-TEMPLATE", "002", "180-210", COSMOS_VM, "Create a VM with a user-assigned managed identity",
       "template", "vm_identity_config", identity="user", tab="azure-resource-manager", given=("rg", "ua"),
       needs=(DEPLOYMENTS,), title="VM MI → Cosmos DB › Create a VM with UA (template)"),
    _s("C2-GRANT-PS", "002", "248-264", COSMOS_VM, "Grant access", "PowerShell", "cosmos_rbac", tab="azure-powershell",
       title="VM MI → Cosmos DB › Grant the MI Cosmos roles (PowerShell)"),
    _s("C2-GRANT-CLI", "002", "266-276", COSMOS_VM, "Grant access", "CLI", "cosmos_rbac", tab="azure-cli",
       given=("vm:system", "cosmos"), needs=(COSMOS,), title="VM MI → Cosmos DB › Grant the MI Cosmos roles (CLI)"),
    _s("C2-GRANT-TEMPLATE", "002", "278-292", COSMOS_VM, "Grant access", "template", "cosmos_rbac",
       tab="azure-resource-manager", given=("vm:system", "cosmos"), needs=(DEPLOYMENTS, COSMOS),
       title="VM MI → Cosmos DB › Grant the MI Cosmos roles (template)"),
    _s("C2-DATA-DOTNET", "002", "296-385", COSMOS_VM, "Access data", "SDK", "cosmos_rbac",
       boundaries=(".NET",), title="VM MI → Cosmos DB › Access data with the VM's MI (.NET program)"),
    _s("C2-DATA-SNIPPETS", "002", "387-417", COSMOS_VM, (".NET", "Java", "JavaScript"), "SDK", "cosmos_rbac",
       given=("vm:system", "cosmos"), needs=(COSMOS,),
       title="VM MI → Cosmos DB › Client initialisation snippets"),
    _s("C2-CLEANUP-PORTAL", "002", "423-431", COSMOS_VM, "Clean up steps", "portal", "vm_identity_config",
       tab="azure-portal", title="VM MI → Cosmos DB › Clean up (portal)"),
    _s("C2-CLEANUP-PS", "002", "433-440", COSMOS_VM, "Clean up steps", "PowerShell", "vm_identity_config",
       tab="azure-powershell", title="VM MI → Cosmos DB › Clean up (PowerShell)"),
    _s("C2-CLEANUP-CLI", "002", "442-449", COSMOS_VM, "Clean up steps", "CLI", "vm_identity_config", tab="azure-cli",
       given=("vm:system",), title="VM MI → Cosmos DB › Clean up (CLI)"),
    # --------------------------------------------------------------- 003: Cosmos DB through access keys (2022)
    _s("C3-COSMOS-KEYS", "003", "21-146", COSMOS_KEYS_2022, (), "Windows tutorial", "cosmos_keys", os="windows",
       title="Windows VM SA → Cosmos DB via access keys (2022)"),
]

BY_ID = {s.id: s for s in SPECS}


def get(proc_id: str) -> Spec:
    return BY_ID[proc_id]


def boundaries_for(spec: Spec) -> tuple[str, ...]:
    """Headings that end a procedure of this page: every other procedure's first heading."""
    out = [s.sections[0] for s in SPECS if s.page == spec.page and s.seed == spec.seed and s.sections
           and s.sections[0] != (spec.sections[0] if spec.sections else None)]
    return tuple(dict.fromkeys([*spec.boundaries, *out]))


def specs_for_page(title: str, file: str | None = None, heading: str | None = None) -> list[Spec]:
    """The catalogued procedures of a page (by its title or first heading, or by seed file name for
    untitled pages)."""
    from .derive import norm
    names = {norm(title)} | ({norm(heading)} if heading else set())
    if file:  # a docs checkout's file name (milab/procedures.py knows the lifecycle pages' names)
        from .. import procedures as lifecycle
        base = file.replace("\\", "/").rsplit("/", 1)[-1]
        names |= {norm(t) for t, name, _ in lifecycle.PAGES.values() if name == base}
    found = [s for s in SPECS if norm(s.page) in names]
    if not found and file:
        name = file.replace("\\", "/").rsplit("/", 1)[-1]
        found = [s for s in SPECS if SEEDS[s.seed] == name and len(s.page) == 3]
    return found
