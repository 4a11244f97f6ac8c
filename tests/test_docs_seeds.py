"""The docs gate over the documentation this project tests (../shared/seeds): it runs,
writes its reports without secrets, finds defects known to be in the seeds, and reports
no drift for the pages whose scenarios reproduce them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from milab.cli import main
from milab.seeds import seeds_dir

SEEDS = seeds_dir()  # $MILAB_SEEDS or ../shared/seeds


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    if not SEEDS.is_dir():
        pytest.skip(f"no seeds at {SEEDS} (set MILAB_SEEDS)")
    out = tmp_path_factory.mktemp("docs")
    code = main(["docs", "check", str(SEEDS), "--out", str(out)])
    doc = json.loads((out / "docs-findings.json").read_text())
    return code, out, doc


def _all(doc):
    for page in doc.get("pages", []):
        for f in page.get("findings", []):
            yield page, f
    for f in doc.get("findings", []):
        yield None, f


def test_gate_fails_on_the_seeds_real_errors(findings):
    code, out, doc = findings
    assert code == 1
    for name in ("docs-findings.md", "docs-findings.json", "docs-junit.xml"):
        text = (out / name).read_text()
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}", text), name


def test_known_defects_are_reported(findings):
    _, _, doc = findings
    rules = {(f.get("rule"), int(f.get("line", 0))) for _, f in _all(doc)}
    text = json.dumps(doc)
    # a VM PUT at 2018-06-01 that lists identities in the 2017-12-01 array format
    assert "identityIds" in text
    # AAD Graph and Data Lake Storage Gen1 are retired
    assert "graph.windows.net" in text or "AAD Graph" in text or "Azure AD Graph" in text
    assert "Gen1" in text
    assert any(r == "DEP001" for r, _ in rules)
    assert any(r and r.startswith("CODE") for r, _ in rules)


def test_drift_on_the_pages_scenarios_reproduce_is_only_the_known_differences(findings):
    """The registry reproduces the seeds' pages; where it differs, the gate says so (the storage
    RBAC pages create 'hello world.txt' and grant at the storage account; the scenario uses
    'hello_world.txt' and the container scope), and a fact the page no longer states is DRIFT002
    (the SAS page names its blob only as a placeholder). Every family has page readers: no other
    fact a scenario depends on goes unread."""
    _, _, doc = findings
    drift = sorted((f["rule"], f["message"].split(":")[0], re.search(r"(?:gives|state) (\w+)", f["message"]).group(1))
                   for _, f in _all(doc) if f.get("rule", "").startswith("DRIFT"))
    assert drift == [("DRIFT001", "storage_rbac[linux]", "blob_name"), ("DRIFT001", "storage_rbac[linux]", "role_scope"),
                     ("DRIFT001", "storage_rbac[windows]", "blob_name"),
                     ("DRIFT001", "storage_rbac[windows]", "role_scope"),
                     ("DRIFT002", "storage_sas[linux]", "blob_name")], drift


def _check_text(tmp_path, name: str, text: str) -> dict:
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    main(["docs", "check", str(page), "--out", str(out), "--quiet"])
    return json.loads((out / "docs-findings.json").read_text())


def _seed_text(name: str) -> str:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip(f"no seed {name} at {SEEDS} (set MILAB_SEEDS)")
    return path.read_text(encoding="utf-8")


LINUX_COSMOS_OFFER = "Assign the `DocumentDB Account Contributor` role if you want to get read/write keys"


def test_a_placeholder_the_prose_binds_is_read_and_its_change_is_drift(tmp_path):
    """The 2019 Linux Cosmos DB page writes `--role '<ROLE NAME>'` and `.../<KEY OPERATION TYPE>?...`
    after prose offering `DocumentDB Account Contributor` / `listKeys`: the gate reads the role and
    the call from that offer, and a page that stops offering the scenario's role is DRIFT001."""
    text = _seed_text("004_68e52737ddb40452.txt")
    assert LINUX_COSMOS_OFFER in text
    doc = _check_text(tmp_path, "004_68e52737ddb40452.txt", text)
    linux = [f for _, f in _all(doc) if f["rule"].startswith("DRIFT") and "cosmos_keys[linux]" in f["message"]]
    assert linux == []
    changed = text.replace(LINUX_COSMOS_OFFER, "Assign the `Cosmos DB Operator` role if you want to get read/write keys")
    (tmp_path / "changed").mkdir()
    doc = _check_text(tmp_path / "changed", "004_68e52737ddb40452.txt", changed)
    drift = [f["message"] for _, f in _all(doc) if f["rule"] == "DRIFT001" and "cosmos_keys[linux]" in f["message"]]
    assert any("role = Cosmos DB Operator" in m for m in drift), drift


COSMOS_RBAC_SEED = "002_3ac18aa7751238e2.txt"


def test_a_role_the_page_never_grants_is_reported_until_the_page_grants_it(findings, tmp_path):
    """The Cosmos DB RBAC page grants only a data-plane role, while its program creates the database
    through Resource Manager with the VM's identity (the scenario shows the 403): DENY002 at the
    step's section; a page that assigns DocumentDB Account Contributor is quiet."""
    _, _, doc = findings
    hits = [f for _, f in _all(doc) if f.get("rule") == "DENY002"]
    assert {f["message"].split(":")[0] for f in hits} == {"cosmos_rbac[system-assigned]", "cosmos_rbac[user-assigned]"}
    assert all("AuthorizationFailed" in f["message"] and "'Access data'" in f["message"] for f in hits), hits
    text = _seed_text(COSMOS_RBAC_SEED)
    grant = ("\n```azurecli\naz role assignment create --assignee $principalId --role \"DocumentDB Account "
             "Contributor\" --scope $accountId\n```\n\n## Access data\n")
    assert text.count("\n## Access data\n") == 1
    fixed = _check_text(tmp_path, COSMOS_RBAC_SEED, text.replace("\n## Access data\n", grant))
    assert not [f for _, f in _all(fixed) if f.get("rule") == "DENY002"]


def test_milab_limits_are_not_page_findings(findings):
    code, _, doc = findings
    assert not any(f["rule"] in ("API003", "MD006") for _, f in _all(doc))
    gaps = {f["rule"] for p in doc["pages"] for f in p["not_checked"]}
    assert {"API003", "MD006"} <= gaps
    assert all(f["fix"] for _, f in _all(doc))


def test_a_step_refused_as_the_page_writes_it_is_reported(findings):
    """The 2019 Windows Cosmos DB page assigns Cosmos DB Account Reader Role, then calls listKeys:
    the registry's page_denied fact (the 403 the scenario shows) is reported at that call."""
    _, _, doc = findings
    hits = [f for _, f in _all(doc) if f.get("rule") == "DENY001"]
    assert any("listKeys" in f["message"] and "cosmos_keys[windows]" in f["message"] for f in hits), hits
