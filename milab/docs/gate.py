"""The gate itself: which pages to check, checking them, and running the scenarios of
the tutorials they affect.

* :func:`collect_files` / :func:`changed_since` choose the documentation files.
* :func:`check_files` parses, extracts facts, runs the rules and maps pages to tutorials.
* :func:`tutorial_facts` states a page's facts in the keys of the registry's facts.
* :func:`run_scenarios` writes ``--doc-facts`` JSON and runs the affected scenario tests
  with pytest (``--junitxml``), returning each tutorial's outcome.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .. import registry
from . import facts as F
from .parser import Page, parse_file
from .rules import _MISSING, Finding, check_page, find_shellcheck

DOC_SUFFIXES = (".md", ".txt")
REPO_ROOT = Path(__file__).resolve().parents[2]


class UsageError(Exception):
    """Bad input from the user: reported with exit status 2, without a traceback."""


@dataclass
class PageResult:
    page: Page
    facts: F.PageFacts
    findings: list[Finding]
    tutorials: list = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def failed_scenarios(self) -> int:
        return sum(s["outcome"] not in ("passed", "skipped") for s in self.scenarios)


# ------------------------------------------------------------------ choosing files

def collect_files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise UsageError(f"no such file or directory: {p}")
        if path.is_dir():
            out += sorted(q for q in path.rglob("*") if q.is_file() and q.suffix.lower() in DOC_SUFFIXES
                          and not any(part.startswith(".") for part in q.relative_to(path).parts))
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"not a regular file or directory: {p}")
    return out


def changed_since(checkout: str, rev: str) -> list[Path]:
    """Pages changed since REV in the git checkout (plus untracked pages)."""
    root = Path(checkout)
    if not root.is_dir():
        raise UsageError(f"--changed-since needs a git checkout directory; {checkout} is not a directory")

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise UsageError("git is not installed") from None
        except subprocess.TimeoutExpired:
            raise UsageError(f"git {' '.join(args)} timed out") from None
        if proc.returncode != 0:
            raise UsageError(f"git {' '.join(args)} failed in {checkout}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
    names = git("diff", "--name-only", rev, "--", "*.md", "*.txt").splitlines()
    names += git("ls-files", "--others", "--exclude-standard", "--", "*.md", "*.txt").splitlines()
    out = []
    for n in dict.fromkeys(n.strip() for n in names if n.strip()):
        p = (top / n) if (top / n).exists() else (root / n)
        if p.is_file():
            out.append(p)
    # only those under the given directory
    rr = root.resolve()
    return [p for p in out if rr == p.resolve() or rr in p.resolve().parents]


# ------------------------------------------------------------------ checking

def tutorials_for(page: Page) -> list:
    found = registry.by_page_title(page.title)
    if not found and page.layout == "learn":
        found = registry.by_file(Path(page.file).name)
    return found


def check_files(files: list[Path], *, shellcheck: str | None | bool = True,
                only: set[str] | None = None) -> tuple[list[PageResult], list[Finding]]:
    """Check files; returns (page results, run-level findings)."""
    run_findings: list[Finding] = []
    sc = find_shellcheck() if shellcheck is True else (shellcheck or None)
    if shellcheck is True and sc is None:
        run_findings.append(Finding("CODE002", "info", "", 0,
                                    "shellcheck is not installed (apt-get install -y shellcheck): bash and Azure "
                                    "CLI blocks were not checked"))
    results = []
    for path in files:
        try:
            pages = parse_file(path)
        except OSError as exc:
            run_findings.append(Finding("IO", "error", str(path), 0, f"cannot read: {exc}"))
            continue
        for page in pages:
            facts = F.extract(page)
            tuts = tutorials_for(page)
            findings = check_page(page, facts, tutorials=tuts, shellcheck=sc, only=only)
            results.append(PageResult(page, facts, findings, tuts))
    return results, run_findings


# ------------------------------------------------------------------ facts in registry keys

def tutorial_facts(tutorial, facts: F.PageFacts) -> dict[str, tuple[Any, int]]:
    """The page's value (and line) for each registry fact key the page states.

    Only facts the page actually states are returned: a page that does not show an IMDS
    request, the ARM request the scenario reproduces, or a role assignment simply has no
    value for those keys (it is not drift). Where the page states a fact several times
    (several IMDS requests, several roles), the scenario's value wins if the page states it
    anywhere."""
    out: dict[str, tuple[Any, int]] = {}
    keys = set(tutorial.facts)
    page = facts.page
    imds = [c for c in facts.imds_calls if "/metadata/identity/" in c.path and c.source != "code"] or \
        [c for c in facts.imds_calls if "/metadata/identity/" in c.path]
    want_res = tutorial.facts.get("imds_resource")

    def _res(c):
        return unquote(c.query.get("resource", "")).rstrip("/")

    call = None
    if imds:
        call = next((c for c in imds if want_res and _res(c) == str(want_res).rstrip("/")), None) \
            or next((c for c in imds if c.query.get("resource")), imds[0])
    if call is not None and keys & {"imds_url", "imds_api_version", "imds_resource", "imds_headers", "imds_selector"}:
        s = F.imds_summary(call)
        if "imds_url" in keys:
            p = call.parts
            out["imds_url"] = (f"{p.scheme}://{p.netloc}{p.path}", call.line)
        if "imds_api_version" in keys and s["api_version"]:
            vers = {F.imds_summary(c)["api_version"] for c in imds}
            want = tutorial.facts.get("imds_api_version")
            out["imds_api_version"] = (want if want in vers else s["api_version"], call.line)
        if "imds_resource" in keys and s["resource"] and "<" not in s["resource"] and "{" not in s["resource"]:
            out["imds_resource"] = (unquote(s["resource"]), call.line)
        if "imds_headers" in keys and s["metadata_header"]:
            out["imds_headers"] = ({"Metadata": "true"}, call.line)
        if "imds_selector" in keys and call.source != "code":
            sel = next(iter(s["selectors"]), None)
            out["imds_selector"] = (sel, call.line)
    arm_path = tutorial.facts.get("arm_path")
    if arm_path and keys & {"arm_path", "arm_api_version"}:
        want_shape = _shape(arm_path)
        # the request the scenario reproduces, whatever its method (listKeys is a POST)
        arm = [c for c in facts.arm_calls if _shape(c.path) == want_shape]
        if arm:
            vers = [c.api_version for c in arm if c.api_version and "<" not in c.api_version]
            want = tutorial.facts.get("arm_api_version")
            if vers:
                hit = next((c for c in arm if c.api_version == want), None) or \
                    next(c for c in arm if c.api_version in vers)
                out["arm_api_version"] = (want if want in vers else vers[0], hit.line)
            out["arm_path"] = (arm_path, arm[0].line)
    if "role" in keys:
        want = str(tutorial.facts["role"])
        stated = [r for r in facts.roles if r.name and r.kind == "rbac" and "<" not in r.name]
        assigned = [r for r in stated if r.command or r.source in ("output", "template", "json")]
        if any(r.name.lower() == want.lower() for r in stated):
            hit = next(r for r in stated if r.name.lower() == want.lower())
            out["role"] = (want, hit.line)
        elif assigned:
            out["role"] = (assigned[0].name, assigned[0].line)
    if "selectors" in keys:
        text = "\n".join(t.text for t in page.prose) + "\n".join(b.text for b in page.code_blocks)
        present = [s for s in ("object_id", "client_id", "mi_res_id", "msi_res_id") if s in text]
        want = tutorial.facts["selectors"]
        if present:
            out["selectors"] = ([s for s in want if s in present] if set(want) <= set(present) else present,
                                page.line)
    if "response_fields" in keys:
        for line, data in facts.outputs:
            if isinstance(data, dict) and "access_token" in data:
                out["response_fields"] = (sorted(data.keys()), line)
                break
    if "errors" in keys:
        text = "\n".join(t.text for t in page.prose)
        want = tutorial.facts["errors"]
        missing = [name for name, e in want.items() if str(e.get("error")) not in text]
        if missing and len(missing) < len(want):
            out["errors"] = ({k: v for k, v in want.items() if k not in missing}, page.line)
    return out


def _shape(path: str) -> str:
    segs = [s for s in path.split("?")[0].split("/") if s]
    return "/".join(s.lower() if i % 2 == 0 else "*" for i, s in enumerate(segs))


def doc_facts_for_run(result: PageResult) -> dict[str, dict[str, Any]]:
    out = {}
    for t in result.tutorials:
        got = tutorial_facts(t, result.facts)
        out[t.key] = {k: v for k, (v, _) in got.items() if v is not _MISSING}
    return out


# ------------------------------------------------------------------ running scenarios

def run_scenarios(results: list[PageResult], *, target: str, out_dir: Path,
                  repo_root: Path = REPO_ROOT, timeout: int = 1800,
                  python: str = sys.executable) -> list[Finding]:
    """Run the scenarios of the tutorials the pages map to; attach outcomes to the results."""
    affected = [r for r in results if r.tutorials]
    if not affected:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    doc_facts: dict[str, dict[str, Any]] = {}
    modules: list[str] = []
    terms: list[str] = []
    for r in affected:
        for key, facts in doc_facts_for_run(r).items():
            doc_facts.setdefault(key, {}).update(facts)
        for t in r.tutorials:  # every test of the tutorial: its main test and its denials
            if t.module not in modules:
                modules.append(t.module)
            if t.selection() not in terms:
                terms.append(t.selection())
    facts_file = out_dir / "docs-facts.json"
    facts_file.write_text(json.dumps(doc_facts, indent=2, sort_keys=True), encoding="utf-8")
    junit = out_dir / "docs-scenarios-junit.xml"
    if junit.exists():
        junit.unlink()
    cmd = [python, "-m", "pytest", *modules, "-k", " or ".join(terms), "--doc-facts", str(facts_file),
           "--target", target,
           "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    env = dict(os.environ)
    try:
        proc = subprocess.run(cmd, cwd=str(repo_root), capture_output=True, text=True, timeout=timeout, env=env)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        rc, tail = -1, f"pytest did not finish within {timeout} s"
    except OSError as exc:
        rc, tail = -1, f"could not start pytest: {exc}"
    cases = parse_junit(junit, repo_root) if junit.exists() else []
    run_findings = []
    for r in affected:
        for t in r.tutorials:
            mine = [c for c in cases if t.owns(c["nodeid"])]
            if mine:
                for c in mine:
                    test_id = t.module + "::" + c["nodeid"].partition("::")[2]
                    r.scenarios.append({"tutorial": t.key, "test": test_id, "outcome": c["outcome"],
                                        "message": c["message"], "time": c["time"]})
            else:
                r.scenarios.append({"tutorial": t.key, "test": t.test, "outcome": "error",
                                    "message": f"no result for {t.test} (pytest exit status {rc}): {tail.strip()[-600:]}",
                                    "time": 0.0})
    return run_findings


def parse_junit(path: Path, repo_root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return []
    out = []
    for tc in root.iter("testcase"):
        classname = tc.get("classname", "")
        name = tc.get("name", "")
        file = tc.get("file")
        parts = classname.split(".")
        # pytest: classname 'scenarios.test_x' or 'scenarios.test_x.TestClass'
        mod_parts, cls = parts, []
        for i in range(len(parts), 0, -1):
            cand = repo_root.joinpath(*parts[:i]).with_suffix(".py")
            if cand.exists():
                mod_parts, cls = parts[:i], parts[i:]
                break
        module = file or "/".join(mod_parts) + ".py"
        nodeid = "::".join([module, *cls, name])
        outcome, message = "passed", ""
        for tag in ("failure", "error"):
            el = tc.find(tag)
            if el is not None:
                outcome, message = ("failed" if tag == "failure" else "error"), el.get("message", "")
        sk = tc.find("skipped")
        if sk is not None:
            outcome, message = "skipped", sk.get("message", "")
        out.append({"nodeid": nodeid, "outcome": outcome, "message": message,
                    "time": float(tc.get("time", "0") or 0)})
    return out
