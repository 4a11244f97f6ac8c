"""The emulator's state: tenant, subscription, principals, ARM resources, role assignments.

Everything lives in memory in one asyncio process, so no locks are needed. With a
state directory the state is written after each change and read back at start: written to
``state.tmp`` (created 0600), fsynced and renamed over ``state.json`` before the change is
acknowledged, so every acknowledged write survives ``kill -9``.

Saving can never fail because of one entry: when the state cannot be encoded at once, each
resource, assignment and principal is encoded on its own, and one that cannot be (too deeply
nested, not JSON) keeps the version the last save wrote (or is left out when it has none), is
logged and listed in ``State.unsaved``, while everything else is saved. ``State.put`` refuses a resource nested deeper than ``MAX_DEPTH`` before storing it.
"""
from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .files import write_atomic

log = logging.getLogger("milab.state")

# Deeper than any ARM front door accepts (ARM refuses bodies nested beyond its own limit first),
# and far from Python's recursion limit, so encoding and decoding a stored entry always work.
MAX_DEPTH = 200


class UnstorableResource(ValueError):
    """A resource the state cannot keep; the emulator answers the write with 400 InvalidRequestContent."""


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``value`` nests dicts and lists (iteratively; stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children = v.values()
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((c, depth + 1) for c in children)
    return deepest


@dataclass
class Principal:
    """A service principal in the emulated tenant (the operator, or a managed identity)."""
    object_id: str
    app_id: str
    display_name: str
    kind: str  # operator | system-assigned | user-assigned | application | first-party
    mi_resource_id: str | None = None  # xms_mirid for managed identities
    secret: str | None = None  # client secret, operator only
    app_roles: list[str] = field(default_factory=list)


_DIRECTORY_FIELDS = ("users", "groups", "app_role_assignments", "directory_roles")


@dataclass
class State:
    tenant_id: str
    subscription_id: str
    subscription_name: str = "milab emulated subscription"
    principals: dict[str, Principal] = field(default_factory=dict)  # by object id
    resources: dict[str, dict] = field(default_factory=dict)  # by lower-cased resource id
    role_assignments: dict[str, dict] = field(default_factory=dict)  # by lower-cased assignment id
    vm_secrets: dict[str, str] = field(default_factory=dict)  # VM context secret -> VM resource id
    # the directory (milab/cloud/directory): users, security groups, app role assignments and
    # directory role members, by object id / assignment id / role template id
    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    app_role_assignments: dict[str, dict] = field(default_factory=dict)
    directory_roles: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None
    _assignment_cache: dict = field(default_factory=dict, repr=False, compare=False)
    unsaved: set[str] = field(default_factory=set)  # "<section>/<key>" entries the last save could not encode

    # -- construction -------------------------------------------------------------
    @classmethod
    def new(cls) -> "State":
        s = cls(tenant_id=str(uuid.uuid4()), subscription_id=str(uuid.uuid4()))
        s.add_principal(Principal(object_id=str(uuid.uuid4()), app_id=str(uuid.uuid4()),
                                  display_name="milab-operator", kind="operator",
                                  secret=secrets.token_urlsafe(32)))
        return s

    @classmethod
    def load_or_new(cls, directory: Path | None) -> "State":
        if directory is not None:
            f = Path(directory) / "state.json"
            if f.exists():
                raw = json.loads(f.read_text())
                s = cls(tenant_id=raw["tenant_id"], subscription_id=raw["subscription_id"],
                        subscription_name=raw.get("subscription_name", "milab emulated subscription"),
                        principals={k: Principal(**v) for k, v in raw["principals"].items()},
                        resources=raw["resources"], role_assignments=raw["role_assignments"],
                        vm_secrets=raw["vm_secrets"],
                        **{k: raw.get(k) or {} for k in _DIRECTORY_FIELDS})  # absent in older state files
                s.path = f
                return s
        s = cls.new()
        if directory is not None:
            s.path = Path(directory) / "state.json"
            s.save()
        return s

    def save(self) -> None:
        """Write the state durably (see the module's docstring); raises only when the disk fails."""
        if self.path is None:
            return
        sections = {"principals": {k: asdict(v) for k, v in self.principals.items()},
                    "resources": self.resources, "role_assignments": self.role_assignments,
                    "vm_secrets": self.vm_secrets, **{k: getattr(self, k) for k in _DIRECTORY_FIELDS}}
        head = {"tenant_id": self.tenant_id, "subscription_id": self.subscription_id,
                "subscription_name": self.subscription_name}
        try:  # the common case: one encoding of everything
            text, self.unsaved = json.dumps({**head, **sections}), set()
        except (RecursionError, TypeError, ValueError):  # some entry cannot be encoded: entry by entry
            text = self._encode_each(head, sections)
        write_atomic(self.path, text, tmp=self.path.with_suffix(".tmp"))

    def _encode_each(self, head: dict, sections: dict[str, dict]) -> str:
        try:  # what the last save wrote: the versions kept for entries that cannot be encoded now
            previous = json.loads(self.path.read_text()) if self.path.exists() else {}
        except (OSError, ValueError, RecursionError):
            previous = {}
        unsaved: set[str] = set()
        parts = [json.dumps(head)[1:-1]]
        for section, entries in sections.items():
            items = []
            for key, value in entries.items():
                text = self._encode(section, key, value)
                if text is None:
                    unsaved.add(f"{section}/{key}")
                    kept = (previous.get(section) or {}).get(key)
                    text = json.dumps(kept) if kept is not None else None
                if text is not None:
                    items.append(f"{json.dumps(key)}: {text}")
            parts.append(f"{json.dumps(section)}: {{{', '.join(items)}}}")
        self.unsaved = unsaved
        return "{" + ", ".join(parts) + "}"

    @staticmethod
    def _encode(section: str, key: str, value: Any) -> str | None:
        """One entry as JSON text, or None (logged) when it cannot be stored."""
        try:
            return json.dumps(value)  # too deep for the encoder is a RecursionError, caught like the others
        except (RecursionError, TypeError, ValueError) as e:
            log.error("state: cannot save %s entry %s (%s: %s); its last saved version is kept, the rest is saved",
                      section, key, type(e).__name__, e)
            return None

    # -- principals ---------------------------------------------------------------
    @property
    def operator(self) -> Principal:
        return next(p for p in self.principals.values() if p.kind == "operator")

    def add_principal(self, p: Principal) -> Principal:
        self.principals[p.object_id] = p
        return p

    def new_managed_identity(self, kind: str, display_name: str, resource_id: str) -> Principal:
        return self.add_principal(Principal(object_id=str(uuid.uuid4()), app_id=str(uuid.uuid4()),
                                            display_name=display_name, kind=kind, mi_resource_id=resource_id))

    def principal_by_app_id(self, app_id: str) -> Principal | None:
        app_id = app_id.lower()
        return next((p for p in self.principals.values() if p.app_id.lower() == app_id), None)

    def remove_principal(self, object_id: str | None) -> None:
        if object_id:
            self.principals.pop(object_id, None)
            from .directory import forget
            forget(self, object_id)  # its group memberships and app role assignments go too

    def groups_of(self, object_id: str) -> set[str]:
        """Every group the object belongs to, transitively (see ``milab.cloud.directory``)."""
        from .directory import transitive_groups
        return transitive_groups(self, object_id)

    # -- resources ----------------------------------------------------------------
    def get(self, resource_id: str) -> dict | None:
        return self.resources.get(resource_id.rstrip("/").lower())

    def put(self, resource: dict) -> dict:
        if nesting_depth(resource) > MAX_DEPTH:
            raise UnstorableResource(f"The request content was invalid and could not be deserialized: the "
                                     f"resource nests deeper than {MAX_DEPTH} levels.")
        self.resources[resource["id"].lower()] = resource
        return resource

    def delete(self, resource_id: str) -> dict | None:
        return self.resources.pop(resource_id.rstrip("/").lower(), None)

    def children(self, prefix: str) -> list[dict]:
        """Resources whose id lies below ``prefix`` (a scope)."""
        p = prefix.rstrip("/").lower() + "/"
        return [r for k, r in self.resources.items() if k.startswith(p)]

    def assignments(self) -> list:
        """Every role assignment, in the form the RBAC evaluator takes (each built once while its
        fields stay the same: every service asks this on every request)."""
        from .authorization import Assignment
        out = []
        cache = self._assignment_cache
        for ra in self.role_assignments.values():
            p = ra["properties"]
            fields = (ra["id"], p["scope"], p["roleDefinitionId"], p["principalId"], p.get("principalType", ""),
                      p.get("condition"), p.get("conditionVersion"))
            hit = cache.get(id(ra))
            if hit is None or hit[0] != fields:
                hit = cache[id(ra)] = (fields, Assignment(*fields))
            out.append(hit[1])
        if len(cache) > 2 * len(out) + 64:  # forget deleted assignments
            live = {id(ra) for ra in self.role_assignments.values()}
            for k in [k for k in cache if k not in live]:
                del cache[k]
        return out

    def vm_for_secret(self, secret: str) -> dict | None:
        rid = self.vm_secrets.get(secret)
        return self.get(rid) if rid else None


def json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj))
