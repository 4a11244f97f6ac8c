"""Which RBAC permission a Blob REST operation needs when it is authorized with OAuth.

Data operations on blobs need *data actions* (``.../containers/blobs/read`` ...), which only
the Storage Blob Data roles grant; Owner, Contributor and Reader grant none. Container
management through the data plane (Create/Delete Container, Set Container Metadata/ACL,
Lease Container) is authorized with the container's control-plane actions
(``.../blobServices/containers/write`` / ``delete``), as Storage documents for those
operations. Listing containers and the other account-level reads need the blob read data
action at the account.

The scope is the container for operations on a container or its blobs
(``{account id}/blobServices/default/containers/{name}``) and the account otherwise, so
assignments at the container, the account, the group or the subscription all apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

PREFIX = "Microsoft.Storage/storageAccounts/blobServices"
BLOBS = f"{PREFIX}/containers/blobs"
CONTAINERS = f"{PREFIX}/containers"


@dataclass(frozen=True)
class Permission:
    operation: str  # the REST operation's name, for messages and tests
    action: str
    data_action: bool  # True: dataActions; False: actions
    container: str | None  # None: the permission is checked at the account


def split_path(path: str) -> tuple[str | None, str | None]:
    """(container, blob) of a host-style Blob path (percent-encoded or not)."""
    p = unquote(path).lstrip("/")
    if not p:
        return None, None
    container, _, blob = p.partition("/")
    return container or None, blob or None


def required_permission(method: str, path: str, query: str) -> Permission:
    method = method.upper()
    q = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    comp = q.get("comp", "").lower()
    restype = q.get("restype", "").lower()
    container, blob = split_path(path)
    if container is None or (restype == "service" and blob is None and container is None):
        # account level: List Containers, Get/Set Blob Service Properties, Get Stats, Get Account Information
        if method in ("GET", "HEAD"):
            op = {"list": "List Containers", "properties": "Get Blob Service Properties",
                  "stats": "Get Blob Service Stats"}.get(comp, "Get Account Information")
            return Permission(op, f"{BLOBS}/read", True, None)
        if method == "POST" and comp == "userdelegationkey":
            return Permission("Get User Delegation Key", f"{PREFIX}/generateUserDelegationKey/action", False, None)
        if method == "POST" and comp == "batch":
            return Permission("Blob Batch", f"{BLOBS}/delete", True, None)
        return Permission("Set Blob Service Properties", f"{PREFIX}/write", False, None)
    if blob is None:
        if restype == "container" and comp in ("", "metadata", "acl") and method in ("GET", "HEAD"):
            name = {"": "Get Container Properties", "metadata": "Get Container Metadata",
                    "acl": "Get Container ACL"}[comp]
            return Permission(name, f"{BLOBS}/read", True, container)
        if comp == "list" and method == "GET":
            return Permission("List Blobs", f"{BLOBS}/read", True, container)
        if comp == "blobs" and method == "GET":
            return Permission("Find Blobs by Tags in Container", f"{BLOBS}/filter/action", True, container)
        if method == "PUT" and comp in ("", "metadata", "acl", "lease"):
            name = {"": "Create Container", "metadata": "Set Container Metadata", "acl": "Set Container ACL",
                    "lease": "Lease Container"}[comp]
            return Permission(name, f"{CONTAINERS}/write", False, container)
        if method == "DELETE":
            return Permission("Delete Container", f"{CONTAINERS}/delete", False, container)
        if method in ("GET", "HEAD"):
            # not a container operation: a blob named like the container root (e.g. GET /c) reads a blob
            return Permission("Get Blob", f"{BLOBS}/read", True, container)
        return Permission("Container Operation", f"{CONTAINERS}/write", False, container)
    # blob level
    if method in ("GET", "HEAD"):
        if comp == "tags":
            return Permission("Get Blob Tags", f"{BLOBS}/tags/read", True, container)
        name = {"": "Get Blob" if method == "GET" else "Get Blob Properties", "metadata": "Get Blob Metadata",
                "blocklist": "Get Block List", "pagelist": "Get Page Ranges"}.get(comp, "Get Blob")
        return Permission(name, f"{BLOBS}/read", True, container)
    if method == "DELETE":
        if "deletetype" in q and q.get("deletetype", "").lower() == "permanent":
            return Permission("Delete Blob (permanent)", f"{BLOBS}/permanentDelete/action", True, container)
        return Permission("Delete Blob", f"{BLOBS}/delete", True, container)
    if method == "PUT":
        if comp == "tags":
            return Permission("Set Blob Tags", f"{BLOBS}/tags/write", True, container)
        if comp == "appendblock":
            return Permission("Append Block", f"{BLOBS}/add/action", True, container)
        name = {"": "Put Blob", "block": "Put Block", "blocklist": "Put Block List", "page": "Put Page",
                "properties": "Set Blob Properties", "metadata": "Set Blob Metadata", "lease": "Lease Blob",
                "snapshot": "Snapshot Blob", "copy": "Abort Copy Blob", "tier": "Set Blob Tier",
                "immutabilitypolicies": "Set Blob Immutability Policy", "legalhold": "Set Blob Legal Hold"
                }.get(comp, "Put Blob")
        return Permission(name, f"{BLOBS}/write", True, container)
    if method == "POST" and comp == "query":
        return Permission("Query Blob Contents", f"{BLOBS}/read", True, container)
    return Permission("Blob Operation", f"{BLOBS}/write", True, container)


def scope_for(account_id: str, permission: Permission) -> str:
    if permission.container is None:
        return account_id
    return f"{account_id}/blobServices/default/containers/{permission.container}"
