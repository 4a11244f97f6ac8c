"""Azure Blob Storage for the emulator: an authorizing gateway in front of Azurite.

* ``gateway.py`` - the data plane at ``<account>.blob.core.windows.net`` (OAuth checks, RBAC,
  Storage's error shapes; Shared Key and SAS pass through to Azurite);
* ``azurite.py`` - one Azurite process per storage account, started on demand;
* ``actions.py`` - which RBAC permission each Blob REST operation needs;
* ``signing.py`` - Shared Key, service SAS and account SAS signatures.

The resource provider (``Microsoft.Storage/storageAccounts``, keys, SAS, containers) is
``milab/cloud/arm/storage.py``.
"""
from .gateway import SUFFIX, BlobGateway

__all__ = ["BlobGateway", "SUFFIX"]
