"""The gate itself: which pages to check, checking them, and running the scenarios of
the tutorials they affect.

* :func:`collect_files` / :func:`changed_since` choose the documentation files.
* :func:`check_files` parses, extracts facts, runs the rules and maps pages to tutorials.
* :func:`tutorial_facts` states a page's facts in the keys of the registry's facts.
* :func:`run_scenarios` writes ``--doc-facts`` JSON and runs the affected scenario tests
  with pytest (``--junitxml``), returning each tutorial's outcome.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from .. import registry
from . import facts as F
from .parser import INCLUDE, Page, parse_text, read_file
from .rules import _LINE_REFS, Finding, check_page, find_shellcheck, group_findings

DOC_SUFFIXES = (".md", ".markdown", ".txt")
REPO_ROOT = Path(__file__).resolve().parents[2]


class UsageError(Exception):
    """Bad input from the user: reported with exit status 2, without a traceback."""


@dataclass
class PageResult:
    page: Page
    facts: F.PageFacts
    findings: list[Finding]  # defects, grouped
    tutorials: list = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    not_checked: list[Finding] = field(default_factory=list)  # milab's own limits, grouped
    suppressed: dict[str, int] = field(default_factory=dict)  # 'baseline' / 'unchanged' -> findings left out
    changed_lines: list[int] | None = None  # with --changed-since: the page's lines the change touched
    raw: list[Finding] = field(default_factory=list, repr=False)  # reported findings before grouping

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings if f.category == "defect")

    @property
    def failed_scenarios(self) -> int:
        return sum(s["outcome"] not in ("passed", "skipped") for s in self.scenarios)


# ------------------------------------------------------------------ choosing files

_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"\x7fELF", "an executable (ELF) file"), (b"PK\x03\x04", "a zip archive"),
          (b"\x1f\x8b", "a gzip archive"))
_SOURCE_SUFFIXES = {".py": "Python source", ".js": "JavaScript source", ".ts": "TypeScript source",
                    ".cs": "C# source", ".java": "Java source", ".ps1": "a PowerShell script", ".sh": "a shell script",
                    ".json": "JSON data", ".yml": "YAML", ".yaml": "YAML", ".html": "HTML", ".xml": "XML",
                    ".png": "a PNG image", ".jpg": "a JPEG image", ".svg": "an SVG image"}


def not_documentation(path: Path) -> str | None:
    """Why ``path`` is not a documentation page (None when it is one): the gate checks Learn
    Markdown (``.md``) and the plain-text export of a doc set (``.txt``), nothing else."""
    try:
        head = path.read_bytes()[:65536]
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    what = next((w for magic, w in _MAGIC if head.startswith(magic)), None)
    if what is None and b"\0" in head:
        what = "a binary file"
    if what is None and path.suffix.lower() not in DOC_SUFFIXES:
        what = _SOURCE_SUFFIXES.get(path.suffix.lower()) or (f"a '{path.suffix}' file" if path.suffix
                                                             else "a file without a .md or .txt suffix")
    if what is None:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
                what = "not UTF-8 text"
            text = head[:exc.start].decode("utf-8", "replace")
        if what is None and not text.strip():
            what = "empty"
        elif what is None and not re.search(r"^(#{1,6}\s+\S|---\s*$|```|~~~|\[!INCLUDE)", text, re.M | re.I):
            what = "text without a heading, front matter or code block (not Markdown)"
    if what is None:
        return None
    return f"{path} is {what}, not a documentation page (the gate checks Learn Markdown .md files and the .txt export)"


def collect_files(paths: list[str]) -> list[Path]:
    """The documentation files to check. A file that is not documentation, or a folder that holds
    none, is a :class:`UsageError` (the gate never reports '0 errors' for something it did not read)."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise UsageError(f"no such file or directory: {p}")
        if path.is_dir():
            found = sorted(q for q in path.rglob("*") if q.is_file() and q.suffix.lower() in DOC_SUFFIXES
                           and not any(part.startswith(".") for part in q.relative_to(path).parts))
            found = [q for q in found if not_documentation(q) is None]
            if not found:
                raise UsageError(f"{p} holds no documentation pages (no Markdown .md or export .txt files)")
            out += found
        elif path.is_file():
            why = not_documentation(path)
            if why:
                raise UsageError(why)
            out.append(path)
        else:
            raise UsageError(f"not a regular file or directory: {p}")
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------ what a change touched

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class ChangeSet:
    """What changed since a git revision: per file (resolved path), the lines of the new version
    that were added or modified, and where lines were only deleted."""
    rev: str
    top: Path
    root: Path
    lines: dict[str, set[int]] = field(default_factory=dict)
    deleted_at: dict[str, set[int]] = field(default_factory=dict)
    whole: set[str] = field(default_factory=set)  # new or untracked files: every line is new
    base_path: dict[str, str] = field(default_factory=dict)  # resolved path -> path at REV (renames)
    files: list[Path] = field(default_factory=list)  # documentation files to check
    _cache: dict[str, str | None] = field(default_factory=dict)

    def touched(self, file: str, line: int) -> bool:
        key = _key(file)
        return key in self.whole or line in self.lines.get(key, ())

    def touches_range(self, file: str, first: int, last: int) -> list[int]:
        key = _key(file)
        if key in self.whole:
            return list(range(first, last + 1))
        return sorted(n for n in self.lines.get(key, set()) | self.deleted_at.get(key, set()) if first <= n <= last)

    def changed(self, file: str) -> bool:
        key = _key(file)
        return key in self.whole or key in self.lines or key in self.deleted_at

    def base_text(self, path: str | Path) -> str | None:
        """The file as it was at REV (None when it did not exist)."""
        key = _key(path)
        if key in self.whole:
            return None
        rel = self.base_path.get(key)
        if rel is None:
            try:
                rel = str(Path(key).relative_to(self.top))
            except ValueError:
                return None
        if rel not in self._cache:
            proc = subprocess.run(["git", "-C", str(self.top), "show", f"{self.rev}:{rel}"], capture_output=True,
                                  timeout=60)
            self._cache[rel] = proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None
        return self._cache[rel]

    def base_opener(self, path: Path) -> str | None:
        if self.changed(str(path)) or _key(path) in self.whole:
            return self.base_text(path)
        return read_file(path)  # unchanged since REV: the file on disk is the file at REV


def _key(path: str | Path) -> str:
    return str(Path(path).resolve())


def _git(root: Path, *args: str, label: str | None = None) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise UsageError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {' '.join(args)} timed out") from None
    if proc.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed in {label or root}: "
                         f"{(proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ''}")
    return proc.stdout


def changes_since(checkout: str, rev: str) -> ChangeSet:
    """The lines changed since REV in the git checkout (working tree, staged, committed, untracked),
    and the documentation files to check: changed pages, and the pages that include a changed file."""
    root = Path(checkout)
    if not root.is_dir():
        raise UsageError(f"--changed-since needs a git checkout directory; {checkout} is not a directory")
    top = Path(_git(root, "rev-parse", "--show-toplevel", label=checkout).strip())
    try:
        _git(root, "rev-parse", "--verify", "--quiet", rev + "^{commit}", label=checkout)
    except UsageError:
        raise UsageError(f"--changed-since {rev}: no such revision in {checkout}") from None
    cs = ChangeSet(rev, top, root.resolve())
    diff = _git(root, "diff", "-U0", "--no-color", "--no-ext-diff", "-M", rev, "--", ".", label=checkout)
    cur: str | None = None
    old: str | None = None
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            cur = old = None
        elif line.startswith("--- "):
            old = None if line[4:] == "/dev/null" else line[6:] if line.startswith("--- a/") else line[4:]
        elif line.startswith("+++ "):
            if line[4:] == "/dev/null":
                cur = None  # deleted
                continue
            new = line[6:] if line.startswith("+++ b/") else line[4:]
            cur = _key(top / new)
            if old is None:
                cs.whole.add(cur)
            elif old != new:
                cs.base_path[cur] = old
            cs.lines.setdefault(cur, set())
        elif cur and (m := _HUNK.match(line)):
            start, count = int(m[3]), int(m[4]) if m[4] is not None else 1
            if count:
                cs.lines[cur].update(range(start, start + count))
            else:
                cs.deleted_at.setdefault(cur, set()).update({max(1, start), start + 1})
    for n in _git(root, "ls-files", "--others", "--exclude-standard", "--", ".", label=checkout).splitlines():
        if n.strip():
            cs.whole.add(_key(root / n.strip()))
    changed = sorted({k for k in [*cs.lines, *cs.whole, *cs.deleted_at]
                      if Path(k).suffix.lower() in DOC_SUFFIXES and Path(k).is_file()})
    changed = [k for k in changed if cs.root == Path(k) or cs.root in Path(k).parents]
    files = [Path(k) for k in changed if not_documentation(Path(k)) is None]
    cs.files = files + [p for p in includers(cs.root, [Path(k) for k in changed]) if p not in files]
    return cs


def includers(root: Path, changed: list[Path]) -> list[Path]:
    """Pages under ``root`` that include one of the ``changed`` files ([!INCLUDE ...])."""
    if not changed:
        return []
    names = sorted({p.name for p in changed})
    args = ["grep", "-l", "-F", "-i"] + [x for n in names for x in ("-e", n)] + ["--", "*.md"]
    try:
        listed = _git(root, *args).splitlines()
    except UsageError:
        listed = []  # git grep exits 1 when nothing matches
    want = {_key(p) for p in changed}
    out = []
    for rel in listed:
        page = (root / rel).resolve()
        if _key(page) in want:
            continue
        text = read_file(page) or ""
        for m in INCLUDE.finditer(text):
            target = m["path"].strip().split("#")[0]
            cands = [d / target[2:] for d in [page.parent, *page.parent.parents]] if target.startswith("~/") \
                else [page.parent / target]
            if any(_key(c) in want for c in cands):
                out.append(page)
                break
    return out


def changed_since(checkout: str, rev: str) -> list[Path]:
    """Documentation files changed since REV in the git checkout (plus untracked pages, and the
    pages that include a changed file)."""
    return changes_since(checkout, rev).files


# ------------------------------------------------------------------ fingerprints and the baseline

def fingerprint(f: Finding, line_text: str) -> str:
    """A finding's identity across line moves: its rule, page, file name, message (line numbers
    left out) and the text of the line it is on."""
    msg = " ".join(_LINE_REFS.sub("", f.message).split())
    key = "\x1f".join([f.rule, " ".join(f.page.split()).lower(), Path(f.file).name, msg, " ".join(line_text.split())])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


class _Lines:
    """Line text of files, read once (from disk, or through an opener)."""

    def __init__(self, opener=read_file):
        self.opener = opener
        self.cache: dict[str, list[str]] = {}

    def __call__(self, file: str, line: int) -> str:
        if file not in self.cache:
            text = self.opener(Path(file)) if file else None
            self.cache[file] = (text or "").replace("\r\n", "\n").split("\n")
        lines = self.cache[file]
        return lines[line - 1] if 0 < line <= len(lines) else ""


BASELINE_FORMAT = "milab-docs-baseline/1"


def load_baseline(path: str) -> Counter:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--baseline {path}: no such file (write one with 'milab docs baseline')") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--baseline {path}: not a baseline file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or not isinstance(data.get("findings"), list):
        raise UsageError(f"--baseline {path}: not a milab docs baseline (format {BASELINE_FORMAT!r} expected)")
    return Counter(str(e.get("fingerprint")) for e in data["findings"] if isinstance(e, dict))


def baseline_data(results: list[PageResult]) -> dict[str, Any]:
    """The baseline file's content: every reported finding (before grouping), by fingerprint."""
    entries = []
    for r in results:
        for f in r.raw or (r.findings + r.not_checked):
            entries.append({"fingerprint": f.fingerprint, "rule": f.rule, "page": f.page, "file": Path(f.file).name,
                            "line": f.line, "message": f.message})
    return {"format": BASELINE_FORMAT, "findings": sorted(entries, key=lambda e: (e["file"], e["line"], e["rule"]))}


# ------------------------------------------------------------------ checking

def tutorials_for(page: Page) -> list:
    found = registry.by_page_title(page.title)
    if not found and page.layout == "learn":
        found = registry.by_file(Path(page.file).name)
    return found


def _read_pages(path: Path, opener=None, text: str | None = None) -> list[Page]:
    if text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
    return parse_text(text, str(path), opener=opener)


def _match_base(page: Page, base_pages: list[Page], pages: list[Page]) -> Page | None:
    same = [p for p in pages if p.title == page.title]
    base_same = [p for p in base_pages if p.title == page.title]
    idx = next(i for i, p in enumerate(same) if p is page)
    return base_same[idx] if idx < len(base_same) else None


def check_files(files: list[Path], *, shellcheck: str | None | bool = True,
                only: set[str] | None = None, changes: ChangeSet | None = None,
                baseline: Counter | None = None, all_findings: bool = False,
                group: bool = True) -> tuple[list[PageResult], list[Finding]]:
    """Check files; returns (page results, run-level findings).

    With ``changes`` only pages the change touched are checked, and of their findings only
    those on touched lines, or new compared with the page at the revision (a name changed in
    one step that no longer matches a later one), are reported (all of them with
    ``all_findings``). With ``baseline`` (fingerprint counts) findings accepted earlier are
    left out. Repeated findings of a rule on a page are grouped unless ``group`` is False."""
    run_findings: list[Finding] = []
    sc = find_shellcheck() if shellcheck is True else (shellcheck or None)
    if shellcheck is True and sc is None:
        run_findings.append(Finding("CODE002", "info", "", 0,
                                    "shellcheck is not installed: bash and Azure CLI blocks were not checked",
                                    fix="apt-get install -y shellcheck", category="not-checked"))
    results = []
    lines_now = _Lines()
    lines_base = _Lines(changes.base_opener) if changes else None
    left = Counter(baseline or {})
    for path in files:
        try:
            pages = _read_pages(path)
        except OSError as exc:
            run_findings.append(Finding("IO", "error", str(path), 0, f"cannot read: {exc}",
                                        fix="make the file readable"))
            continue
        base_pages: list[Page] | None = None
        for page in pages:
            touched: list[int] | None = None
            if changes is not None:
                touched = changes.touches_range(page.file, page.line, page.end_line)
                for inc in page.includes:
                    if inc.resolved and changes.changed(inc.resolved):
                        touched += [inc.line]
                if not touched:
                    continue
            facts = F.extract(page)
            tuts = tutorials_for(page)
            raw = check_page(page, facts, tutorials=tuts, shellcheck=sc, only=only)
            for f in raw:
                f.fingerprint = fingerprint(f, lines_now(f.file, f.line))
            result = PageResult(page, facts, [], tuts, changed_lines=sorted(set(touched)) if touched else None)
            kept = raw
            if changes is not None and not all_findings:
                if base_pages is None:
                    base_text = changes.base_text(path)
                    base_pages = _read_pages(path, changes.base_opener, base_text) if base_text is not None else []
                base = _match_base(page, base_pages, pages)
                before = Counter()
                if base is not None:
                    for f in check_page(base, F.extract(base), tutorials=tutorials_for(base), shellcheck=sc,
                                        only=only):
                        before[fingerprint(f, lines_base(f.file, f.line))] += 1
                kept = []
                for f in raw:
                    if changes.touched(f.file, f.line) or f.category == "defect" and before[f.fingerprint] <= 0:
                        kept.append(f)
                    else:
                        result.suppressed["unchanged"] = result.suppressed.get("unchanged", 0) + 1
                    before[f.fingerprint] -= 1
            if baseline is not None:
                still = []
                for f in kept:
                    if left[f.fingerprint] > 0:
                        left[f.fingerprint] -= 1
                        result.suppressed["baseline"] = result.suppressed.get("baseline", 0) + 1
                    else:
                        still.append(f)
                kept = still
            result.raw = kept
            grouped = group_findings(kept) if group else kept
            result.findings = [f for f in grouped if f.category == "defect"]
            result.not_checked = [f for f in grouped if f.category != "defect"]
            results.append(result)
    return results, run_findings


# ------------------------------------------------------------------ facts in registry keys

def tutorial_facts(tutorial, facts: F.PageFacts) -> dict[str, tuple[Any, int]]:
    """The page's value (and line) for each registry fact key the page states (see
    :mod:`milab.docs.pagefacts`; keys the page does not state are left out)."""
    from . import pagefacts
    return {k: v for k, v in pagefacts.read(tutorial, facts).items()
            if v is not None and v is not pagefacts.UNREAD}


def _shape(path: str) -> str:
    segs = [s for s in path.split("?")[0].split("/") if s]
    return "/".join(s.lower() if i % 2 == 0 else "*" for i, s in enumerate(segs))


def doc_facts_for_run(result: PageResult) -> dict[str, dict[str, Any]]:
    """The ``--doc-facts`` entry of each tutorial of the page: every fact read from the page, and
    under ``_from_registry`` the keys it does not state (reported as DRIFT002 or "not checked"),
    for which the scenario keeps the registry's value."""
    from . import pagefacts
    out = {}
    for t in result.tutorials:
        got = pagefacts.read(t, result.facts)
        entry = {k: v[0] for k, v in got.items() if v is not None and v is not pagefacts.UNREAD}
        rest = sorted(k for k in t.facts if k not in entry)
        if rest:
            entry["_from_registry"] = rest
        out[t.key] = entry
    return out


# ------------------------------------------------------------------ running scenarios

_PROGRESS = re.compile(r"^(?P<test>\S+::\S+)\s+(?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")


def _stream_pytest(cmd: list[str], cwd: Path, env: dict, timeout: int,
                   progress: Callable[[str], None] | None) -> tuple[int, str]:
    """Run pytest, passing each finished test's line to ``progress`` as it comes; (status, output tail)."""
    import threading
    proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, errors="replace")
    tail: list[str] = []
    done = 0

    def read() -> None:
        nonlocal done
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            del tail[:-60]
            m = _PROGRESS.match(line.strip())
            if m and progress is not None:
                done += 1
                progress(f"[{done}] {m['outcome'].lower():7} {m['test']}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        return -1, f"pytest did not finish within {timeout} s"
    reader.join(5)
    return rc, "".join(tail)[-1500:]


def run_scenarios(results: list[PageResult], *, target: str, out_dir: Path,
                  repo_root: Path = REPO_ROOT, timeout: int = 1800,
                  python: str = sys.executable, progress: Callable[[str], None] | None = None) -> list[Finding]:
    """Run the scenarios of the tutorials the pages map to; attach outcomes to the results.
    ``progress`` gets one line per finished test while they run."""
    from ..pages import catalog as procedures
    page_procedures = {s.id: r.page.file for r in results
                       for s in procedures.specs_for_page(r.page.title, r.page.file, _h1(r.page))}
    if not (repo_root / "scenarios" / "test_pages.py").is_file():
        page_procedures = {}
    affected = [r for r in results if r.tutorials or r.page.file in page_procedures.values()]
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
    # the changed pages' own procedures run too, their steps derived from the changed text
    extra: list[str] = []
    run_reports = out_dir / "docs-run"
    if page_procedures:
        modules.append("scenarios/test_pages.py")
        terms += [f"test_procedure[{pid}]" for pid in page_procedures]
        procedures_file = out_dir / "page-procedures.json"
        procedures_file.write_text(json.dumps(page_procedures, indent=2, sort_keys=True), encoding="utf-8")
        extra = ["--page-procedures", str(procedures_file), "--reports-dir", str(run_reports)]
    facts_file = out_dir / "docs-facts.json"
    facts_file.write_text(json.dumps(doc_facts, indent=2, sort_keys=True), encoding="utf-8")
    junit = out_dir / "docs-scenarios-junit.xml"
    if junit.exists():
        junit.unlink()
    cmd = [python, "-m", "pytest", *modules, "-k", " or ".join(terms), "--doc-facts", str(facts_file),
           "--target", target, *extra, "-p", "no:cacheprovider", "-v", "--no-header", f"--junitxml={junit}"]
    env = dict(os.environ)
    try:
        rc, tail = _stream_pytest(cmd, repo_root, env, timeout, progress)
    except OSError as exc:
        rc, tail = -1, f"could not start pytest: {exc}"
    cases = parse_junit(junit, repo_root) if junit.exists() else []
    run_findings = []
    if page_procedures:
        _procedure_findings(affected, run_reports, page_procedures, rc, tail)
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


def _h1(page: Page) -> str | None:
    return next((h.text for h in page.headings if h.level == 1), None)


# verdict -> (rule, severity): a page defect is an error of the page; the others are notes
PROCEDURE_RULES = {"page-defect": ("RUN001", "error"), "milab-gap": ("RUN002", "info"),
                   "not-run": ("RUN003", "info"), "passed": ("RUN000", "info")}


def _procedure_findings(affected: list[PageResult], run_reports: Path, page_procedures: dict[str, str],
                        rc: int, tail: str) -> None:
    """The verdicts of the pages' own procedures (the page runner's matrix rows) as findings."""
    from ..reporting.matrix import load_matrix
    try:
        rows = {r.procedure: r for r in load_matrix(run_reports) if r.procedure}
    except (OSError, ValueError):
        rows = {}
    for r in affected:
        for pid, file in page_procedures.items():
            if file != r.page.file:
                continue
            row = rows.get(pid)
            if row is None:
                r.findings.append(Finding("RUN002", "info", r.page.file, r.page.line,
                                          f"procedure {pid}: no verdict (pytest exit status {rc}): "
                                          f"{tail.strip()[-300:]}", r.page.title))
                continue
            rule, severity = PROCEDURE_RULES.get(row.verdict or "", ("RUN002", "info"))
            where = f" at step {row.verdict_step}" if row.verdict_step else ""
            r.findings.append(Finding(rule, severity, r.page.file, r.page.line,
                                      f"procedure {pid} ({row.pivot}) {row.verdict}{where}: "
                                      f"{row.verdict_reason or 'every step ran as written'}", r.page.title))


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
