"""Azure RBAC evaluation: does a principal hold a permission at a scope?

The model follows Azure's documented behaviour:

* **Actions are matched case-insensitively**, and ``*`` is a wildcard that can
  span ``/`` (``*/read`` matches ``Microsoft.Resources/subscriptions/resourceGroups/read``).
  A wildcard standing for a whole path segment (``a/*/b``) may also stand for
  *no* segment, so ``Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action``
  (Managed Identity Operator) covers ``.../userAssignedIdentities/assign/action``,
  the very permission that role exists to grant.
* **A role permits an operation** when one of its ``actions`` matches and none
  of its ``notActions`` does.  ``notActions`` only subtract from the same role;
  they are not deny rules, so another assignment can still grant the action.
* **Control plane and data plane are separate**: ``actions`` never grant data
  actions and ``dataActions`` never grant control-plane actions.  Owner (``*``)
  therefore cannot read blob contents.
* **Assignments inherit downwards**: an assignment at a scope applies to that
  scope and every scope below it (segment-wise, case-insensitive); ``/`` covers
  everything.
* **Deny by default**: with no matching assignment the answer is no.  There are
  no special cases for any principal.

* **Role-assignment conditions** (Azure ABAC, :mod:`.conditions`) restrict what an assignment
  grants on the data plane: for a data action, an assignment with a ``condition`` grants only
  when the condition evaluates to true for the request the service describes
  (:class:`~.conditions.RequestContext`); a condition that cannot be evaluated, or a data-action
  check without a request context, grants nothing. Conditions do not restrict control-plane
  actions ("conditions can be added to role assignments that have blob storage data actions",
  Learn, conditions-format).

Not modelled: deny assignments, conditions inside role *definitions* (a permission block
carrying a ``condition`` is skipped, i.e. fails closed), classic administrators, and
management-group ancestry (a management-group scope only contains paths that
literally start with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Optional

from . import conditions as _conditions
from . import roles as _roles

__all__ = [
    "Assignment",
    "Decision",
    "Evaluator",
    "action_matches",
    "normalize_scope",
    "permits",
    "required_action",
    "scope_contains",
]


# --------------------------------------------------------------------------- action matching


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    escaped = re.escape(pattern.strip())
    # A whole-segment wildcard may also match zero segments: "a/*/b" ~ "a/b".
    escaped = escaped.replace("/\\*/", "/(?:.*/)?")
    escaped = escaped.replace("\\*", ".*")
    return re.compile(escaped, re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """True when the role permission ``pattern`` covers the operation ``action``.

    Case-insensitive; ``*`` matches any run of characters, ``/`` included.
    """
    if not isinstance(pattern, str) or not isinstance(action, str):
        return False
    if not pattern.strip() or not action.strip():
        return False
    return _compile(pattern).fullmatch(action.strip()) is not None


def _any_match(patterns: Iterable[str] | None, action: str) -> bool:
    return any(action_matches(p, action) for p in (patterns or ()))


def _permission_blocks(role: dict) -> Iterator[dict]:
    """Permission blocks of a role: the flat milab shape or ARM's ``permissions`` list.

    ARM-shaped dicts may nest everything under ``properties``.
    """
    if "properties" in role and isinstance(role["properties"], dict) and "permissions" in role["properties"]:
        role = role["properties"]
    blocks = role.get("permissions")
    if isinstance(blocks, list):
        for block in blocks:
            if isinstance(block, dict):
                yield block
    else:
        yield role


def _get(block: dict, key: str) -> list[str]:
    value = block.get(key)
    if value is None:  # ARM sometimes uses PascalCase (az role definition create input)
        value = block.get(key[0].upper() + key[1:])
    return list(value or [])


def permits(role: dict, action: str, data_action: bool = False) -> bool:
    """True when ``role`` grants ``action``.

    ``data_action=False`` checks ``actions``/``notActions`` only; ``True`` checks
    ``dataActions``/``notDataActions`` only.  The two planes never mix.
    """
    if not role:
        return False
    allow_key, deny_key = ("dataActions", "notDataActions") if data_action else ("actions", "notActions")
    for block in _permission_blocks(role):
        if block.get("condition"):
            continue  # ABAC conditions are not evaluated here: fail closed
        if _any_match(_get(block, allow_key), action) and not _any_match(_get(block, deny_key), action):
            return True
    return False


# --------------------------------------------------------------------------- scopes


@lru_cache(maxsize=8192)
def _segments(scope: str) -> tuple[str, ...]:
    return tuple(s.lower() for s in scope.strip().split("/") if s)


def normalize_scope(scope: str) -> str:
    """Canonical comparison form: lower case, single leading ``/``, no trailing ``/``."""
    return "/" + "/".join(_segments(scope))


def scope_contains(assignment_scope: str, resource_scope: str) -> bool:
    """True when an assignment at ``assignment_scope`` applies to ``resource_scope``.

    Segment-wise prefix comparison, case-insensitive, trailing slashes ignored.
    ``/`` contains everything; ``.../resourceGroups/rg`` does not contain
    ``.../resourceGroups/rg2``.
    """
    if not isinstance(assignment_scope, str) or not isinstance(resource_scope, str):
        return False
    outer = _segments(assignment_scope)
    inner = _segments(resource_scope)
    return len(outer) <= len(inner) and inner[: len(outer)] == outer


# --------------------------------------------------------------------------- ARM helpers

_METHOD_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def required_action(method: str, resource_type: str) -> str:
    """The ARM permission an HTTP call on ``resource_type`` needs.

    ``GET``/``HEAD`` -> ``<type>/read``, ``PUT``/``PATCH`` -> ``<type>/write``,
    ``DELETE`` -> ``<type>/delete``.  ``resource_type`` is the ARM form, e.g.
    ``Microsoft.Compute/virtualMachines`` or
    ``Microsoft.Resources/subscriptions/resourceGroups``.

    ``POST`` is not mapped: ARM POSTs are named operations
    (``.../<name>/action``, e.g. ``Microsoft.Storage/storageAccounts/listkeys/action``),
    so callers build that string themselves and raise ``ValueError`` here.
    """
    verb = _METHOD_VERBS.get((method or "").strip().upper())
    if verb is None:
        raise ValueError(
            f"no generic permission for HTTP {method!r}; POST operations need an explicit "
            "'<resource type>/<operation>/action' string built by the caller"
        )
    rtype = (resource_type or "").strip().strip("/")
    if not rtype:
        raise ValueError("resource_type is required")
    return f"{rtype}/{verb}"


# --------------------------------------------------------------------------- evaluator


@dataclass(frozen=True)
class Assignment:
    """A role assignment as the evaluator needs it (store-agnostic)."""

    id: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str = "ServicePrincipal"
    condition: Optional[str] = None  # Azure ABAC expression, or None
    condition_version: Optional[str] = None


@dataclass(frozen=True)
class Decision:
    """Outcome of :meth:`Evaluator.check`. Truthy when allowed."""

    allowed: bool
    matched_assignment: Optional[Assignment] = None
    reason: str = ""
    role_name: Optional[str] = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return self.allowed


RoleLookup = Callable[[str], Optional[dict]]


class Evaluator:
    """Decides access from a set of assignments and a role-definition lookup.

    ``role_lookup`` maps a role definition id (bare GUID or full ARM id) to a
    role dict (flat milab shape or ARM shape); it defaults to the built-in
    catalogue, and can be swapped for one that also knows custom roles.
    An assignment whose role cannot be resolved grants nothing.
    """

    def __init__(self, role_lookup: RoleLookup | None = None):
        self._lookup: RoleLookup = role_lookup or _builtin_role
        self._grants: dict[tuple, bool] = {}  # (built-in role, action, plane) -> permits(...)

    def role_for(self, role_definition_id: str) -> Optional[dict]:
        try:
            return self._lookup(role_definition_id)
        except (KeyError, LookupError):
            return None

    def _permits(self, role: dict, action: str, data_action: bool) -> bool:
        """:func:`permits`, remembered for the built-in roles (they never change)."""
        if self._lookup is not _builtin_role:
            return permits(role, action, data_action=data_action)
        key = (role.get("name"), action, data_action)
        hit = self._grants.get(key)
        if hit is None:
            if len(self._grants) > 65536:
                self._grants.clear()
            hit = self._grants[key] = permits(role, action, data_action=data_action)
        return hit

    def check(
        self,
        principal_ids: Iterable[str],
        action: str,
        scope: str,
        assignments: Iterable[Assignment],
        data_action: bool = False,
        request: Optional[_conditions.RequestContext] = None,
    ) -> Decision:
        """May any of ``principal_ids`` perform ``action`` at ``scope``?

        ``principal_ids`` is the caller's object id plus, if relevant, the ids of
        groups it belongs to.  Returns the first assignment that grants access.
        ``request`` describes the request for the conditions of conditional
        assignments (data actions only); without it they grant nothing.
        """
        wanted = {str(p).strip().lower() for p in principal_ids if p}
        plane = "data action" if data_action else "action"
        if not wanted:
            return Decision(False, None, f"no principal given; {plane} {action!r} denied")
        if not isinstance(action, str) or not action.strip():
            return Decision(False, None, "empty action denied")

        applicable = 0
        conditioned: list[str] = []
        for assignment in assignments:
            if str(assignment.principal_id).strip().lower() not in wanted:
                continue
            if not scope_contains(assignment.scope, scope):
                continue
            applicable += 1
            role = self.role_for(assignment.role_definition_id)
            if role is None:
                continue
            if self._permits(role, action, data_action):
                if data_action and assignment.condition:
                    held, why = _condition_holds(assignment, action, request)
                    if not held:
                        conditioned.append(why)
                        continue
                name = _role_name(role)
                return Decision(
                    True,
                    assignment,
                    f"{plane} {action!r} granted by role {name!r} assigned at {assignment.scope!r}",
                    role_name=name,
                )

        if applicable == 0:
            reason = f"no role assignment for the principal applies at {scope!r}; {plane} {action!r} denied"
        elif conditioned:
            reason = f"{plane} {action!r} at {scope!r} denied by role assignment conditions: {'; '.join(conditioned)}"
        else:
            reason = (
                f"{applicable} role assignment(s) apply at {scope!r} but none grants "
                f"{plane} {action!r}"
            )
        return Decision(False, None, reason)


@lru_cache(maxsize=1024)
def _builtin_guid(role_definition_id: str) -> Optional[str]:
    return _roles._guid_of(role_definition_id)


def _builtin_role(role_definition_id: str) -> Optional[dict]:
    """The built-in role, shared and read-only (``roles.by_id`` copies it; the evaluator only reads)."""
    if not isinstance(role_definition_id, str):
        return None
    guid = _builtin_guid(role_definition_id)
    return _roles._BY_GUID.get(guid) if guid is not None else None


def _condition_holds(assignment: Assignment, action: str,
                     request: Optional[_conditions.RequestContext]) -> tuple[bool, str]:
    """(whether the assignment's condition allows the request, why not)."""
    if request is None:
        return False, f"{assignment.id}: a conditional assignment and no request attributes to evaluate it"
    ctx = _conditions.RequestContext(action=action, sub_operation=request.sub_operation,
                                     attributes=request.attributes, tag_lookup=request.tag_lookup)
    try:
        if _conditions.evaluate(assignment.condition or "", assignment.condition_version or "2.0", ctx):
            return True, ""
        return False, f"{assignment.id}: the condition is false for this request"
    except _conditions.Unevaluable as e:
        return False, f"{assignment.id}: the condition cannot be evaluated ({e})"


def _role_name(role: dict) -> str:
    name = role.get("roleName")
    if name is None and isinstance(role.get("properties"), dict):
        name = role["properties"].get("roleName")
    return str(name) if name is not None else "?"
