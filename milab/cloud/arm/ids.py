"""Parsing ARM request paths and resource IDs.

A path is a scope (``/``, ``/subscriptions/{s}``, ``/subscriptions/{s}/resourceGroups/{rg}``
or any resource ID) optionally followed by ``/providers/{namespace}/{type}/{name}/...``.
The *last* ``providers`` segment starts the addressed resource, so extension resources
(role assignments on a VM) parse like any other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ArmError

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|privatepreview))?$", re.I)


def valid_api_version_syntax(v: str) -> bool:
    return bool(_API_VERSION.match(v))


@dataclass
class Ref:
    """What a request path addresses."""
    path: str
    scope: str  # where the addressed resource lives (for top-level resources: its RG or subscription)
    subscription: str | None = None
    resource_group: str | None = None
    namespace: str | None = None
    types: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    tail: str | None = None  # a collection to list or an action to POST, after the last name
    operation: str | None = None  # /subscriptions/{s}/operationresults/{operation}: an ARM job to poll

    @property
    def type(self) -> str:
        """The resource type, e.g. ``Microsoft.Compute/virtualMachines``."""
        if self.namespace:
            return "/".join([self.namespace, *self.types])
        if self.resource_group is not None:
            return "Microsoft.Resources/subscriptions/resourceGroups"
        if self.subscription is not None:
            return "Microsoft.Resources/subscriptions"
        return "Microsoft.Resources/tenants"

    @property
    def collection_type(self) -> str:
        """Type of the items of a collection GET (``tail`` is the child type)."""
        return f"{self.type}/{self.tail}" if self.namespace else self.type

    @property
    def id(self) -> str:
        """The canonical ID of the addressed resource (without tail)."""
        if not self.namespace:
            return self.scope
        parts = [self.scope.rstrip("/"), "providers", self.namespace]
        for t, n in zip(self.types, self.names):
            parts += [t, n]
        return "/".join(parts)

    @property
    def name(self) -> str | None:
        return self.names[-1] if self.names else None


def _seg_eq(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def parse(path: str) -> Ref:
    """Parse an ARM path. Raises ArmError for paths ARM would not route."""
    raw = path.split("?", 1)[0]
    segs = [s for s in raw.split("/") if s != ""]
    ref = Ref(path=raw, scope="/")
    i = 0
    scope_parts: list[str] = []
    if i < len(segs) and _seg_eq(segs[i], "subscriptions"):
        if i + 1 >= len(segs):
            ref.tail = "subscriptions"
            return ref
        ref.subscription = segs[i + 1]
        scope_parts += ["subscriptions", segs[i + 1]]
        i += 2
        if i < len(segs) and _seg_eq(segs[i], "resourceGroups"):
            if i + 1 >= len(segs):
                ref.scope = "/" + "/".join(scope_parts)
                ref.tail = "resourceGroups"
                return ref
            ref.resource_group = segs[i + 1]
            scope_parts += ["resourceGroups", segs[i + 1]]
            i += 2
    # find the last "providers" (extension resources may have several)
    last = None
    for j in range(i, len(segs)):
        if _seg_eq(segs[j], "providers"):
            last = j
    if last is None:
        rest = segs[i:]
        ref.scope = "/" + "/".join(scope_parts) if scope_parts else "/"
        if len(rest) == 1:
            ref.tail = rest[0]  # e.g. /subscriptions/{s}/resourcegroups/{rg}/resources
        elif len(rest) == 2 and ref.subscription and ref.resource_group is None and \
                _seg_eq(rest[0], "operationresults"):
            ref.tail, ref.operation = "operationresults", rest[1]  # ARM's own jobs (group deletion)
        elif rest:
            raise ArmError(404, "InvalidResourceType" if ref.subscription else "NotFound",
                           f"The resource path '{raw}' is not a valid Azure Resource Manager path.")
        return ref
    ref.scope = "/" + "/".join(segs[:last]) if last > 0 else "/"
    if scope_parts and last > i:
        # an extension resource below a resource: keep sub/rg from the scope
        pass
    after = segs[last + 1:]
    if not after:
        ref.tail = "providers"
        return ref
    ref.namespace = after[0]
    rest = after[1:]
    while len(rest) >= 2:
        ref.types.append(rest[0])
        ref.names.append(rest[1])
        rest = rest[2:]
    if rest:
        if not ref.types:
            ref.types.append(rest[0])  # a collection at the provider root: /providers/NS/type
            ref.tail = ""
        else:
            ref.tail = rest[0]
    return ref


def parse_resource_id(resource_id: str) -> Ref:
    ref = parse(resource_id)
    if ref.tail not in (None,):
        raise ArmError(400, "LinkedInvalidPropertyId",
                       f"Property id '{resource_id}' at path is invalid. Expect fully qualified resource Id "
                       f"that start with '/subscriptions/{{subscriptionId}}' or "
                       f"'/providers/{{resourceProviderNamespace}}/'.")
    return ref


def rg_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
