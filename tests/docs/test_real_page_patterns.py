"""Patterns met on real Learn pages (written here in our own words): defects the gate must
report, and page features it must not mistake for defects."""
from milab import registry
from milab.docs.parser import parse_text

FENCE = "```"


def _msgs(found):
    return " | ".join(f"{f.rule}:{f.line}:{f.message}" for f in found)


# ------------------------------------------------------------------ fences

def test_closing_fence_indented_too_deep_does_not_close(rules):
    page = ("# T\n\n1. Open a shell on the machine.\n\n"
            "  Ask for a token:\n\n"
            "  ```bash\n  curl -s https://example.com\n    ```\n"
            "  The answer looks like this:\n\n"
            "  ```bash\n  {\"a\": 1}\n  ```\n")
    found = rules(page, "MD001")
    assert found and "indented too deep" in found[0].message, _msgs(found)
    # CODE005 must not mistake the stray fence line for a PowerShell continuation
    assert rules(page, "CODE005") == []


def test_fence_inside_list_item_may_be_indented_more():
    page = ("# T\n\n1. Step one:\n\n   ```bash\n   echo one\n    ```\n\n"
            "1. Step two:\n\n      ```bash\n      echo two\n      ```\n\nDone.\n")
    (p,) = parse_text(page, "p.md")
    assert not p.issues, p.issues
    assert [b.text.strip() for b in p.code_blocks] == ["echo one", "echo two"]


def test_escaped_closing_fence_leaves_block_open(rules):
    page = "# T\n\n```powershell\n$a = 1\n\\```\n\nText.\n\n```powershell\n$b = 2\n```\n"
    assert rules(page, "MD001")


# ------------------------------------------------------------------ roles

def test_sample_guids_in_output_are_not_role_ids(rules):
    page = ("# T\n\n```azurecli\naz role assignment create --assignee <PRINCIPAL ID> --role 'Reader' "
            "--scope /subscriptions/<SUB>/resourceGroups/<RG>\n```\n\nThe output:\n\n```json\n{\n"
            '  "roleDefinitionId": "/subscriptions/<SUB>/providers/Microsoft.Authorization/roleDefinitions/'
            '00000000-0000-0000-0000-000000000000",\n  "principalId": "aaaaaaaa-bbbb-cccc-1111-222222222222"\n}\n```\n')
    assert rules(page, "ROLE002") == []
    real = page.replace("00000000-0000-0000-0000-000000000000", "b24988ac-6180-42a0-ab88-20f7382dd24c")
    assert rules(real, "ROLE002"), "a real, different role ID must still be reported"


# ------------------------------------------------------------------ output in shell blocks

def test_json_response_in_bash_block_is_not_linted(rules, shellcheck):
    page = ("# T\n\n```bash\ncurl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https://vault.azure.net' -H Metadata:true\n```\n\nThe response:\n\n"
            "```bash\n{\n\"access_token\":\"e...\",\n\"expires_in\":\"3599\"\n}\n```\n\n"
            "The file content comes back:\n\n```bash\nHello there! :)\n```\n")
    assert rules(page, "CODE002", shellcheck=shellcheck) == []
    notes = rules(page, "CODE010")
    assert len(notes) == 2 and all(f.severity == "info" for f in notes)


def test_multiline_az_without_backslashes_is_one_report(rules, shellcheck):
    page = ("# T\n\n```azurecli\naz storage blob upload --container-name c\n"
            "                        --file f\n                        --name n\n```\n")
    found = [f for f in rules(page, "CODE002", shellcheck=shellcheck) if "SC2215" in f.message]
    assert len(found) == 1


# ------------------------------------------------------------------ placeholders and names

def test_misspelled_placeholder_but_not_numbered_ones(rules):
    assert rules("# T\n\n```json\n{\"id\": \"/subscriptions/<SUBSCRIPTON ID>/x\"}\n```\n\n"
                 "```bash\naz account set -s <SUBSCRIPTION ID>\naz account show -s <SUBSCRIPTION ID>\n```\n", "NAME005")
    assert rules("# T\n\n```bash\necho <USER ID1> <USER ID2> <USER ID3>\n```\n", "NAME005") == []


def test_placeholder_asked_in_inline_code_counts_as_used(rules):
    page = ("# T\n\nSet `Conn=App;Id=<client-guid>`. Replace `<client-guid>` with the identity's client ID.\n\n"
            "```csharp\nvar p = new Provider(Environment.GetEnvironmentVariable(\"Conn\"));\n```\n")
    assert rules(page, "NAME003") == []


def test_swapped_names_are_not_guessed_from_ordinary_names(rules):
    ok = ("# T\n\n```azurecli\naz vm create -g vm-rg -n myVM --image Ubuntu2204\n"
          "az group create --name myResourceGroup --location westus\n```\n")
    assert rules(ok, "NAME004") == []


# ------------------------------------------------------------------ request bodies

_VMSS_OK = ('{"sku":{"name":"Standard_D1_v2","capacity":2},"location":"eastus","properties":{"overprovision":true,'
            '"virtualMachineProfile":{"storageProfile":{"imageReference":{"publisher":"MicrosoftWindowsServer",'
            '"offer":"WindowsServer","sku":"2019-Datacenter","version":"latest"}},"osProfile":{"computerNamePrefix":"v",'
            '"adminUsername":"u","adminPassword":"<PASSWORD>"}},"upgradePolicy":{"mode":"Manual"}}}')


def test_scale_set_body_shape(rules):
    ok = f"# T\n\nRequest body:\n\n```json\n{_VMSS_OK}\n```\n"
    assert rules(ok, "API007") == []
    # upgradePolicy one level too deep (a brace closed too late)
    bad = ok.replace('}},"upgradePolicy":{"mode":"Manual"}}}', '},"upgradePolicy":{"mode":"Manual"}}}}')
    found = rules(bad, "API007")
    assert any("'upgradePolicy'" in f.message and f.severity == "error" for f in found), _msgs(found)


def test_vm_body_unknown_key_is_a_warning_and_sku_typo_an_error(rules):
    url = ("https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
           "virtualMachines/vm?api-version=2018-06-01")
    body = ('{"location":"westus","properties":{"hardwareProfile":{"vmSize":"Standard_D2_v2","vmColor":"blue"},'
            '"storageProfile":{"imageReference":{"publisher":"MicrosoftWindowsServer","offer":"WindowsServer",'
            '"sku":"2019-Datacentre","version":"latest"}}}}')
    found = rules(f"# T\n\n```bash\ncurl -X PUT '{url}' -d '{body}'\n```\n", "API007")
    sev = {("vmColor" in f.message, "2019-Datacentre" in f.message): f.severity for f in found}
    assert sev.get((True, False)) == "warning" and sev.get((False, True)) == "error", _msgs(found)


def test_template_resources_of_other_types_are_not_shape_checked(rules):
    page = ('# T\n\n```json\n{"type": "Microsoft.Web/sites", "apiVersion": "2022-03-01", "name": "app",'
            ' "properties": {"serverFarmId": "x", "storageProfile": {"whatever": 1}, "hardwareProfile": {}}}\n```\n')
    assert rules(page, "API007") == []


def test_response_fragment_without_braces(rules):
    bad = 'Response:\n\n```json\n"odata.type": "x",\n"value": [\n  1\n]\n```\n'
    assert rules("# T\n\n" + bad, "CODE001")
    ok = 'It gains these properties:\n\n```json\n"identity": {\n  "type": "SystemAssigned"\n}\n```\n'
    assert rules("# T\n\n" + ok, "CODE001") == []


def test_resource_id_with_ellipsis(rules):
    page = ('# T\n\n```powershell\nUpdate-AzVM -ResourceGroupName rg -VM $vm -IdentityType UserAssigned '
            '-IdentityID "/subscriptions/<SUB>/resourcegroups/<RG>/providers/Microsoft.ManagedIdentity/'
            'userAssignedIdentities/<NAME>..."\n```\n')
    assert any("ellipsis" in f.message for f in rules(page, "API006"))


# ------------------------------------------------------------------ drift

def _listkeys_page(api="2016-12-01"):
    return ("# T\n\n```powershell\n$r = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token"
            "?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F' -Method GET -Headers @{Metadata=\"true\"}\n"
            "$keys = Invoke-WebRequest -Uri https://management.azure.com/subscriptions/<SUB>/resourceGroups/<RG>/providers/"
            f"Microsoft.Storage/storageAccounts/<ACCOUNT>/listKeys?api-version={api} -Method POST "
            "-Headers @{Authorization=\"Bearer $t\"}\n```\n")


def test_drift_compares_the_post_request_the_scenario_reproduces(rules):
    try:
        t = registry.find("storage_key", "windows")
    except Exception:  # noqa: BLE001 - the storage tutorials are being added to the registry
        return
    assert rules(_listkeys_page(), "DRIFT001", tutorials=[t]) == []
    found = rules(_listkeys_page("2019-06-01"), "DRIFT001", tutorials=[t])
    assert any("arm_api_version = 2019-06-01" in f.message for f in found)


def test_drift_ignores_roles_only_mentioned_in_prose(rules):
    t = registry.find("arm_read", "windows-system-assigned")
    page = ("# T\n\nYour account needs the **Virtual Machine Contributor** role.\n\n"
            "```powershell\n$r = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token"
            "?api-version=2018-02-01&resource=https://management.azure.com/' -Headers @{Metadata=\"true\"}\n```\n")
    assert rules(page, "DRIFT001", tutorials=[t]) == []


def test_javascript_object_literal_without_key(rules):
    import shutil

    import pytest
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    bad = "# T\n\n```javascript\nconst c = new Client({ \"<endpoint>\", credential: cred });\n```\n"
    good = ("# T\n\n```javascript\nimport { Client } from \"x\";\nconst c = new Client({ endpoint: \"<endpoint>\", "
            "credential: cred });\nawait c.open();\n```\n\n```javascript\nconst rp = require('rp');\n...\n```\n\n"
            "```javascript\nconst client = new SecretClient(url, ...);\n```\n")
    assert rules(bad, "CODE017")
    assert rules(good, "CODE017") == []


def test_two_real_words_are_two_placeholders(rules):
    page = "# T\n\n```bash\naz webapp show -n <your-app-name>\naz apim show -n <your-api-name>\n```\n"
    assert rules(page, "NAME005") == []


def test_csharp_string_broken_across_lines(rules):
    bad = ('# T\n\n```csharp\nprivate static string vault =\n    "<vault name>";\nprivate static string group = "\n'
           '    <group name>";\nprivate static string next = "x";\n```\n')
    found = rules(bad, "CODE018")
    assert len(found) == 1 and found[0].line == 6, [(f.line, f.message) for f in found]
    ok = ('# T\n\n```csharp\nvar url = "https://example.com/a//b"; // comment with a \" quote\nvar v = @"line one\n'
          'line two";\nchar c = \'"\';\n/* a " in a comment */\n```\n')
    assert rules(ok, "CODE018") == []


def test_identity_type_with_a_space(rules):
    bad = '# T\n\n```json\n"identity": {\n  "type": "System Assigned, UserAssigned"\n}\n```\n'
    assert any("System Assigned" in f.message for f in rules(bad, "API004"))
    ok = '# T\n\n```json\n"identity": {\n  "type": "SystemAssigned, UserAssigned"\n}\n```\n'
    assert rules(ok, "API004") == []


def test_backslash_newline_inside_double_quotes_is_a_continuation(rules):
    ok = ('# T\n\n```bash\ncurl "https://management.azure.com/subscriptions/$SUB/resourceGroups/$RG\\\n'
          '/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2023-03-01"\n```\n')
    assert rules(ok, "CODE014") == []
