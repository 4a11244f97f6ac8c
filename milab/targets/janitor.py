"""Delete what crashed runs left in the sandbox: resource groups tagged by milab whose
expiry tag has passed."""
from __future__ import annotations

import datetime as dt
import os
import sys

from .base import EXPIRES_TAG, OWNER_TAG, RUN_TAG


def expired(tags: dict | None, now: dt.datetime) -> bool:
    tags = tags or {}
    if tags.get(OWNER_TAG) != "true":
        return False
    try:
        when = dt.datetime.strptime(tags.get(EXPIRES_TAG, ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return True  # a milab group with no readable expiry is swept
    return when <= now


def run_janitor(dry_run: bool = False, prefix: str | None = None, include_unexpired: bool = False) -> int:
    sub = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not sub:
        print("milab janitor: set AZURE_SUBSCRIPTION_ID to the sandbox subscription", file=sys.stderr)
        return 2
    import logging

    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.resource.resources import ResourceManagementClient

    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)  # one line on failure, not the chain's log
    client = ResourceManagementClient(DefaultAzureCredential(exclude_managed_identity_credential=True), sub)
    now = dt.datetime.now(dt.timezone.utc)
    doomed = []
    try:
        for rg in client.resource_groups.list():
            if prefix and not rg.name.startswith(prefix):
                continue
            if (rg.tags or {}).get(OWNER_TAG) == "true" and (include_unexpired or expired(rg.tags, now)):
                doomed.append(rg)
    except ClientAuthenticationError:
        print(f"milab janitor: no credential for subscription {sub}: DefaultAzureCredential found none that works "
              "(set AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID, or az login)", file=sys.stderr)
        return 2
    except HttpResponseError as e:
        print(f"milab janitor: cannot list resource groups: {e.message}", file=sys.stderr)
        return 1
    for rg in doomed:
        print(f"{'would delete' if dry_run else 'deleting'} {rg.name} (run {(rg.tags or {}).get(RUN_TAG)}, "
              f"expires {(rg.tags or {}).get(EXPIRES_TAG)})")
        if not dry_run:
            client.resource_groups.begin_delete(rg.name)
    print(f"{len(doomed)} resource group(s) {'to delete' if dry_run else 'deleted'}")
    return 0
