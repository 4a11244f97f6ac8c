import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from milab.docs import cli
from milab.docs.gate import changed_since, check_files, run_scenarios
from milab.docs.report import redact

PAGES = Path(__file__).parent / "pages"


def test_check_writes_three_reports_and_exit_status(tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli.main(["check", str(PAGES / "broken-learn.md"), "--out", str(out), "--no-shellcheck", "-q"])
    assert rc == 1
    data = json.loads((out / "docs-findings.json").read_text())
    assert data["summary"]["error"] > 0 and data["pages"][0]["findings"]
    md = (out / "docs-findings.md").read_text()
    assert "## Summary by page" in md and "line 45" in md
    junit = (out / "docs-junit.xml").read_text()
    assert "<failure" in junit and "testcase" in junit
    rc = cli.main(["check", str(PAGES / "clean-learn.md"), "--out", str(out), "--no-shellcheck", "-q"])
    assert rc == 0


def test_bad_usage_exits_2_without_traceback(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.md"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no such file or directory" in err and "Traceback" not in err
    assert cli.main(["check", str(PAGES), "--rules", "XYZ1", "--out", str(tmp_path / "o")]) == 2
    assert cli.main(["check"]) == 2
    assert cli.main(["check", str(tmp_path), "--changed-since", "HEAD", "--out", str(tmp_path / "o")]) == 2
    assert "git" in capsys.readouterr().err


def test_map_prints_the_registry(capsys):
    assert cli.main(["map"]) == 0
    out = capsys.readouterr().out
    assert "scenarios/test_arm_read.py::test_arm_read[windows-system-assigned]" in out
    assert "imds_api_version: 2018-02-01" in out
    assert cli.main(["map", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tutorial"].startswith("arm_read[")


def test_redaction():
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"
    s = redact(f"token {jwt} sas ?sv=2015&sig=JVhIWG48nmqx%2F400E%3D&se=1 AccountKey=abcd1234==;x "
               '{"primaryReadonlyMasterKey":"bWpDxS...dzQ=="}')
    assert "eyJhdWQ" not in s and "JVhIWG48" not in s and "abcd1234" not in s and "bWpDxS" not in s
    assert "sig=<redacted>" in s


def test_report_output_is_redacted(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# P\n\n```json\n{ \"access_token\": \"eyJ0eXAiOiJKV1Qi.eyJ4Ijo\", }\n```\n")
    cli.main(["check", str(page), "--out", str(tmp_path / "o"), "-q"])
    for name in ("docs-findings.md", "docs-findings.json", "docs-junit.xml"):
        assert "eyJ0eXAiOiJKV1Qi" not in (tmp_path / "o" / name).read_text()


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin"})


def test_changed_since_selects_changed_and_untracked_pages(tmp_path):
    repo = tmp_path / "docs"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.md").write_text("# A\n")
    (repo / "b.md").write_text("# B\n")
    (repo / "code.py").write_text("x = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    (repo / "a.md").write_text("# A changed\n")
    (repo / "c.md").write_text("# C new\n")
    (repo / "code.py").write_text("x = 2\n")
    names = sorted(p.name for p in changed_since(str(repo), "HEAD"))
    assert names == ["a.md", "c.md"]
    with pytest.raises(Exception):
        changed_since(str(repo), "no-such-rev")


def test_run_feeds_page_facts_to_the_scenarios(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scenarios").mkdir(parents=True)
    (repo / "conftest.py").write_text(textwrap.dedent('''
        import json, pytest
        def pytest_addoption(parser):
            parser.addoption("--doc-facts")
            parser.addoption("--target", default="emulator")
        @pytest.fixture
        def doc_facts(request):
            return json.load(open(request.config.getoption("--doc-facts")))
    '''))
    (repo / "scenarios" / "test_arm_read.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.mark.parametrize("variant", ["windows-system-assigned", "linux-system-assigned"])
        def test_arm_read(variant, doc_facts):
            facts = doc_facts.get(f"arm_read[{variant}]", {})
            assert facts.get("arm_api_version") == "2016-06-01"
    '''))
    page = tmp_path / "page.md"
    page.write_text("# Use a Windows VM system-assigned managed identity to access Resource Manager\n\n"
                    "```powershell\n(Invoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUB>/"
                    "resourceGroups/<RG>?api-version=2016-06-01' -Headers @{Authorization=\"Bearer $t\"}).content\n```\n")
    results, _ = check_files([page], shellcheck=False)
    assert [t.key for t in results[0].tutorials] == ["arm_read[windows-system-assigned]"]
    seen = []
    run_scenarios(results, target="emulator", out_dir=tmp_path / "out", repo_root=repo, python=sys.executable,
                  progress=seen.append)
    facts = json.loads((tmp_path / "out" / "docs-facts.json").read_text())
    assert facts["arm_read[windows-system-assigned]"]["arm_api_version"] == "2016-06-01"
    (s,) = results[0].scenarios
    assert s["outcome"] == "passed", s
    assert s["test"] == "scenarios/test_arm_read.py::test_arm_read[windows-system-assigned]"
    # progress while it runs: one line per finished test
    assert seen == ["[1] passed  scenarios/test_arm_read.py::test_arm_read[windows-system-assigned]"], seen

    # a page whose api-version the scenario refuses: the failure's reason is on the failure's line
    page.write_text(page.read_text().replace("2016-06-01", "2015-01-01"))
    results, _ = check_files([page], shellcheck=False)
    run_scenarios(results, target="emulator", out_dir=tmp_path / "out2", repo_root=repo, python=sys.executable)
    (s,) = results[0].scenarios
    assert s["outcome"] == "failed" and "2015-01-01" in s["message"], s


def test_check_run_prints_progress_and_each_failures_reason(tmp_path, monkeypatch, capsys):
    from milab.docs import gate

    def fake_run(results, *, progress=None, **kw):
        progress("[1] failed  scenarios/test_arm_read.py::test_arm_read[windows-system-assigned]")
        for r in results:
            for t in r.tutorials:
                r.scenarios.append({"tutorial": t.key, "test": t.test, "outcome": "failed", "time": 1.0,
                                    "message": "AssertionError: 403 AuthorizationFailed\nmore lines"})
        return []
    monkeypatch.setattr(gate, "run_scenarios", fake_run)
    page = tmp_path / "page.md"
    page.write_text("# Use a Windows VM system-assigned managed identity to access Resource Manager\n\n"
                    "```powershell\n(Invoke-WebRequest -Uri 'https://management.azure.com/subscriptions/<SUB>/"
                    "resourceGroups/<RG>?api-version=2016-06-01' -Headers @{Authorization=\"Bearer $t\"}).content\n```\n")
    from milab.cli import main
    main(["docs", "check", str(page), "--run", "--out", str(tmp_path / "out"), "--no-shellcheck"])
    out, err = capsys.readouterr()
    assert "[1] failed  scenarios/test_arm_read.py" in err
    assert "scenario scenarios/test_arm_read.py::test_arm_read[windows-system-assigned]: failed: AssertionError: " \
           "403 AuthorizationFailed" in out and "more lines" not in out, out
