"""The tutorial registry: the one place that ties documentation pages to scenarios.

Each :class:`Tutorial` names the page it reproduces (by its title as it appears in
the docs and the seeds, and by its file name in the docs repository), the sections
whose steps the scenario runs, the scenario test that runs it, and the *facts* the
scenario depends on (the IMDS request, the ARM request, the role ...).

Scenarios read their facts through the ``tutorial_facts`` fixture, which starts
from the registry and applies overrides from ``--doc-facts FILE`` (JSON written by
``milab docs check --run``), so a changed page can be run with its own facts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMDS_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
ARM = "https://management.azure.com/"


@dataclass(frozen=True)
class Page:
    title: str
    file: str  # file name in the docs repository (articles/.../managed-identities-azure-resources/)
    seed: str | None = None  # the seed file that holds a copy of the page, if any


@dataclass(frozen=True)
class Tutorial:
    family: str
    variant: str
    page: Page
    sections: tuple[str, ...]
    test: str  # pytest node id, relative to the repository root
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.family}[{self.variant}]"

    @property
    def module(self) -> str:
        """The scenario module (path relative to the repository root)."""
        return self.test.partition("::")[0]

    @property
    def param_id(self) -> str | None:
        """``[variant]`` when the family's tests are parametrised by variant, else None."""
        return f"[{self.variant}]" if "[" in self.test else None

    def selection(self) -> str:
        """A ``pytest -k`` term selecting every test of this tutorial: its main test and its denials."""
        module = self.module.rsplit("/", 1)[-1]
        return f"({module} and {self.param_id})" if self.param_id else module

    def owns(self, nodeid: str) -> bool:
        """Does a test node id (any rootdir-relative form) reproduce this tutorial?"""
        node_file, _, rest = nodeid.partition("::")
        if node_file.replace("\\", "/").rsplit("/", 1)[-1] != self.module.rsplit("/", 1)[-1]:
            return False
        return self.param_id is None or rest.endswith(self.param_id)


SEED_2019 = "004_68e52737ddb40452.txt"

_ARM_READ_PAGES = {
    "windows-system-assigned": Page(
        "Use a Windows VM system-assigned managed identity to access Resource Manager",
        "tutorial-windows-vm-access-arm.md", SEED_2019),
    "linux-system-assigned": Page(
        "Use a Linux VM system-assigned managed identity to access Azure Resource Manager",
        "tutorial-linux-vm-access-arm.md", SEED_2019),
    "windows-user-assigned": Page(
        "Tutorial: Use a User-assigned Managed Identity on a Windows VM, to access Azure Resource Manager",
        "tutorial-windows-vm-ua-arm.md", SEED_2019),
    "linux-user-assigned": Page(
        "Tutorial: Use a user-assigned managed identity on a Linux VM to access Azure Resource Manager",
        "tutorial-linux-vm-ua-arm.md", SEED_2019),
}

_ARM_READ_API = {
    "windows-system-assigned": "2016-06-01",
    "linux-system-assigned": "2016-09-01",
    "windows-user-assigned": "2016-06-01",
    "linux-user-assigned": "2016-09-01",
}


def _arm_read(variant: str) -> Tutorial:
    os_name, kind = variant.split("-", 1)
    facts = {
        "os": os_name,
        "identity": "user" if kind.startswith("user") else "system",
        "imds_url": IMDS_TOKEN_URL,
        "imds_api_version": "2018-02-01",
        "imds_resource": ARM,
        "imds_headers": {"Metadata": "true"},
        "imds_selector": "client_id" if kind.startswith("user") else None,
        "role": "Reader",
        "role_scope": "resource_group",
        "arm_path": "/subscriptions/{subscription_id}/resourceGroups/{resource_group}",
        "arm_api_version": _ARM_READ_API[variant],
        "expected_keys": ["id", "name", "location", "properties"],
        "expected_provisioning_state": "Succeeded",
    }
    sections = {  # the pages' own headings: the Windows and Linux pages word them differently
        "windows-system-assigned": (
            "Grant your VM access to a resource group in Resource Manager",
            "Get an access token using the VM's system-assigned managed identity and use it to call Azure Resource "
            "Manager"),
        "linux-system-assigned": (
            "Grant your VM access to a Resource Group in Azure Resource Manager",
            "Get an access token using the VM's system-assigned managed identity and use it to call Resource Manager"),
        "windows-user-assigned": (
            "Create a user-assigned identity", "Assign the user-assigned identity to a Windows VM",
            "Grant your user-assigned identity access to a Resource Group in Azure Resource Manager",
            "Get an access token using the VM's identity and use it to call Resource Manager"),
        "linux-user-assigned": (
            "Create a user-assigned managed identity", "Assign a user-assigned managed identity to your Linux VM",
            "Grant your user-assigned managed identity access to a Resource Group in Azure Resource Manager",
            "Get an access token using the VM's identity and use it to call Resource Manager"),
    }[variant]
    return Tutorial("arm_read", variant, _ARM_READ_PAGES[variant], sections,
                    f"scenarios/test_arm_read.py::test_arm_read[{variant}]", facts)


TOKEN_PAGE = Page(
    "How to use managed identities for Azure resources on an Azure VM to acquire an access token",
    "how-to-use-vm-token.md", SEED_2019)

TOKEN_ENDPOINT_FACTS: dict[str, Any] = {
    "imds_url": IMDS_TOKEN_URL,
    "imds_api_version": "2018-02-01",
    "imds_resource": ARM,
    "imds_headers": {"Metadata": "true"},
    "selectors": ["object_id", "client_id", "mi_res_id"],
    # refresh_token is documented as "not used"; IMDS no longer sends it
    "response_fields": ["access_token", "expires_in", "expires_on", "not_before", "resource", "token_type"],
    "errors": {
        "missing_metadata": {"status": 400, "error": "bad_request_102"},
        "invalid_resource": {"status": 400, "error": "invalid_resource"},
        "invalid_request": {"status": 400, "error": "invalid_request"},
    },
}

TUTORIALS: list[Tutorial] = [_arm_read(v) for v in _ARM_READ_PAGES] + [
    Tutorial("token_endpoint", "http", TOKEN_PAGE,
             ("Get a token using HTTP", "Token caching", "Error handling", "HTTP response reference",
              "Retry guidance"),
             "scenarios/test_token_endpoint.py", TOKEN_ENDPOINT_FACTS),
]


# -- Storage: RBAC, access key, SAS (Windows and Linux pages of the 2019 set) -------------------
STORAGE = "https://storage.azure.com/"
_STORAGE_PAGES = {
    ("storage_rbac", "windows"): Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure Storage",
                                      "tutorial-vm-windows-access-storage.md", SEED_2019),
    ("storage_rbac", "linux"): Page("Tutorial: Use a Linux VM system-assigned managed identity to access Azure Storage",
                                    "tutorial-linux-vm-access-storage.md", SEED_2019),
    ("storage_key", "windows"): Page(
        "Tutorial: Use a Windows VM system-assigned managed identity to access Azure Storage via access key",
        "tutorial-windows-vm-access-storage.md", SEED_2019),
    ("storage_key", "linux"): Page(
        "Tutorial: Use a Linux VM system-assigned managed identity to access Azure Storage via access key",
        "tutorial-linux-vm-access-storage-access-key.md", SEED_2019),
    ("storage_sas", "windows"): Page(
        "Tutorial: Use a Windows VM system-assigned managed identity to access Azure Storage via a SAS credential",
        "tutorial-windows-vm-access-storage-sas.md", SEED_2019),
    ("storage_sas", "linux"): Page(
        "Tutorial: Use a Linux VM system-assigned identity to access Azure Storage via a SAS credential",
        "tutorial-linux-vm-access-storage-sas.md", SEED_2019),
}
_STORAGE_SECTIONS = {
    "storage_rbac": ("Create a storage account", "Create a blob container and upload a file to the storage account",
                     "Grant your VM access to an Azure Storage container",
                     "Get an access token and use it to call Azure Storage"),
    "storage_key": ("Create a storage account", "Create a blob container in the storage account",
                    "Grant your VM's system-assigned managed identity access to use storage account access keys",
                    "Get an access token using the VM's identity and use it to call Azure Resource Manager",
                    "Get storage account access keys from Azure Resource Manager to make storage calls"),
    "storage_sas": ("Create a storage account", "Create a blob container in the storage account",
                    "Grant your VM's system-assigned managed identity access to use a storage SAS",
                    "Get an access token using the VM's identity and use it to call Azure Resource Manager",
                    "Get a SAS credential from Azure Resource Manager to make storage calls"),
}


def _storage(family: str, os_name: str) -> Tutorial:
    facts: dict[str, Any] = {"os": os_name, "identity": "system", "imds_url": IMDS_TOKEN_URL,
                             "imds_api_version": "2018-02-01", "imds_headers": {"Metadata": "true"}}
    if family == "storage_rbac":
        facts.update({
            "imds_resource": STORAGE, "role": "Storage Blob Data Reader", "role_scope": "container",
            "blob_name": "hello_world.txt", "blob_content": "Hello world! :)",
            # the Linux page's curl sends x-ms-version 2017-11-09; the Windows page's .NET client sends its own
            "storage_headers": {"x-ms-version": "2017-11-09"},
        })
    else:
        facts.update({"imds_resource": ARM, "role_scope": "account", "blob_name": "testblob" if os_name == "windows"
                      else "test.txt",
                      "blob_content": "This is a test text file." if os_name == "windows" else "This is a test file.",
                      "storage_headers": {"x-ms-version": "2017-11-09"}})
    if family == "storage_key":
        facts.update({"role": "Storage Account Key Operator Service Role", "arm_api_version": "2016-12-01",
                      "arm_path": "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                                  "Microsoft.Storage/storageAccounts/{account}/listKeys",
                      "request_body": "", "response_keys": ["keyName", "permissions", "value"],
                      "key_names": ["key1", "key2"], "key_permissions": "Full"})
    if family == "storage_sas":
        facts.update({"role": "Storage Account Contributor", "arm_api_version": "2017-06-01",
                      "arm_path": "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                                  "Microsoft.Storage/storageAccounts/{account}/listServiceSas/",
                      "request_body": {"canonicalizedResource": "/blob/{account}/{container}", "signedResource": "c",
                                       "signedPermission": "rcw", "signedProtocol": "https",
                                       "signedExpiry": "{expiry}"},
                      "response_key": "serviceSasToken", "sas_version": "2015-04-05"})
    sections = _STORAGE_SECTIONS[family]
    if family in ("storage_key", "storage_sas"):  # the pages' own headings for the token step
        token_step = {"windows": "Get an access token using the VM's system-assigned managed identity to call Azure "
                                 "Resource Manager" if family == "storage_key" else sections[3],
                      "linux": None}[os_name]  # the Linux pages fetch the token inside the next section
        sections = tuple(s for s in (*sections[:3], token_step, *sections[4:]) if s)
    return Tutorial(family, os_name, _STORAGE_PAGES[(family, os_name)], sections,
                    f"scenarios/test_{family}.py::test_{family}[{os_name}]", facts)


TUTORIALS += [_storage(f, o) for f in ("storage_rbac", "storage_key", "storage_sas") for o in ("windows", "linux")]


# -- Key Vault: access policies (the 2019 pages) and Azure RBAC (the current pages' model) ------
VAULT = "https://vault.azure.net"
_KEYVAULT_PAGES = {
    "windows": Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure Key Vault",
                    "tutorial-windows-vm-access-nonaad.md", SEED_2019),
    "linux": Page("Tutorial: Use a Linux VM system-assigned managed identity to access Azure Key Vault",
                  "tutorial-linux-vm-access-nonaad.md", SEED_2019),
}
_KEYVAULT_SECTIONS = {
    "windows": ("Grant your VM access to a Secret stored in a Key Vault",
                "Get an access token using the VM identity and use it to retrieve the secret from the Key Vault"),
    "linux": ("Grant your VM access to a Secret stored in a Key Vault",
              "Get an access token using the VM's identity and use it to retrieve the secret from the Key Vault"),
}


def _key_vault(family: str, os_name: str) -> Tutorial:
    facts: dict[str, Any] = {
        "os": os_name, "identity": "system", "model": "rbac" if family == "key_vault_rbac" else "access_policy",
        "imds_url": IMDS_TOKEN_URL, "imds_api_version": "2018-02-01", "imds_resource": VAULT,
        "imds_headers": {"Metadata": "true"},
        # the Linux page's sample response (refresh_token is documented as unused; IMDS no longer sends it)
        "imds_response_fields": ["access_token", "expires_in", "expires_on", "not_before", "resource", "token_type"],
        # the pages' example secret and the data-plane request
        "secret_name": "MyTestSecret", "secret_value": "p@ssw0rd!", "vault_api_version": "2016-10-01",
        "response_fields": ["value", "id", "attributes"],
        "attribute_fields": ["enabled", "created", "updated", "recoveryLevel"],
        "page_recovery_level": "Purgeable",  # as the 2019 pages show it, before soft delete was mandatory
        "recovery_level": "Recoverable+Purgeable",  # what a vault with the default 90-day retention answers today
    }
    if family == "key_vault":
        # "Access policies > Add new > Configure from template: Secret Management" (portal)
        facts.update({"policy_template": "Secret Management",
                      "policy_permissions": ["get", "list", "set", "delete", "recover", "backup", "restore"]})
    else:
        facts.update({"role": "Key Vault Secrets User", "role_scope": "vault",
                      "writer_role": "Key Vault Secrets Officer"})
    return Tutorial(family, os_name, _KEYVAULT_PAGES[os_name], _KEYVAULT_SECTIONS[os_name],
                    f"scenarios/test_{family}.py::test_{family}[{os_name}]", facts)


TUTORIALS += [_key_vault(f, o) for f in ("key_vault", "key_vault_rbac") for o in ("windows", "linux")]


def find(family: str, variant: str | None = None) -> Tutorial:
    for t in TUTORIALS:
        if t.family == family and (variant is None or t.variant == variant):
            return t
    raise KeyError(f"no tutorial {family}[{variant}] in the registry")


def by_page_title(title: str) -> list[Tutorial]:
    norm = " ".join(title.split()).lower()
    return [t for t in TUTORIALS if " ".join(t.page.title.split()).lower() == norm]


def by_file(name: str) -> list[Tutorial]:
    return [t for t in TUTORIALS if t.page.file == name]


# -- Identity lifecycle: every procedure of the configure, user-assigned CRUD, role-assignment and
# other-host pages (the data and how each is reproduced are in milab/procedures.py) --------------
def _lifecycle() -> list[Tutorial]:
    from . import procedures
    return procedures.tutorials(Tutorial, Page)


TUTORIALS += _lifecycle()


# -- Cosmos DB: keys through ARM (004 Windows and Linux, seed 003), data-plane RBAC (seed 002),
#    the account's own identity (seed 000) -------------------------------------------------------
SEED_COSMOS_RBAC = "002_3ac18aa7751238e2.txt"
SEED_COSMOS_KEYS_2022 = "003_89263606b3db56ad.txt"
SEED_COSMOS_IDENTITY = "000_288f15110d8d3935.txt"
COSMOS_ACCOUNT_PATH = ("/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                       "Microsoft.{provider}/databaseAccounts/{account}")
READ_ONLY_KEYS = ["primaryReadonlyMasterKey", "secondaryReadonlyMasterKey"]
ALL_KEYS = ["primaryMasterKey", "secondaryMasterKey", *READ_ONLY_KEYS]

_COSMOS_KEYS_PAGES = {
    "windows": Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure Cosmos DB",
                    "tutorial-windows-vm-access-cosmos-db.md", SEED_2019),
    "linux": Page("Tutorial: Use a Linux VM system-assigned managed identity to access Azure Cosmos DB",
                  "tutorial-linux-vm-access-cosmos-db.md", SEED_2019),
    "windows-2022": Page("Tutorial: Use a managed identity to access Azure Cosmos DB - Windows",
                         "tutorial-windows-vm-access-cosmos-db.md", SEED_COSMOS_KEYS_2022),
}
_COSMOS_KEYS_SECTIONS = {
    "windows": ("Create a Cosmos DB account", "Create a collection in the Cosmos DB account",
                "Grant Windows VM system-assigned managed identity access to the Cosmos DB account access keys",
                "Get an access token using the Windows VM system-assigned managed identity to call Azure Resource "
                "Manager", "Get access keys from Azure Resource Manager to make Cosmos DB calls"),
    "linux": ("Create a Cosmos DB account", "Create a collection in the Cosmos DB account",
              "Retrieve the `principalId` of the Linux VM's system-assigned managed identity",
              "Grant your Linux VM's system-assigned identity access to the Cosmos DB account access keys",
              "Get an access token using the Linux VM's system-assigned managed identity and use it to call Azure "
              "Resource Manager", "Get access keys from Azure Resource Manager to make Cosmos DB calls"),
    "windows-2022": ("Create an Azure Cosmos DB account", "Create a collection", "Grant access",
                     "Get an access token", "Get access keys"),
}


def _cosmos_keys(variant: str) -> Tutorial:
    os_name = variant.split("-", 1)[0]
    facts: dict[str, Any] = {
        "os": os_name, "identity": "system", "imds_url": IMDS_TOKEN_URL, "imds_api_version": "2018-02-01",
        "imds_resource": ARM, "imds_headers": {"Metadata": "true"}, "role_scope": "account",
        "arm_api_version": "2016-03-31",
        # the portal's "Add Collection": database and collection "Test", a partition key
        "database": "Test", "collection": "Test", "partition_key": "/pk",
        # what `az cosmosdb collection show` prints of the collection
        "collection_keys": ["_rid", "_self", "_etag", "_ts", "id", "indexingPolicy"],
    }
    if variant == "windows":
        # The 2019 Windows page assigns Cosmos DB Account Reader Role, then calls listKeys: that role has
        # readonlykeys/action only, so Resource Manager refuses the page's call (403 AuthorizationFailed).
        # The scenario shows that answer, then takes the page's own alternative (readonlykeys).
        facts.update({"role": "Cosmos DB Account Reader Role", "key_operation": "listKeys",
                      "arm_path": COSMOS_ACCOUNT_PATH.replace("{provider}", "DocumentDb") + "/listKeys/",
                      "request_body": None,
                      "page_denied": {"operation": "listKeys",
                                      "action": "Microsoft.DocumentDB/databaseAccounts/listKeys/action",
                                      "status": 403, "code": "AuthorizationFailed",
                                      "alternative": "readonlykeys"},
                      "response_keys": READ_ONLY_KEYS})
    elif variant == "linux":
        # '<KEY OPERATION TYPE>' and '<ROLE NAME>': the read/write pair the page names first
        facts.update({"role": "DocumentDB Account Contributor", "key_operation": "listKeys",
                      "arm_path": COSMOS_ACCOUNT_PATH.replace("{provider}", "DocumentDB") + "/listKeys",
                      "request_body": "", "response_keys": ALL_KEYS})
    else:
        facts.update({"role": "Cosmos DB Account Reader Role", "key_operation": "readonlykeys",
                      "arm_path": COSMOS_ACCOUNT_PATH.replace("{provider}", "DocumentDb") + "/readonlykeys/",
                      "request_body": None, "response_keys": READ_ONLY_KEYS})
    return Tutorial("cosmos_keys", variant, _COSMOS_KEYS_PAGES[variant], _COSMOS_KEYS_SECTIONS[variant],
                    f"scenarios/test_cosmos_keys.py::test_cosmos_keys[{variant}]", facts)


COSMOS_RBAC_PAGE = Page("Use managed identities from a virtual machine to access Azure Cosmos DB",
                        "tutorial-vm-managed-identities-cosmos.md", SEED_COSMOS_RBAC)


def _cosmos_rbac(variant: str) -> Tutorial:
    kind = "user" if variant.startswith("user") else "system"
    facts: dict[str, Any] = {
        "os": "linux", "identity": kind, "role": "DocumentDB Account Contributor", "role_scope": "account",
        "data_role": "00000000-0000-0000-0000-000000000002", "data_role_name": "Cosmos DB Built-in Data Contributor",
        "data_scope": "/", "reader_data_role": "00000000-0000-0000-0000-000000000001",
        "database": "mi-test", "container": "container01",
        # the page's item: new { id, _partitionKey = "pkey" } with new PartitionKey("pkey"); the container is
        # created without a partition key definition, so its key path is /_partitionKey
        "partition_key_property": "_partitionKey", "partition_key_value": "pkey", "query": "SELECT * FROM c",
        "endpoint": "https://{account}.documents.azure.com:443/",
        # the page's program creates the database and container through Resource Manager with the
        # VM's identity, and the page grants no Azure role for it (the scenario shows the 403)
        "page_ungranted": {"action": "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/write",
                           "section": "Access data", "operation": "creates the database through Resource Manager",
                           "status": 403, "code": "AuthorizationFailed", "role": "DocumentDB Account Contributor"},
    }
    return Tutorial("cosmos_rbac", variant, COSMOS_RBAC_PAGE,
                    ("Create an Azure VM with a managed identity", "Create an Azure Cosmos DB account", "Grant access",
                     "Access data"),
                    f"scenarios/test_cosmos_rbac.py::test_cosmos_rbac[{variant}]", facts)


COSMOS_IDENTITY_PAGE = Page("Configure managed identities with Microsoft Entra ID for your Azure Cosmos DB account",
                            "how-to-setup-managed-identity.md", SEED_COSMOS_IDENTITY)

TUTORIALS += [_cosmos_keys(v) for v in _COSMOS_KEYS_PAGES] + \
    [_cosmos_rbac(v) for v in ("system-assigned", "user-assigned")] + [
    Tutorial("cosmos_account_identity", "cli", COSMOS_IDENTITY_PAGE,
             ("Create an account with a system-assigned managed identity", "Create a user-assigned managed identity",
              "Assign a user-assigned managed identity to an account"),
             "scenarios/test_cosmos_account_identity.py::test_cosmos_account_identity[cli]",
             {"system_type": "SystemAssigned", "both_type": "SystemAssigned,UserAssigned",
              "identity_show_keys": ["principalId", "tenantId", "type", "userAssignedIdentities"],
              "identity_list_keys": ["clientId", "id", "location", "name", "principalId", "resourceGroup", "tags",
                                     "tenantId", "type"],
              "user_identity_keys": ["clientId", "principalId"]}),
]


# -- Graph: group membership and the Directory.Read.All app role (2019 AAD Graph pages; Microsoft Graph) --
AAD_GRAPH_RETIRED = {"service": "Azure AD Graph", "when": "shut down in 2024-2025", "successor": "Microsoft Graph"}
_GRAPH_PAGES = {
    "windows": Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure AD Graph API",
                    "tutorial-windows-vm-access-ad-graph.md", SEED_2019),
    "linux": Page("Tutorial: Use a Linux VM system-assigned managed identity to access Azure AD Graph API",
                  "tutorial-linux-vm-access-ad-graph.md", SEED_2019),
    # the modern equivalent: the app role assignment pages, with Microsoft Graph as the resource app
    "msgraph-windows": Page("Assign a managed identity access to an application role using PowerShell",
                            "how-to-assign-app-role-managed-identity-powershell.md"),
    "msgraph-linux": Page("Assign a managed identity access to an application role using Azure CLI",
                          "how-to-assign-app-role-managed-identity-cli.md"),
}
_GRAPH_SECTIONS = {
    "windows": ("Connect to Azure AD", "Add your VM identity to a group in Azure AD",
                "Grant your VM access to the Azure AD Graph API", "Grant application permissions using Azure AD PowerShell",
                "Get an access token using the VM's identity to call Azure AD Graph"),
    "linux": ("Connect to Azure AD", "Add your VM's identity to a group in Azure AD",
              "Grant your VM access to the Azure AD Graph API", "Grant application permissions using CURL",
              "Get an access token using the VM's identity to call Azure AD Graph"),
}
_GROUP = {"displayName": "myGroup", "mailEnabled": False, "mailNickname": "NotSet", "securityEnabled": True}


def _graph(variant: str) -> Tutorial:
    modern = variant.startswith("msgraph")
    os_name = variant.rsplit("-", 1)[-1]
    facts: dict[str, Any] = {
        "os": os_name, "identity": "system", "api": "msgraph" if modern else "aad",
        "imds_url": IMDS_TOKEN_URL, "imds_api_version": "2018-02-01", "imds_headers": {"Metadata": "true"},
        "imds_selector": None, "app_role": "Directory.Read.All", "group": dict(_GROUP),
    }
    if modern:
        facts.update({
            "imds_resource": "https://graph.microsoft.com", "graph_tenant": "myorganization",
            "resource_app_id": "00000003-0000-0000-c000-000000000000",
            "app_role_id": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
            # Get-MgServicePrincipal -Filter "DisplayName eq ..."; az ad sp list --display-name (startswith)
            "sp_filter": "displayName eq '{name}'" if os_name == "windows" else "startswith(displayName,'{name}')",
            "member_groups_body": '{"securityEnabledOnly": false}',
            "expected_assignment": {"resourceDisplayName": "Microsoft Graph", "principalType": "ServicePrincipal"},
            "metadata_key": "@odata.context",
            "metadata": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
            "other_resource": "https://graph.windows.net", "wrong_audience_code": "InvalidAuthenticationToken",
            "other_app_id": "00000002-0000-0000-c000-000000000000",
            "other_app_role_id": "5778995a-e1bf-45b8-affa-663a9f3f4d04",
        })
    else:
        facts.update({
            "imds_resource": "https://graph.windows.net",
            # the Windows page calls getMemberGroups under the tenant id, the Linux page under myorganization
            "graph_tenant": "{tenant_id}" if os_name == "windows" else "myorganization",
            "resource_app_id": "00000002-0000-0000-c000-000000000000",
            "app_role_id": "5778995a-e1bf-45b8-affa-663a9f3f4d04",
            "sp_filter": "displayName eq '{name}'" if os_name == "windows" else "startswith(displayName,'{name}')",
            # the Linux page's list of service principals, with its "&24filter=" (no $filter at all)
            "sp_list_query": None if os_name == "windows" else
            "api-version=1.6&24filter=appId%20eq%20'00000002-0000-0000-c000-000000000000'",
            # the Windows page sends the boolean as a string
            "member_groups_body": '{"securityEnabledOnly":"false"}' if os_name == "windows" else
            '{"securityEnabledOnly": false}',
            "expected_assignment": {"resourceDisplayName": "Windows Azure Active Directory",
                                    "principalType": "ServicePrincipal"},
            "metadata_key": "odata.metadata",
            "metadata": "https://graph.windows.net/{tenant}/$metadata#Collection(Edm.String)",
            "other_resource": "https://graph.microsoft.com", "wrong_audience_code": "Authentication_MissingOrMalformed",
            "other_app_id": "00000003-0000-0000-c000-000000000000",
            "other_app_role_id": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
            "retired": {**AAD_GRAPH_RETIRED, "successor_tutorial": f"graph[msgraph-{os_name}]"},
        })
    sections = (("Assign a managed identity access to another application's app role",) if modern
                else _GRAPH_SECTIONS[os_name])
    return Tutorial("graph", variant, _GRAPH_PAGES[variant], sections,
                    f"scenarios/test_graph.py::test_graph[{variant}]", facts)


TUTORIALS += [_graph(v) for v in _GRAPH_PAGES]


# -- Data Lake: ACLs for the VM's identity, LISTSTATUS and the two-step CREATE (Gen1); Gen2's DFS ----------
DATALAKE_GEN1_RETIRED = {"service": "Azure Data Lake Storage Gen1", "when": "on 2024-02-29",
                         "successor": "Azure Data Lake Storage Gen2"}
_DATALAKE_PAGES = {
    "windows": Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure Data Lake Store",
                    "tutorial-windows-vm-access-datalake.md", SEED_2019),
    "linux": Page("Tutorial: Use a Linux VM system-assigned managed identity to access Azure Data Lake Store",
                  "tutorial-linux-vm-access-datalake.md", SEED_2019),
    # the modern equivalent: ACLs on a hierarchical-namespace storage account (Gen2)
    "gen2-windows": Page("Use PowerShell to manage ACLs in Azure Data Lake Storage", "data-lake-storage-acl-powershell.md"),
    "gen2-linux": Page("Use Azure CLI to manage ACLs in Azure Data Lake Storage", "data-lake-storage-acl-cli.md"),
}


def _data_lake(variant: str) -> Tutorial:
    gen2 = variant.startswith("gen2")
    os_name = variant.rsplit("-", 1)[-1]
    facts: dict[str, Any] = {
        "os": os_name, "identity": "system", "imds_url": IMDS_TOKEN_URL, "imds_api_version": "2018-02-01",
        "imds_headers": {"Metadata": "true"}, "imds_selector": None, "generation": 2 if gen2 else 1,
        "folder": "TestFolder", "file": "Test1.txt",
        # `echo "Test file." > Test1.txt`: bash writes a newline; Windows PowerShell writes CRLF (as UTF-16
        # with a BOM, which the emulated Windows guest cannot send: it sends the text as UTF-8)
        "file_content": "Test file.\r\n" if os_name == "windows" else "Test file.\n",
        # the portal steps: Read and Execute on the root (access only); Read, Write and Execute on the
        # folder (an access entry and a default entry)
        "root_acl": "r-x", "folder_acl": "rwx", "folder_default_acl": True,
    }
    if gen2:
        facts.update({"imds_resource": "https://storage.azure.com/", "filesystem": "data",
                      "dfs_headers": {"x-ms-version": "2021-08-06"}})
    else:
        facts.update({
            "imds_resource": "https://datalake.azure.net/", "list_permission": "770",
            "webhdfs_version": "17.04.22.00",
            # the Linux page's curl follows the redirect (-L); the Windows page stops at it
            # (-MaximumRedirection 0) and sends the second request itself
            "follow_redirect": os_name == "linux",
            "retired": {**DATALAKE_GEN1_RETIRED, "successor_tutorial": f"data_lake[gen2-{os_name}]"},
        })
    if gen2:
        sections = ("Set ACLs", "Get ACLs")
    elif os_name == "windows":
        sections = ("Grant your VM access to Azure Data Lake Store",
                    "Get an access token using the VM's system-assigned managed identity and use it to call the "
                    "Azure Data Lake Store filesystem")
    else:
        sections = ("Grant your VM access to Azure Data Lake Store",
                    "Get an access token and call the Data Lake Store file system")
    return Tutorial("data_lake", variant, _DATALAKE_PAGES[variant], sections,
                    f"scenarios/test_data_lake.py::test_data_lake[{variant}]", facts)


TUTORIALS += [_data_lake(v) for v in _DATALAKE_PAGES]


# -- Azure SQL: the VM's identity as a contained database user, token login, SELECT (2019 Windows page) -----
SQL_PAGE = Page("Tutorial: Use a Windows VM system-assigned managed identity to access Azure SQL",
                "tutorial-windows-vm-access-sql.md", SEED_2019)
TUTORIALS += [
    Tutorial("sql", "windows", SQL_PAGE,
             ("Grant your VM access to a database in an Azure SQL server", "Enable Azure AD authentication for the SQL server",
              "Create a contained user in the database that represents the VM's system assigned identity",
              "Get an access token using the VM's system-assigned managed identity and use it to call Azure SQL"),
             "scenarios/test_sql.py::test_sql[windows]",
             {"os": "windows", "identity": "system", "imds_url": IMDS_TOKEN_URL, "imds_api_version": "2018-02-01",
              "imds_resource": "https://database.windows.net/", "imds_headers": {"Metadata": "true"},
              "imds_selector": None,
              # the page's two statements, VMName being the VM's name, and its query
              "create_user": "CREATE USER [{vm}] FROM EXTERNAL PROVIDER",
              "alter_role": "ALTER ROLE db_datareader ADD MEMBER [{vm}]", "db_role": "db_datareader",
              "query": "SELECT * from {table};", "table": "Test", "database": "milabdb",
              # the page's C# opens the connection with SqlConnection.AccessToken; its Python equivalents
              "clients": ["pyodbc", "mssql-python"]}),
]
