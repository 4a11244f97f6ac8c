"""Who may do what on a vault's secrets, in both of Key Vault's authorization models.

A vault's ``properties.enableRbacAuthorization`` chooses the model, and the other one is
ignored entirely, as in Azure:

* **Access policies** (``false``): an entry of ``properties.accessPolicies`` whose ``tenantId``
  is the token's tenant and whose ``objectId`` is the caller or one of its groups (and, for a
  compound entry, whose ``applicationId`` is the token's ``appid``) must list the operation's
  permission under ``permissions.secrets`` (or ``all``). The check takes a *set* of principal
  ids so group membership (``groups`` claim today, the directory model later) needs no change.
* **Azure RBAC** (``true``): the operation's data action at the secret's scope
  (``<vault id>/secrets/<name>``, so assignments at the secret, vault, group or subscription
  apply), through the one RBAC decision ``Emulator.allowed``.

The permission and data action of each operation are the data-plane spec's (each operation
in ``specification/keyvault/data-plane/Microsoft.KeyVault/stable/*/secrets.json`` says "This
operation requires the secrets/<permission> permission") and the Key Vault data actions of
the "Azure permissions for Security" reference (``.../secrets/getSecret/action`` ...).

Denials answer 403 ``Forbidden`` with the message shapes Key Vault sends (from failures
reported verbatim in turbot/steampipe-plugin-azure#127 for access policies and
piyushsachdeva/Terraform_AKS#2 for RBAC): ``innererror`` ``AccessDenied`` or ``ForbiddenByRbac``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .secrets import KvError, vault_label

DATA = "Microsoft.KeyVault/vaults/secrets"
POLICY_HELP = "https://go.microsoft.com/fwlink/?linkid=2125287"


@dataclass(frozen=True)
class Operation:
    name: str  # the REST operation (for logs and tests)
    permission: str  # access-policy permission under permissions.secrets
    data_action: str  # Azure RBAC data action
    mutates: bool = False


OPS = {
    "get": Operation("GetSecret", "get", f"{DATA}/getSecret/action"),
    "list": Operation("GetSecrets", "list", f"{DATA}/readMetadata/action"),
    "versions": Operation("GetSecretVersions", "list", f"{DATA}/readMetadata/action"),
    "set": Operation("SetSecret", "set", f"{DATA}/setSecret/action", True),
    "update": Operation("UpdateSecret", "set", f"{DATA}/update/action", True),
    "delete": Operation("DeleteSecret", "delete", f"{DATA}/delete", True),
    "backup": Operation("BackupSecret", "backup", f"{DATA}/backup/action"),
    "restore": Operation("RestoreSecret", "restore", f"{DATA}/restore/action", True),
    "get_deleted": Operation("GetDeletedSecret", "get", f"{DATA}/readMetadata/action"),
    "list_deleted": Operation("GetDeletedSecrets", "list", f"{DATA}/readMetadata/action"),
    "recover": Operation("RecoverDeletedSecret", "recover", f"{DATA}/recover/action", True),
    "purge": Operation("PurgeDeletedSecret", "purge", f"{DATA}/purge/action", True),
}

#: every permission an access policy may grant on secrets (the ARM spec's SecretPermissions)
SECRET_PERMISSIONS = ("all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge")


def policy_permits(policies: Iterable[dict], tenant_id: str, principal_ids: set[str], app_id: str | None,
                   kind: str, permission: str) -> bool:
    """Does an access policy grant ``permission`` on ``kind`` (secrets, keys, certificates) to any
    of ``principal_ids`` (the caller's object id and its groups')?"""
    ids = {p.lower() for p in principal_ids if p}
    for entry in policies or ():
        if not isinstance(entry, dict):
            continue
        if str(entry.get("tenantId", "")).lower() != (tenant_id or "").lower():
            continue
        if str(entry.get("objectId", "")).lower() not in ids:
            continue
        app = entry.get("applicationId")
        if app and str(app).lower() != (app_id or "").lower():
            continue  # a compound identity: that application acting for that principal only
        granted = {str(p).lower() for p in ((entry.get("permissions") or {}).get(kind) or [])}
        if permission in granted or "all" in granted:
            return True
    return False


def caller(claims: dict) -> str:
    """``appid=...;oid=...;[numgroups=N;]iss=...`` as Key Vault names the caller."""
    parts = [f"appid={claims.get('appid', '')}", f"oid={claims.get('oid', '')}"]
    if claims.get("groups"):
        parts.append(f"numgroups={len(claims['groups'])}")
    parts.append(f"iss={claims.get('iss', '')}")
    return ";".join(parts)


def access_denied(vault: dict, claims: dict, op: Operation) -> KvError:
    return KvError(403, "Forbidden",
                   f"The user, group or application '{caller(claims)}' does not have secrets {op.permission} "
                   f"permission on key vault '{vault_label(vault)}'. For help resolving this issue, please see "
                   f"{POLICY_HELP}", "AccessDenied")


def forbidden_by_rbac(vault: dict, claims: dict, op: Operation, scope: str) -> KvError:
    return KvError(403, "Forbidden",
                   "Caller is not authorized to perform action on resource.\r\n"
                   "If role assignments, deny assignments or role definitions were changed recently, please observe "
                   "propagation time.\r\n"
                   f"Caller: {caller(claims)}\r\n"
                   f"Action: '{op.data_action}'\r\n"
                   f"Resource: '{scope.lower()}'\r\n"
                   "Assignment: (not found)\r\n"
                   "DenyAssignmentId: null\r\n"
                   "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
                   f"Vault: {vault_label(vault)}\r\n", "ForbiddenByRbac")
