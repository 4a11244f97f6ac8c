"""The gate as a required check on a pull request: changed lines only (and what the change
caused elsewhere on the page), a baseline, milab's own limits kept apart, input that is not
documentation refused, facts read from the page, and the false alarms fixed as classes."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from real_text import LINUX_ARM_INCLUDE, WINDOWS_SAS_OUTPUT, export

from milab import registry
from milab.docs import cli, pagefacts
from milab.docs.gate import changes_since, check_files

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}

# Two real pages of the 2019 export (shortened): the Linux quickstart for Resource Manager,
# and the Windows user-assigned tutorial whose steps name three resource groups.
LINUX_ARM = """# Use a Linux VM system-assigned managed identity to access Azure Resource Manager

3/26/2019 • 3 minutes to read • [Edit Online](#)

## Grant your VM access to a Resource Group in Azure Resource Manager

1. Navigate to the tab for **Resource Groups**.
2. Select the specific **Resource Group** you created earlier.
3. Go to **Access control(IAM)** in the left panel.
4. Click to **Add** a new role assignment for your VM. Choose **Role** as **Reader**.

## Get an access token using the VM's system-assigned managed identity and use it to call Resource Manager

```
curl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/' -H Metadata:true
```

You can use this access token to access Azure Resource Manager. Replace the values of <SUBSCRIPTION ID>, <RESOURCE GROUP>, and <ACCESS TOKEN> with the ones you created earlier.

```
curl https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>?api-version=2016-09-01 -H "Authorization: Bearer <ACCESS TOKEN>"
```

The response back with the specific Resource Group information:

```
{"id":"/subscriptions/98f51385-2edc-4b79-bed9-7718de4cb861/resourceGroups/DevTest","name":"DevTest","location":"westus","properties":{"provisioningState":"Succeeded"}}
```

"""

UA_WINDOWS = """# Tutorial: Use a User-assigned Managed Identity on a Windows VM, to access Azure Resource Manager

4/11/2019 • 5 minutes to read • [Edit Online](#)

## Create a user-assigned identity

```
New-AzUserAssignedIdentity -ResourceGroupName myResourceGroupVM -Name ID1
```

## Assign the user-assigned identity to a Windows VM

```
$vm = Get-AzVM -ResourceGroupName myResourceGroupVM -Name myVM
Update-AzVM -ResourceGroupName myResourceGroupVM -VM $vm -IdentityType "UserAssigned" -IdentityID "/subscriptions/<SUBSCRIPTIONID>/resourcegroups/myResourceGroupVM/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1"
```

## Grant your user-assigned identity access to a Resource Group in Azure Resource Manager

```
$spID = (Get-AzUserAssignedIdentity -ResourceGroupName myResourceGroupVM -Name ID1).principalid
New-AzRoleAssignment -ObjectId $spID -RoleDefinitionName "Reader" -Scope "/subscriptions/<SUBSCRIPTIONID>/resourcegroups/myResourceGroupVM/"
```

## Get an access token using the VM's identity and use it to call Resource Manager

The response contains details for the role assignment created, similar to the following example. Note the `Id` and `ClientId` values:

```
$response = Invoke-WebRequest -Uri 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&client_id=af825a31-b0e0-471f-baea-96de555632f9&resource=https://management.azure.com/' -Method GET -Headers @{Metadata="true"}
```
"""


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env=GIT_ENV)


@pytest.fixture
def docs_repo(tmp_path):
    """A git repository of real pages, committed; the test then changes one line."""
    repo = tmp_path / "docs"
    repo.mkdir()
    _git(repo, "init", "-q")
    text = "# Contents\n\n" + LINUX_ARM + UA_WINDOWS
    (repo / "managed-identities.txt").write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "pages")
    return repo


def _change(repo, old, new):
    p = repo / "managed-identities.txt"
    text = p.read_text()
    assert text.count(old) == 1
    p.write_text(text.replace(old, new))
    return text[:text.index(old)].count("\n") + 1  # the changed line


def _check(args, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli.main(["check", *args, "--out", str(out), "--no-shellcheck", "-q"])
    doc = json.loads((out / "docs-findings.json").read_text())
    return rc, doc, capsys.readouterr()


def _findings(doc):
    return [(p["title"][:30], f["rule"], f["line"]) for p in doc["pages"] for f in p["findings"]]


def test_changed_since_reports_only_the_change(docs_repo, tmp_path, capsys):
    # the whole file has findings (the Windows page's hard-coded client ID is fine, but the Linux page's
    # response shows a real subscription ID ...); a one-line change must show only its own
    rc, before, _ = _check([str(docs_repo)], tmp_path, capsys)
    line = _change(docs_repo, "Choose **Role** as **Reader**", "Choose **Role** as **Storage Blob Data Reader**")
    rc, doc, _ = _check([str(docs_repo), "--changed-since", "HEAD"], tmp_path, capsys)
    got = _findings(doc)
    assert [p["title"][:20] for p in doc["pages"]] == ["Use a Linux VM syste"]  # only the changed page
    assert doc["pages"][0]["changed_lines"] == [line]
    rules = {r for _, r, _ in got}
    # the change: a role that cannot read the resource group, and drift from the scenario's Reader
    assert "ROLE004" in rules and "DRIFT001" in rules, got
    assert all(ln == line or r == "ROLE004" for _, r, ln in got), got  # ROLE004 is on the call the role cannot make
    role = next(f for p in doc["pages"] for f in p["findings"] if f["rule"] == "ROLE004")
    assert "Microsoft.Resources/subscriptions/resourceGroups/read" in role["message"]
    assert rc == 1
    # untouched pages and the page's own old findings are left out (counted)
    assert doc["pages"][0]["suppressed"].get("unchanged", 0) >= 0
    assert not any(t.startswith("Tutorial: Use a User") for t, _, _ in got)


def test_changed_since_reports_what_the_change_caused_elsewhere_on_the_page(docs_repo, tmp_path, capsys):
    line = _change(docs_repo, "Update-AzVM -ResourceGroupName myResourceGroupVM -VM",
                   "Update-AzVM -ResourceGroupName TestRG -VM")
    rc, doc, _ = _check([str(docs_repo), "--changed-since", "HEAD"], tmp_path, capsys)
    got = _findings(doc)
    assert ("Tutorial: Use a User-assigned ", "NAME002", line) in got, got
    assert {t for t, _, _ in got} == {"Tutorial: Use a User-assigned "}


def test_unchanged_checkout_reports_nothing_and_exits_0(docs_repo, tmp_path, capsys):
    rc, doc, out = _check([str(docs_repo), "--changed-since", "HEAD"], tmp_path, capsys)
    assert rc == 0 and doc["pages"] == [] and "0 page(s)" in out.out


def test_changed_include_checks_the_pages_that_include_it(tmp_path, capsys):
    repo = tmp_path / "d"
    (repo / "includes").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "includes" / "linux-arm.md").write_text(LINUX_ARM_INCLUDE.replace("`<CLIENT ID>`", "`<UAMI CLIENT ID>`"))
    (repo / "tutorial.md").write_text("---\ntitle: Linux VM to Resource Manager\n---\n\n# Linux VM\n\n"
                                      "[!INCLUDE [arm](includes/linux-arm.md)]\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "pages")
    (repo / "includes" / "linux-arm.md").write_text(LINUX_ARM_INCLUDE)
    cs = changes_since(str(repo), "HEAD")
    assert sorted(p.name for p in cs.files) == ["linux-arm.md", "tutorial.md"]
    rc, doc, _ = _check([str(repo), "--changed-since", "HEAD"], tmp_path, capsys)
    pages = {p["title"]: p for p in doc["pages"]}
    found = [(f["rule"], Path(f["file"]).name) for f in pages["Linux VM to Resource Manager"]["findings"]]
    assert ("NAME003", "linux-arm.md") in found, found


def test_baseline_hides_accepted_findings_and_shows_new_ones(docs_repo, tmp_path, capsys):
    base = tmp_path / "baseline.json"
    assert cli.main(["baseline", str(docs_repo), "-o", str(base), "--no-shellcheck"]) == 0
    accepted = json.loads(base.read_text())["findings"]
    assert accepted and all(e["fingerprint"] for e in accepted)
    rc, doc, out = _check([str(docs_repo), "--baseline", str(base)], tmp_path, capsys)
    assert rc == 0 and _findings(doc) == [] and doc["summary"]["suppressed"]["baseline"] == len(accepted)
    # lines moved above the findings: still accepted; a new defect: reported
    p = docs_repo / "managed-identities.txt"
    p.write_text("\n\n\n" + p.read_text().replace("-IdentityType \"UserAssigned\"", "-IdentityTyp \"UserAssigned\""))
    rc, doc, out = _check([str(docs_repo), "--baseline", str(base)], tmp_path, capsys)
    assert rc == 0 or _findings(doc)
    assert {r for _, r, _ in _findings(doc)} <= {"CODE007", "CODE022", "CODE021", "CODE003"}
    assert cli.main(["check", str(docs_repo), "--baseline", str(tmp_path / "nope.json"), "--out",
                     str(tmp_path / "o")]) == 2


def test_not_checked_is_kept_apart_and_out_of_the_exit_status(tmp_path, capsys):
    page = tmp_path / "cosmos.txt"
    page.write_text(export("```\nInvoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUBSCRIPTION-ID>/"
                           "resourceGroups/<RESOURCE-GROUP>/providers/Microsoft.EventHub/namespaces/<ACCOUNT>/"
                           "listkeys/?api-version=2016-03-31' -Method POST -Headers @{Authorization=\"Bearer $t\"}\n"
                           "```\n\n[!INCLUDE [notice](../../includes/active-directory-msi-preview-notice.md)]\n", title="Use a managed identity to access Event Hubs"))
    rc, doc, _ = _check([str(page)], tmp_path, capsys)
    assert rc == 0 and _findings(doc) == []
    gaps = {f["rule"] for f in doc["pages"][0]["not_checked"]}
    assert gaps == {"API003", "MD006"}
    md = (tmp_path / "out" / "docs-findings.md").read_text()
    assert "## Not checked" in md and "does not model Microsoft.EventHub/namespaces" in md


def _file(d, name, data):
    p = d / name
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


@pytest.mark.parametrize("make, why", [
    (lambda d: _file(d, "tool.py", "print('x')\n"), "Python source"),
    (lambda d: Path("/usr/bin/ls"), "executable"),
    (lambda d: _file(d, "shot.png", b"\x89PNG\r\n\x1a\n" + bytes(64)), "PNG image"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no documentation pages"),
    (lambda d: _file(d, "notes.txt", "just words\nno markdown\n"), "not Markdown"),
])
def test_input_that_is_not_documentation_is_refused(tmp_path, capsys, make, why):
    target = make(tmp_path)
    rc = cli.main(["check", str(target), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and why in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_list_rules_is_sorted_and_explains_each_rule(capsys):
    from milab.docs.rules import RULES
    assert cli.main(["check", "--list-rules"]) == 0
    out = capsys.readouterr().out
    ids = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert ids == sorted(RULES) and set(ids) == set(RULES)
    assert "Write instead:" in out and "not checked" in out  # the limits are marked
    assert "Cosmos DB Account Reader Role cannot" in out.replace("\n          ", " ")


def test_repeated_findings_are_grouped_with_every_line(tmp_path, capsys):
    page = tmp_path / "p.md"
    page.write_text("# T\n\n" + "\n".join(
        f"```azurecli\naz cosmosdb create `\n    --name \"<account-{i}>\"\n```\n" for i in range(3)))
    rc, doc, out = _check([str(page)], tmp_path, capsys)
    (f,) = [f for f in doc["pages"][0]["findings"] if f["rule"] == "CODE005"]
    assert len(f["lines"]) == 3 and f["fix"]
    assert doc["summary"]["warning"] == 3  # counted per line


def test_doc_facts_validation():
    assert pagefacts.validate_doc_facts({"arm_read[linux-system-assigned]": {"role": "Reader"}}) is None
    assert "unknown tutorial" in pagefacts.validate_doc_facts({"arm_reed[x]": {}})
    assert "has no fact 'rolee'" in pagefacts.validate_doc_facts({"arm_read[linux-system-assigned]": {"rolee": "R"}})
    with pytest.raises(ValueError, match="no such file"):
        pagefacts.load_doc_facts("/nonexistent/facts.json")


def test_doc_facts_usage_error_exits_2_with_one_line(tmp_path):
    import sys
    bad = tmp_path / "facts.json"
    bad.write_text(json.dumps({"arm_read[linux-system-assigned]": {"rolee": "Reader"}}))
    repo = Path(__file__).resolve().parents[2]
    for arg in (str(bad), str(tmp_path / "missing.json")):
        proc = subprocess.run([sys.executable, "-m", "pytest", "scenarios/test_arm_read.py", "--doc-facts", arg,
                               "-p", "no:cacheprovider", "-q", "--collect-only"], cwd=repo, capture_output=True,
                              text=True, timeout=120)
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "--doc-facts" in ln]
        assert proc.returncode == 2 and len(lines) == 1, proc.stdout + proc.stderr


# ------------------------------------------------------------------ every fact from the page

def test_every_fact_is_read_from_the_page_or_reported():
    t = registry.find("arm_read", "linux-system-assigned")
    (page,) = [p for p in __import__("milab.docs.parser", fromlist=["x"]).parse_text(LINUX_ARM, "p.txt")
               if p.title.startswith("Use a Linux")]
    from milab.docs import facts as F
    got = pagefacts.read(t, F.extract(page))
    assert set(got) == set(t.facts)  # every key, none silently left to the registry
    assert got["role"][0] == "Reader" and got["role_scope"][0] == "resource_group"
    assert got["arm_api_version"][0] == "2016-09-01" and got["expected_provisioning_state"][0] == "Succeeded"
    changed = LINUX_ARM.replace("Choose **Role** as **Reader**", "Assign the identity a role.")
    (page,) = [p for p in __import__("milab.docs.parser", fromlist=["x"]).parse_text(changed, "p.txt")
               if p.title.startswith("Use a Linux")]
    got = pagefacts.read(t, F.extract(page))
    assert got["role"] is pagefacts.UNREAD


def test_drift_on_real_text(rules):
    t = registry.find("arm_read", "linux-system-assigned")
    assert rules(LINUX_ARM, "DRIFT001", tutorials=[t]) == []
    assert rules(LINUX_ARM, "DRIFT002", tutorials=[t]) == []
    changed = LINUX_ARM.replace("Choose **Role** as **Reader**", "Choose **Role** as **Storage Blob Data Reader**")
    (f,) = rules(changed, "DRIFT001", tutorials=[t])
    assert "role = Storage Blob Data Reader" in f.message and "Reader" in f.fix
    unread = LINUX_ARM.replace("Choose **Role** as **Reader**", "Assign the identity a role.")
    found = rules(unread, "DRIFT002", tutorials=[t])
    assert [f.message.split(" in a way")[0].split()[-1] for f in found] == ["role", "role_scope"]
    assert "(the scenario expected Reader)" in found[0].message
    import dataclasses
    t2 = dataclasses.replace(t, facts={**t.facts, "tls_cipher": "AES"})
    found = rules(LINUX_ARM, "DRIFT003", tutorials=[t2])
    assert [f.category for f in found] == ["not-checked"] and "tls_cipher (1: arm_read" in found[0].message
    assert rules(LINUX_ARM, "DRIFT003", tutorials=[t]) == []


def test_run_passes_unread_facts_by_name(tmp_path):
    page = tmp_path / "p.txt"
    page.write_text(LINUX_ARM.replace("Choose **Role** as **Reader**", "Assign the identity a role."))
    results, _ = check_files([page], shellcheck=False)
    from milab.docs.gate import doc_facts_for_run
    (r,) = [r for r in results if r.tutorials]
    facts = doc_facts_for_run(r)["arm_read[linux-system-assigned]"]
    assert facts["_from_registry"] == ["role", "role_scope"] and "role" not in facts
    assert facts["arm_api_version"] == "2016-09-01"
    assert pagefacts.validate_doc_facts({"arm_read[linux-system-assigned]": facts}) is None


# ------------------------------------------------------------------ the known false alarms, as classes

def test_output_of_a_cmdlet_naming_a_legacy_sdk_is_not_a_deprecation(rules):
    assert rules("# T\n\n" + WINDOWS_SAS_OUTPUT, "DEP001") == []
    # the same class in C# code is a real use, with a .NET suggestion
    (f,) = rules("# T\n\n```csharp\nusing Microsoft.WindowsAzure.Storage.Blob;\n```\n", "DEP001")
    assert "Azure.Storage.Blobs" in f.fix


def test_fences_indented_inside_list_items_close(rules):
    from milab.docs.parser import parse_text
    (page,) = parse_text(LINUX_ARM_INCLUDE, "include.md")
    assert page.issues == [] and [b.end_line is not None for b in page.code_blocks] == [True, True]
    assert rules(LINUX_ARM_INCLUDE, "MD001") == []


def test_output_tagged_bash_after_response_is_not_commands(rules, shellcheck):
    from milab.docs import facts as F
    from milab.docs.parser import parse_text
    (page,) = parse_text(LINUX_ARM_INCLUDE, "include.md")
    f = F.extract(page)
    assert [f.kinds[b.line] for b in page.code_blocks] == ["shell", "json"]
    assert [c.name for c in f.commands] == []  # the response is no command (curl is a call, not a command)
    for rule_id in ("CODE002", "CODE015", "CODE013", "CODE011"):
        assert rules(LINUX_ARM_INCLUDE, rule_id, shellcheck=shellcheck) == [], rule_id
    (note,) = rules(LINUX_ARM_INCLUDE, "CODE010")
    assert note.severity == "info" and "```json" in note.fix


def test_shellcheck_on_real_text(rules, shellcheck):
    bad = ("# T\n\n```azurecli\nreadOnlyRoleDefinitionId = '00000000-0000-0000-0000-000000000002' # This is the ID "
           "of the Cosmos DB Built-in Data Reader role definition\n```\n")
    good = bad.replace("readOnlyRoleDefinitionId = '", "readOnlyRoleDefinitionId='")
    assert any("SC2283" in f.message for f in rules(bad, "CODE002", shellcheck=shellcheck))
    assert rules(good, "CODE002", shellcheck=shellcheck) == []


def test_include_cycle_and_missing_include(tmp_path):
    from milab.docs import facts as F
    from milab.docs.parser import parse_file
    from milab.docs.rules import check_page
    (tmp_path / "includes").mkdir()
    (tmp_path / "includes" / "portal-update.md").write_text("[!INCLUDE [again](../page.md)]\n")
    page = tmp_path / "page.md"
    page.write_text("# T\n\n[!INCLUDE [portal updates](includes/portal-update.md)]\n\n"
                    "[!INCLUDE [portal updates](~/includes/portal-gone.md)]\n")
    (p,) = parse_file(page)
    found = {(f.rule, f.category) for f in check_page(p, F.extract(p), only={"MD005", "MD006"})}
    assert found == {("MD005", "defect"), ("MD006", "not-checked")}
    page.write_text("# T\n\n[!INCLUDE [portal updates](includes/other.md)]\n")
    (tmp_path / "includes" / "other.md").write_text("Text.\n")
    (p,) = parse_file(page)
    assert check_page(p, F.extract(p), only={"MD005", "MD006"}) == []


# The SQL page's T-SQL steps and the C# sample's query (2019 export, shortened).
SQL_PAGE = """# Tutorial: Use a Windows VM system-assigned managed identity to access Azure SQL

## Create a contained user in the database that represents the VM's system assigned identity

```
CREATE USER [VMName] FROM EXTERNAL PROVIDER
```

```
ALTER ROLE db_datareader ADD MEMBER [VMName]
```

## Get an access token using the VM's system-assigned managed identity and use it to call Azure SQL

```csharp
$SqlCommand.CommandText = "SELECT * from <TABLE>;"
```
"""


def test_the_sql_pages_tsql_is_read_from_the_page(rules):
    t = registry.find("sql", "windows")
    from milab.docs import facts as F
    from milab.docs.parser import parse_text
    (page,) = parse_text(SQL_PAGE, "p.txt")
    got = pagefacts.read(t, F.extract(page))
    assert got["create_user"][0] == t.facts["create_user"] and got["alter_role"][0] == t.facts["alter_role"]
    assert got["db_role"][0] == "db_datareader" and got["query"][0] == "SELECT * from {table};"
    assert rules(SQL_PAGE, "DRIFT001", tutorials=[t]) == []
    found = rules(SQL_PAGE.replace("db_datareader", "db_datawriter"), "DRIFT001", tutorials=[t])
    assert sorted(f.message.split(" = ")[0].split()[-1] for f in found) == ["alter_role", "db_role"], found
    assert any("db_role = db_datawriter" in f.message for f in found)
