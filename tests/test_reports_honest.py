"""Reports tell the truth about the run: a run that ran no test leaves reports/ as it was, an
interrupted one says INCOMPLETE with the count never run; the grid shows each check's status and
code; pytest's own failure output never shows a token."""
from __future__ import annotations

import json

import pytest

from milab.guest import HttpResult, HttpStep
from milab.reporting import checks, grid
from milab.reporting.matrix import MatrixRow

pytest_plugins = ["pytester"]
PLUGIN = ("-p", "milab.reporting.plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning")
FILES = ("junit.xml", "report.html", "matrix.md", "matrix.html", "matrix.json")

SCENARIO = '''
import pytest
from milab.reporting import checks

@pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
def test_arm_read():
    checks.record("before the grant", passed=True, status=403, code="AuthorizationFailed",
                  expected="403 AuthorizationFailed")
    checks.record("after the role assignment was deleted", passed=False, status=200, expected="403 AuthorizationFailed")
    assert False, "after the role assignment was deleted: expected 403 AuthorizationFailed, got 200"

@pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
def test_arm_read_denied_expired_token():
    checks.record("an expired token", passed=True, status=401, code="ExpiredAuthenticationToken",
                  expected="401 ExpiredAuthenticationToken")
'''


@pytest.fixture(autouse=True)
def _autoload(monkeypatch):
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


def _snapshot(out):
    return {n: (out / n).read_bytes() for n in FILES}


def test_a_run_with_no_test_leaves_the_reports_as_they_were(pytester: pytest.Pytester):
    pytester.makepyfile(test_s=SCENARIO)
    pytester.runpytest(*PLUGIN, "--reports-dir", "out")
    out = pytester.path / "out"
    before = _snapshot(out)
    for args in (["--collect-only"], ["-k", "no_such_test"], ["no_such_file.py"]):
        result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", *args)
        assert "left as it was" in result.stdout.str(), args
        assert _snapshot(out) == before, f"{args} overwrote reports"
        assert sorted(p.name for p in out.iterdir()) == sorted(FILES), args


def test_no_earlier_reports_and_no_test_writes_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(test_s=SCENARIO)
    pytester.runpytest(*PLUGIN, "--reports-dir", "out", "--collect-only")
    out = pytester.path / "out"
    assert not out.exists() or not any(out.iterdir())


def test_an_interrupted_run_is_marked_incomplete(pytester: pytest.Pytester):
    pytester.makepyfile(test_s=SCENARIO)
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", "-x")
    out = pytester.path / "out"
    assert "INCOMPLETE: the run was stopping after 1 failures; 1 of 2 tests never ran" in result.stdout.str()
    assert "INCOMPLETE" in (out / "matrix.md").read_text()
    assert "INCOMPLETE" in (out / "matrix.html").read_text()
    assert json.loads((out / "matrix.json").read_text())["incomplete"].endswith("1 of 2 tests never ran")
    assert ">INCOMPLETE - " in (out / "report.html").read_text()
    assert "INCOMPLETE" in (out / "junit.xml").read_text()
    full = pytester.runpytest(*PLUGIN, "--reports-dir", "out")
    assert "INCOMPLETE" not in full.stdout.str()
    assert json.loads((out / "matrix.json").read_text())["incomplete"] is None


def test_the_grid_shows_each_check_and_the_code_seen(pytester: pytest.Pytester):
    pytester.makepyfile(test_s=SCENARIO)
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    doc = json.loads((pytester.path / "out" / "matrix.json").read_text())
    [row] = [g for g in doc["grid"] if g["key"] == "linux-system-assigned"]
    assert row["status"] == "failed" and row["pivot"] == "tutorial" and row["os"] == "linux"
    assert row["cells"]["before the grant"] == {"status": "passed", "text": "\u2713 403 AuthorizationFailed"}
    assert row["cells"]["after the revoke"]["text"] == "\u2717 200 (want 403 AuthorizationFailed)"
    assert row["cells"]["expired token"]["status"] == "passed"
    assert doc["grid"][0]["key"] == "linux-system-assigned", "failures first"
    md = (pytester.path / "out" / "matrix.md").read_text()
    assert "## Procedures by check" in md and "\u2717 200 (want 403 AuthorizationFailed)" in md
    page = (pytester.path / "out" / "matrix.html").read_text()
    assert "http://" not in page.replace("http://169.254", "") and "<script" not in page  # self-contained
    report = (pytester.path / "out" / "report.html").read_text()
    assert "milab-reason" in report and "Family" in report and "col-page" in report.replace("&quot;", '"')
    assert "milab: by tutorial" in result.stdout.str()


def test_page_runner_rows_slot_into_their_procedure():
    rows = [MatrixRow(family="vm_identity_config", variant="", page_title=None, page_file=None,
                      procedure="VMC-SA-create", pivot="CLI", outcome="failed", check="main flow",
                      reason="az vm create: no such option", nodeid="page-runner::VMC-SA-create")]
    g = grid.build(rows)
    [cli] = [r for r in g if r.key == "VMC-SA-create"]
    assert cli.status == "failed" and cli.pivot == "CLI" and cli.page_title.startswith("Configure managed")
    assert g[0] is cli
    assert any(r.status == "page runner" for r in g), "the other page-runner procedures stay visible"


def test_page_runner_verdicts_share_the_row_of_the_procedures_scenario():
    """A verdict of a procedure a scenario also runs lands on the scenario's row, in its own cell."""
    rows = [MatrixRow(page_title=None, page_file=None, family="vm_identity_config", variant="rest-sa-enable", outcome="passed", nodeid="s::x"),
            MatrixRow(page_title=None, page_file=None, family="vm_identity_config", variant="VMR-SA-enable", procedure="VMR-SA-enable",
                      pivot="REST", outcome="xfailed", verdict="page-defect", verdict_step=3,
                      verdict_reason="PATCH body: unknown property", nodeid="p::VMR-SA-enable"),
            MatrixRow(page_title=None, page_file=None, family="vm_identity_config", variant="VMC-SA-enable", procedure="VMC-SA-enable",
                      pivot="CLI", outcome="xfailed", verdict="milab-gap", verdict_step=1, nodeid="p::c"),
            MatrixRow(page_title=None, page_file=None, family="token_endpoint", variant="TOK-CURL", procedure="TOK-CURL", pivot="REST",
                      outcome="skipped", verdict="not-run", verdict_reason="PowerShell", nodeid="p::t")]
    g = {(r.family, r.key): r for r in grid.build(rows)}
    assert grid.procedure_row("vm_identity_config", "VMR-SA-enable") == ("vm_identity_config", "rest-sa-enable")
    rest = g[("vm_identity_config", "rest-sa-enable")]
    assert any(c.status == "passed" for k, c in rest.cells.items() if k != "page steps"), "the scenario cell stays"
    assert rest.procedure == "VMR-SA-enable" and rest.cells["page steps"].status == "failed"
    assert rest.cells["page steps"].text() == "\u2717 page defect at step 3"
    assert not any(k == "VMR-SA-enable" for _, k in g), "no second row for the procedure"
    cli = g[("vm_identity_config", "VMC-SA-enable")]
    assert cli.status == "failed" and cli.cells["page steps"].text() == "\u2717 milab gap at step 1"
    assert g[("token_endpoint", "TOK-CURL")].cells["page steps"].status == "skipped"
    md = grid.render_markdown(list(g.values()))
    assert "| page steps |" in md.splitlines()[6] and "page defect at step 3: PATCH body" in md


def test_checks_are_classified_into_columns():
    assert checks.classify("a Key Vault token presented to ARM") == "wrong audience"
    assert checks.classify("a second VM that was never granted") == "ungranted caller"
    assert checks.classify("after the role assignment was deleted") == "after the revoke"
    assert checks.classify("reading a group the identity was not granted") == "beyond the grant"
    assert checks.classify("IMDS token request") is None
    assert checks.test_column("test_arm_read_denied_expired_token", "arm_read") == "expired token"
    assert checks.test_column("test_procedure[rest-ua-create-2018-as-written]", "x",
                              "rest-ua-create-2018-as-written") == "as written"


def test_http_result_repr_hides_tokens():
    token = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.SIGNATUREzzzzzzzzzzzzzzzzzzzzzzzz"
    r = HttpResult(401, json.dumps({"access_token": token}),
                   HttpStep("GET", "https://management.azure.com/x", {"Authorization": f"Bearer {token}"}))
    for text in (repr(r), repr(r.step), str(r)):
        assert "SIGNATURE" not in text and "zzzz" not in text
    assert "status=401" in repr(r)


def test_failure_output_of_a_failing_http_assertion_hides_the_token(pytester: pytest.Pytester):
    pytester.makepyfile(test_leak='''
        from milab.guest import HttpResult, HttpStep
        TOKEN = "eyJ0eXAiOiJKV1QifQ." + "eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ." + "TAILOFTHETOKEN" * 30
        def test_call():
            result = HttpResult(403, "{}", HttpStep("GET", "https://management.azure.com/x",
                                                    {"Authorization": "Bearer " + TOKEN}))
            assert result.status == 200
    ''')
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out")
    result.assert_outcomes(failed=1)
    assert "TAILOFTHETOKEN" not in result.stdout.str()
    assert "TAILOFTHETOKEN" not in (pytester.path / "out" / "report.html").read_text()
