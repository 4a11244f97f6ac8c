"""What exists in a new emulated tenant: the operator service principal, Owner on the subscription."""
from __future__ import annotations

import uuid

from ..authorization import by_name, role_definition_id
from .authorization import RA_TYPE
from .base import now_iso


def bootstrap(emu) -> None:
    state = emu.state
    op = state.operator
    scope = f"/subscriptions/{state.subscription_id}"
    for ra in state.role_assignments.values():
        if ra["properties"]["principalId"] == op.object_id and ra["properties"]["scope"] == scope:
            return
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, scope + op.object_id))
    rid = f"{scope}/providers/{RA_TYPE}/{name}"
    state.role_assignments[rid.lower()] = {
        "id": rid, "name": name, "type": RA_TYPE,
        "properties": {"roleDefinitionId": role_definition_id(by_name("Owner"), state.subscription_id),
                       "principalId": op.object_id, "principalType": "ServicePrincipal", "scope": scope,
                       "createdOn": now_iso(), "updatedOn": now_iso(), "createdBy": "milab", "updatedBy": "milab"}}
    state.save()
