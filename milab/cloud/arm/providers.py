"""What ARM answers about itself: resource providers, locations, cloud metadata, name checks and
the Compute image catalogue. Clients ask these before the resources they are after (the Azure
CLI picks an api-version from ``GET /subscriptions/{s}/providers/{namespace}`` for ``az resource
show/delete``, checks a storage account's name before creating it, resolves ``--image
Win2016Datacenter`` to its latest version).

* ``GET /subscriptions/{s}/providers[/{namespace}]`` (and ``/providers/{namespace}``): every
  namespace of the api-version table (``apiversions.py``), ``Registered``, each resource type with
  its locations and api-versions, newest first, as ARM lists them; ``POST .../{namespace}/register``.
  An unknown namespace is 404 ``InvalidResourceNamespace``.
* ``GET /subscriptions/{s}/locations``: the regions (``name``, ``displayName``,
  ``regionalDisplayName``, ``metadata``).
* ``GET https://management.azure.com/metadata/endpoints``: the public cloud's endpoints, without a
  token (``api-version=2019-05-01`` and later: a list of clouds; older: the one cloud).
* ``checkNameAvailability`` for storage accounts, Key Vault vaults and SQL servers (``POST
  /subscriptions/{s}/providers/<ns>/checkNameAvailability``, each in its provider's own answer
  shape, registered in ``catalog.PROVIDER_ACTIONS`` beside App Service's) and Cosmos DB (``HEAD /providers/Microsoft.DocumentDB/
  databaseAccountNames/{name}``: 200 when taken, 404 when free). Names are global, as in Azure.
* The image catalogue: ``.../providers/Microsoft.Compute/locations/{l}/publishers[/{p}/artifacttypes/
  vmimage/offers[/{o}/skus[/{s}/versions[/{v}]]]]``: the images the Azure CLI's aliases name (from
  azure-cli 2.91's ``vm/_alias.py``), those the pages name by URN, and those the fixtures use.
  An unknown image is 404 ``NotFound`` "Artifact: VMImage was not found." as Compute answers.

Every answer needs a valid ARM token (but the metadata); reading providers, locations and images
needs the caller to see the subscription (a role assignment in or above it), as ARM requires.
"""
from __future__ import annotations

import re
from typing import Any

from . import apiversions
from .base import Call
from .errors import ArmError

LOCATIONS = [  # name, display name, geography group, physical location
    ("eastus", "East US", "US", "Virginia"), ("eastus2", "East US 2", "US", "Virginia"),
    ("westus", "West US", "US", "California"), ("westus2", "West US 2", "US", "Washington"),
    ("westus3", "West US 3", "US", "Phoenix"), ("centralus", "Central US", "US", "Iowa"),
    ("northcentralus", "North Central US", "US", "Illinois"), ("southcentralus", "South Central US", "US", "Texas"),
    ("westcentralus", "West Central US", "US", "Wyoming"), ("northeurope", "North Europe", "Europe", "Ireland"),
    ("westeurope", "West Europe", "Europe", "Netherlands"), ("uksouth", "UK South", "Europe", "London"),
    ("japaneast", "Japan East", "Asia Pacific", "Tokyo, Saitama"),
    ("southeastasia", "Southeast Asia", "Asia Pacific", "Singapore"),
    ("australiaeast", "Australia East", "Asia Pacific", "New South Wales"),
]
DISPLAY = {name: display for name, display, _, _ in LOCATIONS}

# publisher, offer, sku, os, generation: what `az vm create --image <alias>` resolves (azure-cli 2.91's
# vm/_alias.py), the URNs the seed pages name, and the images the fixtures create VMs from.
IMAGES = [
    ("microsoftazurelinux", "azurelinux-4", "4", "Linux", "V2"), ("OpenLogic", "CentOS", "8_5-gen2", "Linux", "V2"),
    ("Debian", "debian-11", "11-backports-gen2", "Linux", "V2"),
    ("kinvolk", "flatcar-container-linux-free", "stable-gen2", "Linux", "V2"),
    ("SUSE", "openSUSE-leap-15-4", "gen2", "Linux", "V2"), ("RedHat", "RHEL", "8-lvm-gen2", "Linux", "V2"),
    ("SUSE", "sles-15-sp3", "gen2", "Linux", "V2"),
    ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "Linux", "V2"),
    ("Canonical", "ubuntu-24_04-lts", "server", "Linux", "V2"),
    ("Canonical", "UbuntuServer", "16.04-LTS", "Linux", "V1"), ("Canonical", "UbuntuServer", "18.04-LTS", "Linux", "V1"),
    ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-g2", "Windows", "V2"),
    ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", "Windows", "V2"),
    ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition-core", "Windows", "V2"),
    ("MicrosoftWindowsServer", "WindowsServer", "2019-datacenter-gensecond", "Windows", "V2"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-datacenter-gensecond", "Windows", "V2"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", "Windows", "V1"),
    ("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter", "Windows", "V1"),
    ("MicrosoftWindowsServer", "WindowsServer", "2012-Datacenter", "Windows", "V1"),
]
IMAGE_VERSION = {"Linux": "1.2026.1101", "Windows": "20348.3091.261101"}

_METADATA_SUFFIXES = {
    "storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "sqlServerHostname": "database.windows.net",
    "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
    "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net", "acrLoginServer": "azurecr.io",
    "mhsmDns": "managedhsm.azure.net", "attestationEndpoint": "attest.azure.net",
}


# -------------------------------------------------------------------------------- routing
def route(call: Call) -> tuple[int, Any] | None:
    """The answer when the request is one of these endpoints, else None (the front door goes on)."""
    ref = call.ref
    ns = ref.namespace
    if ref.resource_group is not None:
        return None
    if ns is None:
        if ref.subscription and ref.tail and ref.tail.lower() == "providers":
            return _list_providers(call)
        if ref.subscription and ref.tail and ref.tail.lower() == "locations":
            return _locations(call)
        return None
    types = [t.lower() for t in ref.types]
    if not types and not ref.names:  # /providers/{namespace}
        return _provider(call, ns)
    if types == ["register"] or (ref.tail or "").lower() == "register":
        return _provider(call, ns, register=True)
    if ns.lower() == "microsoft.documentdb" and types == ["databaseaccountnames"] and ref.names:
        return _cosmos_name(call, ref.names[0])
    if ns.lower() == "microsoft.compute" and types and types[0] == "locations" and ref.subscription and \
            ((len(types) > 1 and types[1] == "publishers") or (len(types) == 1 and (ref.tail or "").lower() ==
                                                                "publishers")):
        return _images(call)
    return None


def _sees_subscription(call: Call) -> None:
    if not call.emu.config.enforce_rbac:
        return
    from . import authorization as authz
    sub = f"/subscriptions/{call.state.subscription_id}"
    if any(authz.scope_contains(sub, a.scope) or authz.scope_contains(a.scope, sub)
           for a in call.state.assignments() if a.principal_id == call.caller_oid):
        return
    call.authorize("Microsoft.Resources/subscriptions/providers/read", sub)


# -------------------------------------------------------------------------------- providers
def provider_document(call: Call, namespace: str) -> dict | None:
    known = {n.lower(): n for n in apiversions.NAMESPACES}
    if namespace.lower() not in known:
        return None
    ns = known[namespace.lower()]
    from . import catalog
    types: dict[str, tuple[str, tuple[str, ...]]] = {}  # lower-case name -> (spelling, versions)
    for t, versions in apiversions.types_of(ns).items():
        name = t.split("/", 1)[1]
        types[name.lower()] = (name, versions)
    for rt in catalog.TYPES.values():
        if rt.type.lower().startswith(ns.lower() + "/") and rt.api_versions:
            name = rt.type.split("/", 1)[1]
            if name.lower() == "subscriptions/resourcegroups":
                name = "resourceGroups"
            types[name.lower()] = (name, tuple(sorted(set(types.get(name.lower(), ("", ()))[1]) | set(rt.api_versions))))
    sdk = apiversions.sdk_versions(ns)
    locations = [d for _, d, _, _ in LOCATIONS]
    resource_types = []
    for _, (name, versions) in sorted(types.items()):
        all_versions = sorted(set(versions) | set(sdk), reverse=True)
        entry = {"resourceType": name, "locations": locations, "apiVersions": all_versions, "capabilities": "None"}
        stable = [v for v in all_versions if "preview" not in v]
        if stable:
            entry["defaultApiVersion"] = stable[0]
        resource_types.append(entry)
    sub = call.state.subscription_id
    return {"id": f"/subscriptions/{sub}/providers/{ns}", "namespace": ns, "registrationState": "Registered",
            "registrationPolicy": "RegistrationRequired", "resourceTypes": resource_types}


def _provider(call: Call, namespace: str, register: bool = False) -> tuple[int, Any]:
    if register:
        if call.method != "POST":
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
        call.authorize(f"{namespace}/register/action", f"/subscriptions/{call.state.subscription_id}")
    elif call.method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
    else:
        _sees_subscription(call)
    doc = provider_document(call, namespace)
    if doc is None:
        raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
    return 200, doc


def _list_providers(call: Call) -> tuple[int, Any]:
    if call.method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
    _sees_subscription(call)
    return 200, {"value": [provider_document(call, ns) for ns in apiversions.NAMESPACES]}


def _locations(call: Call) -> tuple[int, Any]:
    if call.method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
    _sees_subscription(call)
    sub = call.state.subscription_id
    value = [{"id": f"/subscriptions/{sub}/locations/{name}", "name": name, "type": "Region", "displayName": display,
              "regionalDisplayName": f"({geo}) {display}",
              "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": geo,
                           "physicalLocation": place}}
             for name, display, geo, place in LOCATIONS]
    return 200, {"value": value}


# -------------------------------------------------------------------------------- cloud metadata
def metadata_endpoints(api_version: str | None) -> Any:
    """``GET /metadata/endpoints``: the public cloud (no token needed)."""
    cloud = {
        "portal": "https://portal.azure.com", "name": "AzureCloud",
        "authentication": {"loginEndpoint": "https://login.microsoftonline.com",
                           "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                           "tenant": "common", "identityProvider": "AAD"},
        "media": "https://rest.media.azure.net", "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/", "suffixes": dict(_METADATA_SUFFIXES),
        "batch": "https://batch.core.windows.net/", "resourceManager": "https://management.azure.com/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/"
                           "quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/", "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
    }
    if api_version and api_version >= "2019-05-01":
        return [cloud]
    return {"galleryEndpoint": "https://gallery.azure.com/", "graphEndpoint": "https://graph.windows.net/",
            "portalEndpoint": "https://portal.azure.com/",
            "authentication": {"loginEndpoint": "https://login.microsoftonline.com/",
                               "audiences": cloud["authentication"]["audiences"]}}


# -------------------------------------------------------------------------------- name checks
_NAME_RULES = {
    "microsoft.storage": ("Microsoft.Storage/storageAccounts", re.compile(r"^[a-z0-9]{3,24}$"),
                          "{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                          "characters in length and use numbers and lower-case letters only."),
    "microsoft.keyvault": ("Microsoft.KeyVault/vaults", re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
                           "Vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric "
                           "characters. The name must begin with a letter, end with a letter or digit, and not "
                           "contain consecutive hyphens."),
    "microsoft.sql": ("Microsoft.Sql/servers", re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$"),
                      "Specified server name contains unsupported characters or is too long."),
}


def _taken(call: Call, type_name: str, name: str) -> bool:
    return any(r["type"].lower() == type_name.lower() and r["name"].lower() == name.lower()
               for r in call.state.resources.values())


def _check_name(call: Call, namespace: str) -> tuple[int, Any]:
    """A provider's ``checkNameAvailability`` (the front door authorized ``<namespace>/checkNameAvailability/read``
    at the subscription: these are ``catalog.PROVIDER_ACTIONS``)."""
    type_name, pattern, invalid = _NAME_RULES[namespace.lower()]
    body = call.body if isinstance(call.body, dict) else {}
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'name' is required.")
    ns = namespace.lower()
    valid = bool(pattern.match(name)) and not (ns == "microsoft.keyvault" and "--" in name)
    taken = valid and _taken(call, type_name, name)
    if ns == "microsoft.sql":  # Microsoft.Sql answers with its own field names
        out = {"name": name, "available": valid and not taken}
        if not valid:
            out.update(reason="Invalid", message=invalid.format(name=name))
        elif taken:
            out.update(reason="AlreadyExists", message="Specified server name is already used.")
        return 200, out
    out: dict[str, Any] = {"nameAvailable": valid and not taken}
    if not valid:
        out.update(reason="AccountNameInvalid" if ns == "microsoft.storage" else "Invalid",
                   message=invalid.format(name=name))
    elif taken:
        messages = {"microsoft.storage": f"The storage account named {name} is already taken.",
                    "microsoft.keyvault": f"The vault name '{name}' is already in use. Vault names are globally "
                                          f"unique so it is possible that the name is already taken. If you are sure "
                                          f"that the vault name was not taken then it is possible that a vault with "
                                          f"the same name was recently deleted but not purged after being placed in "
                                          f"a recoverable state."}
        out.update(reason="AlreadyExists", message=messages[ns])
    return 200, out


# POSTs to a provider itself, for catalog.PROVIDER_ACTIONS (App Service's own is in web.py)
NAME_CHECKS = {f"{ns}/checknameavailability": (lambda call, ns=ns: _check_name(call, ns)) for ns in _NAME_RULES}


def _cosmos_name(call: Call, name: str) -> tuple[int, Any]:
    if call.method not in ("HEAD", "GET"):
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
    return (200 if _taken(call, "Microsoft.DocumentDB/databaseAccounts", name) else 404), None


# -------------------------------------------------------------------------------- images
def _images(call: Call) -> tuple[int, Any]:
    if call.method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
    _sees_subscription(call)
    ref = call.ref
    pairs = dict(zip([t.lower() for t in ref.types], ref.names))
    location = (pairs.get("locations") or "").lower()
    if location not in DISPLAY:
        raise ArmError(404, "NoRegisteredProviderFound" if not location else "LocationNotAvailableForResourceType",
                       f"The provided location '{location}' is not available for resource type "
                       f"'Microsoft.Compute/locations/publishers'.")
    sub = call.state.subscription_id
    base = f"/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{location}/Publishers"
    pub, offer, sku, version = pairs.get("publishers"), pairs.get("offers"), pairs.get("skus"), pairs.get("versions")
    tail = (ref.tail or "").lower()

    def same(have: str, want: str | None) -> bool:
        return want is None or have.lower() == want.lower()

    rows = [i for i in IMAGES if same(i[0], pub) and same(i[1], offer) and same(i[2], sku)]

    def item(name, id_):
        return {"location": location, "name": name, "id": id_}

    if pub is None:  # .../publishers
        names = sorted({i[0] for i in IMAGES}, key=str.lower)
        return 200, [item(n, f"{base}/{n}") for n in names]
    if not rows:
        raise ArmError(404, "NotFound", "Artifact: VMImage was not found.")
    if offer is None:  # .../publishers/{p}/artifacttypes/vmimage/offers
        return 200, [item(n, f"{base}/{rows[0][0]}/ArtifactTypes/VMImage/Offers/{n}")
                     for n in sorted({i[1] for i in rows})]
    if sku is None:  # .../offers/{o}/skus
        return 200, [item(n, f"{base}/{rows[0][0]}/ArtifactTypes/VMImage/Offers/{rows[0][1]}/Skus/{n}")
                     for n in sorted({i[2] for i in rows})]
    p, o, s, os_name, gen = rows[0]
    ver = IMAGE_VERSION[os_name]
    vid = f"{base}/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions/{ver}"
    if version is None and tail == "versions":
        return 200, [item(ver, vid)]
    if version is None or (version.lower() != "latest" and version != ver):
        raise ArmError(404, "NotFound", "Artifact: VMImage was not found.")
    features = [{"name": "IsAcceleratedNetworkSupported", "value": "True"}]
    if gen == "V2":
        features.append({"name": "SecurityType", "value": "TrustedLaunchSupported"})
    return 200, {"properties": {"hyperVGeneration": gen, "architecture": "x64", "replicaType": "Unmanaged",
                                "disallowed": {"vmDiskType": "None"},
                                "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": False},
                                "imageDeprecationStatus": {"imageState": "Active"}, "features": features,
                                "osDiskImage": {"operatingSystem": os_name, "sizeInGb": 30 if os_name == "Linux" else 127},
                                "dataDiskImages": []},
                 "location": location, "name": ver, "id": vid}
