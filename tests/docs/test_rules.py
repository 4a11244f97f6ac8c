"""Every rule has a page that must trigger it and a page that must not."""
from pathlib import Path

import pytest

from milab import registry
from milab.docs import facts as F
from milab.docs.parser import parse_file
from milab.docs.rules import RULES, check_page

from real_text import CASES as REAL
from real_text import MUTATED


PAGES = Path(__file__).parent / "pages"
FENCE = "```"

CASES = {
    "MD001": ("# T\n\n```bash\necho hi\n",
              "# T\n\n```bash\necho hi\n```\n"),
    "MD002": ("# T\n\n```\n\n```json\n{}\n```\n\n```\n",
              "# T\n\n```json\n{}\n```\n"),
    "MD003": ("# T\n\n::: zone pivot=\"cli\"\n\ntext\n",
              "# T\n\n::: zone pivot=\"cli\"\n\ntext\n\n::: zone-end\n"),
    "MD004": ("# T\n\n# [CLI](#tab/cli)\n\ntext\n\n## Next\n\nmore\n",
              "# T\n\n# [CLI](#tab/cli)\n\ntext\n\n---\n\n## Next\n\nmore\n"),
    "MD006": ("# T\n\n[!INCLUDE [x](./nowhere.md)]\n",
              "# T\n\nNo includes here.\n"),
    "MD007": ("# T\n\n| a | b | c |\n| --- | --- |\n| 1 | 2 | 3 |\n",
              "# T\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"),
    "CODE001": ('# T\n\n```json\n{\n  "a": 1,\n}\n```\n',
                '# T\n\n```json\n{\n  // ARM templates accept comments\n  "a": 1\n}\n```\n\n```json\n"identity": {\n  "type": "None"\n},\n```\n'),
    "CODE003": ("# T\n\n```powershell\nNew-AzVM `\n    -Name vm1\n    -Location westus\n```\n",
                "# T\n\n```powershell\nNew-AzVM `\n    -Name vm1 `\n    -Location westus\nGet-AzVM -Name vm1\n```\n"),
    "CODE004": ("# T\n\n```powershell\nInvoke-WebRequest -Uri $u -Headers @{'Metadata':'true'}\n```\n",
                "# T\n\n```powershell\nInvoke-WebRequest -Uri $u -Headers @{Metadata=\"true\"}\n```\n"),
    "CODE005": ("# T\n\n```azurecli\naz group create `\n  --name rg --location westus\n```\n",
                "# T\n\n```azurecli\naz group create \\\n  --name rg --location westus\n```\n"),
    "CODE006": ("# T\n\n```azurecli\naz vmss extension delete -n ext -g rg -vmss-name ss\n```\n",
                "# T\n\n```azurecli\naz vmss extension delete -n ext -g rg --vmss-name ss\n```\n"),
    "CODE007": ("# T\n\n```powershell\n$setting = @{ port = 1 }\nSet-Thing -Setting $settings\n```\n",
                "# T\n\n```powershell\n$settings = @{ port = 1 }\nSet-Thing -Setting $settings\nGet-Item | Where-Object { $_.Name }\n```\n"),
    "CODE008": ("# T\n\n```http\nGET 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01' HTTP/1.1 Metadata: true\n```\n",
                "# T\n\n```http\nGET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\nMetadata: true\n```\n"),
    "CODE009": ('# T\n\n```json\n{ "location": "[parameters(Location\')]" }\n```\n',
                '# T\n\n```json\n{ "location": "[resourceGroup().location]", "id": "[resourceId(\'Microsoft.X/y\', variables(\'n\'))]" }\n```\n'),
    "ROLE001": ("# T\n\n```azurecli\naz role assignment create --assignee x --role \"Storage Blob Reader\" --scope /subscriptions/s\n```\n",
                "# T\n\n```azurecli\naz role assignment create --assignee x --role \"Storage Blob Data Reader\" --scope /subscriptions/s\n"
                "az role assignment create --assignee x --role '<ROLE NAME>' --scope /subscriptions/s\n```\n"),
    "ROLE002": ('# T\n\n```json\n"variables": {\n  "Reader": "[concat(\'/providers/Microsoft.Authorization/roleDefinitions/\', \'b24988ac-6180-42a0-ab88-20f7382dd24c\')]"\n}\n```\n',
                '# T\n\n```json\n"variables": {\n  "Reader": "[concat(\'/providers/Microsoft.Authorization/roleDefinitions/\', \'acdd72a7-3385-48ef-bd42-f606fba81ae7\')]"\n}\n```\n'),
    "ROLE003": ("# T\n\n```azurecli\naz role assignment create --assignee x --role 00000000-0000-0000-0000-000000000002 --scope /subscriptions/s\n```\n",
                "# T\n\n```azurecli\naz cosmosdb sql role assignment create -a acct -g rg --scope / --principal-id p --role-definition-id 00000000-0000-0000-0000-000000000002\n```\n"),
    "NAME001": ("# T\n\nReplace `<SUBSCRIPTION ID>`.\n\n```bash\ncurl https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/resourceGroups/rg?api-version=2016-09-01\n```\n",
                "# T\n\nReplace `<SUBSCRIPTION-ID>`.\n\n```bash\ncurl https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/resourceGroups/rg?api-version=2016-09-01\n```\n"),
    "NAME002": ("# T\n\n```powershell\nNew-AzUserAssignedIdentity -ResourceGroupName rgA -Name id1\n$vm = Get-AzVM -ResourceGroupName rgB -Name vm1\nUpdate-AzVM -ResourceGroupName rgC -VM $vm\n```\n",
                "# T\n\n# [CLI](#tab/cli)\n\n```azurecli\naz vm show -g rgA -n vm1\n```\n\n# [PowerShell](#tab/ps)\n\n```powershell\nGet-AzVM -ResourceGroupName rgB -Name vm1\n```\n\n---\n"),
    "API001": ("# T\n\n```bash\ncurl -X PATCH -d '{}' 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss?api-version=2018-12-01'\n```\n",
               "# T\n\n```bash\ncurl -X PATCH -d '{}' 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss?api-version=2018-10-01'\n```\n"),
    "API002": ("# T\n\n```bash\ncurl -X POST -d '' 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/listKey?api-version=2016-12-01'\n```\n",
               "# T\n\n```bash\ncurl -X POST -d '' 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/listKeys?api-version=2016-12-01'\n```\n"),
    "API004": ("# T\n\n```bash\ncurl -X PATCH 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2018-06-01' "
               "-H 'Content-Type: application/json' -d '{\"identity\":{\"type\":\"UserAssigned\",\"identityIds\":[\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1\"]}}'\n```\n",
               "# T\n\n```bash\ncurl -X PATCH 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2017-12-01' "
               "-H 'Content-Type: application/json' -d '{\"identity\":{\"type\":\"UserAssigned\",\"identityIds\":[\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1\"]}}'\n```\n"),
    "API005": ("# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net'\n```\n",
               "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net' -H Metadata:true\n```\n"),
    "API006": ('# T\n\n```json\n{ "id": "/subscriptions/<SUBSCRIPTION ID>/<RESOURCE GROUP>/providers/Microsoft.Compute/virtualMachines/vm" }\n```\n',
               '# T\n\n```json\n{ "id": "/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>/providers/Microsoft.Compute/virtualMachines/vm" }\n```\n'),
    "CODE010": ("# T\n\nThe call answers with:\n\n```bash\n{\"value\": \"s3cret\", \"id\": \"x\"}\n```\n",
                "# T\n\nRun this:\n\n```bash\necho '{\"a\": 1}' | jq .a\n```\n"),
    "CODE011": ("# T\n\n```azurecli\naz cosmosdb sql role assignment create --account-name acct --resource-group --scope / --principal-id p\n```\n",
                "# T\n\n```azurecli\naz cosmosdb sql role assignment create --account-name acct --resource-group rg --scope / --principal-id p\n"
                "az vm create -g rg -n vm1 --assign-identity --generate-ssh-keys\n```\n"),
    "CODE012": ("# T\n\n```java\nimport com.example.Thing\nThing t = new Thing();\n```\n\n```csharp\nusing Example.Things\n```\n",
                "# T\n\n```java\nimport com.example.Thing;\nimport static com.example.Util.*;\n```\n\n```csharp\nusing Example.Things;\nusing (var c = new C()) { }\n```\n"),
    "CODE013": ("# T\n\n```powershell\n$roleId = \"<role-id>\" // noted earlier\n```\n",
                "# T\n\n```powershell\n$roleId = \"<role-id>\" # noted earlier\n$u = 'https://example.com//x'\n```\n"),
    "CODE014": ("# T\n\n```bash\ncurl 'https://management.azure.com/subscriptions/<SUB>/resourceGro\nups/rg?api-version=2021-04-01'\n```\n",
                "# T\n\n```bash\ncurl 'https://management.azure.com/subscriptions/<SUB>/resourceGroups/rg?api-version=2021-04-01' \\\n  -H 'Authorization: Bearer x'\n```\n"),
    "CODE015": ("# T\n\n```bash\ncurl http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net -H Metadata:true\n```\n",
                "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net' -H Metadata:true\n```\n"),
    "CODE016": ("# T\n\n```python\nprint \"token acquired\"\n```\n",
                "# T\n\n```python\nclient = SecretClient(vault_url=\"https://<vault-name>.vault.azure.net\", credential=cred)\n"
                "token = cred.get_token(<scope>)\n```\n\n```python\n>>> print 1\n```\n"),
    "CODE018": ('# T\n\n```java\nString name = "\n  <account name>";\n```\n',
                '# T\n\n```java\nString name =\n  "<account name>";\n```\n'),
    "NAME003": ("# T\n\nReplace `<APP CLIENT ID>` with the client ID.\n\n```bash\ncurl \"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&client_id=<IDENTITY CLIENT ID>\"\n```\n",
                "# T\n\nReplace `<IDENTITY CLIENT ID>` with the client ID.\n\n```bash\ncurl \"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&client_id=<IDENTITY CLIENT ID>\"\n```\n"),
    "NAME004": ("# T\n\n```powershell\nNew-AzVM -ResourceGroupName \"Web VM\" -Name \"Web resource group\" -Location westus\n```\n",
                "# T\n\n```powershell\nNew-AzVM -ResourceGroupName \"webResourceGroup\" -Name \"webVM\" -Location westus\n"
                "New-AzResourceGroup -Name myResourceGroup -Location westus\n```\n"),
    "NAME005": ("# T\n\n```bash\naz vm show -g <RESOURCE GROUP> -n <VM NAME>\naz vm stop -g <RESOUCRE GROUP> -n <VM NAME>\n```\n",
                "# T\n\n```bash\naz vm show -g <RESOURCE GROUP> -n <VM NAME1>\naz vm stop -g <RESOURCE GROUP> -n <VM NAME2>\n```\n"),
    "API007": ("# T\n\n```bash\ncurl -X PUT 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2023-03-01' "
               "-d '{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B2s\"},\"storageProfile\":{\"imageReference\":{\"sku\":\"22_04-lts\"},\"publisher\":\"Canonical\",\"offer\":\"ubuntu\"}}}'\n```\n",
               "# T\n\n```bash\ncurl -X PUT 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2023-03-01' "
               "-d '{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B2s\"},\"storageProfile\":{\"imageReference\":{\"sku\":\"22_04-lts\",\"publisher\":\"Canonical\",\"offer\":\"ubuntu\",\"version\":\"latest\"}}}}'\n```\n"),
    "API008": ("# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=vault.azure.net' -H Metadata:true\n```\n",
               "# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net' -H Metadata:true\n```\n"),
    "DEP001": ("# T\n\n```bash\ncurl https://mystore.azuredatalakestore.net/webhdfs/v1/?op=LISTSTATUS\n```\n",
               "# T\n\n```bash\ncurl https://mystore.dfs.core.windows.net/fs?resource=filesystem\n```\n"),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(rule_id, rules):
    bad, _ = CASES[rule_id]
    found = rules(bad, rule_id)
    assert found, f"{rule_id} did not fire"
    assert all(f.rule == rule_id and f.line > 0 and f.message and f.fix for f in found)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_does_not_fire(rule_id, rules):
    _, good = CASES[rule_id]
    assert rules(good, rule_id) == []


# ------------------------------------------------------------------ the same on real page text

ONLY_IN_CONTEXT = {"CODE002": "needs ShellCheck: test_shellcheck_on_real_text",
                   "MD005": "needs a tree of files: test_include_cycle_and_missing_include",
                   "MD006": "needs a tree of files: test_include_cycle_and_missing_include",
                   "DRIFT001": "needs a registry tutorial: test_drift_on_real_text",
                   "DRIFT002": "needs a registry tutorial: test_drift_on_real_text",
                   "DRIFT003": "needs a registry tutorial: test_drift_on_real_text",
                   "DENY001": "needs a registry tutorial: tests/test_docs_seeds.py",
                   "DENY002": "needs a registry tutorial: tests/test_docs_seeds.py"}


@pytest.mark.parametrize("rule_id", sorted(REAL))
def test_rule_fires_on_real_page_text(rule_id, rules):
    bad, _, source = REAL[rule_id]
    found = rules(bad, rule_id)
    assert found, f"{rule_id} did not fire on {source}" + (f" ({MUTATED[rule_id]})" if rule_id in MUTATED else "")
    assert all(f.rule == rule_id and f.line > 0 and f.message and f.fix for f in found), found


@pytest.mark.parametrize("rule_id", sorted(REAL))
def test_rule_quiet_on_real_page_text(rule_id, rules):
    _, good, source = REAL[rule_id]
    found = rules(good, rule_id)
    assert found == [], (source, [(f.line, f.message) for f in found])


def test_every_rule_has_real_text_both_ways():
    missing = set(RULES) - set(REAL) - set(ONLY_IN_CONTEXT)
    assert not missing, f"rules without a firing and a quiet test on real page text: {sorted(missing)}"
    for r in RULES.values():
        assert r.doc and r.summary and r.severity in ("error", "warning", "info") and r.fix, r.id


def test_shellcheck_fires_and_stays_quiet(shellcheck, rules):
    bad = "# T\n\n```bash\nroleId = '00000000-0000-0000-0000-000000000002'\n```\n"
    good = ("# T\n\n```bash\nroleId='00000000-0000-0000-0000-000000000002'\n"
            "az vm show -g <RESOURCE GROUP> -n \"$vmName\" --query identity\n```\n")
    assert any("SC2283" in f.message for f in rules(bad, "CODE002", shellcheck=shellcheck))
    assert rules(good, "CODE002", shellcheck=shellcheck) == []


def test_api004_user_assigned_key_not_a_resource_id_and_template_shape(rules):
    bad = ("# T\n\n```bash\ncurl -X PATCH 'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/"
           "Microsoft.Compute/virtualMachines/vm?api-version=2018-06-01' -d '{\"identity\":{\"type\":\"UserAssigned\","
           "\"userAssignedIdentities\":{\"subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
           "userAssignedIdentities/id1\":{}}}}'\n```\n")
    assert any("full resource ID" in f.message for f in rules(bad, "API004"))
    tmpl = ('# T\n\n```json\n{ "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2017-12-01",\n'
            '  "identity": { "type": "UserAssigned", "userAssignedIdentities": { "[resourceId(\'x\')]": {} } } }\n```\n')
    assert any("2018-06-01 or later" in f.message for f in rules(tmpl, "API004"))
    ok = tmpl.replace("2017-12-01", "2018-06-01")
    assert rules(ok, "API004") == []


def test_export_breaks_are_not_reported_as_defects():
    pages = parse_file(PAGES / "export-sample.txt")
    for p in pages:
        found = check_page(p, F.extract(p))
        assert [f for f in found if f.severity in ("error", "warning")] == []


def test_clean_page_has_no_errors_or_warnings(shellcheck):
    (page,) = parse_file(PAGES / "clean-learn.md")
    found = check_page(page, F.extract(page), shellcheck=shellcheck)
    assert [f for f in found if f.severity != "info"] == []


def test_broken_page_reports_each_defect_on_its_line():
    (page,) = parse_file(PAGES / "broken-learn.md")
    found = {(f.rule, f.line) for f in check_page(page, F.extract(page))}
    for expected in [("CODE003", 14), ("CODE005", 19), ("CODE001", 32), ("DEP001", 36), ("API001", 37),
                     ("CODE004", 41), ("API005", 42), ("MD007", 45), ("MD001", 49), ("MD006", 7)]:
        assert expected in found, expected


def _arm_page(api="2016-06-01", imds_api="2018-02-01"):
    return ("# T\n\n```powershell\n$r = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token"
            f"?api-version={imds_api}&resource=https://management.azure.com/' -Headers @{{Metadata=\"true\"}}\n"
            "(Invoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/"
            f"<RESOURCE GROUP>?api-version={api}' -Headers @{{Authorization=\"Bearer $t\"}}).content\n```\n\n"
            "Choose **Reader** as the role.\n")


def test_drift_quiet_when_the_page_matches_the_scenario(rules):
    t = registry.find("arm_read", "windows-system-assigned")
    assert rules(_arm_page(), "DRIFT001", tutorials=[t]) == []


def test_drift_reports_changed_facts_only(rules):
    t = registry.find("arm_read", "windows-system-assigned")
    found = rules(_arm_page(api="2019-10-01", imds_api="2019-08-01"), "DRIFT001", tutorials=[t])
    msgs = " ".join(f.message for f in found)
    assert "arm_api_version = 2019-10-01" in msgs and "imds_api_version = 2019-08-01" in msgs
    # a page that does not state a fact is not drift: only facts stated differently are
    assert rules("# T\n\nNothing here.\n", "DRIFT001", tutorials=[t]) == []
