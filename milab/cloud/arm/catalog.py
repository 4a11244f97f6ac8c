"""The catalogue of ARM resource types the emulator knows, with their api-versions.

This is the one list of what the emulated resource providers accept: ``app.py`` routes
by it, and the docs gate asks it whether a page's api-version and operation exist.
Types not listed here are still stored generically under any well-formed api-version
(networking resources the Azure target creates before a VM, for instance), but the
docs gate reports them as unknown to the emulator.
"""
from __future__ import annotations

from . import apiversions
from .authorization import RA_TYPE, RD_TYPE, ROLE_ASSIGNMENT_API_VERSIONS, ROLE_DEFINITION_API_VERSIONS
from .base import ResourceType
from .compute import INSTANCE, VirtualMachine, VirtualMachineScaleSet
from .deployments import DEPLOYMENT_API_VERSIONS
from .generic import CREATE_STATUS, GenericType
from .keyvault import TYPES as KEYVAULT_TYPES
from .cosmos import TYPES as COSMOS_TYPES
from .msi import UserAssignedIdentity
from .network import TYPES as NETWORK_TYPES
from .providers import NAME_CHECKS
from .resources import ResourceGroup, Subscription
from .storage import TYPES as STORAGE_TYPES
from .containerinstance import TYPES as ACI_TYPES
from .web import PROVIDER_ACTIONS as WEB_PROVIDER_ACTIONS, TYPES as WEB_TYPES
from .datalakestore import TYPES as DATALAKE_STORE_TYPES

NETWORK_API_VERSIONS = None  # any well-formed version: stored generically

TYPES: dict[str, ResourceType] = {}


def register(rt: ResourceType) -> ResourceType:
    rt.api_versions = apiversions.accepted(rt.type, rt.api_versions)  # every published version
    if getattr(rt, "created_status", None) is None and rt.type.lower() in CREATE_STATUS:
        rt.created_status = CREATE_STATUS[rt.type.lower()]  # the status the type's spec (and SDK) expects
    TYPES[rt.type.lower()] = rt
    return rt


for _rt in (Subscription(), ResourceGroup(), VirtualMachine(), VirtualMachineScaleSet(), UserAssignedIdentity(),
            *STORAGE_TYPES, *KEYVAULT_TYPES, INSTANCE, *COSMOS_TYPES, *NETWORK_TYPES):
    register(_rt)
for _rt in (*ACI_TYPES, *WEB_TYPES):
    register(_rt)

# POSTs to a provider itself (``/subscriptions/{s}/providers/{namespace}/{operation}``), by lower-cased
# "namespace/operation", authorized as ``<namespace>/<operation>/read`` at the subscription.
PROVIDER_ACTIONS: dict = {**NAME_CHECKS, **WEB_PROVIDER_ACTIONS}

for _rt in DATALAKE_STORE_TYPES:
    register(_rt)

from .sql import TYPES as SQL_TYPES  # noqa: E402

for _rt in SQL_TYPES:
    register(_rt)


def resource_type(type_name: str) -> ResourceType:
    """The handler of a type; unknown types get the generic behaviour."""
    rt = TYPES.get(type_name.lower())
    if rt is None:  # stored generically, at the versions the specifications publish for it
        rt = GenericType(type_name, apiversions.generic(type_name))
    return rt


def is_known(type_name: str) -> bool:
    return type_name.lower() in TYPES or type_name.lower() in (RA_TYPE.lower(), RD_TYPE.lower()) or \
        type_name.lower().startswith("microsoft.resources/deployments")


def known_api_versions(type_name: str) -> tuple[str, ...] | None:
    """The api-versions the emulator accepts for a type, or None when it does not model the type."""
    t = type_name.lower()
    if t == RA_TYPE.lower():
        return ROLE_ASSIGNMENT_API_VERSIONS
    if t == RD_TYPE.lower():
        return ROLE_DEFINITION_API_VERSIONS
    if t in ("microsoft.resources/resourcegroups", "microsoft.resources/subscriptions/resourcegroups"):
        return TYPES["microsoft.resources/subscriptions/resourcegroups"].api_versions
    if t.startswith("microsoft.resources/deployments"):
        return DEPLOYMENT_API_VERSIONS
    rt = TYPES.get(t)
    return rt.api_versions if rt else None


def known_actions(type_name: str) -> set[str]:
    rt = TYPES.get(type_name.lower())
    return set(rt.actions) if rt else set()
