from pathlib import Path

from milab.docs import facts as F
from milab.docs.parser import parse_file, parse_text

PAGES = Path(__file__).parent / "pages"


def _facts(text, file="p.md"):
    (page,) = parse_text(text, file)
    return F.extract(page)


def test_http_calls_from_curl_powershell_and_raw_http():
    (page,) = parse_file(PAGES / "clean-learn.md")
    f = F.extract(page)
    imds = f.imds_calls
    assert {c.source for c in imds} == {"curl", "powershell"}
    for c in imds:
        s = F.imds_summary(c)
        assert s["api_version"] == "2018-02-01" and s["metadata_header"]
        assert s["resource"] == "https://management.azure.com/"
    arm = f.arm_calls
    gets = [c for c in arm if c.method == "GET"]
    assert {c.api_version for c in gets} == {"2016-09-01"}
    assert gets[0].template.startswith("https://management.azure.com/subscriptions/{subscription_id}")
    patch = [c for c in arm if c.method == "PATCH"][0]
    assert patch.source == "http" and patch.api_version == "2018-06-01"
    assert "userAssignedIdentities" in patch.body_json()["identity"]


def test_roles_commands_and_placeholders():
    (page,) = parse_file(PAGES / "clean-learn.md")
    f = F.extract(page)
    cmd_roles = [(r.name, r.source) for r in f.roles if r.command]
    assert ("Reader", "cli") in cmd_roles and ("Reader", "powershell") in cmd_roles
    az = [c for c in f.commands if c.kind == "az"][0]
    assert az.name == "az role assignment create" and az.params["--role"] == "Reader"
    ps = [c for c in f.commands if c.name == "New-AzRoleAssignment"][0]
    assert ps.params["-RoleDefinitionName"] == "Reader"
    assert "<SUBSCRIPTION-ID>" in {p for p, _ in f.placeholders}


def test_export_lines_broken_by_the_pdf_are_joined():
    pages = parse_file(PAGES / "export-sample.txt")
    f = F.extract(pages[1])
    (imds,) = f.imds_calls
    assert imds.api_version == "2018-02-01"
    assert imds.header("Metadata") == "true"
    (arm,) = f.arm_calls
    assert "<SUBSCRIPTION ID>" in arm.url and arm.api_version == "2016-09-01"


def test_an_export_request_line_broken_before_its_protocol_keeps_the_api_version():
    """The 2019 export breaks 'PATCH https://...?api-version=2018-06-01 HTTP/1.1' before 'HTTP/1.1':
    the protocol joins with a space, never onto the api-version ('2018-06-01HTTP/1.1')."""
    assert F._export_glue("PATCH https://management.azure.com/x?api-version=2018-06-01", "HTTP/1.1", False) == " "
    assert F._export_glue("curl https://management.azure.com/subscriptions/a/resourceGroups/my", "RG/x",
                          False) == ""  # a URL broken mid-token still joins without one


def test_splatting_and_invoke_azrestmethod():
    f = _facts("# T\n\n```azurepowershell\n$p = @{\n    ResourceGroupName = 'rg'\n    Name = 'app'\n"
               "    ResourceProviderName = 'Microsoft.Web'\n    ResourceType = 'sites'\n    ApiVersion = '2023-12-01'\n"
               "    Method = 'PATCH'\n}\nInvoke-AzRestMethod @p\n```\n")
    (call,) = f.arm_calls
    assert call.method == "PATCH" and call.api_version == "2023-12-01" and "/Microsoft.Web/sites/app" in call.url


def test_literal_urls_in_code_and_role_variables():
    f = _facts('# T\n\n```csharp\nvar r = WebRequest.Create("http://169.254.169.254/metadata/identity/oauth2/token'
               '?api-version=2018-02-01&resource=https://vault.azure.net");\nr.Headers["Metadata"] = "true";\n```\n\n'
               "```azurecli\nroleId='00000000-0000-0000-0000-000000000002'\n"
               "az cosmosdb sql role assignment create --account-name a --resource-group g --scope / "
               "--principal-id p --role-definition-id $roleId\n```\n")
    (c,) = f.imds_calls
    assert c.source == "code" and F.imds_summary(c)["resource"] == "https://vault.azure.net"
    (r,) = [r for r in f.roles if r.command]
    assert r.kind == "cosmos-sql" and r.id == "00000000-0000-0000-0000-000000000002"


def test_doc_json_allows_comments_fragments_and_elisions():
    assert F.parse_doc_json('{\n  // c\n  "a": 1 /* x */\n}') == {"a": 1}
    assert F.parse_doc_json('"identity": {\n  "type": "SystemAssigned"\n},') == {"identity": {"type": "SystemAssigned"}}
    assert F.parse_doc_json('{\n  "a": 1,\n  ...\n  "b": 2\n}') == {"a": 1, "b": 2}
