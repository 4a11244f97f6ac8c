"""The emulated tenant's directory: one model that Entra, IMDS, ARM and every data plane share.

What it holds (persisted in :class:`~milab.cloud.state.State`, so a state directory keeps it):

* **service principals** (``State.principals``): the operator, one per managed identity (made
  and removed by ARM with the identity), and the **first-party resource apps** with their real
  app IDs and app roles (:mod:`.apps`: Microsoft Graph, Azure AD Graph, ARM, Storage, Key Vault,
  SQL, Cosmos DB, Data Lake), kind ``first-party``;
* **users** (``State.users``): the operator's tenant administrator;
* **security groups** (``State.groups``) whose members are service principals, users and other
  groups (nesting is followed transitively, cycles included);
* **app role assignments** (``State.app_role_assignments``): a principal holds an app role of
  a resource app's service principal (Graph's ``appRoleAssignment``);
* **directory roles** (``State.directory_roles``): Global Administrator for the operator and
  the admin user, so the operator administers the directory as a tenant admin would.

The interface other services call (``emu.directory``)::

    groups_of(object_id)            -> set[str]   every group the object is in, transitively
    principal_ids(object_id)        -> set[str]   {object_id} | groups_of(object_id): what RBAC,
                                                  Key Vault access policies and ACLs match on
    caller_ids(claims)              -> set[str]   the same for a token: oid plus the token's
                                                  ``groups`` claim when it has one (what the token
                                                  says, stale until refreshed, as in Azure),
                                                  otherwise the directory's current groups
    app_roles(principal_id, resource) -> list[str] values of the app roles the principal holds on
                                                  a resource app (its app id, service principal
                                                  object id or an audience)
    token_roles(principal_id, audience) -> list[str] the ``roles`` claim of a token for audience
    token_groups(principal_id)      -> list[str]  the ``groups`` claim (security groups, transitive)
    lookup_name(name)               -> list[DirObject]  SQL's CREATE USER [name] FROM EXTERNAL
                                                  PROVIDER: service principals and groups by
                                                  display name, service principals by app id,
                                                  users by UPN; zero, one or several (ambiguous)
    find_by_display_name(name, types=None) -> list[DirObject]
    object(object_id) / by_app_id(app_id) -> DirObject | Principal | None
    is_directory_admin(object_id)   -> bool       Global Administrator (directly or via a group)

and the writes the Graph APIs make (``create_group``, ``add_member``, ``remove_member``,
``delete_group``, ``assign_app_role``, ``remove_app_role_assignment``), which raise
:class:`DirectoryError` with a ``kind`` (``not_found``, ``exists``, ``invalid``) that each API
maps to its own error body. ``State.groups_of`` delegates here, so code holding only the state
(Key Vault's access policies) gets the same answer.

App roles assigned to a group reach the group's *users*, not its service principals: an app
role (application permission) reaches a service principal's app-only token only through a
direct assignment, as Entra does.
"""
from __future__ import annotations

import base64
import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from . import apps
from .apps import FIRST_PARTY, ResourceApp

if TYPE_CHECKING:  # pragma: no cover
    from ..state import Principal, State

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"  # directory role template id
GROUPS_CLAIM_LIMIT = 200  # Entra emits no groups claim beyond 200 groups in a JWT (overage)

__all__ = ["Directory", "DirectoryError", "DirObject", "GLOBAL_ADMINISTRATOR", "apps", "transitive_groups"]


class DirectoryError(Exception):
    """A write the directory refuses. ``kind``: not_found | exists | invalid."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class DirObject:
    """One directory object as the APIs see it."""
    id: str
    type: str  # servicePrincipal | user | group
    display_name: str
    app_id: str | None = None  # service principals only
    principal: "Principal | None" = None
    doc: dict | None = None  # users and groups: the stored document


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guid(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        return None


def transitive_groups(state: "State", object_id: str, security_only: bool = False) -> set[str]:
    """Every group ``object_id`` belongs to, directly or through nested groups (cycle-safe)."""
    oid = (object_id or "").lower()
    if not oid:
        return set()
    parents: dict[str, set[str]] = {}
    for gid, g in state.groups.items():
        for m in g.get("members") or ():
            parents.setdefault(str(m).lower(), set()).add(gid)
    found: set[str] = set()
    todo = [oid]
    while todo:
        for gid in parents.get(todo.pop(), ()):
            if gid not in found:
                found.add(gid)
                todo.append(gid.lower())
    if security_only:
        found = {g for g in found if state.groups.get(g, {}).get("securityEnabled")}
    return found


def assignment_id(principal_id: str) -> str:
    """An appRoleAssignment id as Entra makes them: 43 base64url characters, whose first 16 bytes
    are the principal's object id (little-endian GUID), e.g. ``gZR5KyLaiU0TiqFhNewZWBtK7ZKqNJxAiWYXYVHlgMs``
    on the 2019 Windows Graph page and ``41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE`` in the
    Graph reference's example."""
    raw = uuid.UUID(principal_id).bytes_le + os.urandom(16)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Directory:
    def __init__(self, state: "State"):
        self.state = state
        if self.seed():
            state.save()

    # -- what a new (or older) tenant starts with ------------------------------------------------
    @property
    def domain(self) -> str:
        """The tenant's initial domain (``<name>.onmicrosoft.com``)."""
        return f"milab{self.state.tenant_id.replace('-', '')[:10]}.onmicrosoft.com"

    def seed(self) -> bool:
        """Add what is missing: first-party service principals, the admin user, Global Administrator
        for the operator and the admin. True when anything was added (a state file of an older
        emulator gains them on load)."""
        from ..state import Principal
        changed = False
        for app in FIRST_PARTY:
            if self.state.principal_by_app_id(app.app_id) is None:
                self.state.add_principal(Principal(object_id=str(uuid.uuid4()), app_id=app.app_id,
                                                   display_name=app.display_name, kind="first-party"))
                changed = True
        if not self.state.users:
            uid = str(uuid.uuid4())
            self.state.users[uid] = {"id": uid, "displayName": "milab administrator", "givenName": None,
                                     "surname": None, "mailNickname": "admin",
                                     "userPrincipalName": f"admin@{self.domain}", "mail": None,
                                     "accountEnabled": True, "userType": "Member", "createdDateTime": _now()}
            changed = True
        admins = self.state.directory_roles.setdefault(GLOBAL_ADMINISTRATOR, [])
        for oid in (self.state.operator.object_id, *self.state.users):
            if oid not in admins:
                admins.append(oid)
                changed = True
        return changed

    # -- lookups ----------------------------------------------------------------------------------
    def _sp(self, p: "Principal") -> DirObject:
        return DirObject(p.object_id, "servicePrincipal", p.display_name, p.app_id, principal=p)

    def object(self, object_id: str) -> DirObject | None:
        """The service principal, user or group with this object id (any case), or None."""
        oid = _guid(object_id)
        if oid is None:
            return None
        p = self.state.principals.get(oid) or next(
            (q for q in self.state.principals.values() if q.object_id.lower() == oid), None)
        if p is not None:
            return self._sp(p)
        if oid in self.state.users:
            u = self.state.users[oid]
            return DirObject(oid, "user", u.get("displayName") or "", doc=u)
        if oid in self.state.groups:
            g = self.state.groups[oid]
            return DirObject(oid, "group", g.get("displayName") or "", doc=g)
        return None

    def objects(self, types: Iterable[str] | None = None) -> list[DirObject]:
        want = set(types or ("servicePrincipal", "user", "group"))
        out: list[DirObject] = []
        if "servicePrincipal" in want:
            out += [self._sp(p) for p in self.state.principals.values()]
        if "user" in want:
            out += [DirObject(k, "user", u.get("displayName") or "", doc=u) for k, u in self.state.users.items()]
        if "group" in want:
            out += [DirObject(k, "group", g.get("displayName") or "", doc=g) for k, g in self.state.groups.items()]
        return out

    def by_app_id(self, app_id: str) -> "Principal | None":
        return self.state.principal_by_app_id(app_id or "")

    def find_by_display_name(self, name: str, types: Iterable[str] | None = None) -> list[DirObject]:
        """Objects whose display name is ``name`` (case-insensitive, as Entra compares names)."""
        key = (name or "").lower()
        return [o for o in self.objects(types) if o.display_name.lower() == key]

    def lookup_name(self, name: str) -> list[DirObject]:
        """What ``CREATE USER [name] FROM EXTERNAL PROVIDER`` resolves: service principals and
        groups by display name, service principals by app id, users by user principal name or
        mail. Several results mean the name is ambiguous (SQL refuses it)."""
        key = (name or "").strip().lower()
        found = {o.id: o for o in self.find_by_display_name(key, ("servicePrincipal", "group"))}
        for o in self.objects(("servicePrincipal",)):
            if (o.app_id or "").lower() == key:
                found[o.id] = o
        for o in self.objects(("user",)):
            if key in ((o.doc or {}).get("userPrincipalName", "").lower(), ((o.doc or {}).get("mail") or "").lower()):
                found[o.id] = o
        return list(found.values())

    def resource_app(self, principal: "Principal | None") -> ResourceApp | None:
        """The first-party app a service principal stands for (None for any other principal)."""
        return apps.by_app_id(principal.app_id) if principal is not None and principal.kind == "first-party" else None

    def resource_for(self, resource: str) -> "Principal | None":
        """The resource service principal named by its object id, app id or an audience."""
        obj = self.object(resource)
        if obj is not None and obj.principal is not None:
            return obj.principal
        p = self.by_app_id(resource)
        if p is not None:
            return p
        app = apps.for_audience(resource)
        return self.by_app_id(app.app_id) if app else None

    # -- groups -----------------------------------------------------------------------------------
    def groups_of(self, object_id: str, security_only: bool = False) -> set[str]:
        return transitive_groups(self.state, object_id, security_only)

    def principal_ids(self, object_id: str) -> set[str]:
        return ({object_id} | self.groups_of(object_id)) if object_id else set()

    def caller_ids(self, claims: dict) -> set[str]:
        oid = str(claims.get("oid") or "")
        if not oid:
            return set()
        groups = claims.get("groups")
        if isinstance(groups, list):
            return {oid} | {g for g in groups if isinstance(g, str)}
        return self.principal_ids(oid)

    def member_groups(self, object_id: str, security_only: bool = False) -> list[str]:
        """getMemberGroups: the transitive groups, in the order they were created."""
        found = self.groups_of(object_id, security_only)
        return [gid for gid in self.state.groups if gid in found]

    def token_groups(self, principal_id: str) -> list[str]:
        """The ``groups`` claim: transitive security groups; none at all past the overage limit."""
        groups = self.member_groups(principal_id, security_only=True)
        return groups if len(groups) <= GROUPS_CLAIM_LIMIT else []

    def members(self, group_id: str) -> list[DirObject]:
        g = self.state.groups.get((group_id or "").lower())
        return [o for o in (self.object(m) for m in (g or {}).get("members", [])) if o is not None]

    def create_group(self, display_name: str, mail_nickname: str, *, security_enabled: bool = True,
                     mail_enabled: bool = False, description: str | None = None,
                     group_types: list[str] | None = None) -> dict:
        if not isinstance(display_name, str) or not display_name.strip():
            raise DirectoryError("invalid", "Invalid value specified for property 'displayName' of resource 'Group'.")
        if not isinstance(mail_nickname, str) or not mail_nickname.strip() or any(c.isspace() for c in mail_nickname):
            raise DirectoryError("invalid", "Invalid value specified for property 'mailNickname' of resource 'Group'.")
        gid = str(uuid.uuid4())
        g = {"id": gid, "displayName": display_name, "description": description, "mailNickname": mail_nickname,
             "mailEnabled": bool(mail_enabled), "securityEnabled": bool(security_enabled),
             "groupTypes": list(group_types or []), "createdDateTime": _now(), "members": []}
        self.state.groups[gid] = g
        self.state.save()
        return g

    def delete_group(self, group_id: str) -> None:
        gid = (group_id or "").lower()
        if self.state.groups.pop(gid, None) is None:
            raise DirectoryError("not_found", f"Resource '{group_id}' does not exist or one of its queried reference-"
                                              f"property objects are not present.")
        self.forget(gid)

    def _group(self, group_id: str) -> dict:
        g = self.state.groups.get((_guid(group_id) or ""))
        if g is None:
            raise DirectoryError("not_found", f"Resource '{group_id}' does not exist or one of its queried reference-"
                                              f"property objects are not present.")
        return g

    def add_member(self, group_id: str, member_id: str) -> None:
        g = self._group(group_id)
        member = self.object(member_id)
        if member is None:
            raise DirectoryError("not_found", f"Resource '{member_id}' does not exist or one of its queried "
                                              f"reference-property objects are not present.")
        if member.id in g["members"]:
            # Graph: 400 "One or more added object references already exist for the following
            # modified properties: 'members'." (Graph reference, group-post-members)
            raise DirectoryError("exists", "One or more added object references already exist for the following "
                                           "modified properties: 'members'.")
        if member.id == g["id"]:
            raise DirectoryError("invalid", "A group cannot be a member of itself.")
        g["members"].append(member.id)
        self.state.save()

    def remove_member(self, group_id: str, member_id: str) -> None:
        g = self._group(group_id)
        oid = _guid(member_id)
        if oid is None or oid not in g["members"]:
            raise DirectoryError("not_found", f"Resource '{member_id}' does not exist or one of its queried "
                                              f"reference-property objects are not present.")
        g["members"].remove(oid)
        self.state.save()

    # -- app roles --------------------------------------------------------------------------------
    def app_roles(self, principal_id: str, resource: str) -> list[str]:
        """Values of the app roles ``principal_id`` holds on the resource app (sorted)."""
        sp = self.resource_for(resource)
        app = self.resource_app(sp)
        if sp is None or app is None or not principal_id:
            return []
        holders = {principal_id.lower()}
        if principal_id.lower() in self.state.users:  # users hold the roles of their groups too
            holders |= self.groups_of(principal_id)
        values = set()
        for a in self.state.app_role_assignments.values():
            if a["resourceId"] == sp.object_id and a["principalId"].lower() in holders:
                role = app.role(a["appRoleId"])
                if role is not None:
                    values.add(role.value)
        return sorted(values)

    def token_roles(self, principal_id: str, audience: str) -> list[str]:
        app = apps.for_audience(audience)
        return self.app_roles(principal_id, app.app_id) if app is not None and app.app_roles else []

    def token_claims(self, principal_id: str, audience: str, managed_identity: bool) -> dict:
        """The directory's claims of a token being issued: ``roles`` when the principal holds app
        roles of the audience's app, and for managed identities ``groups`` (their security groups;
        the Learn best-practice page: "the identity's groups and roles are claims in the access
        token")."""
        out: dict = {}
        roles = self.token_roles(principal_id, audience)
        if roles:
            out["roles"] = roles
        if managed_identity:
            groups = self.token_groups(principal_id)
            if groups:
                out["groups"] = groups
        return out

    def assign_app_role(self, principal_id: str, resource_id: str, app_role_id: str) -> dict:
        """Grant ``principal_id`` the app role ``app_role_id`` of the resource service principal."""
        principal = self.object(principal_id)
        if principal is None:
            raise DirectoryError("not_found", f"Resource '{principal_id}' does not exist or one of its queried "
                                              f"reference-property objects are not present.")
        resource = self.object(resource_id)
        app = self.resource_app(resource.principal if resource else None)
        if resource is None or resource.type != "servicePrincipal":
            raise DirectoryError("not_found", f"Resource '{resource_id}' does not exist or one of its queried "
                                              f"reference-property objects are not present.")
        role = app.role(app_role_id) if app else None
        if role is None:
            # Graph: 400 "Permission being assigned was not found on application '<id>'." (and AAD Graph alike)
            raise DirectoryError("invalid", f"Permission being assigned was not found on application "
                                            f"'{resource.app_id}'.")
        for a in self.state.app_role_assignments.values():
            if (a["principalId"] == principal.id and a["resourceId"] == resource.id
                    and a["appRoleId"] == role.id):
                raise DirectoryError("exists", "Permission being assigned already exists on the object")
        kind = {"servicePrincipal": "ServicePrincipal", "user": "User", "group": "Group"}[principal.type]
        a = {"id": assignment_id(principal.id), "appRoleId": role.id, "principalId": principal.id,
             "principalType": kind, "resourceId": resource.id, "createdDateTime": _now()}
        self.state.app_role_assignments[a["id"]] = a
        self.state.save()
        return a

    def remove_app_role_assignment(self, assignment_id_: str) -> dict:
        a = self.state.app_role_assignments.pop(assignment_id_ or "", None)
        if a is None:
            raise DirectoryError("not_found", f"Resource '{assignment_id_}' does not exist or one of its queried "
                                              f"reference-property objects are not present.")
        self.state.save()
        return a

    def assignments(self, *, principal_id: str | None = None, resource_id: str | None = None) -> list[dict]:
        return [a for a in self.state.app_role_assignments.values()
                if (principal_id is None or a["principalId"] == principal_id.lower())
                and (resource_id is None or a["resourceId"] == resource_id.lower())]

    # -- directory roles ---------------------------------------------------------------------------
    def is_directory_admin(self, object_id: str) -> bool:
        holders = {m.lower() for m in self.state.directory_roles.get(GLOBAL_ADMINISTRATOR, [])}
        return bool(holders & {i.lower() for i in self.principal_ids(object_id)})

    # -- deletion ---------------------------------------------------------------------------------
    def forget(self, object_id: str) -> None:
        """An object left the directory: its memberships and app role assignments go with it."""
        forget(self.state, object_id)


def forget(state: "State", object_id: str | None) -> None:
    oid = (object_id or "").lower()
    if not oid:
        return
    for g in state.groups.values():
        if oid in g.get("members", []):
            g["members"].remove(oid)
    for k in [k for k, a in state.app_role_assignments.items() if oid in (a["principalId"], a["resourceId"])]:
        del state.app_role_assignments[k]
    for members in state.directory_roles.values():
        if oid in members:
            members.remove(oid)
