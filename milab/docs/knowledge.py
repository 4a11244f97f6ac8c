"""Data the documentation checks rely on (no logic beyond small look-ups).

* Built-in roles: taken from :mod:`milab.cloud.authorization.roles` when it is importable,
  otherwise from the small fallback table below.
* Api-versions Azure publishes per resource type (``AZURE_API_VERSIONS``), taken from the
  seeds and the public Azure REST API specifications (azure-rest-api-specs /
  bicep-types-az), except for the types the emulator models, whose lists are the
  emulator's own (one list per type). Api-versions the *emulator* accepts come from
  :mod:`milab.cloud.arm.catalog` (``known_api_versions`` / ``known_actions``).
* Deprecated or retired endpoints, modules and services, each with its modern equivalent.
* ARM template function names (for expression checks).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# ---------------------------------------------------------------- roles

_FALLBACK_ROLES = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Account Key Operator Service Role": "81a9662b-bebf-436f-a333-f67b29880f12",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    "Cosmos DB Account Reader Role": "fbdf93bf-df7d-467e-a4d2-9458aa1360c8",
    "DocumentDB Account Contributor": "5bd9cd88-fe45-4216-938b-f97437e15450",
    "Virtual Machine Contributor": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Managed Identity Contributor": "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}

#: Cosmos DB data-plane (SQL API) built-in role definitions: not Azure RBAC roles.
COSMOS_SQL_ROLES = {
    "00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}

#: Well-known application IDs that look like role GUIDs in docs but are not roles.
NOT_ROLES = {"00000002-0000-0000-c000-000000000000", "00000003-0000-0000-c000-000000000000"}


@lru_cache(maxsize=1)
def role_table() -> dict[str, str]:
    """Built-in Azure RBAC role name -> role definition GUID."""
    try:
        from milab.cloud.authorization import roles as _roles  # lazily: written by another engineer
        table = {r["roleName"]: r["name"].lower() for r in _roles.BUILTIN_ROLES}
        if table:
            for k, v in _FALLBACK_ROLES.items():
                table.setdefault(k, v)
            return table
    except Exception:  # noqa: BLE001 - any import problem means: use the fallback
        pass
    return dict(_FALLBACK_ROLES)


def role_by_name(name: str) -> str | None:
    n = " ".join(name.split()).casefold()
    for k, v in role_table().items():
        if k.casefold() == n:
            return v
    return None


def role_by_id(guid: str) -> str | None:
    g = guid.lower()
    for k, v in role_table().items():
        if v == g:
            return k
    return None


def cosmos_role_by_name(name: str) -> str | None:
    n = " ".join(name.split()).casefold()
    for k, v in COSMOS_SQL_ROLES.items():
        if v.casefold() == n:
            return k
    return None


# ---------------------------------------------------------------- api-versions
# For the types the emulator models, its catalogue is the one list (it accepts what Azure
# publishes); the other types' lists below come from the public REST API specifications.
from milab.cloud.arm.authorization import ROLE_ASSIGNMENT_API_VERSIONS as _AUTHZ  # noqa: E402
from milab.cloud.arm.compute import COMPUTE_API_VERSIONS as _COMPUTE  # noqa: E402
from milab.cloud.arm.msi import UserAssignedIdentity  # noqa: E402
from milab.cloud.arm.resources import RESOURCES_API_VERSIONS as _RESOURCES  # noqa: E402
from milab.cloud.arm.storage import STORAGE_API_VERSIONS as _STORAGE  # noqa: E402
from milab.cloud.imds import API_VERSIONS as _IMDS  # noqa: E402

_MSI = UserAssignedIdentity.api_versions

_DOCUMENTDB = (
    "2014-04-01", "2015-04-01", "2015-04-08", "2015-11-06", "2016-03-19", "2016-03-31", "2019-06-01",
    "2019-08-01", "2019-12-12", "2020-03-01", "2020-04-01", "2020-06-01-preview", "2020-09-01", "2021-01-15",
    "2021-03-15", "2021-04-15", "2021-05-15", "2021-06-15", "2021-10-15", "2022-05-15", "2022-08-15",
    "2022-11-15", "2023-03-15", "2023-04-15", "2023-09-15", "2023-11-15", "2024-05-15", "2024-08-15",
    "2024-11-15", "2025-04-15",
)
_WEB = ("2015-08-01", "2016-08-01", "2016-09-01", "2018-02-01", "2018-11-01", "2019-08-01", "2020-06-01",
        "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-01-15", "2021-02-01", "2021-03-01",
        "2022-03-01", "2022-09-01", "2023-01-01", "2023-12-01", "2024-04-01", "2024-11-01")
_ACI = ("2017-08-01-preview", "2017-10-01-preview", "2017-12-01-preview", "2018-02-01-preview", "2018-04-01",
        "2018-06-01", "2018-09-01", "2018-10-01", "2019-12-01", "2020-11-01", "2021-03-01", "2021-07-01",
        "2021-09-01", "2021-10-01", "2022-09-01", "2022-10-01-preview", "2023-02-01-preview", "2023-05-01",
        "2024-05-01-preview", "2024-10-01-preview", "2025-09-01")
_KEYVAULT_ARM = ("2015-06-01", "2016-10-01", "2018-02-14", "2019-09-01", "2021-04-01-preview", "2021-06-01-preview",
                 "2021-10-01", "2021-11-01-preview", "2022-02-01-preview", "2022-07-01", "2022-11-01",
                 "2023-02-01", "2023-07-01", "2024-11-01")

#: resource type (lower case) -> api-versions Azure publishes
AZURE_API_VERSIONS: dict[str, tuple[str, ...]] = {
    "microsoft.compute/virtualmachines": _COMPUTE,
    "microsoft.compute/virtualmachinescalesets": _COMPUTE,
    "microsoft.compute/virtualmachines/extensions": _COMPUTE,
    "microsoft.compute/virtualmachinescalesets/extensions": _COMPUTE,
    "microsoft.resources/resourcegroups": _RESOURCES,
    "microsoft.resources/subscriptions": _RESOURCES,
    "microsoft.storage/storageaccounts": _STORAGE,
    "microsoft.documentdb/databaseaccounts": _DOCUMENTDB,
    "microsoft.managedidentity/userassignedidentities": _MSI,
    "microsoft.authorization/roleassignments": _AUTHZ,
    "microsoft.authorization/roledefinitions": _AUTHZ,
    "microsoft.web/sites": _WEB,
    "microsoft.web/serverfarms": _WEB,
    "microsoft.containerinstance/containergroups": _ACI,
    "microsoft.keyvault/vaults": _KEYVAULT_ARM,
}

#: resource type (lower case) -> POST actions Azure publishes for it (lower case)
AZURE_ACTIONS: dict[str, set[str]] = {
    "microsoft.storage/storageaccounts": {"listkeys", "regeneratekey", "listaccountsas", "listservicesas",
                                          "revokeuserdelegationkeys", "failover", "restoreblobranges"},
    "microsoft.documentdb/databaseaccounts": {"listkeys", "readonlykeys", "listreadonlykeys",
                                              "listconnectionstrings", "regeneratekey", "failoverprioritychange",
                                              "offlineregion", "onlineregion"},
    "microsoft.compute/virtualmachines": {"start", "restart", "poweroff", "deallocate", "runcommand", "redeploy",
                                          "reimage", "generalize", "capture", "instanceview", "vmsizes",
                                          "convertToManagedDisks".lower(), "performmaintenance",
                                          "simulateeviction", "reapply", "assesspatches", "installpatches"},
    "microsoft.compute/virtualmachinescalesets": {"start", "restart", "poweroff", "deallocate", "reimage",
                                                  "manualupgrade", "delete", "instanceview", "skus",
                                                  "osupgradehistory", "redeploy", "performmaintenance",
                                                  "reimageall", "updateinstances", "scale"},
    "microsoft.web/sites": {"config", "publishxml", "restart", "start", "stop", "listsyncfunctiontriggerstatus"},
}

#: Key Vault data-plane api-versions
KEYVAULT_API_VERSIONS = ("2015-06-01", "2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6")
#: IMDS api-versions (the managed identity token endpoint accepts the IMDS versions from 2018-02-01)
IMDS_API_VERSIONS = _IMDS
#: Azure AD Graph api-versions
AAD_GRAPH_API_VERSIONS = ("1.5", "1.6", "beta")


def azure_api_versions(type_name: str) -> tuple[str, ...] | None:
    return AZURE_API_VERSIONS.get(type_name.lower())


def emulator_api_versions(type_name: str) -> tuple[str, ...] | None:
    """Api-versions the emulator's catalogue accepts, or None when it does not model the type
    (or the catalogue is not importable yet)."""
    try:
        from milab.cloud.arm import catalog  # lazily: written by the lead
    except Exception:  # noqa: BLE001
        return None
    try:
        v = catalog.known_api_versions(type_name)
    except Exception:  # noqa: BLE001
        return None
    return tuple(v) if v else None


def emulator_actions(type_name: str) -> set[str] | None:
    try:
        from milab.cloud.arm import catalog
        if not catalog.is_known(type_name):
            return None
        return {a.lower() for a in catalog.known_actions(type_name)}
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------- deprecations

#: (id, regex, what it is, the modern equivalent)
DEPRECATIONS: list[tuple[str, re.Pattern[str], str, str]] = [
    ("aad-graph", re.compile(r"graph\.windows\.net", re.I),
     "Azure AD Graph (graph.windows.net) is retired",
     "use Microsoft Graph (https://graph.microsoft.com, resource https://graph.microsoft.com/) and its "
     "app roles, e.g. Directory.Read.All; getMemberGroups is POST /v1.0/servicePrincipals/{id}/getMemberGroups"),
    ("adls-gen1", re.compile(r"\.azuredatalakestore\.net|datalake\.azure\.net", re.I),
     "Azure Data Lake Storage Gen1 was retired on 2024-02-29",
     "use Data Lake Storage Gen2 (https://<account>.dfs.core.windows.net, token resource "
     "https://storage.azure.com/) with POSIX ACLs"),
    ("vm-extension-endpoint", re.compile(r"(localhost|127\.0\.0\.1):50342|ManagedIdentityExtensionFor(Windows|Linux)", re.I),
     "the managed identities VM extension and its endpoint localhost:50342 are deprecated",
     "request tokens from IMDS: GET http://169.254.169.254/metadata/identity/oauth2/token"
     "?api-version=2018-02-01&resource=... with header Metadata: true"),
    ("azurerm-powershell", re.compile(r"\b\w+-AzureRm\w+\b|\bLogin-AzureRmAccount\b", re.I),
     "the AzureRM PowerShell module is retired",
     "use the Az module (e.g. New-AzRoleAssignment instead of New-AzureRmRoleAssignment)"),
    ("azuread-powershell", re.compile(r"\b(Connect|Get|New|Add|Remove|Set)-AzureAD\w*\b", re.I),
     "the AzureAD PowerShell module is retired",
     "use Microsoft Graph PowerShell (Connect-MgGraph, New-MgGroup, New-MgGroupMember, "
     "New-MgServicePrincipalAppRoleAssignment ...)"),
    ("app-authentication", re.compile(r"Microsoft\.Azure\.Services\.AppAuthentication|AzureServiceTokenProvider"),
     "Microsoft.Azure.Services.AppAuthentication (AzureServiceTokenProvider) is deprecated",
     "use Azure.Identity (ManagedIdentityCredential or DefaultAzureCredential)"),
    ("legacy-storage-sdk", re.compile(r"Microsoft\.WindowsAzure\.Storage\b"),
     "the WindowsAzure.Storage SDK is deprecated",
     "use Azure.Storage.Blobs (new BlobClient(blobUri, new ManagedIdentityCredential()))"),
]


#: deprecations that only apply in some languages (block languages; untagged code blocks count as code)
DEPRECATION_LANGS: dict[str, set[str]] = {
    "app-authentication": {"csharp", "cs", "c#"},
    "legacy-storage-sdk": {"csharp", "cs", "c#"},
}


# ---------------------------------------------------------------- ARM template functions

ARM_FUNCTIONS = {f.lower() for f in """
array concat contains createArray empty first flatten indexOf intersection items last lastIndexOf length
min max range skip take union coalesce equals greater greaterOrEquals less lessOrEquals and bool false if
not or true deployment environment parameters variables extensionResourceId managementGroupResourceId
pickZones providers reference references resourceGroup resourceId subscription subscriptionResourceId
tenantResourceId managementGroup tenant base64 base64ToJson base64ToString dataUri dataUriToString
endsWith format guid newGuid padLeft replace split startsWith string substring toLower toUpper trim
uniqueString uri uriComponent uriComponentToString utcNow add div float int mod mul sub json null
objectKeys shallowMerge tryGet lambda filter map reduce sort toObject groupBy mapValues copyIndex
dateTimeAdd dateTimeFromEpoch dateTimeToEpoch parseCidr cidrSubnet cidrHost listAccountSas listKeys
listSecrets listServiceSas list listCallbackUrl listConnectionStrings join
""".split()}


# ---------------------------------------------------------------- sample GUIDs

def is_sample_guid(guid: str) -> bool:
    """GUIDs documentation uses as stand-ins (all zeros, ``aaaaaaaa-bbbb-...``,
    ``00001111-aaaa-2222-bbbb-3333cccc4444``): not real role or object IDs. The Cosmos DB
    built-in role IDs (``...0001``/``...0002``) are real IDs, not samples."""
    g = guid.lower()
    if g in COSMOS_SQL_ROLES:
        return False
    groups = g.split("-")
    if len(groups) != 5:
        return False
    # a random GUID practically never has groups of two or three distinct digits
    return len(set(groups[0])) <= 2 and all(len(set(grp)) <= 3 for grp in groups)


# ---------------------------------------------------------------- VM / scale set request bodies
#
# Property names at each level of Microsoft.Compute virtualMachines and
# virtualMachineScaleSets request bodies, from the public REST API specifications
# (specification/compute/resource-manager/Microsoft.Compute, 2015-06-15 to 2024-11-01).
# A key missing here is reported as a warning only; a key that belongs to another level
# is reported as an error.

_SUBRES = {"id"}
_MANAGED_DISK = {"id", "storageAccountType", "diskEncryptionSet", "securityProfile"}
_VHD = {"uri"}
_DISK_COMMON = {"name", "vhd", "image", "caching", "writeAcceleratorEnabled", "createOption", "diskSizeGB",
                "managedDisk", "deleteOption", "diffDiskSettings"}

VM_SCHEMA: dict[str, set[str]] = {
    "": {"id", "name", "type", "location", "tags", "plan", "properties", "resources", "identity", "zones",
         "extendedLocation", "managedBy", "etag", "placement", "apiVersion", "dependsOn", "copy", "condition",
         "comments", "scope"},
    "properties": {"hardwareProfile", "scheduledEventsPolicy", "storageProfile", "additionalCapabilities",
                   "osProfile", "networkProfile", "securityProfile", "diagnosticsProfile", "availabilitySet",
                   "virtualMachineScaleSet", "proximityPlacementGroup", "priority", "evictionPolicy",
                   "billingProfile", "host", "hostGroup", "provisioningState", "instanceView", "licenseType",
                   "vmId", "extensionsTimeBudget", "platformFaultDomain", "scheduledEventsProfile", "userData",
                   "capacityReservation", "applicationProfile", "timeCreated"},
    "properties.hardwareProfile": {"vmSize", "vmSizeProperties"},
    "properties.storageProfile": {"imageReference", "osDisk", "dataDisks", "diskControllerType",
                                  "alignRegionalDisksToVMZone"},
    "properties.storageProfile.imageReference": {"publisher", "offer", "sku", "version", "exactVersion",
                                                 "sharedGalleryImageId", "communityGalleryImageId", "id"},
    "properties.storageProfile.osDisk": _DISK_COMMON | {"osType", "encryptionSettings"},
    "properties.storageProfile.osDisk.managedDisk": _MANAGED_DISK,
    "properties.storageProfile.dataDisks[]": _DISK_COMMON | {"lun", "sourceResource", "toBeDetached",
                                                            "diskIOPSReadWrite", "diskMBpsReadWrite", "detachOption"},
    "properties.storageProfile.dataDisks[].managedDisk": _MANAGED_DISK,
    "properties.osProfile": {"computerName", "adminUsername", "adminPassword", "customData", "windowsConfiguration",
                             "linuxConfiguration", "secrets", "allowExtensionOperations",
                             "requireGuestProvisionSignal"},
    "properties.networkProfile": {"networkInterfaces", "networkApiVersion", "networkInterfaceConfigurations"},
    "properties.networkProfile.networkInterfaces[]": {"id", "properties"},
    "properties.networkProfile.networkInterfaces[].properties": {"primary", "deleteOption"},
    "identity": {"type", "userAssignedIdentities", "identityIds", "principalId", "tenantId"},
}

VMSS_SCHEMA: dict[str, set[str]] = {
    "": {"id", "name", "type", "location", "tags", "sku", "plan", "properties", "identity", "zones",
         "extendedLocation", "etag", "placement", "apiVersion", "dependsOn", "copy", "condition", "comments",
         "scope", "resources"},
    "sku": {"name", "tier", "capacity"},
    "properties": {"upgradePolicy", "automaticRepairsPolicy", "virtualMachineProfile", "provisioningState",
                   "overprovision", "doNotRunExtensionsOnOverprovisionedVMs", "uniqueId", "singlePlacementGroup",
                   "zoneBalance", "platformFaultDomainCount", "proximityPlacementGroup", "hostGroup",
                   "additionalCapabilities", "scaleInPolicy", "orchestrationMode", "spotRestorePolicy",
                   "priorityMixPolicy", "timeCreated", "constrainedMaximumCapacity", "resiliencyPolicy",
                   "zonalPlatformFaultDomainAlignMode", "skuProfile"},
    "properties.upgradePolicy": {"mode", "rollingUpgradePolicy", "automaticOSUpgradePolicy"},
    "properties.virtualMachineProfile": {"osProfile", "storageProfile", "networkProfile", "securityProfile",
                                         "diagnosticsProfile", "extensionProfile", "licenseType", "priority",
                                         "evictionPolicy", "billingProfile", "scheduledEventsProfile", "userData",
                                         "capacityReservation", "applicationProfile", "hardwareProfile",
                                         "serviceArtifactReference", "securityPostureReference", "timeCreated"},
    "properties.virtualMachineProfile.storageProfile": {"imageReference", "osDisk", "dataDisks",
                                                        "diskControllerType"},
    "properties.virtualMachineProfile.storageProfile.imageReference":
        VM_SCHEMA["properties.storageProfile.imageReference"],
    "properties.virtualMachineProfile.storageProfile.osDisk": {"name", "caching", "writeAcceleratorEnabled",
                                                               "createOption", "diffDiskSettings", "diskSizeGB",
                                                               "osType", "image", "vhdContainers", "managedDisk",
                                                               "deleteOption"},
    "properties.virtualMachineProfile.storageProfile.osDisk.managedDisk": _MANAGED_DISK,
    "properties.virtualMachineProfile.osProfile": {"computerNamePrefix", "adminUsername", "adminPassword",
                                                   "customData", "windowsConfiguration", "linuxConfiguration",
                                                   "secrets", "allowExtensionOperations",
                                                   "requireGuestProvisionSignal"},
    "properties.virtualMachineProfile.networkProfile": {"healthProbe", "networkInterfaceConfigurations",
                                                        "networkApiVersion"},
    "identity": VM_SCHEMA["identity"],
}

#: the keys an imageReference needs when it names a marketplace image
IMAGE_REFERENCE_REQUIRED = ("publisher", "offer", "sku", "version")

#: marketplace image SKUs (publisher, offer) -> SKUs, to tell a typo from a newer SKU
IMAGE_SKUS: dict[tuple[str, str], tuple[str, ...]] = {
    ("microsoftwindowsserver", "windowsserver"): (
        "2008-R2-SP1", "2008-R2-SP1-smalldisk", "2012-Datacenter", "2012-Datacenter-smalldisk",
        "2012-R2-Datacenter", "2012-R2-Datacenter-smalldisk", "2016-Datacenter", "2016-Datacenter-smalldisk",
        "2016-Datacenter-Server-Core", "2016-Datacenter-Server-Core-smalldisk", "2016-Datacenter-with-Containers",
        "2016-datacenter-gensecond", "2019-Datacenter", "2019-Datacenter-smalldisk", "2019-Datacenter-Core",
        "2019-Datacenter-Core-smalldisk", "2019-Datacenter-with-Containers", "2019-datacenter-gensecond",
        "2022-datacenter", "2022-datacenter-g2", "2022-datacenter-azure-edition", "2022-datacenter-core",
        "2022-datacenter-smalldisk", "2025-datacenter", "2025-datacenter-g2", "2025-datacenter-azure-edition",
    ),
    ("canonical", "ubuntuserver"): ("14.04.5-LTS", "16.04-LTS", "16.04.0-LTS", "18.04-LTS", "18_04-lts-gen2"),
}


#: identifiers (API property names, query parameters) pages name, beyond the VM and scale-set
#: schemas above: the identity envelope, role assignments, IMDS, storage SAS and Key Vault bodies
KNOWN_IDENTIFIERS = (
    "userAssignedIdentities", "identityIds", "principalId", "tenantId", "clientId", "systemAssigned",
    "SystemAssigned", "UserAssigned", "roleDefinitionId", "roleDefinitionName", "principalType",
    "canonicalizedResource", "signedResource", "signedPermission", "signedProtocol", "signedExpiry",
    "signedStart", "signedServices", "signedResourceTypes", "serviceSasToken", "accountSasToken",
    "access_token", "refresh_token", "expires_in", "expires_on", "not_before", "token_type",
    "provisioningState", "accessPolicies", "enableRbacAuthorization", "objectId", "applicationId",
    "primaryMasterKey", "secondaryMasterKey", "primaryReadonlyMasterKey", "secondaryReadonlyMasterKey",
    "keyName", "permissions", "assignableScopes", "dataActions", "notActions", "notDataActions",
)


@lru_cache(maxsize=1)
def az_cmdlets() -> dict:
    """The Az cmdlets' parameters (``milab/docs/data/az_cmdlets.json``)."""
    import json
    from pathlib import Path
    try:
        return json.loads((Path(__file__).parent / "data" / "az_cmdlets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


#: (cmdlet, parameter) -> what to write instead, where the right parameter is not simply a near name
PARAMETER_REPLACEMENTS = {
    ("update-azvm", "assignidentity"): "-IdentityType SystemAssigned (the -AssignIdentity switch was AzureRM's)",
    ("update-azvm", "virtualmachine"): "-VM $vm",
}


# ---------------------------------------------------------------- responses the services return
#
# The shape (keys and JSON value types) of the responses pages document, as the service returns
# them today. Where the emulator serves the operation, the shape is the emulator's (which cites
# the recorded Azure responses it follows) and tests/docs/test_responses.py checks it against the
# emulator's real answer; the others cite their REST specification. "optional" keys may be absent.

RESPONSE_SHAPES: dict[str, dict[str, Any]] = {
    "imds-token": {
        "service": "IMDS",
        "source": "milab/cloud/imds.py (IMDS's documented token response: every value a string)",
        "keys": {"access_token": "string", "client_id": "string", "expires_in": "string", "expires_on": "string",
                 "ext_expires_in": "string", "not_before": "string", "resource": "string", "token_type": "string"},
        "optional": set(),
    },
    "arm-resource-group": {
        "service": "Azure Resource Manager",
        "source": "milab/cloud/arm/resources.py (ResourceGroups_Get in azure-rest-api-specs)",
        "keys": {"id": "string", "name": "string", "type": "string", "location": "string", "tags": "object",
                 "managedBy": "string", "properties": "object"},
        "optional": {"tags", "managedBy"},
    },
    "storage-listkeys": {
        "service": "Azure Storage's resource provider",
        "source": "milab/cloud/arm/storage.py (StorageAccounts_ListKeys)",
        "keys": {"keys": "array"},
        "items": {"keyName": "string", "value": "string", "permissions": "string", "creationTime": "string"},
        "optional": {"creationTime"},
    },
    "cosmos-listkeys": {
        "service": "Azure Cosmos DB's resource provider",
        "source": "azure-rest-api-specs cosmos-db DatabaseAccounts_ListKeys (DatabaseAccountListKeysResult)",
        "keys": {"primaryMasterKey": "string", "secondaryMasterKey": "string", "primaryReadonlyMasterKey": "string",
                 "secondaryReadonlyMasterKey": "string"},
        "optional": set(),
    },
    "cosmos-readonlykeys": {
        "service": "Azure Cosmos DB's resource provider",
        "source": "azure-rest-api-specs cosmos-db DatabaseAccounts_ListReadOnlyKeys (DatabaseAccountListReadOnlyKeysResult)",
        "keys": {"primaryReadonlyMasterKey": "string", "secondaryReadonlyMasterKey": "string"},
        "optional": set(),
    },
}


def response_kind(method: str | None, host: str, path: str) -> str | None:
    """Which of :data:`RESPONSE_SHAPES` a request's response is (None: not known)."""
    p = path.lower().rstrip("/")
    if host == "169.254.169.254" and p.endswith("/metadata/identity/oauth2/token"):
        return "imds-token"
    if host != "management.azure.com":
        return None
    if re.fullmatch(r"/subscriptions/[^/]+/resourcegroups/[^/]+", p) and (method or "GET") == "GET":
        return "arm-resource-group"
    if p.endswith("/listkeys") and "/microsoft.storage/storageaccounts/" in p:
        return "storage-listkeys"
    if p.endswith("/listkeys") and "/microsoft.documentdb/databaseaccounts/" in p:
        return "cosmos-listkeys"
    if p.endswith(("/readonlykeys", "/listreadonlykeys")) and "/microsoft.documentdb/databaseaccounts/" in p:
        return "cosmos-readonlykeys"
    return None
