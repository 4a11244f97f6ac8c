"""Azure built-in role definitions (the subset milab's tutorials touch).

Role names, GUIDs and the four permission lists are Azure's published values
(checked against the generated "Azure built-in roles" reference pages in
MicrosoftDocs/azure-docs, ``articles/role-based-access-control/built-in-roles/*.md``).
The ``description`` strings are milab's own short wording.

Every entry is a flat dict::

    {"roleName", "name" (GUID), "description",
     "actions", "notActions", "dataActions", "notDataActions",
     "assignableScopes": ["/"]}

The lists are data: treat them as read-only.  :func:`by_name` and :func:`by_id`
return copies, so callers may mutate what they get back.
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = [
    "BUILTIN_ROLES",
    "ROLE_DEFINITION_PREFIX",
    "by_id",
    "by_name",
    "role_definition_id",
    "to_arm",
]

ROLE_DEFINITION_PREFIX = "/providers/Microsoft.Authorization/roleDefinitions/"

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _role(
    role_name: str,
    guid: str,
    description: str,
    actions: Iterable[str] = (),
    not_actions: Iterable[str] = (),
    data_actions: Iterable[str] = (),
    not_data_actions: Iterable[str] = (),
) -> dict:
    return {
        "roleName": role_name,
        "name": guid,
        "description": description,
        "actions": list(actions),
        "notActions": list(not_actions),
        "dataActions": list(data_actions),
        "notDataActions": list(not_data_actions),
        "assignableScopes": ["/"],
    }


BUILTIN_ROLES: list[dict] = [
    # ------------------------------------------------------------------ general / privileged
    _role(
        "Owner",
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Full control of every resource, including granting access to others.",
        actions=["*"],
    ),
    _role(
        "Contributor",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Full control of every resource, except granting access, blueprint assignments and gallery sharing.",
        actions=["*"],
        not_actions=[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    ),
    _role(
        "Reader",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Read-only view of all control-plane resources.",
        actions=["*/read"],
    ),
    _role(
        "User Access Administrator",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "Reads everything and manages access (all of Microsoft.Authorization).",
        actions=["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    ),
    _role(
        "Role Based Access Control Administrator",
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "Reads everything and creates or deletes role assignments (no policy management).",
        actions=[
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ],
    ),
    # ------------------------------------------------------------------ compute
    _role(
        "Virtual Machine Contributor",
        "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
        "Manages virtual machines, but not logging in to them nor their network or storage.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Compute/locations/*",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Compute/virtualMachineScaleSets/*",
            "Microsoft.Compute/cloudServices/*",
            "Microsoft.Compute/disks/write",
            "Microsoft.Compute/disks/read",
            "Microsoft.Compute/disks/delete",
            "Microsoft.Compute/hostgroups/write",
            "Microsoft.Compute/hostgroups/hosts/write",
            "Microsoft.DevTestLab/schedules/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/applicationGateways/backendAddressPools/join/action",
            "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
            "Microsoft.Network/loadBalancers/inboundNatPools/join/action",
            "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
            "Microsoft.Network/loadBalancers/probes/join/action",
            "Microsoft.Network/loadBalancers/read",
            "Microsoft.Network/locations/*",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/publicIPAddresses/join/action",
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.RecoveryServices/locations/*",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/backupProtectionIntent/write",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write",
            "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
            "Microsoft.RecoveryServices/Vaults/backupPolicies/write",
            "Microsoft.RecoveryServices/Vaults/read",
            "Microsoft.RecoveryServices/Vaults/usages/read",
            "Microsoft.RecoveryServices/Vaults/write",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.SerialConsole/serialPorts/connect/action",
            "Microsoft.SqlVirtualMachine/*",
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Support/*",
        ],
    ),
    _role(
        "Virtual Machine User Login",
        "fb879df8-f326-4884-b1cf-06f3ad86be52",
        "Sees virtual machines and signs in to them as an ordinary user.",
        actions=[
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/loadBalancers/read",
            "Microsoft.Network/networkInterfaces/read",
            "Microsoft.Compute/virtualMachines/*/read",
            "Microsoft.HybridCompute/machines/*/read",
            "Microsoft.HybridConnectivity/endpoints/listCredentials/action",
        ],
        data_actions=[
            "Microsoft.Compute/virtualMachines/login/action",
            "Microsoft.HybridCompute/machines/login/action",
        ],
    ),
    # ------------------------------------------------------------------ identity
    _role(
        "Managed Identity Operator",
        "f1a07417-d97a-45cb-824c-7a7467783830",
        "Reads user-assigned identities and attaches them to resources.",
        actions=[
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
    ),
    _role(
        "Managed Identity Contributor",
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        "Creates, reads, updates and deletes user-assigned identities and their federated credentials.",
        actions=[
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
    ),
    # ------------------------------------------------------------------ storage (control plane)
    _role(
        "Storage Account Contributor",
        "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        "Manages storage accounts, including their access keys (which open all data).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Support/*",
        ],
    ),
    _role(
        "Storage Account Key Operator Service Role",
        "81a9662b-bebf-436f-a333-f67b29880f12",
        "Lists and regenerates storage account access keys.",
        actions=[
            "Microsoft.Storage/storageAccounts/listkeys/action",
            "Microsoft.Storage/storageAccounts/regeneratekey/action",
        ],
    ),
    _role(
        "Classic Storage Account Key Operator Service Role",
        "985d6b00-f706-48f5-a6fe-d0ca12fb668d",
        "Lists and regenerates keys of classic (ASM) storage accounts.",
        actions=[
            "Microsoft.ClassicStorage/storageAccounts/listkeys/action",
            "Microsoft.ClassicStorage/storageAccounts/regeneratekey/action",
        ],
    ),
    _role(
        "Reader and Data Access",
        "c12c1c16-33a1-487b-954d-41c89c60f349",
        "Reads storage accounts and lists their keys and account SAS tokens.",
        actions=[
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "Microsoft.Storage/storageAccounts/ListAccountSas/action",
            "Microsoft.Storage/storageAccounts/read",
        ],
    ),
    # ------------------------------------------------------------------ storage (data plane)
    _role(
        "Storage Blob Data Owner",
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Full access to blob containers and blob data, including POSIX ACLs.",
        actions=[
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
    ),
    _role(
        "Storage Blob Data Contributor",
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Reads, writes and deletes blob containers and blobs.",
        actions=[
            "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        data_actions=[
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ],
    ),
    _role(
        "Storage Blob Data Reader",
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Reads and lists blob containers and blobs.",
        actions=[
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    ),
    _role(
        "Storage Blob Delegator",
        "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
        "Obtains a user delegation key for signing blob SAS tokens.",
        actions=["Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
    ),
    _role(
        "Storage Queue Data Contributor",
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Reads, writes and deletes queues and queue messages.",
        actions=[
            "Microsoft.Storage/storageAccounts/queueServices/queues/delete",
            "Microsoft.Storage/storageAccounts/queueServices/queues/read",
            "Microsoft.Storage/storageAccounts/queueServices/queues/write",
        ],
        data_actions=[
            "Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete",
            "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
            "Microsoft.Storage/storageAccounts/queueServices/queues/messages/write",
            "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
        ],
    ),
    _role(
        "Storage Queue Data Reader",
        "19e7f393-937e-4f77-808e-94535e297925",
        "Reads and lists queues and peeks or reads queue messages.",
        actions=["Microsoft.Storage/storageAccounts/queueServices/queues/read"],
        data_actions=["Microsoft.Storage/storageAccounts/queueServices/queues/messages/read"],
    ),
    _role(
        "Storage Table Data Contributor",
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Reads, writes and deletes tables and table entities.",
        actions=[
            "Microsoft.Storage/storageAccounts/tableServices/tables/read",
            "Microsoft.Storage/storageAccounts/tableServices/tables/write",
            "Microsoft.Storage/storageAccounts/tableServices/tables/delete",
        ],
        data_actions=[
            "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
            "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write",
            "Microsoft.Storage/storageAccounts/tableServices/tables/entities/delete",
            "Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action",
            "Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action",
        ],
    ),
    _role(
        "Storage Table Data Reader",
        "76199698-9eea-4c19-bc75-cec21354c6b6",
        "Reads tables and table entities.",
        actions=["Microsoft.Storage/storageAccounts/tableServices/tables/read"],
        data_actions=["Microsoft.Storage/storageAccounts/tableServices/tables/entities/read"],
    ),
    _role(
        "Storage File Data SMB Share Reader",
        "aba4ae5f-2193-4029-9191-0cb91df5e314",
        "Reads files and directories in Azure file shares over SMB.",
        data_actions=["Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read"],
    ),
    _role(
        "Storage File Data SMB Share Contributor",
        "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb",
        "Reads, writes and deletes files and directories in Azure file shares over SMB.",
        data_actions=[
            "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read",
            "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/write",
            "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/delete",
        ],
    ),
    _role(
        "Data Lake Analytics Developer",
        "47b7735b-770e-4598-a7da-8b91488b4c88",
        "Submits and manages Data Lake Analytics jobs; cannot create, delete or reconfigure accounts.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.BigAnalytics/accounts/*",
            "Microsoft.DataLakeAnalytics/accounts/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions=[
            "Microsoft.BigAnalytics/accounts/Delete",
            "Microsoft.BigAnalytics/accounts/TakeOwnership/action",
            "Microsoft.BigAnalytics/accounts/Write",
            "Microsoft.DataLakeAnalytics/accounts/Delete",
            "Microsoft.DataLakeAnalytics/accounts/TakeOwnership/action",
            "Microsoft.DataLakeAnalytics/accounts/Write",
            "Microsoft.DataLakeAnalytics/accounts/dataLakeStoreAccounts/Write",
            "Microsoft.DataLakeAnalytics/accounts/dataLakeStoreAccounts/Delete",
            "Microsoft.DataLakeAnalytics/accounts/storageAccounts/Write",
            "Microsoft.DataLakeAnalytics/accounts/storageAccounts/Delete",
            "Microsoft.DataLakeAnalytics/accounts/firewallRules/Write",
            "Microsoft.DataLakeAnalytics/accounts/firewallRules/Delete",
            "Microsoft.DataLakeAnalytics/accounts/computePolicies/Write",
            "Microsoft.DataLakeAnalytics/accounts/computePolicies/Delete",
        ],
    ),
    # ------------------------------------------------------------------ databases
    _role(
        "Cosmos DB Account Reader Role",
        "fbdf93bf-df7d-467e-a4d2-9458aa1360c8",
        "Reads Cosmos DB account settings and its read-only keys.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.DocumentDB/*/read",
            "Microsoft.DocumentDB/databaseAccounts/readonlykeys/action",
            "Microsoft.Insights/MetricDefinitions/read",
            "Microsoft.Insights/Metrics/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
    ),
    _role(
        "DocumentDB Account Contributor",
        "5bd9cd88-fe45-4216-938b-f97437e15450",
        "Manages Cosmos DB (formerly DocumentDB) accounts, keys included.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.DocumentDb/databaseAccounts/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
        ],
    ),
    _role(
        "Cosmos DB Operator",
        "230815da-be43-4aae-9cb4-875f7bd000aa",
        "Manages Cosmos DB accounts without access to keys, connection strings or data-plane RBAC.",
        actions=[
            "Microsoft.DocumentDb/databaseAccounts/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Authorization/*/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
        ],
        not_actions=[
            "Microsoft.DocumentDB/databaseAccounts/copyJobs/*",
            "Microsoft.DocumentDB/databaseAccounts/dataTransferJobs/*",
            "Microsoft.DocumentDB/databaseAccounts/readonlyKeys/*",
            "Microsoft.DocumentDB/databaseAccounts/regenerateKey/*",
            "Microsoft.DocumentDB/databaseAccounts/listKeys/*",
            "Microsoft.DocumentDB/databaseAccounts/listConnectionStrings/*",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/write",
            "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/delete",
            "Microsoft.DocumentDB/databaseAccounts/mongodbRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/mongodbRoleDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/mongodbUserDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/mongodbUserDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments/write",
            "Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments/delete",
            "Microsoft.DocumentDB/databaseAccounts/tableRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/tableRoleDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/gremlinRoleAssignments/write",
            "Microsoft.DocumentDB/databaseAccounts/gremlinRoleAssignments/delete",
            "Microsoft.DocumentDB/databaseAccounts/gremlinRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/gremlinRoleDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/cassandraRoleAssignments/write",
            "Microsoft.DocumentDB/databaseAccounts/cassandraRoleAssignments/delete",
            "Microsoft.DocumentDB/databaseAccounts/cassandraRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/cassandraRoleDefinitions/delete",
            "Microsoft.DocumentDB/databaseAccounts/mongoMIRoleAssignments/write",
            "Microsoft.DocumentDB/databaseAccounts/mongoMIRoleAssignments/delete",
            "Microsoft.DocumentDB/databaseAccounts/mongoMIRoleDefinitions/write",
            "Microsoft.DocumentDB/databaseAccounts/mongoMIRoleDefinitions/delete",
        ],
    ),
    _role(
        "SQL DB Contributor",
        "9b7fa17d-e63e-47b0-bb0a-15c516ac86ec",
        "Manages SQL databases but not their servers nor their security policies.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Sql/locations/*/read",
            "Microsoft.Sql/servers/databases/*",
            "Microsoft.Sql/servers/read",
            "Microsoft.Support/*",
            "Microsoft.Insights/metrics/read",
            "Microsoft.Insights/metricDefinitions/read",
        ],
        not_actions=[
            "Microsoft.Sql/servers/databases/ledgerDigestUploads/write",
            "Microsoft.Sql/servers/databases/ledgerDigestUploads/disable/action",
            "Microsoft.Sql/managedInstances/databases/currentSensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/recommendedSensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/schemas/tables/columns/sensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/securityAlertPolicies/*",
            "Microsoft.Sql/managedInstances/databases/sensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/vulnerabilityAssessments/*",
            "Microsoft.Sql/managedInstances/securityAlertPolicies/*",
            "Microsoft.Sql/managedInstances/vulnerabilityAssessments/*",
            "Microsoft.Sql/servers/databases/auditingSettings/*",
            "Microsoft.Sql/servers/databases/auditRecords/read",
            "Microsoft.Sql/servers/databases/currentSensitivityLabels/*",
            "Microsoft.Sql/servers/databases/dataMaskingPolicies/*",
            "Microsoft.Sql/servers/databases/extendedAuditingSettings/*",
            "Microsoft.Sql/servers/databases/recommendedSensitivityLabels/*",
            "Microsoft.Sql/servers/databases/schemas/tables/columns/sensitivityLabels/*",
            "Microsoft.Sql/servers/databases/securityAlertPolicies/*",
            "Microsoft.Sql/servers/databases/securityMetrics/*",
            "Microsoft.Sql/servers/databases/sensitivityLabels/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessments/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessmentScans/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessmentSettings/*",
            "Microsoft.Sql/servers/vulnerabilityAssessments/*",
        ],
    ),
    _role(
        "SQL Server Contributor",
        "6d8ee4ec-f05a-4a1d-8b00-a9b17e38b437",
        "Manages SQL servers and databases but not their security policies.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Sql/locations/*/read",
            "Microsoft.Sql/servers/*",
            "Microsoft.Support/*",
            "Microsoft.Insights/metrics/read",
            "Microsoft.Insights/metricDefinitions/read",
        ],
        not_actions=[
            "Microsoft.Sql/managedInstances/databases/currentSensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/recommendedSensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/schemas/tables/columns/sensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/securityAlertPolicies/*",
            "Microsoft.Sql/managedInstances/databases/sensitivityLabels/*",
            "Microsoft.Sql/managedInstances/databases/vulnerabilityAssessments/*",
            "Microsoft.Sql/managedInstances/securityAlertPolicies/*",
            "Microsoft.Sql/managedInstances/vulnerabilityAssessments/*",
            "Microsoft.Sql/servers/auditingSettings/*",
            "Microsoft.Sql/servers/databases/auditingSettings/*",
            "Microsoft.Sql/servers/databases/auditRecords/read",
            "Microsoft.Sql/servers/databases/currentSensitivityLabels/*",
            "Microsoft.Sql/servers/databases/dataMaskingPolicies/*",
            "Microsoft.Sql/servers/databases/extendedAuditingSettings/*",
            "Microsoft.Sql/servers/databases/recommendedSensitivityLabels/*",
            "Microsoft.Sql/servers/databases/schemas/tables/columns/sensitivityLabels/*",
            "Microsoft.Sql/servers/databases/securityAlertPolicies/*",
            "Microsoft.Sql/servers/databases/securityMetrics/*",
            "Microsoft.Sql/servers/databases/sensitivityLabels/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessments/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessmentScans/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessmentSettings/*",
            "Microsoft.Sql/servers/devOpsAuditingSettings/*",
            "Microsoft.Sql/servers/extendedAuditingSettings/*",
            "Microsoft.Sql/servers/securityAlertPolicies/*",
            "Microsoft.Sql/servers/vulnerabilityAssessments/*",
            "Microsoft.Sql/servers/azureADOnlyAuthentications/delete",
            "Microsoft.Sql/servers/azureADOnlyAuthentications/write",
            "Microsoft.Sql/servers/externalPolicyBasedAuthorizations/delete",
            "Microsoft.Sql/servers/externalPolicyBasedAuthorizations/write",
        ],
    ),
    # ------------------------------------------------------------------ key vault
    _role(
        "Key Vault Administrator",
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        "All data-plane operations on a vault's keys, secrets and certificates (RBAC vaults only).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions=["Microsoft.KeyVault/vaults/*"],
    ),
    _role(
        "Key Vault Contributor",
        "f25e0fa2-a7c8-4377-a976-54943a77a395",
        "Manages key vault resources but not the keys, secrets or certificates inside them.",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions=[
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Microsoft.KeyVault/hsmPools/*",
            "Microsoft.KeyVault/managedHsms/*",
        ],
    ),
    _role(
        "Key Vault Reader",
        "21090545-7ca7-4776-b22c-e363652d74d2",
        "Reads vault and item metadata, never secret values or key material (RBAC vaults only).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions=[
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    ),
    _role(
        "Key Vault Secrets Officer",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Any operation on a vault's secrets, except managing permissions (RBAC vaults only).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
    ),
    _role(
        "Key Vault Secrets User",
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Reads secret values and metadata (RBAC vaults only).",
        data_actions=[
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    ),
    _role(
        "Key Vault Certificates Officer",
        "a4417e6f-fecd-4de8-b567-7b0420556985",
        "Any operation on a vault's certificates, except managing permissions (RBAC vaults only).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions=[
            "Microsoft.KeyVault/vaults/certificatecas/*",
            "Microsoft.KeyVault/vaults/certificates/*",
            "Microsoft.KeyVault/vaults/certificatecontacts/write",
        ],
    ),
    _role(
        "Key Vault Crypto Officer",
        "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        "Any operation on a vault's keys, except managing permissions (RBAC vaults only).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions=[
            "Microsoft.KeyVault/vaults/keys/*",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
        ],
    ),
    _role(
        "Key Vault Crypto User",
        "12338af0-0e69-4776-bea7-57ae8d297424",
        "Uses a vault's keys for cryptographic operations (RBAC vaults only).",
        data_actions=[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
    ),
    # ------------------------------------------------------------------ web
    _role(
        "Website Contributor",
        "de139f84-1756-47ae-9be6-808fbbe84772",
        "Manages web apps (not their App Service plans).",
        actions=[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/components/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Web/certificates/*",
            "Microsoft.Web/listSitesAssignedToHostName/read",
            "Microsoft.Web/serverFarms/join/action",
            "Microsoft.Web/serverFarms/read",
            "Microsoft.Web/sites/*",
        ],
    ),
]

_BY_NAME: dict[str, dict] = {r["roleName"].casefold(): r for r in BUILTIN_ROLES}
_BY_GUID: dict[str, dict] = {r["name"].lower(): r for r in BUILTIN_ROLES}


def _copy(role: dict) -> dict:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in role.items()}


def by_name(name: str) -> dict | None:
    """The built-in role called ``name`` (case-insensitive), or None."""
    if not isinstance(name, str):
        return None
    role = _BY_NAME.get(name.strip().casefold())
    return _copy(role) if role is not None else None


def _guid_of(guid_or_id: str) -> str | None:
    """Extract the role GUID from a bare GUID or any ``.../roleDefinitions/<guid>`` id."""
    text = guid_or_id.strip().rstrip("/")
    if not text:
        return None
    segments = [s for s in text.split("/") if s]
    if len(segments) >= 2:
        if segments[-2].lower() != "roledefinitions":
            return None
        candidate = segments[-1]
    elif text.startswith("/"):
        return None
    else:
        candidate = text
    return candidate.lower() if _GUID_RE.fullmatch(candidate) else None


def by_id(guid_or_full_id: str) -> dict | None:
    """The built-in role for a bare GUID or a full role definition id, or None.

    Accepted forms (case-insensitive)::

        8e3af657-a8ff-443c-a75c-2fe8c4bcb635
        /providers/Microsoft.Authorization/roleDefinitions/<guid>
        /subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>
        (any scope)/providers/Microsoft.Authorization/roleDefinitions/<guid>
    """
    if not isinstance(guid_or_full_id, str):
        return None
    guid = _guid_of(guid_or_full_id)
    if guid is None:
        return None
    role = _BY_GUID.get(guid)
    return _copy(role) if role is not None else None


def role_definition_id(role_or_guid: dict | str, subscription_id: str | None = None) -> str:
    """The ARM id of a role definition, tenant-level or under ``/subscriptions/<id>``."""
    guid = role_or_guid["name"] if isinstance(role_or_guid, dict) else role_or_guid
    prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
    return f"{prefix}{ROLE_DEFINITION_PREFIX}{guid}"


def to_arm(role: dict, subscription_id: str | None = None) -> dict:
    """Render a flat role dict in the ARM ``roleDefinitions`` resource shape."""
    return {
        "id": role_definition_id(role, subscription_id),
        "name": role["name"],
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role["roleName"],
            "type": role.get("roleType", "BuiltInRole"),
            "description": role["description"],
            "assignableScopes": list(role.get("assignableScopes", ["/"])),
            "permissions": [
                {
                    "actions": list(role.get("actions", [])),
                    "notActions": list(role.get("notActions", [])),
                    "dataActions": list(role.get("dataActions", [])),
                    "notDataActions": list(role.get("notDataActions", [])),
                }
            ],
        },
    }
