"""Azure Key Vault for the emulator: the secrets data plane at ``<vault>.vault.azure.net``.

* ``service.py`` - the data plane: the challenge, token validation with Key Vault's audience,
  routing of the secrets REST API, Key Vault's error shape;
* ``access.py`` - authorization in both models (access policies, Azure RBAC), chosen by the
  vault's ``enableRbacAuthorization``;
* ``secrets.py`` - a vault's secrets: versions, attributes, soft delete, recovery, backup.

The resource provider (``Microsoft.KeyVault/vaults``, access policies, soft-deleted vaults,
purge, the ARM view of secrets) is ``milab/cloud/arm/keyvault.py``.
"""
from .service import KEY_VAULT_RESOURCE, SUFFIX, KeyVaultService

__all__ = ["KEY_VAULT_RESOURCE", "KeyVaultService", "SUFFIX"]
