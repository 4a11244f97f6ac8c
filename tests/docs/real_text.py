"""Short quotations of real documentation pages, for the rules' tests.

Sources: the seeds (``../shared/seeds``: 000-003 are Learn markdown, 004 is the 2019 PDF
export) and MicrosoftDocs/entra-docs (``docs/identity/managed-identities-azure-resources``).
Each case is (page text that must trigger the rule, page text that must not, where it is
from). Where no real page in reach has the defect, the firing text is the real text with the
one change named in ``MUTATED`` (the non-firing text is then the unchanged quotation).
"""
from __future__ import annotations

FENCE = "```"


def export(body: str, title: str = "Tutorial: Use a Windows VM system-assigned managed identity to access "
                                   "Azure Cosmos DB") -> str:
    """A page of the 2019 export: its title line and date line, then the quoted body."""
    return f"# {title}\n\n4/11/2019 • 6 minutes to read • [Edit Online](#)\n\n{body}"


LINUX_ARM_INCLUDE = """## Get an access token using the VM's identity and use it to call Resource Manager

1. In the terminal window, use CURL to make a request to the Azure Instance Metadata Service (IMDS) identity endpoint to get an access token for Azure Resource Manager.

   The CURL request to acquire an access token is shown in the following example. Be sure to replace `<CLIENT ID>` with the `clientId` property returned by the `az identity create` command:

   ```bash
   curl -H Metadata:true "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com/&client_id=<UAMI CLIENT ID>"
   ```

    The response includes the access token you need to access Azure Resource Manager.

    Response example:

    ```bash
    {
    "access_token":"eyJ0eXAiOi...",
    "refresh_token":"",
    "expires_in":"3599",
    "expires_on":"1504130527",
    "not_before":"1504126627",
    "resource":"https://management.azure.com",
    "token_type":"Bearer"
    }
    ```
"""

WINDOWS_SAS_OUTPUT = """1. Be sure to install the Azure Storage cmdlets first, using `Install-Module Azure.Storage`. Then upload the blob you just created, using the PowerShell `Set-AzStorageBlobContent` cmdlet:

   ```powershell
   $ctx = New-AzStorageContext -StorageAccountName <STORAGE-ACCOUNT-NAME> -SasToken $sasCred
   Set-AzStorageBlobContent -File test.txt -Container <CONTAINER-NAME> -Blob testblob -Context $ctx
   ```

   Response:

   ```powershell
   ICloudBlob        : Microsoft.WindowsAzure.Storage.Blob.CloudBlockBlob
   BlobType          : BlockBlob
   Length            : 56
   ContentType       : application/octet-stream
   Context           : Microsoft.WindowsAzure.Commands.Storage.AzureStorageContext
   Name              : testblob
   ```
"""

COSMOS_2019_GRANT = """To grant the Windows VM system-assigned managed identity access to the Cosmos DB account in Azure Resource Manager using PowerShell, update the values for `<SUBSCRIPTION ID>`, `<RESOURCE GROUP>`, and `<COSMOS DB ACCOUNT NAME>` for your environment. For this tutorial, assign the `Cosmos DB Account Reader Role`:

```
$spID = (Get-AzVM -ResourceGroupName myRG -Name myVM).identity.principalid
New-AzRoleAssignment -ObjectId $spID -RoleDefinitionName "Cosmos DB Account Reader Role" -Scope "/subscriptions/<mySubscriptionID>/resourceGroups/<myResourceGroup>/providers/Microsoft.DocumentDb/databaseAccounts/<COSMOS DB ACCOUNT NAME>"
```

## Get access keys from Azure Resource Manager to make Cosmos DB calls

Replace the `<ACCESS TOKEN>` value with the access token you retrieved earlier. If you want to retrieve read/write keys, use key operation type `listKeys`. If you want to retrieve read-only keys, use the key operation type `readonlykeys`:

```
Invoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/resourceGroups/<RESOURCE-GROUP>/providers/Microsoft.DocumentDb/databaseAccounts/<COSMOS DB ACCOUNT NAME>/{op}/?api-version=2016-03-31' -Method POST -Headers @{{Authorization="Bearer $ArmToken"}}
```
"""

UA_WINDOWS_ARM = """Use the access token retrieved in the previous step to access Azure Resource Manager, and read the properties of the Resource Group you granted your user-assigned identity access. Replace `<SUBSCRIPTION ID>` with the subscription id of your environment.

```
(Invoke-WebRequest -Uri https://management.azure.com/subscriptions/{sub}/resourceGroups/myResourceGroupVM?api-version=2016-06-01 -Method GET -ContentType "application/json" -Headers @{{Authorization = "Bearer $ArmToken"}}).content
```
"""

CASES: dict[str, tuple[str, str, str]] = {
    "MD001": (LINUX_ARM_INCLUDE.rsplit("    ```", 1)[0],
              LINUX_ARM_INCLUDE, "entra-docs includes/tutorial-linux-vm-access-arm.md"),
    "MD002": (export("You can also use the Azure Resource Manager deployment template to provision the VM extension:\n\n"
                     "```\n\n```json\n{\n  \"type\": \"Microsoft.Compute/virtualMachines/extensions\",\n"
                     "  \"apiVersion\": \"2018-06-01\"\n}\n```\n\n```\n"),
              export("You can also use the Azure Resource Manager deployment template to provision the VM extension:\n\n"
                     "```json\n{\n  \"type\": \"Microsoft.Compute/virtualMachines/extensions\",\n"
                     "  \"apiVersion\": \"2018-06-01\"\n}\n```\n"),
              "seed 004, How to stop using the VM managed identities extension (line 8013)"),
    "MD003": ("# T\n\n::: zone pivot=\"azure-interface-cli\"\n\n## Create a user-assigned managed identity\n\n"
              "Use the Azure CLI to create the identity.\n",
              "# T\n\n::: zone pivot=\"azure-interface-cli\"\n\n## Create a user-assigned managed identity\n\n"
              "Use the Azure CLI to create the identity.\n\n::: zone-end\n",
              "seed 001 (a zone of the CLI pivot)"),
    "MD004": ("# T\n\n# [Portal](#tab/azure-portal)\n\nTo enable the system-assigned identity, open the VM's Identity page.\n\n"
              "## Create a user-assigned managed identity\n\nMore.\n",
              "# T\n\n# [Portal](#tab/azure-portal)\n\nTo enable the system-assigned identity, open the VM's Identity page.\n\n"
              "---\n\n## Create a user-assigned managed identity\n\nMore.\n",
              "seed 002 (tab group at line 47)"),
    "MD007": ("# T\n\n    | | Resource | Value |\n    | --- | --- |\n    | **`name`** | Existing managed identity | "
              "Use a parameter named `identityName` |\n",
              "# T\n\n    | | Value |\n    | --- | --- |\n    | **`name`** | Use a parameter named `instanceName` |\n",
              "seed 001, lines 457 and 102"),
    "CODE001": ("# T\n\n   ```json\n    \"resources\": [\n        {\n            \"apiVersion\": \"2018-06-01\",\n"
                "            \"type\": \"Microsoft.Compute/virtualMachines\",\n            \"identity\": {\n"
                "                \"type\": \"SystemAssigned\",\n                }\n        }\n    ]\n   ```\n",
                "# T\n\n   ```json\n    \"resources\": [\n        {\n            //other resource provider properties...\n"
                "            \"apiVersion\": \"2018-06-01\",\n            \"type\": \"Microsoft.Compute/virtualMachines\",\n"
                "            \"identity\": {\n                \"type\": \"SystemAssigned\"\n                }\n        }\n"
                "    ]\n   ```\n",
                "seed 002, template resource (line 107)"),
    "CODE003": ("# T\n\n```powershell\nNew-AzVm `\n    -ResourceGroupName \"myResourceGroup\" `\n    -Location \"East US\" `\n"
                "    -SystemAssignedIdentity\n    -OpenPorts 80,3389\n```\n",
                "# T\n\n```powershell\nNew-AzVm `\n    -ResourceGroupName \"myResourceGroup\" `\n    -Location \"East US\" `\n"
                "    -SystemAssignedIdentity `\n    -OpenPorts 80,3389\n```\n",
                "seed 002, New-AzVm (line 67)"),
    "CODE004": (export("```\n$response = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token?"
                       "api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F' -Method GET -Headers "
                       "@{'Metadata':'true'}\n```\n"),
                export("```\n$response = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token?"
                       "api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F' -Method GET -Headers "
                       "@{Metadata=\"true\"}\n```\n"),
                "seed 004, Windows storage access key (line 1130) and Cosmos DB (line 1868)"),
    "CODE005": ("# T\n\n    ```azurecli-interactive\n    az cosmosdb create `\n        --resource-group "
                "\"<name-of-existing-resource-group>\" `\n        --name \"<name-of-new-account>\" `\n"
                "        --assign-identity\n    ```\n",
                "# T\n\n1. Use `Get-AzUserAssignedIdentity` to get a list of user-assigned managed identities in your "
                "resource group.\n\n    ```azurepowershell-interactive\n    $parameters = @{\n        ResourceGroupName = "
                "\"<name-of-existing-resource-group>\"\n    }\n    Get-AzUserAssignedIdentity @parameters\n    ```\n",
                "seeds 000 (line 23) and 001 (line 383)"),
    "CODE006": (export("```\naz vmss extension delete -n ManagedIdentityExtensionForWindows -g myResourceGroup "
                       "-vmss-name myVMSS\n```\n"),
                export("```\naz vm extension delete -n ManagedIdentityExtensionForWindows -g myResourceGroup "
                       "--vm-name myVM\n```\n"),
                "seed 004, How to stop using the VM extension (lines 8087, 8083)"),
    "CODE007": (export("```\n$setting = @{ \"port\" = 50342 }\n$vmss = Get-AzVmss\nAdd-AzVmssExtension "
                       "-VirtualMachineScaleSet $vmss -Name \"ManagedIdentityExtensionForWindows\" -Setting $settings\n```\n"),
                export("```\n$settings = @{ \"port\" = 50342 }\n$vmss = Get-AzVmss\nAdd-AzVmssExtension "
                       "-VirtualMachineScaleSet $vmss -Name \"ManagedIdentityExtensionForWindows\" -Setting $settings\n```\n"),
                "seed 004, line 8042"),
    "CODE008": (export("```\nGET 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                       "https://management.azure.com/' HTTP/1.1 Metadata: true\n```\n"),
                export("```\nGET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                       "https://management.azure.com/ HTTP/1.1\nMetadata: true\n```\n"),
                "seed 004, How to acquire a token (line 7508)"),
    "CODE009": ("# T\n\n```json\n{\n  \"location\": \"[parameters(Location')]\"\n}\n```\n",
                "# T\n\n```json\n{\n  \"location\": \"[parameters('location')]\"\n}\n```\n",
                "seed 004, scale-set template (line 6285)"),
    "CODE010": (LINUX_ARM_INCLUDE, "# T\n\n" + WINDOWS_SAS_OUTPUT.split("   Response:")[0],
                "entra-docs includes/tutorial-linux-vm-access-arm.md"),
    "CODE011": (export("```\naz storage blob upload --container-name\n                        --file\n"
                       "                        --name\n                        --account-name\n"
                       "                        --sas-token\n```\n"),
                export("```\naz storage blob upload -c <CONTAINER NAME> -n test.txt -f test.txt --account-name "
                       "<STORAGE ACCOUNT NAME> --account-key <STORAGE ACCOUNT KEY>\n```\n"),
                "seed 004, Linux storage SAS (line 3050) and access key (line 2799)"),
    "CODE012": ("# T\n\n```csharp\nusing Azure.Identity\nusing Microsoft.Azure.Cosmos;\n```\n",
                "# T\n\n```csharp\nusing Azure.Identity;\nusing Microsoft.Azure.Cosmos;\n```\n",
                "seed 002 (C# sample)"),
    "CODE013": ("# T\n\n```azurecli\nreadOnlyRoleDefinitionId='00000000-0000-0000-0000-000000000002' // the Cosmos DB "
                "Built-in Data Contributor role\n```\n",
                "# T\n\n```azurecli\nreadOnlyRoleDefinitionId='00000000-0000-0000-0000-000000000002' # the Cosmos DB "
                "Built-in Data Contributor role\n```\n",
                "seed 002, line 272"),
    "CODE014": ("# T\n\n```bash\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroup\n"
                "s/<RESOURCE GROUP>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<USER ASSIGNED IDENTITY NAME>"
                "?api-version=2015-08-31-preview' -X DELETE -H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n",
                "# T\n\n```bash\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/"
                "<RESOURCE GROUP>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<USER ASSIGNED IDENTITY NAME>"
                "?api-version=2015-08-31-preview' -X DELETE -H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n",
                "seed 004, user-assigned identity REST (line 8926)"),
    "CODE015": ("# T\n\n```bash\ncurl http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                "https://management.azure.com/ -H Metadata:true\n```\n",
                "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                "https://management.azure.com/' -H Metadata:true\n```\n",
                "seed 004, Linux ARM quickstart (line 518)"),
    "CODE016": ("# T\n\n```python\ncredential = ManagedIdentityCredential(client_id=<client-id>\nclient = "
                "CosmosClient(url=\"<account-endpoint>\", credential=credential)\n```\n",
                "# T\n\n```python\ncredential = ManagedIdentityCredential(client_id=<client-id>)\nclient = "
                "CosmosClient(url=\"<account-endpoint>\", credential=credential)\n```\n",
                "seed 002 (Python sample)"),
    "CODE017": ("# T\n\n```javascript\nconst client = new CosmosClient({ \"<account-endpoint>\", aadCredentials: new "
                "ManagedIdentityCredential() });\n```\n",
                "# T\n\n```javascript\nconst client = new CosmosClient({ endpoint: \"<account-endpoint>\", aadCredentials: "
                "new ManagedIdentityCredential() });\n```\n",
                "seed 002, line 414"),
    "CODE018": ("# T\n\n```csharp\nstring accessToken = GetMSIToken(\"https://storage.azure.com/\n\");\n```\n",
                "# T\n\n```csharp\nstring accessToken = GetMSIToken(\"https://storage.azure.com/\");\n```\n",
                "seed 004, Windows storage (line 920)"),
    "CODE019": ("# T\n\n```csharp\nCosmosClient client = new CosmosClient(\"<account-endpoint>\", new "
                "ManagedIdentityCredential(\"<your-managed-identity-client-id>\");\n```\n",
                "# T\n\n```csharp\nCosmosClient client = new CosmosClient(\"<account-endpoint>\", new "
                "ManagedIdentityCredential(\"<your-managed-identity-client-id>\"));\n```\n",
                "seed 002 (C# sample)"),
    "CODE020": ("# T\n\n```java\nCosmosAsyncClient client = new CosmosClientBuilder()\n    .endpoint(\"<account-endpoint>\")\n"
                "    .credential(new ManagedIdentityCredentialBuilder().build())\n    .buildAsyncClient()\n```\n",
                "# T\n\n```java\nCosmosAsyncClient client = new CosmosClientBuilder()\n    .endpoint(\"<account-endpoint>\")\n"
                "    .credential(new ManagedIdentityCredentialBuilder().build())\n    .buildAsyncClient();\n```\n",
                "seed 002 (Java sample)"),
    "CODE021": ("# T\n\n1. Use `Get-AzUserAssignedIdentity` to get a list of user-assigned managed identities in your "
                "resource group.\n\n    ```azurepowershell-interactive\n    $parameters = @{\n        ResourceGroupName = "
                "\"<name-of-existing-resource-group>\"\n\n    Get-AzUserAssignedIdentity @parameters | Format-List Name, Id\n"
                "    ```\n",
                "# T\n\n1. Use `Get-AzUserAssignedIdentity` to get a list of user-assigned managed identities in your "
                "resource group.\n\n    ```azurepowershell-interactive\n    $parameters = @{\n        ResourceGroupName = "
                "\"<name-of-existing-resource-group>\"\n    }\n    Get-AzUserAssignedIdentity @parameters | Format-List Name, Id\n"
                "    ```\n",
                "seed 001, line 383"),
    "CODE022": (export("```\n$vm = Get-AzVM -ResourceGroupName myResourceGroup -Name myVM\nUpdate-AzVm -ResourceGroupName "
                       "myResourceGroup -VirtualMachine $vm -IdentityType \"SystemAssigned\"\n```\n"),
                export("```\n$vm = Get-AzVM -ResourceGroupName myResourceGroup -Name myVM\nUpdate-AzVM -ResourceGroupName "
                       "myResourceGroup -VM $vm -IdentityType None\n```\n"),
                "seed 004, Configure identities using PowerShell (lines 4394, 4302)"),
    "ROLE001": ("# T\n\n```azurecli\naz role assignment create --assignee <UAMI PRINCIPALID> --role 'Storage Blob Reader' "
                "--scope \"/subscriptions/<SUBSCRIPTION ID>/resourcegroups/<RESOURCE GROUP>\"\n```\n",
                "# T\n\n```azurecli\naz role assignment create --assignee <UAMI PRINCIPALID> --role 'Reader' "
                "--scope \"/subscriptions/<SUBSCRIPTION ID>/resourcegroups/<RESOURCE GROUP>\"\n```\n",
                "seed 004, Linux user-assigned ARM tutorial (line 3749)"),
    "ROLE002": ("# T\n\n```azurepowershell\n$readOnlyRoleDefinitionId = \"b24988ac-6180-42a0-ab88-20f7382dd24c\" # This is the "
                "ID of the Reader role definition\n```\n",
                "# T\n\n```azurepowershell\n$readOnlyRoleDefinitionId = \"acdd72a7-3385-48ef-bd42-f606fba81ae7\" # This is the "
                "ID of the Reader role definition\n```\n",
                "seed 002 (role definition comment, line 272)"),
    "ROLE003": ("# T\n\n```azurecli\naz role assignment create --assignee <MI PRINCIPALID> --role "
                "00000000-0000-0000-0000-000000000002 --scope \"/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>\"\n```\n",
                "# T\n\n```azurecli\naz cosmosdb sql role assignment create --resource-group \"<resource-group>\" "
                "--account-name \"<account-name>\" --role-definition-id 00000000-0000-0000-0000-000000000002 "
                "--principal-id \"<principal-id>\" --scope \"/\"\n```\n",
                "seed 002 (data-plane role assignment)"),
    "ROLE004": (export(COSMOS_2019_GRANT.format(op="listKeys")), export(COSMOS_2019_GRANT.format(op="readonlykeys")),
                "seed 004, Windows Cosmos DB tutorial (lines 1851-1902)"),
    "NAME001": ("# T\n\n```powershell\nInvoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/"
                "resourceGroups/<RESOURCE-GROUP>/providers/Microsoft.DocumentDb/databaseAccounts/<COSMOS DB ACCOUNT NAME>/"
                "readonlykeys/?api-version=2016-03-31' -Method POST\n```\n\n```powershell\n$spID = (Get-AzVM -ResourceGroupName "
                "<RESOURCE GROUP> -Name <VM NAME>).identity.principalid\n```\n",
                "# T\n\n```powershell\nInvoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/"
                "resourceGroups/<RESOURCE-GROUP>/providers/Microsoft.DocumentDb/databaseAccounts/<COSMOS DB ACCOUNT NAME>/"
                "readonlykeys/?api-version=2016-03-31' -Method POST\n```\n\n```powershell\n$spID = (Get-AzVM -ResourceGroupName "
                "<RESOURCE-GROUP> -Name <VM NAME>).identity.principalid\n```\n",
                "seed 003, lines 117 and 126"),
    "NAME002": (export("```\nNew-AzUserAssignedIdentity -ResourceGroupName myResourceGroupVM -Name ID1\n```\n\n```\n"
                       "$vm = Get-AzVM -ResourceGroupName myResourceGroup -Name myVM\nUpdate-AzVM -ResourceGroupName TestRG "
                       "-VM $vm -IdentityType \"UserAssigned\" -IdentityID \"/subscriptions/<SUBSCRIPTIONID>/resourcegroups/"
                       "myResourceGroupVM/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1\"\n```\n"),
                export("```\nNew-AzUserAssignedIdentity -ResourceGroupName myResourceGroupVM -Name ID1\n```\n\n```\n"
                       "$vm = Get-AzVM -ResourceGroupName myResourceGroupVM -Name myVM\nUpdate-AzVM -ResourceGroupName "
                       "myResourceGroupVM -VM $vm -IdentityType \"UserAssigned\" -IdentityID \"/subscriptions/<SUBSCRIPTIONID>/"
                       "resourcegroups/myResourceGroupVM/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1\"\n```\n"),
                "seed 004, Windows user-assigned ARM tutorial (lines 2226-2256)"),
    "NAME003": (LINUX_ARM_INCLUDE, LINUX_ARM_INCLUDE.replace("`<CLIENT ID>`", "`<UAMI CLIENT ID>`"),
                "entra-docs includes/tutorial-linux-vm-access-arm.md"),
    "NAME004": ("# T\n\n```powershell\nNew-AzVm `\n    -ResourceGroupName \"My VM\" `\n    -Name \"My resource group\" `\n"
                "    -Location \"East US\"\n```\n",
                "# T\n\n```powershell\nNew-AzVm `\n    -ResourceGroupName \"My resource group\" `\n    -Name \"My VM\" `\n"
                "    -Location \"East US\"\n```\n",
                "seed 002, line 69"),
    "NAME005": (export("```\naz role assignment create --assignee <MI PRINCIPALID> --role '<ROLE NAME>' --scope "
                       "\"/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>/providers/Microsoft.DocumentDB/"
                       "databaseAccounts/<COSMODS DB ACCOUNT NAME>\"\naz resource show --id /subscriptions/<SUBSCRIPTION ID>/"
                       "resourceGroups/<RESOURCE GROUP>/providers/Microsoft.DocumentDB/databaseAccounts/<COSMOS DB ACCOUNT NAME>\n"
                       "az cosmosdb keys list -g <RESOURCE GROUP> -n <COSMOS DB ACCOUNT NAME>\n```\n"),
                export("```\naz role assignment create --assignee <MI PRINCIPALID> --role '<ROLE NAME>' --scope "
                       "\"/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>/providers/Microsoft.DocumentDB/"
                       "databaseAccounts/<COSMOS DB ACCOUNT NAME>\"\n```\n"),
                "seed 004, Linux Cosmos DB tutorial (line 3344)"),
    "NAME006": (export(UA_WINDOWS_ARM.format(sub="80c696ff-5efa-4909-a64d-f1b616f423ca")),
                export(UA_WINDOWS_ARM.format(sub="<SUBSCRIPTION ID>")),
                "seed 004, Windows user-assigned ARM tutorial (line 2308)"),
    "NAME007": ("# T\n\n   **Microsoft.Compute/virtualMachines API version 2018-06-01**\n\n   To remove a single user-assigned "
                "managed identity from a VM, remove it from the `useraAssignedIdentities` dictionary.\n",
                "# T\n\n   **Microsoft.Compute/virtualMachines API version 2018-06-01**\n\n   To remove a single user-assigned "
                "managed identity from a VM, remove it from the `userAssignedIdentities` dictionary.\n",
                "entra-docs qs-configure-template-windows-vm (as translated pages still show it)"),
    "NAME008": ("# T\n\nIf you have a system-assigned identity, keep it in the in the `type` value under the `identity` value.\n",
                "# T\n\nIf you have a system-assigned identity, keep it in the `type` value under the `identity` value.\n",
                "seed 004, line 6464"),
    "API001": (export("```\ncurl -X PATCH 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/"
                      "myResourceGroup/providers/Microsoft.Compute/virtualMachineScaleSets/myVMSS?api-version=2018-12-01' "
                      "-H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n"),
               export("```\ncurl -X PATCH 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/"
                      "myResourceGroup/providers/Microsoft.Compute/virtualMachineScaleSets/myVMSS?api-version=2018-06-01' "
                      "-H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n"),
               "seed 004, scale sets with REST (line 7123)"),
    "API002": (export(COSMOS_2019_GRANT.format(op="listKey")), export(COSMOS_2019_GRANT.format(op="listKeys")),
               "seed 004, Windows Cosmos DB tutorial (line 1902)"),
    "API003": (export(COSMOS_2019_GRANT.format(op="readonlykeys").replace("Microsoft.DocumentDb/databaseAccounts",
                                                                          "Microsoft.EventHub/namespaces")),
               export(UA_WINDOWS_ARM.format(sub="<SUBSCRIPTION ID>")),
               "seed 004"),
    "API004": (export("```\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION_ID>/resourceGroups/myResourceGroup/"
                      "providers/Microsoft.Compute/virtualMachines/myVM?api-version=2018-06-01' -X PUT -d '{\"location\":"
                      "\"westus\",\"identity\":{\"type\":\"UserAssigned\",\"identityIds\":[\"/subscriptions/<SUBSCRIPTION_ID>/"
                      "resourceGroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1\"]}}' "
                      "-H \"Content-Type: application/json\" -H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n"),
               export("```\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION_ID>/resourceGroups/myResourceGroup/"
                      "providers/Microsoft.Compute/virtualMachines/myVM?api-version=2017-12-01' -X PUT -d '{\"location\":"
                      "\"westus\",\"identity\":{\"type\":\"UserAssigned\",\"identityIds\":[\"/subscriptions/<SUBSCRIPTION_ID>/"
                      "resourceGroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1\"]}}' "
                      "-H \"Content-Type: application/json\" -H \"Authorization: Bearer <ACCESS TOKEN>\"\n```\n"),
               "seed 004, Configure identities using REST (line 5089)"),
    "API005": ("# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
               "https://management.azure.com/'\n```\n",
               "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
               "https://management.azure.com/' -H Metadata:true\n```\n",
               "seed 004, Linux ARM quickstart (line 518)"),
    "API006": (export("```\n\"id\": \"/subscriptions/<SUBSCRIPTION ID>/<RESOURCE GROUP>/providers/Microsoft.Compute/"
                      "virtualMachines/<VM NAME>\",\n```\n"),
               export("```\n\"id\": \"/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>/providers/"
                      "Microsoft.Compute/virtualMachines/<VM NAME>\",\n```\n"),
               "seed 004, Linux Cosmos DB tutorial (line 3328)"),
    "API007": (export("```\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION_ID>/resourceGroups/myResourceGroup/"
                      "providers/Microsoft.Compute/virtualMachines/myVM?api-version=2018-06-01' -X PUT -d '{\"location\":"
                      "\"westus\",\"name\":\"myVM\",\"identity\":{\"type\":\"SystemAssigned\"},\"properties\":{"
                      "\"hardwareProfile\":{\"vmSize\":\"Standard_D2_v2\"},\"storageProfile\":{\"imageReference\":{\"sku\":"
                      "\"2016-Datcenter\"},\"publisher\":\"MicrosoftWindowsServer\",\"version\":\"latest\",\"offer\":"
                      "\"WindowsServer\"},\"osDisk\":{\"caching\":\"ReadWrite\",\"createOption\":\"FromImage\"}}}' "
                      "-H \"Content-Type: application/json\"\n```\n"),
               export("```\ncurl 'https://management.azure.com/subscriptions/<SUBSCRIPTION_ID>/resourceGroups/myResourceGroup/"
                      "providers/Microsoft.Compute/virtualMachines/myVM?api-version=2018-06-01' -X PUT -d '{\"location\":"
                      "\"westus\",\"name\":\"myVM\",\"identity\":{\"type\":\"SystemAssigned\"},\"properties\":{"
                      "\"hardwareProfile\":{\"vmSize\":\"Standard_D2_v2\"},\"storageProfile\":{\"imageReference\":{\"sku\":"
                      "\"2016-Datacenter\",\"publisher\":\"MicrosoftWindowsServer\",\"version\":\"latest\",\"offer\":"
                      "\"WindowsServer\"},\"osDisk\":{\"caching\":\"ReadWrite\",\"createOption\":\"FromImage\"}}}}' "
                      "-H \"Content-Type: application/json\"\n```\n"),
               "seed 004, Configure identities using REST (line 4804, shortened)"),
    "API008": ("# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
               "management.azure.com' -H Metadata:true\n```\n",
               "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
               "https://management.azure.com/' -H Metadata:true\n```\n",
               "seed 004, Linux ARM quickstart (line 518)"),
    "API009": (export("```\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                      "https://management.azure.com/' -H Metadata:true\n```\n\nResponse:\n\n```\n{\"access_token\":\"eyJ0eXAiOi...\",\n"
                      "\"refresh_token\":\"\",\n\"expires_in\":3599,\n\"expires_on\":\"1504130527\",\n\"not_before\":\"1504126627\",\n"
                      "\"resource\":\"https://management.azure.com\",\n\"token_type\":\"Bearer\"}\n```\n"),
               export("```\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                      "https://management.azure.com/' -H Metadata:true\n```\n\nResponse:\n\n```\n{\"access_token\":\"eyJ0eXAiOi...\",\n"
                      "\"expires_in\":\"3599\",\n\"expires_on\":\"1504130527\",\n\"not_before\":\"1504126627\",\n"
                      "\"resource\":\"https://management.azure.com\",\n\"token_type\":\"Bearer\"}\n```\n"),
               "seed 004, Linux ARM quickstart (lines 518-531)"),
    "DEP001": (export("```\nusing Microsoft.WindowsAzure.Storage.Auth;\nusing Microsoft.WindowsAzure.Storage.Blob;\n"
                      "namespace StorageOAuthToken\n{\n```\n"),
               "# T\n\n" + WINDOWS_SAS_OUTPUT, "seed 004 line 915; entra-docs includes/tutorial-windows-vm-access-storage-sas.md"),
}

#: rules whose firing text is the real quotation with one change (no real page in reach has the defect)
MUTATED = {
    "API003": "the Cosmos DB account type replaced by Event Hubs namespaces, which milab does not model",
    "MD001": "the last closing fence removed",
    "MD003": "the '::: zone-end' removed",
    "MD004": "the '---' after the tab removed",
    "CODE012": "the ';' after the first using removed",
    "CODE013": "'#' written as '//'",
    "CODE014": "the URL broken where the PDF export broke it, in a Learn fence",
    "CODE015": "the quotes around the URL removed",
    "CODE016": "the closing parenthesis removed",
    "CODE018": "the string broken where the PDF export broke the line",
    "CODE019": "a closing parenthesis removed",
    "CODE020": "the final semicolon removed",
    "CODE021": "the closing brace of the hashtable removed",
    "ROLE001": "'Reader' written as 'Storage Blob Reader'",
    "ROLE002": "the Reader role's ID replaced by Contributor's",
    "ROLE003": "the data-plane role assigned with az role assignment create",
    "API002": "listKeys written listKey",
    "API005": "the Metadata header removed",
    "API008": "the resource written as a host name",
}
