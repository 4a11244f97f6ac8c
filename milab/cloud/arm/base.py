"""What every ARM resource type shares: the request context and the type base class.

A provider module defines subclasses of :class:`ResourceType` and registers them in
the catalogue (``catalog.py``); ``app.py`` does authentication, api-version checks,
RBAC and routing once for all of them. A type that needs no behaviour of its own
uses :class:`ResourceType` as is: PUT stores, GET returns, DELETE removes.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from . import identity
from .errors import ArmError
from .ids import Ref

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

INTERNAL = "_milab"  # stored-only fields, never rendered


def now_iso() -> str:
    """Now as ARM writes times (``2024-05-01T09:30:00.123456Z``): always with the fraction, which
    ``isoformat()`` alone drops when the microsecond is 0, so the strings keep one length and order."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Call:
    emu: "Emulator"
    method: str
    ref: Ref
    api_version: str
    query: dict[str, str]
    body: Any
    claims: dict
    base_url: str = "https://management.azure.com"
    headers: dict[str, str] = field(default_factory=dict)  # response headers to add

    @property
    def state(self):
        return self.emu.state

    @property
    def caller_oid(self) -> str:
        return self.claims.get("oid", "")

    def can(self, action: str, scope: str) -> bool:
        return self.emu.allowed(self.caller_oid, action, scope)

    def authorize(self, action: str, scope: str, code: str = "AuthorizationFailed") -> None:
        if self.can(action, scope):
            return
        # ARM names the caller by its object id twice, for service principals and managed identities
        # alike: "The client 'f4011a26-...' with object id 'f4011a26-...' does not have authorization to
        # perform action ..." (recorded responses, e.g. AKS cloud-provider logs and the Learn RBAC
        # troubleshooting page's "The client '{clientName}' with object id '{objectId}'").
        client = self.caller_oid
        raise ArmError(403, code,
                       f"The client '{client}' with object id '{self.caller_oid}' does not have authorization to "
                       f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
                       f"recently granted, please refresh your credentials.")

    def authorize_linked(self, action: str, scope: str) -> None:
        """Authorization on a resource a request links to (e.g. an identity assigned to a VM)."""
        if self.can(action, scope):
            return
        client = self.caller_oid
        raise ArmError(403, "LinkedAuthorizationFailed",
                       f"The client '{client}' with object id '{self.caller_oid}' has permission to perform action "
                       f"on the resource, but it does not have permission to perform action '{action}' on the "
                       f"linked scope(s) '{scope}' or the linked scope(s) are invalid.")


class ResourceType:
    """A resource type with ARM's default behaviour. Subclass to add validation,
    identity handling, actions (``POST .../{action}``) or a custom rendering."""

    type: str = ""
    api_versions: tuple[str, ...] | None = None  # None: any well-formed api-version
    location_required = True
    actions: dict[str, Callable[["Call", dict], Any]] = {}
    # How the type spells its managed identities (identity.py); None: the type has none.
    # Types stored generically keep an ``identity`` block and get real principals for it.
    identity_style: identity.IdentityStyle | None = identity.GENERIC

    def __init__(self, type_name: str | None = None, api_versions: tuple[str, ...] | None = None):
        if type_name:
            self.type = type_name
        if api_versions is not None:
            self.api_versions = api_versions

    # -- write ------------------------------------------------------------------------
    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: the body must be a JSON object.")
        if self.location_required and existing is None and not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")

    def document(self, call: Call, rid: str, body: dict) -> dict:
        """The stored form of a PUT body (without the emulator's internal record)."""
        props = dict(body.get("properties") or {})
        props["provisioningState"] = "Succeeded"
        res = {"id": rid, "name": rid.rstrip("/").rsplit("/", 1)[-1], "type": self.type, "properties": props}
        if body.get("location"):
            res["location"] = _norm_location(body["location"])
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        for k in ("sku", "kind", "zones", "plan", "extendedLocation"):
            if k in body:
                res[k] = body[k]
        return res

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = self.document(call, rid, body)
        res[INTERNAL] = {"created": now_iso()}
        self.apply_identity(call, res, body, merge=False)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        """PUT on an existing resource: the body replaces what the caller may set."""
        res = self.document(call, existing["id"], body)
        res.setdefault("location", existing.get("location"))
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        self.apply_identity(call, res, body, merge=False)
        return res

    @staticmethod
    def retag(existing: dict, body: dict) -> dict:
        """A ``replace`` for types whose PUT on an existing resource changes only its tags."""
        res = dict(existing)
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        """PATCH: merge the body into the resource (tags, properties and identity)."""
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: the body must be a JSON object.")
        res = dict(existing)
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        if isinstance(body.get("properties"), dict):
            props = dict(res.get("properties") or {})
            props.update(body["properties"])
            res["properties"] = props
        self.apply_identity(call, res, body, merge=True)
        return res

    def apply_identity(self, call: Call, res: dict, body: dict, merge: bool) -> None:
        """Apply the body's ``identity`` (PATCH without one keeps the current identities)."""
        if self.identity_style is None or (merge and "identity" not in body):
            return
        identity.apply(call, res, body.get("identity"), merge, self.identity_style)

    def on_delete(self, call: Call, existing: dict) -> None:
        """Hook for side effects of deletion (service principals, child resources)."""

    # -- read -------------------------------------------------------------------------
    def render(self, call: Call, res: dict) -> dict:
        out = {k: v for k, v in res.items() if k != INTERNAL}
        if self.identity_style is not None:
            ident = identity.render(call, res, self.identity_style)
            if ident:
                out["identity"] = ident
            else:
                out.pop("identity", None)
        return out


def invalid_content(detail: str) -> ArmError:
    """ARM's answer to a body it cannot bind: 400 InvalidRequestContent, e.g. "The request content
    was invalid and could not be deserialized: 'Unexpected character encountered while parsing value:
    [. Path 'location', line 1, position 14.'." (the Json.NET text ARM passes on)."""
    return ArmError(400, "InvalidRequestContent",
                    f"The request content was invalid and could not be deserialized: '{detail}'.")


# The common resource envelope every ARM type shares (ARM's "TrackedResource" / "Resource"
# definitions in the REST specs' common-types): what each field must be when present.
_ENVELOPE = {"location": str, "kind": str, "managedBy": str, "properties": dict, "identity": dict,
             "sku": dict, "plan": dict, "extendedLocation": dict, "zones": list, "tags": dict}
_JSON_NAMES = {str: "a string", dict: "an object", list: "an array"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a value")


def check_envelope(body: Any) -> None:
    """Type-check ARM's common envelope fields of a PUT or PATCH body, for every resource type,
    before any type's own validation sees it; null stands for absent, as in ARM."""
    if body is None:
        return
    if not isinstance(body, dict):
        raise invalid_content(f"Expected a JSON object for the resource, got {_json_kind(body)}. Path ''")
    for name, kind in _ENVELOPE.items():
        value = body.get(name)
        if value is not None and not isinstance(value, kind):
            raise invalid_content(f"Expected {_JSON_NAMES[kind]} for '{name}', got {_json_kind(value)}. "
                                  f"Path '{name}'")
    for tag, value in (body.get("tags") or {}).items():
        if value is not None and not isinstance(value, str):
            raise invalid_content(f"Expected a string for tag '{tag}', got {_json_kind(value)}. Path 'tags.{tag}'")
    for i, zone in enumerate(body.get("zones") or []):
        if not isinstance(zone, str):
            raise invalid_content(f"Expected a string for a zone, got {_json_kind(zone)}. Path 'zones[{i}]'")


def _norm_location(loc: str) -> str:
    return str(loc).replace(" ", "").lower()


def new_guid() -> str:
    return str(uuid.uuid4())
