"""Managed identities on any ARM resource: the one model every host type shares.

A resource's identities are stored as ``res["_milab"]["identity"] = {"system": <object id of
its system-assigned service principal> or None, "user": [<user-assigned identity resource
ids>]}``. Enabling the system-assigned identity makes a service principal (display name:
the resource's name; ``xms_mirid``: its id); disabling it or deleting the resource removes
that principal, so its tokens and role assignments stop working. IMDS and every other token
endpoint read the same record.

What differs between resource providers is only how the ``identity`` block is spelt, which
an :class:`IdentityStyle` describes:

* Compute (VMs, scale sets) writes ``"SystemAssigned, UserAssigned"`` and, before api-version
  2018-06-01, lists user-assigned identities as an ``identityIds`` array;
* Cosmos DB writes ``"SystemAssigned,UserAssigned"`` (no space);
* App Service renders ``principalId``/``tenantId`` as ``null`` when only user-assigned
  identities are present.

Semantics (the configure pages' and ARM's): PUT replaces the identity (no ``identity`` in
a PUT body removes it unless the style says the provider keeps it); PATCH merges: with the
dictionary format a ``null`` value removes one user-assigned identity; a type without
``UserAssigned`` drops every user-assigned identity; ``None`` removes everything.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ArmError

if TYPE_CHECKING:  # pragma: no cover
    from .base import Call

INTERNAL = "_milab"
UA_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


@dataclass(frozen=True)
class IdentityStyle:
    """How one resource provider spells its ``identity`` block."""

    both: str = "SystemAssigned, UserAssigned"  # the type string with both kinds
    dict_format_from: str | None = None  # api-version from which UA identities are a dictionary (None: always)
    keep_on_put_without_identity: bool = False  # a PUT that omits "identity" keeps the current one
    null_ids_when_user_only: bool = False  # principalId/tenantId rendered as null for UserAssigned only

    def type_string(self, system: bool, user: bool) -> str | None:
        if system and user:
            return self.both
        if system:
            return "SystemAssigned"
        if user:
            return "UserAssigned"
        return None

    def allowed(self) -> str:
        return f"'SystemAssigned', 'UserAssigned', '{self.both}' and 'None'"

    def dict_format(self, api_version: str) -> bool:
        return self.dict_format_from is None or api_version >= self.dict_format_from


GENERIC = IdentityStyle()


def record(res: dict) -> dict:
    """The identities of a stored resource: ``{"system": oid|None, "user": [ids]}``."""
    ident = (res.get(INTERNAL) or {}).get("identity") or {}
    return {"system": ident.get("system"), "user": list(ident.get("user") or [])}


def _kind(value, style: IdentityStyle) -> tuple[bool, bool]:
    """(system, user) wanted by an identity type string, in any of the spellings ARM accepts."""
    key = str(value).replace(" ", "").lower()
    kinds = {"systemassigned": (True, False), "userassigned": (False, True),
             "systemassigned,userassigned": (True, True), "none": (False, False)}
    if not isinstance(value, str) or key not in kinds:
        raise ArmError(400, "InvalidParameter",
                       f"The value '{value}' of parameter 'identity.type' is invalid. Allowed values are "
                       f"{style.allowed()}.")
    return kinds[key]


def _requested(call: "Call", identity: dict, style: IdentityStyle) -> dict[str, object] | None:
    """User-assigned identities a body names (id -> {} or None for removal), in the
    api-version's format; None when the body names none."""
    if style.dict_format(call.api_version):
        if "identityIds" in identity and "userAssignedIdentities" not in identity:
            raise ArmError(400, "InvalidParameter",
                           f"Parameter 'identity.identityIds' is not supported in api-version {call.api_version}; "
                           f"from {style.dict_format_from} user-assigned identities are given as the dictionary "
                           f"'identity.userAssignedIdentities'.")
        raw = identity.get("userAssignedIdentities")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ArmError(400, "InvalidParameter", "Parameter 'identity.userAssignedIdentities' must be an object "
                                                    "keyed by identity resource IDs.")
        return dict(raw)
    if "userAssignedIdentities" in identity and "identityIds" not in identity:
        raise ArmError(400, "InvalidParameter",
                       f"Parameter 'identity.userAssignedIdentities' is not supported in api-version "
                       f"{call.api_version}; use the array 'identity.identityIds'.")
    raw = identity.get("identityIds")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ArmError(400, "InvalidParameter", "Parameter 'identity.identityIds' must be an array.")
    return {str(i): {} for i in raw}


def user_identity_resource(call: "Call", resource_id: str) -> dict | None:
    res = call.state.get(resource_id)
    if res and res["type"].lower() == UA_TYPE.lower():
        return res
    return None


def _existing_user_ids(call: "Call", ids) -> dict[str, str]:
    """Canonical ids of existing user-assigned identities (keyed by lower-case id); the caller must
    be allowed to assign each (``.../userAssignedIdentities/assign/action`` on the linked scope)."""
    out = {}
    for raw in ids:
        if not str(raw).lower().startswith("/subscriptions/"):
            raise ArmError(400, "InvalidParameter",
                           f"The user-assigned identity '{raw}' is not a valid resource ID; it must start with "
                           f"'/subscriptions/'.")
        ident = user_identity_resource(call, str(raw))
        if ident is None:
            raise ArmError(400, "FailedIdentityOperation",
                           f"Identity operation for resource '{call.ref.id}' failed: the user assigned identity "
                           f"'{raw}' was not found.")
        call.authorize_linked(f"{UA_TYPE}/assign/action", ident["id"])
        out[ident["id"].lower()] = str(raw)  # ARM echoes the id as the client spelt it
    return out


def apply(call: "Call", res: dict, identity, merge: bool, style: IdentityStyle = GENERIC) -> None:
    """Apply a request's ``identity`` block to ``res`` (PUT: ``merge=False``, PATCH: ``True``)."""
    current = record(res)
    if identity is None:
        if not merge and not style.keep_on_put_without_identity:
            _set(call, res, current, system=False, user=[])
        return
    if not isinstance(identity, dict):
        raise ArmError(400, "InvalidParameter", "Parameter 'identity' must be an object.")
    if "type" not in identity:
        raise ArmError(400, "InvalidParameter", "Parameter 'identity.type' is required.")
    want_system, want_user = _kind(identity["type"], style)
    requested = _requested(call, identity, style)
    dict_format = style.dict_format(call.api_version)
    user: list[str] = []
    if want_user:
        if merge and dict_format:
            keep = {u.lower(): u for u in current["user"]}
            for k, v in (requested or {}).items():
                if v is None:
                    keep.pop(str(k).lower(), None)
                else:
                    keep.update(_existing_user_ids(call, [k]))
            user = list(keep.values())
        elif requested is None:
            if merge:
                user = list(current["user"])
        else:
            if any(v is None for v in requested.values()) and not merge:
                raise ArmError(400, "InvalidParameter",
                               "A null user-assigned identity is only allowed in a PATCH request.")
            user = list(_existing_user_ids(call, [k for k, v in requested.items() if v is not None]).values())
        if not user:
            raise ArmError(400, "InvalidParameter",
                           f"The identity type '{style.type_string(want_system, True)}' requires at least one "
                           f"user-assigned identity in "
                           f"'{'userAssignedIdentities' if dict_format else 'identityIds'}'.")
    elif requested and any(v is not None for v in requested.values()):
        raise ArmError(400, "InvalidParameter",
                       f"User-assigned identities were given but the identity type is "
                       f"'{style.type_string(want_system, False) or 'None'}'.")
    _set(call, res, current, system=want_system, user=user)


def _set(call: "Call", res: dict, current: dict, system: bool, user: list[str]) -> None:
    sys_pid = current.get("system")
    if system and not sys_pid:
        sys_pid = call.state.new_managed_identity("system-assigned", res["name"], res["id"]).object_id
    if not system and sys_pid:
        release(call, sys_pid)
        sys_pid = None
    # what each user-assigned identity was when assigned: ARM keeps showing it after the identity is deleted
    seen = dict((res.get(INTERNAL) or {}).get("identity", {}).get("seen") or {})
    for uid in user:
        props = (call.state.get(uid) or {}).get("properties") or {}
        if props.get("principalId"):
            seen[uid.lower()] = {"principalId": props.get("principalId"), "clientId": props.get("clientId")}
    seen = {k: v for k, v in seen.items() if k in {u.lower() for u in user}}
    res.setdefault(INTERNAL, {})["identity"] = {"system": sys_pid, "user": user, "seen": seen}


def release(call: "Call", object_id: str | None) -> None:
    """A system-assigned identity ends: its service principal and every cached token of it."""
    if not object_id:
        return
    call.state.remove_principal(object_id)
    imds = getattr(call.emu, "imds", None)
    if imds is not None:
        imds.forget(object_id)


def on_delete(call: "Call", res: dict) -> None:
    """Deleting a resource deletes its system-assigned identity (user-assigned ones live on)."""
    release(call, record(res)["system"])


def render(call: "Call", res: dict, style: IdentityStyle = GENERIC) -> dict | None:
    """The ``identity`` block ARM returns for ``res`` at the call's api-version, or None."""
    ident = record(res)
    system, user = ident["system"], ident["user"]
    kind = style.type_string(bool(system), bool(user))
    if kind is None:
        return None
    out: dict = {"type": kind}
    if system:
        out["principalId"] = system
        out["tenantId"] = call.state.tenant_id
    elif style.null_ids_when_user_only:
        out["principalId"] = None
        out["tenantId"] = None
    if user:
        if style.dict_format(call.api_version):
            ua = {}
            seen = ((res.get(INTERNAL) or {}).get("identity") or {}).get("seen") or {}
            for uid in user:
                props = (call.state.get(uid) or {}).get("properties") or seen.get(uid.lower()) or {}
                ua[uid] = {"principalId": props.get("principalId"), "clientId": props.get("clientId")}
            out["userAssignedIdentities"] = ua
        else:
            out["identityIds"] = list(user)
    return out


def identity_host(state, res: dict) -> dict:
    """The resource whose identities ``res`` uses: itself, or the host it belongs to (a scale set's
    instances use the set's identities)."""
    host_id = (res.get(INTERNAL) or {}).get("identity_host")
    return (state.get(host_id) or res) if host_id else res


def principals(state, res: dict) -> tuple:
    """(system principal or None, [user-assigned principals]) of a stored resource (or of the host
    whose identities it uses), skipping user-assigned identities that were deleted while still
    referenced."""
    ident = record(identity_host(state, res))
    system = state.principals.get(ident["system"] or "")
    users = []
    for uid in ident["user"]:
        ua = state.get(uid)
        if ua and ua["type"].lower() == UA_TYPE.lower():
            p = state.principals.get((ua.get("properties") or {}).get("principalId", ""))
            if p:
                users.append(p)
    return system, users
