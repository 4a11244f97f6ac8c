"""Who a connection is, and what it may do: Azure SQL's logins, contained users and roles.

* **Logins.** A token login is the server's Microsoft Entra admin (``administrators/
  ActiveDirectory``: its ``sid`` names a user or group by object id, an application by its
  client id) or a contained database user created ``FROM EXTERNAL PROVIDER`` (matched by
  object id, directly or through a group the user was created for). The server admin's SQL
  login (``administratorLogin`` and its password) logs in unless the server is Entra-only.
  The admins are ``dbo`` in every database.
* **Users** live in their database (the catalog is kept with the database's ARM record):
  name, object id, the SID Azure shows (an application's client id, a user's or group's object
  id), type ``E`` (EXTERNAL_USER) or ``X`` (EXTERNAL_GROUP), and role memberships.
* **Roles**: the fixed database roles; ``db_datareader`` grants SELECT, ``db_datawriter``
  INSERT, UPDATE and DELETE, ``db_ddladmin`` CREATE and DROP, ``db_accessadmin`` and
  ``db_securityadmin`` the management of users and role members, ``db_owner`` everything.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

FIXED_ROLES = {  # name -> principal_id, as in every SQL database
    "db_owner": 16384, "db_accessadmin": 16385, "db_securityadmin": 16386, "db_ddladmin": 16387,
    "db_backupoperator": 16389, "db_datareader": 16390, "db_datawriter": 16391, "db_denydatareader": 16392,
    "db_denydatawriter": 16393,
}
PERMISSION_ROLES = {
    "SELECT": ("db_owner", "db_datareader"),
    "INSERT": ("db_owner", "db_datawriter"),
    "UPDATE": ("db_owner", "db_datawriter"),
    "DELETE": ("db_owner", "db_datawriter"),
    "CREATE": ("db_owner", "db_ddladmin"),
    "ALTER": ("db_owner", "db_ddladmin"),
    "ALTER ANY USER": ("db_owner", "db_accessadmin"),
    "ALTER ANY ROLE": ("db_owner", "db_securityadmin"),
}
DENY_ROLES = {"SELECT": "db_denydatareader", "INSERT": "db_denydatawriter", "UPDATE": "db_denydatawriter",
              "DELETE": "db_denydatawriter"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


@dataclass
class Identity:
    """Who a connection logged in as."""
    login: str  # SUSER_SNAME(): the admin's login, the user's display name or UPN
    object_id: str | None  # Entra logins
    app_id: str | None
    kind: str  # "sql" | "entra"
    service_principal: bool = False  # an application or managed identity (idtyp=app)
    claims: dict = field(default_factory=dict)


@dataclass
class DbPrincipal:
    """The database principal a session acts as."""
    name: str  # USER_NAME()
    dbo: bool  # the server's admins: every permission
    roles: frozenset[str] = frozenset()

    def has(self, permission: str) -> bool:
        if self.dbo:
            return True
        deny = DENY_ROLES.get(permission)
        if deny and deny in self.roles:
            return False
        return any(r in self.roles for r in PERMISSION_ROLES.get(permission, ("db_owner",)))


def sid_of(obj) -> str:
    """The SID Azure SQL records for an Entra principal: an application's client id, otherwise the
    object id (Learn, "CREATE USER ... FROM EXTERNAL PROVIDER": the SID of an application's user is its
    application ID)."""
    return (obj.app_id if obj.type == "servicePrincipal" and obj.app_id else obj.id).lower()


def sid_hex(sid: str) -> str:
    """A SID as ``sys.database_principals`` shows it: 0x and the GUID's bytes (little-endian)."""
    import uuid
    try:
        return "0x" + uuid.UUID(sid).bytes_le.hex().upper()
    except ValueError:
        return "0x"
