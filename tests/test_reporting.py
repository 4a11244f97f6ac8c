"""milab.reporting: files written by every run, matrix rows, redaction of the written files,
and xdist giving the same matrix as a serial run. Inner runs happen under pytester's tmp path."""
from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from milab.redact import RedactingFilter, redact_markup
from milab.reporting.matrix import MatrixRow, load_matrix, load_matrix_document, write_matrix
from milab.reporting.plugin import redact_html_text

pytest_plugins = ["pytester"]

# -W: the module is already imported by this test module, so pytest cannot assert-rewrite it
PLUGIN = ("-p", "milab.reporting.plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning")

JWT = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyJ9"
       ".U0lHTkFUVVJFT0ZUSEVKV1RUT0tFTkZPUlRFU1Q")
SAS_SIG = "SASSIGNATUREzz%2Bq9%3D"
ACCOUNT_KEY = "QUNDT1VOVEtFWVNFQ1JFVGZvcnRlc3Rz+/AA=="
CLIENT_SECRET = "ClientSecretRegistered~9x"
SECRETS = (JWT.split(".")[0], JWT.split(".")[1], JWT.split(".")[2], SAS_SIG, ACCOUNT_KEY, CLIENT_SECRET)

REPORT_FILES = ("junit.xml", "report.html", "matrix.md", "matrix.html", "matrix.json")

SCENARIOS = '''
import logging, time
import pytest

@pytest.fixture
def slow_fixture():
    time.sleep(0.05)
    yield
    time.sleep(0.05)

@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture could not start the emulator")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown failed")

@pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
def test_linux_system(slow_fixture):
    time.sleep(0.05)

@pytest.mark.tutorial(family="arm_read", variant="windows-system-assigned")
def test_windows_system():
    assert 1 + 1 == 3, "ARM returned the wrong resource group"

@pytest.mark.tutorial(family="arm_read", variant="linux-user-assigned")
def test_linux_user():
    pytest.skip("no user-assigned identity in this target")

@pytest.mark.tutorial(family="arm_read", variant="windows-user-assigned")
@pytest.mark.xfail(reason="emulator lacks the UA endpoint", strict=True)
def test_windows_user():
    assert False

@pytest.mark.tutorial(family="token_endpoint", variant="http")
def test_token_setup_error(broken_fixture):
    pass

@pytest.mark.tutorial(family="token_endpoint")
def test_token_no_variant():
    pass

@pytest.mark.tutorial(family="token_endpoint")
@pytest.mark.parametrize("status", ["missing_metadata", "invalid_resource"])
def test_token_errors(status):
    pass

@pytest.mark.tutorial(family="token_endpoint", variant="http", section="Error handling")
def test_token_teardown_error(broken_teardown):
    pass

@pytest.mark.tutorial(family="no_such_family", variant="v1")
def test_unknown_page():
    pass

def test_project_own_test():
    pass
'''


@pytest.fixture(autouse=True)
def _plugin_autoload(monkeypatch):
    # pytest-html and pytest-metadata are needed in the inner runs.
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


def _rows(path: Path) -> dict[str, MatrixRow]:
    return {r.nodeid: r for r in load_matrix(path)}


def _comparable(path: Path) -> list[dict]:
    rows = []
    for row in load_matrix(path):
        d = row.to_dict()
        d.pop("duration")
        rows.append(d)
    return sorted(rows, key=lambda d: d["nodeid"])


def _assert_no_secrets(reports: Path) -> None:
    for name in REPORT_FILES:
        text = (reports / name).read_text(encoding="utf-8")
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {name}"


# --------------------------------------------------------------------------- files and rows

def test_every_run_writes_reports_and_matrix(pytester: pytest.Pytester):
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out")
    result.assert_outcomes(passed=7, failed=1, skipped=1, xfailed=1, errors=2)
    result.stdout.fnmatch_lines(["*milab reports in*out*junit.xml, report.html, matrix.md, matrix.html, matrix.json*"])
    reports = pytester.path / "out"
    for name in REPORT_FILES:
        assert (reports / name).is_file(), name

    ET.parse(reports / "junit.xml")  # well-formed
    html_text = (reports / "report.html").read_text(encoding="utf-8")
    assert "test_scenarios.py::test_windows_system" in html_text
    assert '<link rel="stylesheet"' not in html_text  # self-contained: styles inlined
    assert not (reports / "assets").exists()

    rows = _rows(reports)
    prefix = "test_scenarios.py::"
    assert set(rows) == {prefix + n for n in (
        "test_linux_system", "test_windows_system", "test_linux_user", "test_windows_user",
        "test_token_setup_error", "test_token_no_variant", "test_token_errors[missing_metadata]",
        "test_token_errors[invalid_resource]", "test_token_teardown_error", "test_unknown_page")}
    assert prefix + "test_project_own_test" not in rows  # no marker: not a row

    outcomes = {nodeid[len(prefix):]: r.outcome for nodeid, r in rows.items()}
    assert outcomes == {
        "test_linux_system": "passed", "test_windows_system": "failed",
        "test_linux_user": "skipped", "test_windows_user": "xfailed",
        "test_token_setup_error": "error", "test_token_no_variant": "passed",
        "test_token_errors[missing_metadata]": "passed", "test_token_errors[invalid_resource]": "passed",
        "test_token_teardown_error": "error", "test_unknown_page": "passed",
    }

    linux = rows[prefix + "test_linux_system"]
    assert (linux.family, linux.variant, linux.target) == ("arm_read", "linux-system-assigned", "emulator")
    assert linux.page_title == "Use a Linux VM system-assigned managed identity to access Azure Resource Manager"
    assert linux.page_file == "tutorial-linux-vm-access-arm.md"
    assert linux.sections and "Grant your VM access" in linux.sections[0]
    assert linux.duration >= 0.15  # setup 0.05 + call 0.05 + teardown 0.05
    assert linux.reason is None

    failed = rows[prefix + "test_windows_system"]
    assert failed.page_file == "tutorial-windows-vm-access-arm.md"
    assert "ARM returned the wrong resource group" in failed.reason and "\n" not in failed.reason
    assert "fixture could not start the emulator" in rows[prefix + "test_token_setup_error"].reason
    assert "teardown failed" in rows[prefix + "test_token_teardown_error"].reason
    assert rows[prefix + "test_token_teardown_error"].sections == ["Error handling"]

    # variant omitted: the parametrize id, else the function name; page from registry.find(family)
    assert rows[prefix + "test_token_errors[missing_metadata]"].variant == "missing_metadata"
    no_variant = rows[prefix + "test_token_no_variant"]
    assert no_variant.variant == "test_token_no_variant"
    assert no_variant.page_file == "how-to-use-vm-token.md"
    unknown = rows[prefix + "test_unknown_page"]
    assert (unknown.page_title, unknown.page_file, unknown.sections) == (None, None, [])

    doc = load_matrix_document(reports / "matrix.json")
    assert doc["summary"] == {"passed": 5, "failed": 1, "error": 2, "skipped": 1, "xfailed": 1, "total": 10}
    md = (reports / "matrix.md").read_text(encoding="utf-8")
    assert "**Summary:** 10 scenario tests: 5 passed, 1 failed, 2 error, 1 skipped, 1 xfailed" in md
    assert md.index("## arm_read") < md.index("## no_such_family") < md.index("## token_endpoint")
    assert "_unknown_" in md
    assert "test_project_own_test" not in md

    # the tutorial information also travels in junit.xml as a property
    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    assert 'name="milab_tutorial"' in junit


def test_default_reports_dir_is_under_rootdir(pytester: pytest.Pytester, monkeypatch):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_one='''
        import pytest
        @pytest.mark.tutorial(family="arm_read", variant="linux-user-assigned")
        def test_a():
            pass
    ''')
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)  # invoked from a subdirectory: still <rootdir>/reports
    result = pytester.runpytest(*PLUGIN, str(pytester.path / "test_one.py"))
    result.assert_outcomes(passed=1)
    assert not (sub / "reports").exists()
    for name in REPORT_FILES:
        assert (pytester.path / "reports" / name).is_file()
    [row] = load_matrix(pytester.path / "reports")
    assert row.page_file == "tutorial-linux-vm-ua-arm.md"


def test_no_scenarios_gives_empty_matrix(pytester: pytest.Pytester):
    pytester.makepyfile(test_plain="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out")
    result.assert_outcomes(passed=2)
    reports = pytester.path / "out"
    assert load_matrix(reports) == []
    doc = json.loads((reports / "matrix.json").read_text())
    assert doc["rows"] == [] and doc["summary"]["total"] == 0
    md = (reports / "matrix.md").read_text()
    assert "the matrix is empty" in md
    assert "| Family | Variant |" in md
    assert (reports / "junit.xml").is_file() and (reports / "report.html").is_file()


def test_no_reports_writes_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", "--no-reports")
    result.assert_outcomes(passed=7, failed=1, skipped=1, xfailed=1, errors=2)
    assert not (pytester.path / "out").exists()
    assert not (pytester.path / "reports").exists()
    assert "milab reports" not in result.stdout.str()
    assert "Generated html report" not in result.stdout.str()


def test_user_junitxml_and_html_are_respected_and_redacted(pytester: pytest.Pytester):
    pytester.makepyfile(test_leak=f'''
        import pytest
        @pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
        def test_leak():
            raise AssertionError("AccountKey={ACCOUNT_KEY};")
    ''')
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", "--junitxml=mine/j.xml", "--html=mine/h.html")
    result.assert_outcomes(failed=1)
    mine = pytester.path / "mine"
    assert (mine / "j.xml").is_file() and (mine / "h.html").is_file()
    assert not (pytester.path / "out" / "junit.xml").exists()
    assert not (pytester.path / "out" / "report.html").exists()
    assert (pytester.path / "out" / "matrix.json").is_file()
    for path in (mine / "j.xml", mine / "h.html"):
        assert ACCOUNT_KEY not in path.read_text(encoding="utf-8")


def test_target_option_from_another_plugin(pytester: pytest.Pytester):
    pytester.makeconftest('''
        def pytest_addoption(parser):
            parser.addoption("--target", default="emulator", choices=["emulator", "azure"])
    ''')
    pytester.makepyfile(test_t='''
        import pytest
        @pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
        def test_a():
            pass
    ''')
    pytester.runpytest(*PLUGIN, "--reports-dir", "out", "--target", "azure").assert_outcomes(passed=1)
    [row] = load_matrix(pytester.path / "out" / "matrix.json")
    assert row.target == "azure"
    assert load_matrix_document(pytester.path / "out")["target"] == "azure"


# --------------------------------------------------------------------------- redaction

LEAKY = f'''
import logging
import pytest
from milab.redact import register_secret

JWT = "{JWT}"
SAS = "https://acct.blob.core.windows.net/c/b.txt?sv=2021-08-06&sp=r&sig={SAS_SIG}"
CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
LIST_KEYS = '{{"keys": [{{"keyName": "key1", "value": "{ACCOUNT_KEY}", "permissions": "FULL"}}]}}'
CLIENT_SECRET = "{CLIENT_SECRET}"

@pytest.mark.tutorial(family="arm_read", variant="linux-system-assigned")
def test_leaky(record_property, record_testsuite_property):
    register_secret(CLIENT_SECRET)
    record_property("request", "Authorization: Bearer " + JWT)
    record_testsuite_property("connection", CONN)  # goes straight into junit.xml
    print("token:", JWT)
    print("sas:", SAS)
    print("conn:", CONN)
    print("listKeys:", LIST_KEYS)
    print("secret:", CLIENT_SECRET)
    logging.getLogger("milab.test").warning("calling ARM with Bearer %s", JWT)
    headers = {{"Authorization": "Bearer " + JWT}}
    raise AssertionError(f"ARM said 401 for {{headers}} sas={{SAS}} conn={{CONN}} secret={{CLIENT_SECRET}}")

@pytest.mark.tutorial(family="token_endpoint", variant="http")
def test_leaky_call_error():
    raise RuntimeError("token " + JWT)

@pytest.mark.tutorial(family="arm_read", variant="windows-system-assigned")
@pytest.mark.xfail(reason="key " + CONN)
def test_leaky_xfail():
    assert False, SAS

@pytest.mark.tutorial(family="arm_read", variant="linux-user-assigned")
def test_leaky_skip():
    pytest.skip("skipped with " + SAS)
'''


def test_secrets_do_not_reach_report_files(pytester: pytest.Pytester):
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest(*PLUGIN, "--reports-dir", "out", "--metadata", "sas", f"?sv=1&sig={SAS_SIG}")
    result.assert_outcomes(failed=2, skipped=1, xfailed=1)
    reports = pytester.path / "out"
    _assert_no_secrets(reports)
    # ... nor the terminal
    for secret in SECRETS:
        assert secret not in result.stdout.str()

    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    ET.parse(reports / "junit.xml")  # still well-formed after post-processing
    assert "sig=&lt;redacted&gt;" in junit or "sig=<redacted>" in junit.replace("&lt;", "<").replace("&gt;", ">")
    assert "AccountKey=&lt;redacted&gt;" in junit
    assert "Bearer &lt;redacted&gt;" in junit
    html_text = (reports / "report.html").read_text(encoding="utf-8")
    assert "redacted" in html_text
    rows = _rows(reports)
    failed = rows["test_leaky.py::test_leaky"]
    assert failed.outcome == "failed" and "<redacted>" in failed.reason
    assert "401" in failed.reason
    assert rows["test_leaky.py::test_leaky_call_error"].reason == "RuntimeError: token <redacted>"
    md = (reports / "matrix.md").read_text(encoding="utf-8")
    assert "<redacted>" in md


def test_safety_net_runs_after_junit_and_html_are_written(pytester: pytest.Pytester):
    """record_testsuite_property and --metadata bypass test reports; without the plugin's
    post-processing they would reach junit.xml and report.html."""
    pytester.makepyfile(test_suite_prop=f'''
        def test_a(record_testsuite_property):
            record_testsuite_property("conn", "AccountKey={ACCOUNT_KEY};")
    ''')
    meta = ("--metadata", "token", f"Bearer {JWT}")
    # Control: the same run with --no-reports and explicit paths leaks (the net is needed) ...
    pytester.runpytest(*PLUGIN, "--no-reports", "--junitxml=raw/j.xml", "--html=raw/h.html",
                       "--self-contained-html", *meta).assert_outcomes(passed=1)
    raw_junit = (pytester.path / "raw" / "j.xml").read_text(encoding="utf-8")
    raw_html = (pytester.path / "raw" / "h.html").read_text(encoding="utf-8")
    assert ACCOUNT_KEY in raw_junit and JWT.split(".")[1] in raw_html
    # ... and the post-processing only touches the secrets.
    assert redact_markup(raw_junit).replace("&lt;redacted&gt;", "") == raw_junit.replace(ACCOUNT_KEY, "")
    clean_html = redact_html_text(raw_html)
    assert JWT.split(".")[1] not in clean_html
    assert redact_html_text(clean_html) == clean_html

    pytester.runpytest(*PLUGIN, "--reports-dir", "out", *meta).assert_outcomes(passed=1)
    reports = pytester.path / "out"
    assert ACCOUNT_KEY not in (reports / "junit.xml").read_text(encoding="utf-8")
    assert "AccountKey=&lt;redacted&gt;" in (reports / "junit.xml").read_text(encoding="utf-8")
    html_text = (reports / "report.html").read_text(encoding="utf-8")
    for part in JWT.split("."):
        assert part not in html_text


def test_clean_html_is_not_changed_by_post_processing(pytester: pytest.Pytester):
    pytester.makepyfile(test_scenarios=SCENARIOS)
    pytester.runpytest(*PLUGIN, "--no-reports", "--html=raw.html", "--self-contained-html",
                       "--junitxml=raw.xml")
    for name in ("raw.html", "raw.xml"):
        text = (pytester.path / name).read_text(encoding="utf-8")
        assert redact_markup(text) == text
    html_text = (pytester.path / "raw.html").read_text(encoding="utf-8")
    assert redact_html_text(html_text) == html_text


def test_log_filter_on_root_handlers_for_the_session(pytester: pytest.Pytester):
    pytester.makepyfile(test_log=f'''
        import logging
        def test_log(caplog):
            caplog.set_level(logging.INFO)
            logging.getLogger("milab.x").info("token=%s", "Bearer {JWT}")
            assert "Bearer <redacted>" in caplog.text
            assert "{JWT.split('.')[0]}" not in caplog.text
    ''')

    def ours() -> int:
        return sum(isinstance(f, RedactingFilter)
                   for h in logging.getLogger().handlers for f in h.filters)

    before = ours()
    result = pytester.runpytest(*PLUGIN, "--no-reports", "-o", "log_cli=true", "-o", "log_cli_level=INFO")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*token=Bearer <redacted>*"])
    assert JWT.split(".")[0] not in result.stdout.str()
    assert ours() == before  # taken off again at the end of the session


# --------------------------------------------------------------------------- xdist

def test_xdist_gives_the_same_matrix_as_serial(pytester: pytest.Pytester):
    pytester.makepyfile(test_scenarios=SCENARIOS, test_leaky=LEAKY)
    serial = pytester.runpytest_subprocess(*PLUGIN, "--reports-dir", "serial")
    serial.assert_outcomes(passed=7, failed=3, skipped=2, xfailed=2, errors=2)
    parallel = pytester.runpytest_subprocess("-p", "xdist", *PLUGIN, "-n", "2", "--reports-dir", "parallel")
    parallel.assert_outcomes(passed=7, failed=3, skipped=2, xfailed=2, errors=2)
    assert "gw1" in parallel.stdout.str() or "2 workers" in parallel.stdout.str()

    s, p = pytester.path / "serial", pytester.path / "parallel"
    assert _comparable(p / "matrix.json") == _comparable(s / "matrix.json")
    assert len(load_matrix(p)) == 14
    assert load_matrix_document(p)["summary"] == load_matrix_document(s)["summary"]
    slow = _rows(p)["test_scenarios.py::test_linux_system"]
    assert slow.duration >= 0.15
    for reports in (s, p):
        _assert_no_secrets(reports)
        ET.parse(reports / "junit.xml")
    # the controller wrote the files; workers did not scatter their own
    assert sorted(x.name for x in p.iterdir()) == sorted(REPORT_FILES)


# --------------------------------------------------------------------------- matrix API

def test_write_and_load_matrix_round_trip(tmp_path: Path):
    rows = [
        MatrixRow(family="token_endpoint", variant="http", page_title="How to | acquire a token",
                  page_file="how-to-use-vm-token.md", sections=["Get a token using HTTP"],
                  target="azure", outcome="failed", duration=1.23456,
                  nodeid="scenarios/test_token_endpoint.py::test_http",
                  reason=f"401 with\nAuthorization: Bearer {JWT}"),
        {"family": "arm_read", "variant": "linux-system-assigned", "page_title": None, "page_file": None,
         "sections": [], "target": "azure", "outcome": "passed", "duration": 0.5,
         "nodeid": f"scenarios/test_arm_read.py::test_arm_read[?sig={SAS_SIG}]", "reason": None,
         "ignored_extra_key": 1},
    ]
    md_path, json_path = write_matrix(rows, tmp_path / "m")
    assert (md_path.name, json_path.name) == ("matrix.md", "matrix.json")
    loaded = load_matrix(json_path)
    assert [r.family for r in loaded] == ["arm_read", "token_endpoint"]  # grouped/sorted by family
    assert load_matrix(tmp_path / "m") == loaded == load_matrix(md_path)
    token = loaded[1]
    assert token.reason == "401 with Authorization: Bearer <redacted>"  # one line, redacted
    assert token.duration == pytest.approx(1.23456)
    assert "sig=<redacted>" in loaded[0].nodeid
    md = md_path.read_text(encoding="utf-8")
    assert "How to \\| acquire a token" in md
    assert "target: `azure`" in md
    for secret in (SAS_SIG, *JWT.split(".")):
        assert secret not in md and secret not in json_path.read_text(encoding="utf-8")
