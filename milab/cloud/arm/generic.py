"""Resource types the emulator stores without modelling them: what ARM still gets right for them.

* **Create status.** A finished create answers the status the type's REST specification lists
  for it, because generated clients refuse any other: Cosmos DB accounts and App Service plans
  and sites list no ``201`` (``azure-mgmt-cosmosdb`` 10.0.0 and ``azure-mgmt-web`` 11.0.0, the
  versions azure-cli 2.91 ships, accept ``[200]`` for ``databaseAccounts`` and ``[200, 202]`` for
  ``sqlRoleAssignments``, ``serverfarms`` and ``sites``); everything else answers ``201``.
* **Location.** Only top-level (tracked) resources need one; child resources
  (``databaseAccounts/sqlRoleAssignments``, ``servers/administrators``) have none.
* **Write-only secrets** a request may carry (``administratorLoginPassword`` of SQL servers, a
  VM profile's ``adminPassword``, ``secret`` values) are kept, never returned.
"""
from __future__ import annotations

from typing import Any

from .base import ResourceType

# type (lower case) -> status of a finished create, where it is not 201
CREATE_STATUS = {
    "microsoft.documentdb/databaseaccounts": 200,
    "microsoft.documentdb/databaseaccounts/sqlroleassignments": 200,
    "microsoft.documentdb/databaseaccounts/sqlroledefinitions": 200,
    "microsoft.documentdb/databaseaccounts/sqldatabases": 200,
    "microsoft.documentdb/databaseaccounts/sqldatabases/containers": 200,
    "microsoft.web/serverfarms": 200,
    "microsoft.web/sites": 200,
}

# properties a request may set and no response shows (the REST specs mark them x-ms-secret / write-only)
WRITE_ONLY = ("administratorLoginPassword", "adminPassword", "customData", "protectedSettings", "secret")


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in WRITE_ONLY}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


class GenericType(ResourceType):
    """A type the emulator stores as it is sent, with ARM's shared rules."""

    def __init__(self, type_name: str, api_versions: tuple[str, ...] | None = None):
        super().__init__(type_name, api_versions)
        self.created_status = CREATE_STATUS.get(type_name.lower(), 201)
        self.location_required = type_name.count("/") == 1

    def render(self, call, res: dict) -> dict:
        out = super().render(call, res)
        if isinstance(out.get("properties"), dict):
            out["properties"] = _without_secrets(out["properties"])
        return out
