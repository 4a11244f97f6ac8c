"""The documentation checks, one function per rule.

How to add a rule
-----------------

1. Write a function that takes a :class:`PageContext` and yields findings made with
   ``ctx.finding(line, message)`` (or ``ctx.finding(line, message, severity="warning")``
   to override the rule's default severity)::

       @rule("CODE042", "error", "what the rule checks, in one line")
       def _my_rule(ctx):
           '''Longer explanation (shown by ``milab docs check --list-rules``).'''
           for block in ctx.page.code_blocks:
               if "bad" in block.text:
                   yield ctx.finding(block.line, "explain what is wrong and how to fix it")

2. The decorator registers it in :data:`RULES`; :func:`check_page` runs every rule.
3. Add tests in ``tests/docs/test_rules.py``: a page that must trigger the rule *and* a
   page that must not (false alarms are the expensive failure of a docs gate).

Rule ids: ``MD`` page structure, ``CODE`` code that does not parse or run, ``ROLE`` roles,
``NAME`` placeholders and resource names, ``API`` requests and operations, ``DEP``
retired or deprecated things, ``DRIFT`` differences from what the scenarios reproduce.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote

from . import knowledge as K
from .facts import (GUID_RE, PS_LANGS, SHELL_LANGS, HttpCall, JsonProblem, PageFacts, RoleRef, block_kind,
                    find_placeholders, imds_summary, looks_like_json, output_reason, parse_doc_json, placeholder_key,
                    prose_before, repair_export_json)
from .parser import CodeBlock, Page

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    rule: str
    severity: str
    file: str
    line: int
    message: str
    page: str = ""
    fix: str = ""  # what to write instead
    category: str = "defect"  # 'defect' (a page problem) or 'not-checked' (what milab could not check)
    lines: list[int] = field(default_factory=list)  # every line, when repeated findings were grouped
    fingerprint: str = ""  # stable across line moves (see milab.docs.gate.fingerprint)

    @property
    def count(self) -> int:
        return max(1, len(self.lines))

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "file": self.file, "line": self.line,
                "message": self.message, "page": self.page, "fix": self.fix, "category": self.category,
                "lines": list(self.lines) or [self.line], "fingerprint": self.fingerprint}


@dataclass
class Rule:
    id: str
    severity: str
    summary: str
    func: Callable[["PageContext"], Iterable[Finding]]
    fix: str = ""  # the default advice, for findings that give none of their own
    limit: bool = False  # True: the rule reports what milab cannot check, not page defects

    @property
    def doc(self) -> str:
        return " ".join((self.func.__doc__ or "").split())

    @property
    def category(self) -> str:
        return "not-checked" if self.limit else "defect"


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, summary: str, *, fix: str = "", limit: bool = False):
    """Register a rule (see the module docstring). ``fix`` is the advice a finding carries when
    the rule gives none of its own; ``limit=True`` marks a rule that reports milab's own limits
    (kept in the report's "not checked" section, out of the exit status)."""
    assert severity in SEVERITIES, severity

    def deco(fn):
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, severity, summary, fn, fix, limit)
        return fn
    return deco


@dataclass
class PageContext:
    page: Page
    facts: PageFacts
    tutorials: list = field(default_factory=list)
    shellcheck: str | None = None
    current: Rule | None = None
    responses: dict[int, Any] | None = None  # call line -> the response the page runner saw for it
    _own_lines: set[int] | None = None
    _inc_lines: list[tuple[int, int, str]] = field(default_factory=list)

    def finding(self, line: int, message: str, severity: str | None = None, *, fix: str | None = None,
                file: str | None = None) -> Finding:
        r = self.current
        file = file or getattr(line, "file", None) or self.file_of(line)
        return Finding(r.id if r else "?", severity or (r.severity if r else "error"), file,
                       line, message, self.page.title, fix=fix if fix is not None else (r.fix if r else ""),
                       category=r.category if r else "defect")

    def file_of(self, line: int) -> str:
        """The file a line is in: the page's own, or an included file's (whose lines are
        numbered in that file)."""
        if self._own_lines is None:
            own: set[int] = set()
            inc: list[tuple[int, int, str]] = []
            for b in self.page.code_blocks:
                end = b.end_line or (b.first_line + len(b.lines))
                if b.from_include:
                    inc.append((b.line, end, b.file))
                else:
                    own.update(range(b.line, end + 1))
            for t in self.page.prose:
                tf = getattr(t, "file", None)
                if tf and tf != self.page.file:
                    inc.append((t.line, t.line, tf))
                else:
                    own.add(t.line)
            self._own_lines, self._inc_lines = own, inc
        if line in self._own_lines:
            return self.page.file
        return next((f for a, b, f in self._inc_lines if a <= line <= b), self.page.file)

    def blocks(self, *kinds: str) -> Iterator[tuple[CodeBlock, str]]:
        for b in self.page.code_blocks:
            k = self.facts.kinds.get(b.line) or block_kind(b)
            if not kinds or k in kinds:
                yield b, k


def check_page(page: Page, facts: PageFacts, *, tutorials=None, shellcheck: str | None = None,
               only: set[str] | None = None, responses: dict[int, Any] | None = None) -> list[Finding]:
    """Run the rules on a page. ``responses`` (line of a request -> the JSON response it got)
    lets the page runner hand in what the page's own steps returned (API009 compares with it)."""
    ctx = PageContext(page, facts, tutorials or [], shellcheck, responses=responses)
    out: list[Finding] = []
    for r in RULES.values():
        if only and r.id not in only:
            continue
        ctx.current = r
        try:
            out.extend(r.func(ctx) or [])
        except Exception as exc:  # noqa: BLE001 - a rule bug must not hide the other findings
            out.append(Finding(r.id, "info", page.file, page.line,
                               f"rule {r.id} could not check this page ({type(exc).__name__}: {exc})", page.title,
                               fix="report this to milab's maintainers with the page", category="not-checked"))
    seen = set()
    uniq = []
    for f in sorted(out, key=lambda f: (f.line, f.rule, f.message)):
        k = (f.rule, f.file, f.line, f.message)
        if k not in seen:
            seen.add(k)
            uniq.append(f)
    return uniq


_LINE_REFS = re.compile(r"\(?\b(?:on |from |at )?lines? \d+(?:\s*(?:,|and|-|to)\s*\d+)*(?:, \.\.\.)?\)?")


def group_key(f: Finding) -> tuple:
    """Findings of one rule on one page that say the same thing (apart from line numbers)."""
    return (f.rule, f.category, f.page, f.file, f.severity, _LINE_REFS.sub("", f.message).strip(), f.fix)


def group_findings(findings: list[Finding]) -> list[Finding]:
    """Repeated findings of one rule on one page become one finding that lists every line."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault(group_key(f), []).append(f)
    out = []
    for members in groups.values():
        members.sort(key=lambda f: f.line)
        first = members[0]
        lines = sorted({ln for m in members for ln in (m.lines or [m.line])})
        if len(members) == 1:
            out.append(first)
            continue
        g = Finding(first.rule, first.severity, first.file, first.line, first.message, first.page, first.fix,
                    first.category, lines, first.fingerprint)
        out.append(g)
    return sorted(out, key=lambda f: (f.line, f.rule, f.message))


def find_shellcheck() -> str | None:
    return shutil.which("shellcheck")


# ============================================================== MD: page structure

_ISSUE_RULES = {"fence-unclosed": "MD001", "fence-nested": "MD002", "pivot-unbalanced": "MD003",
                "tab-unclosed": "MD004", "include-cycle": "MD005"}


def _issues(ctx: PageContext, kind: str):
    for i in ctx.page.issues:
        if i.kind == kind:
            yield Finding(ctx.current.id, ctx.current.severity, i.file, i.line, i.message, ctx.page.title,
                          fix=ctx.current.fix, category=ctx.current.category)


@rule("MD001", "error", "code fence never closed")
def _md001(ctx):
    """An opening ``` with no closing fence swallows the rest of the page into the code block."""
    return _issues(ctx, "fence-unclosed")


@rule("MD002", "error", "code fence opened inside another fence")
def _md002(ctx):
    """A ```lang line inside an open block: the block is nested in a second fence, so the
    fences after it pair up wrongly and prose renders as code."""
    return _issues(ctx, "fence-nested")


@rule("MD003", "error", "zone pivot not balanced")
def _md003(ctx):
    """Every ``::: zone pivot="..."`` needs its ``::: zone-end``; zones cannot nest."""
    return _issues(ctx, "pivot-unbalanced")


@rule("MD004", "warning", "tab group not closed with ---")
def _md004(ctx):
    """A tab group (``# [Name](#tab/id)``) must end with a ``---`` line, otherwise the
    following sections render inside the last tab."""
    return _issues(ctx, "tab-unclosed")


@rule("MD005", "error", "include cycle")
def _md005(ctx):
    """An include that (indirectly) includes itself."""
    return _issues(ctx, "include-cycle")


@rule("MD006", "info", "include not available", limit=True,
      fix="check the page in a checkout that holds the included file")
def _md006(ctx):
    """``[!INCLUDE ...]`` whose file is not in the checked tree: its content is not checked."""
    for inc in ctx.page.includes:
        if not inc.resolved:
            yield ctx.finding(inc.line, f"include '{inc.target}' is not available here; its content was not checked")


@rule("MD007", "error", "table header and delimiter row disagree")
def _md007(ctx):
    """A pipe table whose delimiter row has a different number of cells than its header does
    not render as a table; rows with more cells than the header lose the extra cells."""
    for t in ctx.page.tables:
        h, d = len(t.header), len(t.delimiter)
        if h != d:
            yield ctx.finding(t.line, f"table header has {h} columns but the delimiter row has {d}: "
                                      f"the table will not render")
            continue
        for ln, cells in t.rows:
            if len(cells) > h:
                yield ctx.finding(ln, f"table row has {len(cells)} cells but the header has {h}: "
                                      f"the extra cells are dropped", "warning")


# ============================================================== CODE: code that does not parse

@rule("CODE001", "error", "JSON does not parse")
def _code001(ctx):
    """JSON blocks must parse. ``//`` and ``/* */`` comments (accepted by ARM templates),
    ``...`` elision lines and fragments like ``"identity": {...},`` are allowed. In the
    PDF-export layout, lines the export broke inside strings or comments are re-joined first."""
    for b, kind in ctx.blocks("json"):
        if b.layout == "export":
            text, where = repair_export_json(b)
        else:
            text, where = b.text, {i: b.line_of(i) for i in range(len(b.lines))}
        text = re.sub(r'(?<=[:\[,])(\s*)(<[A-Za-z][^<>"\n]*>)', r'\1"\2"', text)  # unquoted placeholders
        try:
            parse_doc_json(text)
        except JsonProblem as p:
            idx = max(0, min(p.lineno - 1, len(text.split("\n")) - 1))
            line = where.get(idx, b.first_line + idx)
            yield ctx.finding(line, f"JSON in the block starting on line {b.line} does not parse: {p.message}")
            continue
        # a whole response shown as a fragment: its enclosing braces were lost
        body = [l for l in text.split("\n") if l.strip()]
        intro = _prose_before(ctx, b.line)
        if len(body) >= 3 and re.match(r'^\s*"[^"]+"\s*:', body[0]) and \
                re.match(r"^\W*(sample |example )?response( example| body)?\s*:?\W*$", intro, re.I):
            yield ctx.finding(b.first_line + next(i for i, l in enumerate(text.split("\n")) if l.strip()),
                              f"the response in the block starting on line {b.line} starts with a property: its "
                              f"enclosing '{{' ... '}}' are missing")


SHELLCHECK_EXCLUDE = ",".join([
    "SC2154",  # variable referenced but not assigned: earlier blocks/steps assign it
    "SC2034",  # assigned but unused: later blocks use it
    "SC2148", "SC1091", "SC2164", "SC2086", "SC2046", "SC2006", "SC2155", "SC2016", "SC1090",
    "SC2181", "SC2002", "SC2005", "SC2162", "SC2012", "SC2088", "SC2035",
])


@rule("CODE002", "error", "shell code rejected by ShellCheck")
def _code002(ctx):
    """Bash and Azure CLI blocks are checked with ShellCheck (``apt-get install shellcheck``),
    placeholders like ``<RESOURCE GROUP>`` replaced by a word first. Style-only checks and
    checks that cannot see other blocks (unassigned variables ...) are off."""
    if not ctx.shellcheck:
        return
    jobs = []
    for b, kind in ctx.blocks("shell"):
        if b.lang == "console" or (not b.lang and b.layout != "export" and kind != "shell"):
            continue
        if shell_block_output(ctx, b):
            continue  # CODE010 reports output shown in a shell block
        if any(l.rstrip().endswith("`") for l in b.lines):
            continue  # CODE005 reports the PowerShell continuations
        if b.layout == "export":
            lls = ctx.facts.logical.get(b.line) or []
            lines = [l.text.replace("\n", " ") for l in lls]
            where = [l.line for l in lls]
        else:
            lines = list(b.lines)
            where = [b.line_of(i) for i in range(len(lines))]
        src = [_sc_prepare(l) for l in lines]
        if not any(s.strip() for s in src):
            continue
        jobs.append((b, src, where))
    if not jobs:
        return
    with tempfile.TemporaryDirectory(prefix="milab-sc-") as tmp:
        paths = []
        for n, (b, src, where) in enumerate(jobs):
            p = Path(tmp) / f"b{n}.sh"
            p.write_text("\n".join(src) + "\n", encoding="utf-8")
            paths.append(str(p))
        try:
            proc = subprocess.run([ctx.shellcheck, "-s", "bash", "-f", "json1", "-S", "warning",
                                   "-e", SHELLCHECK_EXCLUDE, *paths], capture_output=True, text=True, timeout=120)
            data = json.loads(proc.stdout or "{}")
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            yield ctx.finding(ctx.page.line, f"ShellCheck could not run: {exc}", "info")
            return
    parse_err = set()
    once: set[tuple[int, int]] = set()
    for c in data.get("comments", []):
        n = int(Path(c["file"]).stem[1:])
        if c["code"] in (2215,):  # one report per block: the lines after a missing '\' all say the same
            if (n, c["code"]) in once:
                continue
            once.add((n, c["code"]))
        if c.get("level") == "error" and c["code"] in (1072, 1073, 1009, 1078, 1079):
            if n in parse_err:
                continue
            parse_err.add(n)
        b, src, where = jobs[n]
        idx = max(0, min(c["line"] - 1, len(where) - 1))
        sev = "error" if c.get("level") == "error" else "warning"
        yield ctx.finding(where[idx], f"ShellCheck SC{c['code']}: {c['message']} (in: {src[idx].strip()[:100]})", sev)


def _sc_prepare(line: str) -> str:
    line = re.sub(r"<<[^<>\n]+>>|<[A-Za-z][^<>\n]*>", "PLACEHOLDER", line)
    return line


@rule("CODE003", "error", "PowerShell line continuation broken")
def _code003(ctx):
    """PowerShell continues a command on the next line only after a backtick that is the
    very last character. Reports: a backtick followed by spaces, a line that ends without a
    backtick while the next line starts with a parameter, a parameter whose value is on the
    next line without a backtick, a backtick on the last line, and a value parameter
    followed directly by another dash-word (``-Name -myVmss``). In the PDF-export layout only
    the problems the export cannot have caused are reported."""
    for b, kind in ctx.blocks("powershell"):
        lines = b.lines
        export = b.layout == "export"
        for i, l in enumerate(lines):
            ln = b.line_of(i)
            if re.search(r"`[ \t]+$", l):
                yield ctx.finding(ln, "backtick followed by trailing whitespace: PowerShell does not continue the line")
                continue
            stripped = l.rstrip()
            nxt_i = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
            if stripped.endswith("`") and nxt_i is None:
                yield ctx.finding(ln, "line continuation (backtick) on the last line of the block: nothing follows",
                                  "warning")
                continue
            if export or nxt_i is None or not stripped or stripped.endswith(("`", "|", "{", "(", ",", "=")):
                continue
            if stripped.lstrip().startswith("#"):
                continue
            nxt = lines[nxt_i].strip()
            in_command = re.search(r"(^|\s)-[A-Za-z]\w*", stripped) or re.match(r"^\s*[A-Z][a-z]+-[A-Z]\w+", stripped)
            if in_command and re.match(r"^-[A-Za-z]\w*(\s|:|$)", nxt):
                yield ctx.finding(ln, f"line {b.line_of(nxt_i)} starts with parameter '{nxt.split()[0]}' but this "
                                      f"line does not end with a backtick: the parameter is run as a separate command")
            elif re.search(r"(^|\s)-[A-Za-z]\w*$", stripped) and re.match(r"^(\"|'|@\{|\(|/subscriptions|\$\w+(?!\s*=))", nxt):
                param = stripped.split()[-1]
                yield ctx.finding(ln, f"parameter '{param}' ends the line and its value is on line "
                                      f"{b.line_of(nxt_i)} without a backtick")
        for ll in ctx.facts.logical.get(b.line, []):
            for m in re.finditer(r"(?:^|\s)(-\w*(?:Name|Group|Location|Scope|Uri|Method|Id))\s+(-[a-z]\w*)\b", ll.text):
                yield ctx.finding(ll.line, f"parameter '{m.group(1)}' is followed by '{m.group(2)}', which is read as "
                                           f"another parameter: the value is missing (a stray '-'?)",
                                  fix=f"{m.group(1)} {m.group(2)[1:]}")


@rule("CODE004", "error", "PowerShell hashtable written with ':'")
def _code004(ctx):
    """PowerShell hashtables are ``@{Name="value"}``; ``@{'Name':'value'}`` (JSON style) is a
    parse error."""
    for b, kind in ctx.blocks("powershell"):
        for ll in ctx.facts.logical.get(b.line, []):
            for m in re.finditer(r"@\{([^{}]*)\}", ll.text):
                inner = m.group(1)
                if "=" not in inner and re.search(r"""^\s*['"]?[\w-]+['"]?\s*:\s*\S""", inner):
                    fixed = re.sub(r"""['"]?([\w-]+)['"]?\s*:\s*""", r"\1=", inner.strip())
                    yield ctx.finding(ll.line, f"'@{{{inner.strip()}}}' uses ':' between key and value; PowerShell "
                                               f"hashtables use '='", fix=f"@{{{fixed}}}")


@rule("CODE005", "warning", "PowerShell continuation in a bash/Azure CLI block")
def _code005(ctx):
    """A line ending in a backtick inside a ``bash``/``azurecli`` block: Cloud Shell (bash)
    reads the backtick as the start of a command substitution. Use ``\\`` or tag the block
    ``azurepowershell``."""
    for b in ctx.page.code_blocks:
        if b.lang not in SHELL_LANGS:
            continue
        lines = [b.line_of(i) for i, l in enumerate(b.lines) if l.rstrip().endswith("`") and l.strip().strip("`")]
        if lines:
            yield ctx.finding(lines[0], f"the '{b.lang}' block uses PowerShell backtick continuations; bash needs "
                                        f"'\\' at the end of the line")


@rule("CODE006", "error", "Azure CLI option with a single dash")
def _code006(ctx):
    """Azure CLI long options take two dashes (``--vmss-name``); only one-letter options take
    one (``-g``)."""
    for c in ctx.facts.commands:
        if c.kind != "az":
            continue
        for t in c.tokens[1:]:
            if re.match(r"^-[a-zA-Z][\w-]+$", t):
                yield ctx.finding(c.line, f"'{c.name}' option '{t}' has one dash; Azure CLI long options need two",
                                  fix=f"-{t}")


_PS_AUTOMATIC = {"_", "true", "false", "null", "psitem", "args", "input", "host", "error", "lastexitcode",
                 "pscmdlet", "psscriptroot", "pwd", "home", "env", "matches", "this", "psboundparameters",
                 "myinvocation", "ofs", "profile", "pshome", "shellid", "erroractionpreference", "foreach",
                 "using", "script", "global", "local", "private", "psversiontable", "executioncontext",
                 "nestedpromptlevel", "sender", "event", "eventargs", "iswindows", "islinux", "ismacos"}


@rule("CODE007", "warning", "PowerShell variable used but never set (typo?)")
def _code007(ctx):
    """A ``$variable`` used on the page but never assigned, when a variable with a very
    similar name is assigned (``$setting`` / ``$settings``), and ``$_Name`` written for
    ``$_.Name``."""
    assigned: dict[str, int] = {}
    used: list[tuple[str, int]] = []
    block_typos: list[tuple[str, int, str, int]] = []
    for b, kind in ctx.blocks("powershell"):
        b_assigned: dict[str, int] = {}
        b_used: list[tuple[str, int]] = []
        for ll in ctx.facts.logical.get(b.line, []):
            text = re.sub(r"'[^']*'", "''", ll.text)
            text = re.sub(r"#.*$", "", text, flags=re.M)
            for m in re.finditer(r"\$(\w+)\s*(?:\[[^\]]*\])?\s*[+\-]?=(?!=)", text):
                b_assigned.setdefault(m.group(1).lower(), ll.line)
            for m in re.finditer(r"\$(\w+)", text):
                b_used.append((m.group(1), ll.line))
        for name, line in b_used:
            low = name.lower()
            if low in b_assigned or low in _PS_AUTOMATIC:
                continue
            near = [a for a in b_assigned if _close(low, a)]
            if near:
                block_typos.append((name, line, near[0], b_assigned[near[0]]))
        for ll in ctx.facts.logical.get(b.line, []):
            text = re.sub(r"'[^']*'", "''", ll.text)
            text = re.sub(r"#.*$", "", text, flags=re.M)
            for m in re.finditer(r"\$(\w+)\s*(?:\[[^\]]*\])?\s*[+\-]?=(?!=)", text):
                assigned.setdefault(m.group(1).lower(), ll.line)
            for m in re.finditer(r"(?:foreach\s*\(|-(?:OutVariable|ErrorVariable|ov|ev)\s+)\$?(\w+)", text, re.I):
                assigned.setdefault(m.group(1).lower(), ll.line)
            for m in re.finditer(r"\$(\w+)", text):
                used.append((m.group(1), ll.line))
    reported = set()
    for name, line, near, nline in block_typos:
        reported.add(name.lower())
        yield ctx.finding(line, f"'${name}' is not set in this block, which sets '${near}' (line {nline}): "
                                f"one of them is probably a typo")
    for name, line in used:
        low = name.lower()
        if low in assigned or low in _PS_AUTOMATIC or low in reported or ":" in name:
            continue
        if low.startswith("_") and len(low) > 1:
            reported.add(low)
            yield ctx.finding(line, f"'${name}' is not '$_.{name[1:]}': the dot after $_ is missing", "error",
                              fix=f"$_.{name[1:]}")
            continue
        near = [a for a in assigned if _close(low, a)]
        if near:
            reported.add(low)
            yield ctx.finding(line, f"'${name}' is never set on this page; did you mean '${near[0]}' "
                                    f"(set on line {assigned[near[0]]})?")


def _close(a: str, b: str) -> bool:
    if a == b or min(len(a), len(b)) < 4:
        return False
    if abs(len(a) - len(b)) > 1:
        return False
    # edit distance 1
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    s, l = (a, b) if len(a) < len(b) else (b, a)
    return any(l[:i] + l[i + 1:] == s for i in range(len(l)))


@rule("CODE008", "error", "malformed HTTP request line")
def _code008(ctx):
    """A raw request (``GET <url> HTTP/1.1``) must have the method, the bare target and the
    version on one line; quotes around the URL or headers on the same line are not HTTP."""
    for b, kind in ctx.blocks("http"):
        lls = ctx.facts.logical.get(b.line) or []
        if not lls:
            continue
        first = lls[0]
        text = first.text.strip()
        m = re.match(r"^([A-Z]+)\s+(\S+)(?:\s+(HTTP/[\d.]+))?(.*)$", text, re.S)
        if not m:
            continue
        target, version, rest = m.group(2), m.group(3), m.group(4).strip()
        if target[:1] in "'\"":
            yield ctx.finding(first.line, f"the request target is quoted ({target[:60]}...): HTTP has no quotes "
                                          f"in the request line")
        if version and rest:
            yield ctx.finding(first.line, f"text after '{version}' on the request line ('{rest[:40]}'): "
                                          f"headers go on their own lines")


@rule("CODE009", "error", "ARM template expression malformed")
def _code009(ctx):
    """Template expressions (``"[...]"``) need balanced quotes and parentheses and known
    template functions (``resourceGroup()``, ``resourceId()`` ...)."""
    for b, kind in ctx.blocks("json"):
        for i, line in enumerate(b.lines):
            for m in re.finditer(r'"\[(?!\[)((?:[^"\\]|\\.)*)\]"', line):
                expr = m.group(1)
                ln = b.line_of(i)
                if expr.count("'") % 2:
                    yield ctx.finding(ln, f"template expression '[{expr}]' has an unmatched single quote")
                    continue
                bare = re.sub(r"'(?:[^']|'')*'", "''", expr)
                if bare.count("(") != bare.count(")"):
                    yield ctx.finding(ln, f"template expression '[{expr}]' has unbalanced parentheses")
                    continue
                for fm in re.finditer(r"(?<![\w.'])([A-Za-z_][\w]*)\s*\(", bare):
                    fn = fm.group(1)
                    if fn.lower() not in K.ARM_FUNCTIONS:
                        yield ctx.finding(ln, f"template expression uses '{fn}()', which is not an ARM template "
                                              f"function", "warning")


# ============================================================== ROLE

def _is_literal(v: str | None) -> bool:
    return bool(v) and not re.search(r"[<>$\[\]{}]|^@", v) and v.strip() != ""


@rule("ROLE001", "error", "role name is not a built-in role")
def _role001(ctx):
    """A role given by name in a command (``--role``, ``-RoleDefinitionName``) must be a
    built-in role name (or the page must be about custom roles)."""
    custom = re.search(r"custom role", "\n".join(t.text for t in ctx.page.prose), re.I)
    for r in ctx.facts.roles:
        if not r.command or not r.name or not _is_literal(r.name) or GUID_RE.fullmatch(r.name):
            continue
        if r.kind == "rbac" and not K.role_by_name(r.name):
            if K.cosmos_role_by_name(r.name):
                yield ctx.finding(r.line, f"'{r.name}' is a Cosmos DB data-plane role, not an Azure RBAC role: "
                                          f"assign it with az cosmosdb sql role assignment create")
            elif not custom:
                yield ctx.finding(r.line, f"'{r.name}' is not the name of a built-in Azure role")
        if r.kind == "cosmos-sql" and not K.cosmos_role_by_name(r.name):
            yield ctx.finding(r.line, f"'{r.name}' is not a Cosmos DB built-in data-plane role "
                                      f"(use the role definition ID, e.g. 00000000-0000-0000-0000-000000000002)",
                              "warning")


@rule("ROLE002", "error", "role name and role ID disagree")
def _role002(ctx):
    """Where a page states a role's name and its ID together (an ARM template variable, a
    command and its output, a comment next to the ID), they must be the same role."""
    roles = ctx.facts.roles
    for r in roles:
        if r.name and r.id and _is_literal(r.name):
            yield from _compare_role(ctx, r.line, r.name, r.id, r.kind)
    # a command that names a role, and the output right after it that shows the role's ID
    for r in roles:
        if not (r.command and r.name and not r.id and _is_literal(r.name)):
            continue
        out = next((o for o in roles if o.source == "json" and o.id and r.line < o.line <= r.line + 40
                    and o.kind == r.kind), None)
        if out:
            yield from _compare_role(ctx, out.line, r.name, out.id, r.kind, command_line=r.line)


def _compare_role(ctx, line, name, rid, kind, command_line=None):
    if K.is_sample_guid(rid):
        return  # a stand-in ID (00000000-..., aaaaaaaa-bbbb-...) in sample output, not the role's ID
    where = f" (the command on line {command_line} assigns '{name}')" if command_line else ""
    if kind == "cosmos-sql" or rid in K.COSMOS_SQL_ROLES:
        expected = K.cosmos_role_by_name(name)
        actual = K.COSMOS_SQL_ROLES.get(rid)
        if expected and expected != rid:
            yield ctx.finding(line, f"'{name}' is Cosmos DB role {expected}, but the page gives {rid}"
                                    f"{' (' + actual + ')' if actual else ''}{where}")
        return
    expected = K.role_by_name(name)
    if expected is None:
        return
    if expected != rid:
        actual = K.role_by_id(rid)
        yield ctx.finding(line, f"role '{name}' has ID {expected}, but the page gives {rid}"
                                f"{' (' + actual + ')' if actual else ''}{where}")


@rule("ROLE003", "error", "Cosmos DB data-plane role used as an Azure RBAC role (or the reverse)")
def _role003(ctx):
    """00000000-0000-0000-0000-000000000001/2 are Cosmos DB SQL role definitions: they are
    assigned with ``az cosmosdb sql role assignment create`` / ``New-AzCosmosDBSqlRoleAssignment``,
    not with ``az role assignment create``; and Azure RBAC role IDs are not Cosmos SQL roles."""
    for r in ctx.facts.roles:
        if not r.command or not r.id:
            continue
        if r.kind == "rbac" and r.id in K.COSMOS_SQL_ROLES:
            yield ctx.finding(r.line, f"{r.id} is the Cosmos DB data-plane role '{K.COSMOS_SQL_ROLES[r.id]}', "
                                      f"not an Azure RBAC role: assign it with az cosmosdb sql role assignment create")
        elif r.kind == "cosmos-sql" and K.role_by_id(r.id):
            yield ctx.finding(r.line, f"{r.id} is the Azure RBAC role '{K.role_by_id(r.id)}', not a Cosmos DB "
                                      f"SQL role definition")


# ============================================================== NAME

def _spelling_style(p: str) -> str:
    inner = p.strip("<>")
    style = "<<>>" if p.startswith("<<") else "<>"
    seps = "".join(sorted({c for c in inner if c in " -_"}))
    return f"{style}:{seps or 'none'}"


@rule("NAME001", "warning", "placeholder written in different ways on one page")
def _name001(ctx):
    """The same placeholder should be spelled the same way throughout a page
    (``<SUBSCRIPTION ID>`` vs ``<SUBSCRIPTION-ID>`` vs ``<SUBSCRIPTION_ID>`` vs
    ``<<SUBSCRIPTION ID>>``): readers search and replace them."""
    groups: dict[str, dict[str, list[int]]] = {}
    for p, line in ctx.facts.placeholders:
        key = placeholder_key(p)
        if len(key) < 3:
            continue
        groups.setdefault(key, {}).setdefault(p, []).append(line)
    for key, spellings in groups.items():
        styles = {_spelling_style(p) for p in spellings}
        if len(styles) < 2:
            continue
        ordered = sorted(spellings.items(), key=lambda kv: min(kv[1]))
        second_line = sorted(min(v) for v in spellings.values())[1]
        desc = "; ".join(f"{p} (line {', '.join(map(str, sorted(set(v))[:4]))}"
                         f"{', ...' if len(set(v)) > 4 else ''})" for p, v in ordered)
        best = max(spellings.items(), key=lambda kv: (len(kv[1]), -min(kv[1])))[0]
        yield ctx.finding(second_line, f"placeholder written {len(spellings)} ways on this page: {desc}",
                          fix=f"{best} everywhere (its most used spelling)")


_NAME_KINDS = {
    "resource group": (r"/resourcegroups/([^/?\s'\"]+)", ("--resource-group", "-g", "-resourcegroupname",
                                                           "-resourcegroup")),
    "VM": (r"/virtualmachines/([^/?\s'\"]+)", ()),
    "scale set": (r"/virtualmachinescalesets/([^/?\s'\"]+)", ("-vmscalesetname",)),
    "storage account": (r"/storageaccounts/([^/?\s'\"]+)", ("--account-name", "-storageaccountname")),
    "user-assigned identity": (r"/userassignedidentities/([^/?\s'\"]+)", ("--identity-name",)),
    "Cosmos DB account": (r"/databaseaccounts/([^/?\s'\"]+)", ()),
    "key vault": (r"/vaults/([^/?\s'\"]+)", ("--vault-name", "-vaultname")),
}


def _literal_name(v: str | None) -> str | None:
    if not v:
        return None
    v = v.strip().strip("'\"").rstrip("/").strip()
    if not v or re.search(r"[<>$\[\]{}()*%]|^-", v) or " " in v:
        return None
    return v


@rule("NAME002", "warning", "resource name changes between steps")
def _name002(ctx):
    """Steps that act on the same resource should use the same name: creating the identity
    in ``myResourceGroupVM``, reading the VM from ``myResourceGroup`` and updating it in
    ``TestRG`` sends readers to three resource groups. Resource groups, VMs, scale sets,
    storage accounts, user-assigned identities, Cosmos DB accounts and key vaults named in
    commands and request URLs are compared; alternative tabs and pivots separately."""
    seen: dict[tuple[str, str | None], dict[str, int]] = {}

    def add(kind, name, line, scope):
        n = _literal_name(name)
        if n:
            seen.setdefault((kind, scope), {}).setdefault(n.lower(), line)
            _display.setdefault(n.lower(), n)

    _display: dict[str, str] = {}
    for c in ctx.facts.commands:
        low = {k.lower(): v for k, v in c.params.items()}
        for kind, (_, params) in _NAME_KINDS.items():
            for p in params:
                if p in low:
                    add(kind, low[p], c.line, c.scope)
        n = c.name.lower()
        name = low.get("--name") or low.get("-n") or low.get("-name")
        if n.startswith("az vm ") or n in ("get-azvm", "update-azvm", "new-azvm", "remove-azvm"):
            add("VM", name or low.get("--vm-name") or low.get("-vmname"), c.line, c.scope)
        if n.startswith("az vmss ") or n in ("get-azvmss", "update-azvmss", "new-azvmss"):
            add("scale set", name or low.get("-vmscalesetname"), c.line, c.scope)
        for v in low.values():
            if v and "/subscriptions/" in v.lower():
                for kind, (rx, _) in _NAME_KINDS.items():
                    for m in re.finditer(rx, v, re.I):
                        add(kind, m.group(1), c.line, c.scope)
    for call in ctx.facts.http_calls:
        text = call.url + " " + (call.body or "")
        for kind, (rx, _) in _NAME_KINDS.items():
            for m in re.finditer(rx, text, re.I):
                add(kind, m.group(1), call.line, call.scope)
    kinds = {k for k, _ in seen}
    for kind in kinds:
        scopes = {s for k, s in seen if k == kind}
        reported = set()
        for s in (scopes - {None}) or {None}:
            names = dict(seen.get((kind, None), {}))
            if s is not None:
                for k2, v2 in seen.get((kind, s), {}).items():
                    names.setdefault(k2, v2)
            if len(names) < 2 or len({re.sub(r"\d+$", "", n) for n in names}) < 2 or len(set(names.values())) < 2:
                continue  # <id1>/<id2> on one line: two resources, not one named twice
            sig = tuple(sorted(names))
            if sig in reported:
                continue
            reported.add(sig)
            items = sorted(names.items(), key=lambda kv: kv[1])
            desc = ", ".join(f"'{_display[n]}' (line {ln})" for n, ln in items)
            yield ctx.finding(items[1][1], f"the {kind} is named differently in different steps: {desc}"
                                           f"{' [' + s + ']' if s else ''}",
                              fix=f"one name in every step, e.g. '{_display[items[0][0]]}'")


# ============================================================== API

def arm_operation(path: str) -> tuple[str | None, str | None]:
    """(resource type, action) of an ARM path, e.g. ('Microsoft.Storage/storageAccounts', 'listKeys')."""
    segs = [s for s in path.split("/") if s]
    low = [s.lower() for s in segs]
    if not low or low[0] != "subscriptions":
        return None, None
    if "providers" in low:
        i = len(low) - 1 - low[::-1].index("providers")
        if i + 1 >= len(segs):
            return None, None
        ns = segs[i + 1]
        rest = segs[i + 2:]
        types = [rest[j] for j in range(0, len(rest), 2)]
        typ = ns + "/" + "/".join(types) if types else None
        action = None
        if len(rest) % 2 == 1 and len(rest) >= 3:
            types = types[:-1]
            typ = ns + "/" + "/".join(types)
            action = rest[-1]
        return typ, action
    if len(low) >= 3 and low[2] == "resourcegroups":
        return "Microsoft.Resources/resourceGroups", None
    if len(low) <= 2:
        return "Microsoft.Resources/subscriptions", None
    return None, None


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@rule("API001", "error", "api-version Azure does not publish")
def _api001(ctx):
    """ARM requests and template resources must use an api-version Azure publishes for the
    resource type (from the public REST API specs, :mod:`milab.docs.knowledge`). Also Key
    Vault, Azure AD Graph and IMDS versions. A request to ARM without ``api-version`` fails."""
    for call in ctx.facts.http_calls:
        v = call.api_version
        host = call.host
        if call.kind == "arm":
            typ, _ = arm_operation(call.path)
            if v is None:
                if typ and "{" not in call.url:
                    yield ctx.finding(call.line, f"ARM request without api-version: {_short(call.url)}")
                continue
            if "<" in v:
                continue
            known = K.azure_api_versions(typ) if typ else None
            if known and v not in known:
                older = [x for x in known if x < v and not x.endswith("preview")]
                yield ctx.finding(call.line, f"api-version {v} does not exist for {typ}",
                                  fix=f"api-version={older[-1] if older else known[-1]} (the closest published before "
                                      f"it; the latest is {known[-1]})")
        elif call.kind == "imds" and v and v not in K.IMDS_API_VERSIONS:
            yield ctx.finding(call.line, f"IMDS does not serve api-version {v} (use 2018-02-01 or later)")
        elif (host.endswith("vault.azure.net") or re.search(r"key-?vault", call.url, re.I)) and "/secrets/" in call.path:
            if v and v not in K.KEYVAULT_API_VERSIONS:
                yield ctx.finding(call.line, f"Key Vault does not serve api-version {v}")
        elif host == "graph.windows.net" and v and v not in K.AAD_GRAPH_API_VERSIONS:
            yield ctx.finding(call.line, f"Azure AD Graph has no api-version {v}")
    for r in ctx.facts.arm_resources:
        known = K.azure_api_versions(r.type)
        if known and r.api_version not in known and "[" not in r.api_version:
            yield ctx.finding(r.line, f"template resource {r.type} uses api-version {r.api_version}, which does "
                                      f"not exist (latest known: {known[-1]})")


@rule("API002", "error", "operation Azure does not have")
def _api002(ctx):
    """A POST action on a resource (``.../listKeys``) must be one the resource provider
    publishes (``readonlykeys``, ``listServiceSas`` ...)."""
    for call in ctx.facts.arm_calls:
        typ, action = arm_operation(call.path)
        if not typ or not action or "<" in action or "{" in action:
            continue
        known = K.AZURE_ACTIONS.get(typ.lower())
        if known is not None and action.lower() not in known:
            yield ctx.finding(call.line, f"{typ} has no operation '{action}'")


@rule("API003", "info", "the emulator cannot reproduce this request", limit=True,
      fix="nothing on the page: milab's emulator needs to model it")
def _api003(ctx):
    """Requests and template resources whose type, api-version or operation the emulator's
    catalogue (``milab/cloud/arm/catalog.py``) does not know: the scenarios cannot reproduce
    that step yet. Not a documentation defect."""
    reported = set()
    items = []
    for call in ctx.facts.arm_calls:
        typ, action = arm_operation(call.path)
        if typ:
            items.append((call.line, typ, call.api_version, action))
    for r in ctx.facts.arm_resources:
        items.append((r.line, r.type, r.api_version, None))
    for line, typ, v, action in items:
        known = K.emulator_api_versions(typ)
        if known is None:
            if typ.lower() not in reported:
                reported.add(typ.lower())
                yield ctx.finding(line, f"the emulator does not model {typ}")
            continue
        azure = K.azure_api_versions(typ)
        if azure and v and v not in azure:
            continue  # API001 reports it
        if v and "<" not in v and v not in known and (typ.lower(), v) not in reported:
            reported.add((typ.lower(), v))
            yield ctx.finding(line, f"the emulator does not accept api-version {v} for {typ}")
        acts = K.emulator_actions(typ)
        if action and "<" not in action and acts is not None and action.lower() not in acts and \
                (typ, action) not in reported:
            reported.add((typ, action))
            yield ctx.finding(line, f"the emulator has no operation '{action}' on {typ}")


def _short(url: str, n: int = 90) -> str:
    return url if len(url) <= n else url[:n] + "..."


_VM_TYPES = ("microsoft.compute/virtualmachines", "microsoft.compute/virtualmachinescalesets")


_IDENTITY_TYPES = {"systemassigned", "userassigned", "none", "systemassigned,userassigned"}


def _identity_type_problem(identity: Any) -> str | None:
    """The message for an identity ``type`` Azure does not accept ('System Assigned')."""
    if not isinstance(identity, dict) or not isinstance(identity.get("type"), str):
        return None
    t = identity["type"].strip()
    if not t or t.startswith("[") or re.search(r"[<>{}$]", t):
        return None
    parts = [p.strip().lower() for p in t.split(",")]
    if all(p in ("systemassigned", "userassigned", "none") for p in parts) and len(parts) == len(set(parts)) \
            and not ("none" in parts and len(parts) > 1):
        return None
    return (f"identity type '{t}' is not one Azure accepts (SystemAssigned, UserAssigned, "
            f"'SystemAssigned, UserAssigned' or None)")


def _check_identity(ctx, line: int, api_version: str | None, identity: Any, what: str):
    if not isinstance(identity, dict):
        return
    v = api_version or ""
    new_format = bool(_DATE.match(v)) and v[:10] >= "2018-06-01"
    old_format = bool(_DATE.match(v)) and v[:10] <= "2017-12-01"
    if "identityIds" in identity and new_format:
        yield ctx.finding(line, f"{what} at api-version {v} lists user-assigned identities in 'identityIds' "
                                f"(the 2017-12-01 array format); from 2018-06-01 they go in the "
                                f"'userAssignedIdentities' dictionary")
    if "userAssignedIdentities" in identity and old_format:
        yield ctx.finding(line, f"{what} at api-version {v} uses the 'userAssignedIdentities' dictionary, which "
                                f"needs api-version 2018-06-01 or later (2017-12-01 uses 'identityIds')")
    ua = identity.get("userAssignedIdentities")
    ids = list(ua.keys()) if isinstance(ua, dict) else []
    ids += [x for x in identity.get("identityIds") or [] if isinstance(x, str)]
    for k in ids:
        ks = k.strip()
        if ks.startswith("[") or re.match(r"^<[^>]*(id|resource)[^>]*>$", ks, re.I) or ks.startswith("$"):
            continue
        if not ks.lower().startswith("/subscriptions/"):
            yield ctx.finding(line, f"user-assigned identity '{_short(ks, 70)}' is not a full resource ID "
                                    f"(it must start with /subscriptions/)")
    for k in identity:
        if k not in ("type", "userAssignedIdentities", "identityIds", "principalId", "tenantId") \
                and "/subscriptions/" in k.lower() or (k.lower().startswith("subscriptions/")):
            yield ctx.finding(line, f"'identity' has a key '{_short(k, 60)}' outside 'userAssignedIdentities' "
                                    f"(misplaced brace?)")


@rule("API004", "error", "request body does not fit the operation")
def _api004(ctx):
    """VM and scale-set requests: ``identityIds`` (array, api-version 2017-12-01) versus
    ``userAssignedIdentities`` (dictionary, 2018-06-01 and later), identity IDs that are not
    full resource IDs, identity keys outside ``userAssignedIdentities``; and request bodies
    sent as JSON that do not parse."""
    for call in ctx.facts.http_calls:
        if call.body is None or call.method not in ("PUT", "PATCH", "POST"):
            continue
        body = call.body.strip()
        if not body or body.startswith("$") or body.startswith("@") or not body.startswith(("{", "[")):
            continue
        try:
            data = json.loads(re.sub(r'(?<=[:\[,])(\s*)(<[A-Za-z][^<>"\n]*>)', r'\1"\2"', body))
        except json.JSONDecodeError as exc:
            yield ctx.finding(call.line, f"the {call.method} request body is not valid JSON ({exc.msg} at "
                                         f"character {exc.pos}): {_short(body, 60)}")
            continue
        typ, action = arm_operation(call.path) if call.kind == "arm" else (None, None)
        if call.kind == "arm" and isinstance(data, dict):
            msg = _identity_type_problem(data.get("identity"))
            if msg:
                yield ctx.finding(call.line, f"the {call.method} request: {msg}")
        if typ and typ.lower() in _VM_TYPES and not action and isinstance(data, dict):
            yield from _check_identity(ctx, call.line, call.api_version, data.get("identity"),
                                       f"the {call.method} request")
    for b, kind in ctx.blocks("json"):
        text = repair_export_json(b)[0] if b.layout == "export" else b.text
        try:
            data = parse_doc_json(re.sub(r'(?<=[:\[,])(\s*)(<[A-Za-z][^<>"\n]*>)', r'\1"\2"', text))
        except JsonProblem:
            continue
        for obj in _walk(data):
            msg = _identity_type_problem(obj.get("identity"))
            if msg:
                yield ctx.finding(b.line, msg)
            t = str(obj.get("type", "")).lower()
            if t in _VM_TYPES and "identity" in obj:
                yield from _check_identity(ctx, b.line, str(obj.get("apiVersion", "")), obj["identity"],
                                           f"the template resource {obj.get('type')}")


def _walk(x):
    if isinstance(x, dict):
        yield x
        for v in x.values():
            yield from _walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from _walk(v)


@rule("API005", "error", "IMDS token request malformed")
def _api005(ctx):
    """IMDS token requests need the ``Metadata: true`` header, an ``api-version`` and a
    ``resource``; IMDS rejects requests that carry ``X-Forwarded-For``."""
    for call in ctx.facts.imds_calls:
        if "/metadata/identity/" not in call.path:
            continue
        s = imds_summary(call)
        if not s["metadata_header"] and call.source != "code":
            yield ctx.finding(call.line, "IMDS request without the 'Metadata: true' header (IMDS answers 400)")
        if not s["api_version"]:
            yield ctx.finding(call.line, "IMDS request without api-version")
        if not s["resource"] and call.source != "code":
            yield ctx.finding(call.line, "IMDS token request without a resource", "warning")
        if call.header("X-Forwarded-For") is not None:
            yield ctx.finding(call.line, "IMDS rejects requests with an X-Forwarded-For header")


@rule("API006", "error", "malformed resource ID")
def _api006(ctx):
    """Resource IDs and scopes: ``/subscriptions/{id}`` is followed by ``/resourceGroups/...``
    or ``/providers/...``; a quoted ID must not end in spaces."""
    for b, kind in ctx.blocks():
        for ll in ctx.facts.logical.get(b.line, []):
            text = ll.text
            for m in re.finditer(r"/subscriptions/(<[^>]*>|[^/\s'\"<>]+)/(?!resourcegroups/|resourceGroups/|providers/)"
                                 r"(<[^>]*>|[^/\s'\"<>]+)/providers/", text, re.I):
                yield ctx.finding(ll.line, f"resource ID '/subscriptions/{m.group(1)}/{m.group(2)}/providers/...' "
                                           f"lacks the 'resourceGroups' segment")
            for m in re.finditer(r"([\"'])(/subscriptions/[^\"'\n]*?)(\s+)\1", text):
                yield ctx.finding(ll.line, f"resource ID '{_short(m.group(2), 60)}' ends with whitespace inside the "
                                           f"quotes", "warning")
            for m in re.finditer(r"([\"'])(/subscriptions/[^\"'\n]*?)(\.\.\.|…)\1", text):
                yield ctx.finding(ll.line, f"resource ID '{_short(m.group(2), 60)}{m.group(3)}' ends with an "
                                           f"ellipsis inside the quotes: it is not a valid ID")


# ============================================================== DEP

@rule("DEP001", "warning", "retired or deprecated endpoint, module or service")
def _dep001(ctx):
    """References to retired or deprecated things (Azure AD Graph, Data Lake Storage Gen1,
    the VM extension token endpoint localhost:50342, AzureRM/AzureAD PowerShell, the legacy
    .NET storage and app-authentication libraries ...), each with its modern equivalent, in
    the reader's language. Only what the reader is told to use counts: output the page shows
    (a cmdlet printing ``Microsoft.WindowsAzure.Storage`` types) is not a reference. Info when
    the page itself says the thing is deprecated next to the reference."""
    lines: list[tuple[int, str, CodeBlock | None]] = [(t.line, t.text, None) for t in ctx.page.prose]
    for b in ctx.page.code_blocks:
        if ctx.facts.kinds.get(b.line) == "output" or b.line in ctx.facts.tagged_output:
            continue  # what a command printed, not what the reader writes
        lines += [(b.line_of(i), l, b) for i, l in enumerate(b.lines)]
    lines.sort(key=lambda x: x[0])
    allt = {ln: t for ln, t, _ in lines}
    for dep_id, rx, what, modern in K.DEPRECATIONS:
        langs = K.DEPRECATION_LANGS.get(dep_id)
        hits = [ln for ln, t, b in lines if rx.search(t) and (
            langs is None or b is None or b.lang in langs or (not b.lang and ctx.facts.kinds.get(b.line) == "code"))]
        if not hits:
            continue
        first = hits[0]
        window = " ".join(allt.get(n, "") for n in range(first - 15, first + 16))
        noted = re.search(r"deprecat|retire|no longer|will be removed|end of (life|support)", window, re.I)
        for ln in hits:
            yield ctx.finding(ln, what, "info" if noted else None, fix=modern)


# ============================================================== more CODE checks (measured on real pages)

def _prose_before(ctx, line: int, within: int = 6) -> str:
    """The last prose line (with text) before a block, if it is close enough."""
    return prose_before(ctx.page, line, within)


def shell_block_output(ctx, b) -> str | None:
    """Why a block tagged as shell (or PowerShell) holds output rather than commands (None when
    it holds commands): see :func:`milab.docs.facts.output_reason`."""
    return ctx.facts.tagged_output.get(b.line) or output_reason(ctx.page, b)


@rule("CODE010", "info", "output tagged as a shell or PowerShell block", fix="tag the block 'output' (or 'json')")
def _code010(ctx):
    """A ``bash``/``azurecli``/``powershell`` block that holds a response (JSON, or text the page
    introduces as the output) rather than commands. The gate treats it as output (no ShellCheck,
    no commands taken from it); tagged ``output`` or ``json`` it renders as output on Learn too,
    without a Copy button that offers it as a command."""
    for b in ctx.page.code_blocks:
        why = ctx.facts.tagged_output.get(b.line)
        if not why or b.layout == "export" or b.lang in ("console", ""):
            continue
        yield ctx.finding(b.line, f"the '{b.lang}' block holds {'a JSON response' if why == 'JSON' else 'output'}, "
                                  f"not commands", fix=f"```{'json' if why == 'JSON' else 'output'} instead of "
                                                      f"```{b.lang}")


#: Azure CLI options that always take a value
_AZ_VALUE_OPTS = {"--resource-group", "-g", "--name", "-n", "--account-name", "--scope", "--role", "--assignee",
                  "--assignee-object-id", "--principal-id", "--role-definition-id", "--location", "-l", "--vm-name",
                  "--subscription", "--container-name", "--vault-name", "--body", "--image", "--admin-username",
                  "--plan", "--sku", "--vmss-name", "--identity-name", "--secret-permissions", "--object-id",
                  "--spn", "--upn", "--query", "--output", "-o", "--resource-type", "--ids", "--api-version",
                  "--uri", "--method", "--headers", "--url-parameters", "--file", "--auth-mode"}


@rule("CODE011", "error", "Azure CLI option without its value")
def _code011(ctx):
    """An Azure CLI option that takes a value (``--resource-group``, ``--scope`` ...) directly
    followed by another option: the value is missing (``--resource-group --scope "/"``)."""
    for c in ctx.facts.commands:
        if c.kind != "az":
            continue
        toks = c.tokens
        bare = [t for i, t in enumerate(toks[:-1]) if t in _AZ_VALUE_OPTS
                and re.match(r"^--?[a-z][\w-]*$", toks[i + 1]) and not re.match(r"^-\d", toks[i + 1])]
        if bare:
            yield ctx.finding(c.line, f"'{c.name}': option{'s' if len(bare) > 1 else ''} {', '.join(bare)} "
                                      f"{'have' if len(bare) > 1 else 'has'} no value (followed directly by another "
                                      f"option)")


@rule("CODE012", "error", "Java/C# statement missing its semicolon")
def _code012(ctx):
    """``import``/``package`` (Java) and ``using`` directives (C#) end with a semicolon; a
    missing one does not compile."""
    for b, kind in ctx.blocks("code"):
        if b.lang == "java":
            rx = re.compile(r"^\s*(import(\s+static)?\s+[\w.]+(\.\*)?|package\s+[\w.]+)\s*$")
        elif b.lang in ("csharp", "cs", "c#"):
            rx = re.compile(r"^\s*using\s+(static\s+)?[\w.]+(\s*=\s*[\w.<>]+)?\s*$")
        else:
            continue
        for i, line in enumerate(b.lines):
            if rx.match(line):
                yield ctx.finding(b.line_of(i), f"'{line.strip()}' needs a semicolon at the end")


def _unquoted(text: str) -> str:
    """The text with quoted strings blanked (shell/PowerShell quoting, roughly)."""
    return re.sub(r"'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\"", lambda m: "Q" * len(m.group(0)), text)


@rule("CODE013", "error", "'//' comment in shell or PowerShell code")
def _code013(ctx):
    """``//`` starts a comment in JSON, C# or JavaScript, not in bash or PowerShell (which use
    ``#``): ``$id = "<id>" // as fetched above`` is a syntax error."""
    for b, kind in ctx.blocks("shell", "powershell"):
        if b.layout == "export" or shell_block_output(ctx, b):
            continue
        for i, line in enumerate(b.lines):
            bare = _unquoted(line)
            m = re.search(r"(^|\s)//(\s|$)", bare)
            if m and not bare.lstrip().startswith("#"):
                shell = "PowerShell" if kind == "powershell" else "bash"
                yield ctx.finding(b.line_of(i), f"'//' is not a comment in {shell} (use '#'): {line.strip()[:80]}")


_URL_IN_QUOTES_BROKEN = re.compile(r"(['\"])(https?://(?:[^'\"\s<>]|<[^<>\n]*>)*)(?<![\\`])\n(?=[^\s'\"])")


@rule("CODE014", "error", "URL broken across lines")
def _code014(ctx):
    """A URL that continues on the next line (``.../resourceGroup`` + newline + ``s/...``)
    is sent with a line break in it: quoted in a command it becomes part of the URL, and an
    HTTP request line cannot span lines."""
    for b, kind in ctx.blocks("shell", "powershell", "http"):
        if b.layout == "export":
            continue
        text = b.text
        for m in _URL_IN_QUOTES_BROKEN.finditer(text):
            idx = text[:m.end(2)].count("\n")
            yield ctx.finding(b.line_of(idx), f"the URL {_short(m.group(2), 70)} continues on the next line: the line "
                                              f"break becomes part of the URL")
        if kind == "http":
            body = [(i, l) for i, l in enumerate(b.lines) if l.strip()]
            if len(body) >= 2:
                (i0, first), (i1, second) = body[0], body[1]
                first_bare = re.sub(r"<[^<>\n]*>", "X", first.strip())
                if re.match(r"^[A-Z]+\s+\S+$", first_bare) and "HTTP/" not in first \
                        and not re.match(r"^[\w-]+\s*:", second.strip()) and not second.strip().startswith(("{", "[")):
                    yield ctx.finding(b.line_of(i0), f"the request target continues on line {b.line_of(i1)}: an HTTP "
                                                     f"request line cannot span lines")


@rule("CODE015", "error", "URL with '&' not quoted in a shell command")
def _code015(ctx):
    """In bash an unquoted ``&`` ends the command and runs it in the background: ``curl
    http://169.254.169.254/...?api-version=2018-02-01&resource=...`` sends no resource.
    Quote URLs that carry several query parameters."""
    for b, kind in ctx.blocks("shell"):
        if b.layout == "export" or shell_block_output(ctx, b):
            continue
        for ll in ctx.facts.logical.get(b.line, []):
            bare = _unquoted(ll.text)
            if not re.search(r"(^|[\s;(|])(sudo\s+)?(curl|wget|az\s+rest|http)\b", bare):
                continue
            for m in re.finditer(r"(?<![\w'\"])https?://\S*?&\S*", bare):
                yield ctx.finding(ll.line, f"the URL {_short(ll.text[m.start():m.end()], 70)} is not quoted: bash "
                                           f"ends the command at '&' (quote the URL)")
                break


def _ps_cmd_value(params: dict, *names) -> str | None:
    low = {k.lower(): v for k, v in params.items()}
    for n in names:
        if low.get(n):
            return low[n]
    return None


@rule("NAME004", "warning", "resource group and resource name look swapped")
def _name004(ctx):
    """A command whose resource-group argument names a VM (``-ResourceGroupName "My VM"``)
    while its name argument names a resource group (``-Name "My resource group"``): the two
    values are probably swapped."""
    for c in ctx.facts.commands:
        if "group" in c.name.lower().replace("resourcegroupname", ""):
            continue  # az group create, New-AzResourceGroup: -Name is the group
        rg = _ps_cmd_value(c.params, "-resourcegroupname", "--resource-group", "-g")
        name = _ps_cmd_value(c.params, "-name", "--name", "-n", "-vmname", "--vm-name")
        if not rg or not name:
            continue
        rg_v, name_v = rg.strip("'\" "), name.strip("'\" ")
        if re.search(r"[$<>\[\]{}]", rg_v + name_v):
            continue
        rg_is_other = re.search(r"\b(vm|virtual machine|vmss|scale set|vault|identity|account|app)\b", rg_v, re.I) \
            and not re.search(r"group|\brg\b", rg_v, re.I)
        name_is_rg = re.search(r"resource[ _-]?group|\brg\b", name_v, re.I)
        if rg_is_other and name_is_rg:
            yield ctx.finding(c.line, f"'{c.name}' gets resource group '{rg_v}' and name '{name_v}': the values look "
                                      f"swapped")


def _damerau1(a: str, b: str) -> bool:
    """Edit distance exactly 1 (one insertion, deletion, substitution or transposition)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    s, l = (a, b) if len(a) < len(b) else (b, a)
    return any(l[:i] + l[i + 1:] == s for i in range(len(l)))


_PLACEHOLDER_WORDS = {"subscription", "resource", "group", "name", "id", "account", "identity", "assigned", "user",
                      "token", "vault", "client", "principal", "tenant", "location", "storage", "container", "access",
                      "object", "secret", "key", "vm", "scale", "set", "virtual", "machine", "password", "role",
                      "scope", "file", "blob", "database", "cosmos", "db", "app", "application", "service", "url",
                      "endpoint", "region", "image", "version", "value", "my", "your", "the", "of", "for"}


def _vocab_score(spellings: dict[str, list[int]]) -> int:
    p = next(iter(spellings))
    words = [w for w in re.split(r"[^a-z]+", p.lower()) if w]
    return sum(w in _PLACEHOLDER_WORDS for w in words) - sum(w not in _PLACEHOLDER_WORDS for w in words)


@rule("NAME005", "warning", "misspelled placeholder")
def _name005(ctx):
    """Two placeholders on one page that differ by one letter (``<RESROURCE GROUP>`` next to
    ``<RESOURCE GROUP>``, ``<SUBSCRIPTON ID>`` next to ``<SUBSCRIPTION ID>``): the rarer one
    is probably a typo, and search-and-replace misses it."""
    counts: dict[str, dict[str, list[int]]] = {}
    for p, line in ctx.facts.placeholders:
        key = placeholder_key(p)
        counts.setdefault(key, {}).setdefault(p, []).append(line)
    keys = sorted(counts, key=lambda k: -sum(len(v) for v in counts[k].values()))
    reported = set()
    for i, a in enumerate(keys):
        for b_ in keys[i + 1:]:
            if min(len(a), len(b_)) < 7 or b_ in reported:
                continue
            if re.sub(r"\d", "", a) == re.sub(r"\d", "", b_):
                continue  # <ID1>/<ID2>, <NAME1>/<NAME2>
            if not _damerau1(a, b_):
                continue
            na, nb = sum(len(v) for v in counts[a].values()), sum(len(v) for v in counts[b_].values())
            va, vb = _vocab_score(counts[a]), _vocab_score(counts[b_])
            if va != vb:  # the spelling made of real words is the intended one
                rare, common = (b_, a) if va > vb else (a, b_)
            else:
                rare, common = (b_, a) if nb <= na else (a, b_)
            rp = next(iter(counts[rare]))
            cp = next(iter(counts[common]))
            rare_words = set(re.split(r"[^a-z]+", rp.lower())) - set(re.split(r"[^a-z]+", cp.lower())) - {""}
            if not any(len(w) >= 5 and w not in _PLACEHOLDER_WORDS for w in rare_words):
                continue  # <app-name> / <api-name>: two real words, two placeholders
            reported.add(rare)
            yield ctx.finding(min(counts[rare][rp]), f"placeholder {rp} looks like a misspelling of {cp} "
                                                     f"(used on line {min(counts[common][cp])})", fix=cp)


def semantic_key(p: str) -> str:
    """A placeholder's meaning, whatever its spelling: ``<mySubscriptionID>``, ``<SUBSCRIPTION-ID>``
    and ``<Your subscription ID>`` are all 'subscriptionid'."""
    k = placeholder_key(p)
    for prefix in ("your", "my", "the"):
        if k.startswith(prefix) and len(k) > len(prefix) + 3:
            k = k[len(prefix):]
    return k


@rule("NAME003", "warning", "the text names a placeholder the code spells differently (or not at all)",
      fix="one spelling in the text and in the code")
def _name003(ctx):
    """The text asks readers to replace ``<SUBSCRIPTION ID>`` but the code after it spells it
    ``<mySubscriptionID>`` (or ``<SUBSCRIPTION-ID>``, or has no such placeholder at all, or
    the code says ``<UAMI CLIENT ID>`` where the text says ``<CLIENT ID>``): readers cannot find
    what to replace. The finding names the spelling the code uses."""
    code_text = "\n".join(ll.text.replace("\n", " ") for lls in ctx.facts.logical.values() for ll in lls) + "\n" + \
        "\n".join(b.text for b in ctx.page.code_blocks)
    token_var = re.search(r"\$\{?\w*token\w*", code_text, re.I)
    inline_uses = []
    asked: list[tuple[str, int]] = []
    for t in ctx.page.prose:
        for m in re.finditer(r"`([^`]+)`", t.text):
            span = m.group(1)
            ps = find_placeholders(span)
            if len(ps) == 1 and span.strip() == ps[0]:
                if re.search(r"\b(replace|substitute|your own values?|with the values?|update the values?)\b",
                             t.text, re.I):
                    asked.append((ps[0], t.line))
            else:
                inline_uses.append(span)
    if not asked:
        return
    all_code = find_placeholders(code_text)
    used = {placeholder_key(p) for p in find_placeholders(code_text + "\n" + "\n".join(inline_uses))}
    if not used and not all_code:
        return
    headings = sorted(h.line for h in ctx.page.headings)
    seen = set()
    for p, line in asked:
        key = placeholder_key(p)
        if len(key) < 3 or (key, line) in seen:
            continue
        end = next((h for h in headings if h > line), ctx.page.end_line + 1)
        section = [b for b in ctx.page.code_blocks if line < b.line < end
                   and ctx.facts.kinds.get(b.line) in ("shell", "powershell", "http", "code", "other")]
        sec_ps = [q for b in section for ll in ctx.facts.logical.get(b.line, []) for q in find_placeholders(ll.text)]
        if section and sec_ps and key not in {placeholder_key(q) for q in sec_ps}:
            other = next((q for q in sec_ps if semantic_key(q) == semantic_key(p)), None)
            if other:
                seen.add((key, line))
                yield ctx.finding(line, f"the text asks to replace {p}, but the code after it writes {other}",
                                  fix=f"{other} in the text (or {p} in the code)")
                continue
        if key in used or "token" in key and token_var:
            continue  # the code keeps the token in a variable: "replace <ACCESS TOKEN>" is loose, not wrong
        if any((key, ln) in seen for ln in range(0, line)) or key in {k for k, _ in seen}:
            continue
        seen.add((key, line))
        near = sorted(used, key=lambda u: (-len(set(u) & set(key)), abs(len(u) - len(key))))
        hint = next((q for q in all_code if placeholder_key(q) == near[0]), None) if near else None
        close = hint and (key in near[0] or near[0] in key or _damerau1(key, near[0])
                          or semantic_key(hint) == semantic_key(p))
        yield ctx.finding(line, f"the text asks to replace {p}, but no code on this page contains it"
                                f"{f' (the code uses {hint})' if close else ''}",
                          fix=f"{hint} in the text (or {p} in the code)" if close else
                          f"{p} in the code where the value goes, or drop it from the text")


@rule("CODE016", "error", "Python code does not compile")
def _code016(ctx):
    """``python`` blocks must compile (Python 3): a ``print "x"`` statement, an unclosed
    bracket or a stray brace is a syntax error. Placeholders (``<client-id>``) outside strings
    are replaced by a name first; interactive sessions (``>>>``) are not checked."""
    import ast
    import textwrap
    for b, kind in ctx.blocks("code"):
        if b.lang not in ("python", "py", "python3") or b.layout == "export":
            continue
        text = textwrap.dedent(b.text)
        if not text.strip() or re.search(r"^\s*(>>>|\$ |%|!pip)", text, re.M):
            continue
        src = re.sub(r"(?<![\w'\"])<[A-Za-z][^<>\n'\"]*>", "_placeholder_", text)
        try:
            ast.parse(src, feature_version=(3, 11))
        except SyntaxError as exc:
            idx = max(0, (exc.lineno or 1) - 1)
            yield ctx.finding(b.line_of(idx), f"Python in the block starting on line {b.line} does not compile: "
                                              f"{exc.msg}")


# -------------------------------------------------------------- real grammars (tree-sitter)

_GRAMMARS: dict[str, Any] = {}
_TS_MODULES = {"javascript": "tree_sitter_javascript", "csharp": "tree_sitter_c_sharp", "java": "tree_sitter_java",
               "powershell": "tree_sitter_powershell"}
_TS_LANG = {"javascript": "javascript", "js": "javascript", "node": "javascript", "nodejs": "javascript",
            "csharp": "csharp", "cs": "csharp", "c#": "csharp", "java": "java",
            "powershell": "powershell", "azurepowershell": "powershell", "azurepowershell-interactive": "powershell",
            "pwsh": "powershell", "ps": "powershell", "ps1": "powershell"}


def grammar(name: str):
    """A tree-sitter parser for ``name`` (None when its grammar package is not installed)."""
    if name not in _GRAMMARS:
        try:
            import importlib

            import tree_sitter
            mod = importlib.import_module(_TS_MODULES[name])
            _GRAMMARS[name] = tree_sitter.Parser(tree_sitter.Language(mod.language()))
        except Exception:  # noqa: BLE001 - reported as "not checked" by the rule
            _GRAMMARS[name] = None
    return _GRAMMARS[name]


def syntax_error(name: str, src: str) -> tuple[int, str] | None:
    """(0-based line, what) of the first syntax error tree-sitter finds, or None."""
    p = grammar(name)
    if p is None:
        return None
    tree = p.parse(src.encode("utf-8"))
    if not tree.root_node.has_error:
        return None
    stack = [tree.root_node]
    while stack:
        n = stack.pop(0)
        if n.type == "ERROR" or n.is_missing:
            line = n.start_point[0]
            text = src.encode("utf-8")[n.start_byte:n.end_byte].decode("utf-8", "replace").strip().splitlines()
            what = f"missing {n.type}" if n.is_missing else f"unexpected '{_short(text[0] if text else '', 40)}'"
            return line, what
        stack = [c for c in n.children if c.has_error or c.is_missing or c.type == "ERROR"] + stack
    return 0, "syntax error"


_WRAPS = {"csharp": [("", ""), ("class _Doc {\n", "\n}"), ("class _Doc { void _m() {\n", "\n} }")],
          "java": [("", ""), ("class _Doc {\n", "\n}"), ("class _Doc { void _m() throws Exception {\n", "\n} }")],
          "javascript": [("", ""), ("async function _m() {\n", "\n}")],
          "powershell": [("", "")]}


def snippet_error(name: str, src: str) -> tuple[int, str] | None:
    """The syntax error of a code sample: parsed as a whole file, then as a class body and as
    a method body (samples are often fragments); None when any of them parses."""
    first = None
    for pre, post in _WRAPS[name]:
        err = syntax_error(name, pre + src + post)
        if err is None:
            return None
        if first is None:
            first = (err[0] - pre.count("\n"), err[1])
    return first


def _sample_source(ctx, b, name: str) -> str | None:
    import textwrap
    text = textwrap.dedent(b.text)
    if not text.strip() or re.search(r"^\s*(\.\.\.|…)\s*;?\s*$|^\s*(>>>|\$ |PS [A-Z]:\\>)", text, re.M):
        return None  # elided code, or a session transcript
    if re.search(r"[(\[{,]\s*(\.\.\.|…)\s*[)\]},]|//\s*\.\.\.|\{\s*\.\.\.\s*\}", text):
        return None
    if name == "powershell":
        # placeholders outside strings stand for values
        text = re.sub(r"(?<![\w'\"`])<[A-Za-z][^<>\n'\"`]*>", "placeholder", text)
        # tree-sitter-powershell does not know bare-word lists as arguments (Format-List Name, Id): quote them
        return re.sub(r"(?<=\s)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)+)(?=\s*(?:$|\||;|\)|-))",
                      lambda m: ", ".join(f"'{w.strip()}'" for w in m.group(1).split(",")), text, flags=re.M)
    return re.sub(r"(?<![\w'\"`])<[A-Za-z][^<>\n'\"`]*>", "_placeholder_", text)


def _parse_rule(ctx, name: str, label: str, kinds=("code",)):
    already = {(f.line) for f in list(_code012(ctx) or []) + list(_code018(ctx) or [])} if name in ("csharp", "java") \
        else set()
    if grammar(name) is None:
        yield ctx.finding(ctx.page.line, f"the {label} grammar (tree-sitter) is not installed: {label} samples were "
                                         f"not parsed", "info", fix="pip install the project (pyproject.toml)")
        return
    for b, kind in ctx.blocks(*kinds):
        if _TS_LANG.get(b.lang) != name or b.layout == "export" or b.line in ctx.facts.tagged_output:
            continue
        src = _sample_source(ctx, b, name)
        if src is None:
            continue
        err = snippet_error(name, src)
        if err is None:
            continue
        idx = max(0, min(err[0], len(b.lines) - 1))
        if b.line_of(idx) in already:
            continue
        yield ctx.finding(b.line_of(idx), f"{label} in the block starting on line {b.line} does not parse: {err[1]} "
                                          f"(in: {_short(b.lines[idx].strip(), 70)})",
                          fix=f"{label} that parses: check the brackets, quotes and separators on this line")


@rule("CODE017", "error", "JavaScript code does not parse", fix="JavaScript that parses")
def _code017(ctx):
    """``javascript`` blocks must parse (tree-sitter's JavaScript grammar, as a module or a
    function body). Placeholders outside strings are replaced by a name first; blocks with
    ``...`` elisions are not checked."""
    for f in _parse_rule(ctx, "javascript", "JavaScript"):
        if f.severity == "info":
            continue
        yield f


@rule("CODE019", "error", "C# code does not parse", fix="C# that parses")
def _code019(ctx):
    """``csharp`` blocks must parse (tree-sitter's C# grammar; a sample may be a file, a class
    body or a method body). Placeholders outside strings are replaced by a name; blocks with
    ``...`` elisions are not checked; a missing ``;`` after ``using`` (CODE012) and a string
    broken across lines (CODE018) are reported by those rules."""
    for f in _parse_rule(ctx, "csharp", "C#"):
        if f.severity != "info":
            yield f


@rule("CODE020", "error", "Java code does not parse", fix="Java that parses")
def _code020(ctx):
    """``java`` blocks must parse (tree-sitter's Java grammar; a file, a class body or a method
    body), with the same allowances as C#."""
    for f in _parse_rule(ctx, "java", "Java"):
        if f.severity != "info":
            yield f


@rule("CODE021", "error", "PowerShell code does not parse", fix="PowerShell that parses")
def _code021(ctx):
    """``powershell``/``azurepowershell`` blocks must parse (tree-sitter's PowerShell grammar).
    Placeholders outside strings are replaced by a word first; output shown in a PowerShell
    block (``Name : value`` lists after "Response:") and session transcripts are not parsed;
    broken continuations and ``@{'a':'b'}`` hashtables are reported by CODE003/CODE004."""
    reported = [f.line for f in list(_code003(ctx) or []) + list(_code004(ctx) or [])]
    blocks = [(b.line, b.end_line or b.line + len(b.lines) + 1) for b in ctx.page.code_blocks]
    skip = {a for a, e in blocks if any(a <= ln <= e for ln in reported)}
    for f in _parse_rule(ctx, "powershell", "PowerShell", kinds=("powershell",)):
        start = next((a for a, e in blocks if a <= f.line <= e), None)
        if f.severity != "info" and start not in skip:
            yield f


@rule("CODE018", "error", "C#/Java string literal broken across lines")
def _code018(ctx):
    """A regular C# or Java string literal cannot contain a line break: ``"`` + newline +
    ``<name>";`` does not compile (C# verbatim ``@"..."`` and raw strings, and Java text
    blocks, can span lines)."""
    for b, kind in ctx.blocks("code"):
        if b.lang not in ("csharp", "cs", "c#", "java") or '"""' in b.text:
            continue
        in_verbatim = False
        in_block_comment = False
        carried = False
        for i, line in enumerate(b.lines):
            if carried:  # the rest of the broken literal: resume after its closing quote
                q = line.find('"')
                line = line[q + 1:] if q >= 0 else ""
            in_verbatim, in_block_comment, unclosed = _open_string_at_eol(line, in_verbatim, in_block_comment)
            was_carried, carried = carried, unclosed
            if unclosed and not was_carried:
                nxt = b.lines[i + 1].strip() if i + 1 < len(b.lines) else ""
                yield ctx.finding(b.line_of(i), f"string literal opened on this line is not closed before the line "
                                                f"ends (continues as: {_short(nxt, 50)})")


def _open_string_at_eol(line: str, verbatim: bool, block_comment: bool) -> tuple[bool, bool, bool]:
    """Scan one line of C#/Java: (inside a verbatim string, inside a /* comment, a regular
    string left open at the end of the line)."""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if block_comment:
            j = line.find("*/", i)
            if j < 0:
                return verbatim, True, False
            block_comment, i = False, j + 2
            continue
        if verbatim:
            if c == '"':
                if line[i + 1:i + 2] == '"':
                    i += 2
                    continue
                verbatim = False
            i += 1
            continue
        if line.startswith("//", i):
            return False, False, False
        if line.startswith("/*", i):
            block_comment, i = True, i + 2
            continue
        if c == "'":
            m = re.match(r"'(?:[^'\\]|\\.)*'", line[i:])
            i += len(m.group(0)) if m else 1
            continue
        if c == '"':
            if i > 0 and line[i - 1] == "@" or line[max(0, i - 2):i] in ("$@", "@$"):
                verbatim, i = True, i + 1
                continue
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= n:
                return False, False, True
            i = j + 1
            continue
        i += 1
    return verbatim, block_comment, False

# ============================================================== request bodies

def _body_kind(data: dict, type_name: str | None) -> str | None:
    t = (type_name or "").lower()
    if t.endswith("virtualmachinescalesets"):
        return "vmss"
    if t.endswith("virtualmachines"):
        return "vm"
    props = data.get("properties") if isinstance(data.get("properties"), dict) else None
    if props is not None:
        if "virtualMachineProfile" in props:
            return "vmss"
        if "storageProfile" in props and ("hardwareProfile" in props or "osProfile" in props):
            return "vm"
    return None


def _shape_problems(data: dict, schema: dict[str, set[str]], where: str = "") -> Iterator[tuple[str, str]]:
    """(severity, message) for keys that belong to another level or are unknown."""
    levels = {lvl: keys for lvl, keys in schema.items()}
    owner: dict[str, list[str]] = {}
    for lvl, keys in levels.items():
        for k in keys:
            owner.setdefault(k.lower(), []).append(lvl)

    def label(lvl):
        return lvl.replace("[]", "[]") or "the top level"

    def walk(obj, lvl):
        known = levels.get(lvl)
        if known is None or not isinstance(obj, dict):
            return
        known_low = {k.lower() for k in known}
        for k, v in obj.items():
            if k.startswith(("[", "$", "<", "/")) or k.lower().startswith("subscriptions/"):
                continue  # template expressions, placeholders, identity IDs (API004 checks those)
            if k.lower() not in known_low:
                homes = [h for h in owner.get(k.lower(), []) if h != lvl and h.split(".")[-1].rstrip("[]") != ""]
                # a key that only lives at one other level of this body: misplaced (a brace in the wrong place)
                deeper = [h for h in homes if h.startswith(lvl + ".") or (lvl == "" and h)]
                if homes and k.lower() not in ("name", "id", "properties", "type"):
                    yield ("error", f"'{k}' is at {label(lvl)} of the body, but belongs in "
                                    f"{' or '.join(label(h) for h in homes[:2])} (misplaced brace?)")
                elif not homes:
                    yield ("warning", f"'{k}' is not a property of {label(lvl)} in the Compute API")
                continue
            sub = f"{lvl}.{k}" if lvl else k
            sub = next((s for s in levels if s.lower() == sub.lower()), sub)
            if isinstance(v, list):
                for item in v:
                    yield from walk(item, sub + "[]")
            else:
                yield from walk(v, sub)

    yield from walk(data, "")


def _image_problems(data: dict, kind: str) -> Iterator[tuple[str, str]]:
    props = data.get("properties") if isinstance(data.get("properties"), dict) else {}
    vm_profile = props.get("virtualMachineProfile") if kind == "vmss" else props
    sp = vm_profile.get("storageProfile") if isinstance(vm_profile, dict) else None
    if not isinstance(sp, dict):
        return
    ir = sp.get("imageReference")
    if not isinstance(ir, dict) or "id" in ir or any(k.endswith("ImageId") for k in ir):
        return
    missing = [k for k in K.IMAGE_REFERENCE_REQUIRED if k not in ir]
    if missing and "version" in missing and len(missing) == 1:
        missing = []  # version defaults to the latest
    if missing:
        yield ("error", f"'imageReference' lacks {', '.join(missing)} (a marketplace image needs publisher, offer, "
                        f"sku and version)")
    # publisher/offer may have slipped out of imageReference (a misplaced brace): look next to it too
    pub, offer, sku = (str(ir.get(k) or sp.get(k) or "") for k in ("publisher", "offer", "sku"))
    skus = K.IMAGE_SKUS.get((pub.lower(), offer.lower()))
    if skus and sku and "<" not in sku and "[" not in sku and sku.lower() not in {x.lower() for x in skus}:
        close = [x for x in skus if _damerau1(sku.lower(), x.lower())] or \
            [x for x in skus if _edit2(sku.lower(), x.lower())]
        if close:
            yield ("error", f"image SKU '{sku}' does not exist for {pub}/{offer} (the SKU '{close[0]}' does)")


def _edit2(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 2:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= 2


@rule("API007", "error", "VM or scale-set request body has the wrong shape")
def _api007(ctx):
    """Bodies of VM and scale-set PUT/PATCH requests and template resources, checked against
    the property names of the Compute REST API at each level (``properties.storageProfile.
    imageReference`` ...): a key that belongs to another level is an error (a misplaced
    brace moves ``publisher`` out of ``imageReference``), a key the API does not have is a
    warning; a marketplace ``imageReference`` needs publisher, offer and sku, and a SKU one
    letter off a known one (``2016-Datcenter``) is reported."""
    seen: set[tuple[int, str]] = set()

    def report(line, problems):
        for sev, msg in problems:
            if (line, msg) in seen:
                continue
            seen.add((line, msg))
            yield ctx.finding(line, msg, sev)

    for call in ctx.facts.http_calls:
        if call.kind != "arm" or call.method not in ("PUT", "PATCH") or not call.body:
            continue
        typ, action = arm_operation(call.path)
        if action or not typ or typ.lower() not in _VM_TYPES:
            continue
        try:
            data = json.loads(re.sub(r'(?<=[:\[,])(\s*)(<[A-Za-z][^<>"\n]*>)', r'\1"\2"', call.body.strip()))
        except (json.JSONDecodeError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        kind = "vmss" if typ.lower().endswith("scalesets") else "vm"
        schema = K.VMSS_SCHEMA if kind == "vmss" else K.VM_SCHEMA
        yield from report(call.line, [(s, f"the {call.method} body: {m}") for s, m in
                                      list(_shape_problems(data, schema)) + list(_image_problems(data, kind))])
    for b, kind in ctx.blocks("json"):
        text = repair_export_json(b)[0] if b.layout == "export" else b.text
        try:
            data = parse_doc_json(re.sub(r'(?<=[:\[,])(\s*)(<[A-Za-z][^<>"\n]*>)', r'\1"\2"', text))
        except JsonProblem:
            continue
        candidates = []
        if isinstance(data, dict):
            candidates.append(data)
            for r in data.get("resources") or []:
                if isinstance(r, dict):
                    candidates.append(r)
        for obj in candidates:
            k = _body_kind(obj, str(obj.get("type", "")) if "type" in obj else None)
            if k is None:
                continue
            if "type" in obj and not str(obj.get("type", "")).lower() in _VM_TYPES:
                continue
            schema = K.VMSS_SCHEMA if k == "vmss" else K.VM_SCHEMA
            probs = list(_shape_problems(obj, schema)) + list(_image_problems(obj, k))
            yield from report(b.line, probs)


@rule("API008", "error", "IMDS token resource is not an App ID URI")
def _api008(ctx):
    """The ``resource`` of an IMDS token request is the App ID URI of the target
    (``https://management.azure.com/``, ``https://vault.azure.net``) or its application ID;
    a bare host name (``management.azure.com``) is rejected."""
    for call in ctx.facts.imds_calls:
        if "/metadata/identity/" not in call.path:
            continue
        res = unquote(call.query.get("resource", "")).strip()
        if not res or re.search(r"[<>{}$\[]", res) or GUID_RE.fullmatch(res):
            continue
        if not re.match(r"^(https?|api)://[\w.-]+", res, re.I):
            yield ctx.finding(call.line, f"IMDS token resource '{res}' is not an App ID URI (e.g. "
                                         f"https://{res.rstrip('/')}/)")


# ============================================================== DRIFT

@rule("DRIFT001", "warning", "page differs from what the scenario reproduces",
      fix="the value the scenario reproduces, or update milab/registry.py if the page is right")
def _drift001(ctx):
    """For pages in the tutorial registry: a fact the scenario depends on (the role and its
    scope, the IMDS and ARM requests and their api-versions, headers, the request body, the
    blob's name and content, the secret, the documented response ...) that the page states
    differently from the registry. Run with ``--run`` to see whether the page's version works."""
    from . import pagefacts
    for t in ctx.tutorials:
        for key, got in pagefacts.read(t, ctx.facts).items():
            if got is None or got is pagefacts.UNREAD:
                continue
            value, line = got
            expected = t.facts[key]
            if not pagefacts.same(key, value, expected):
                yield ctx.finding(line, f"{t.key}: the page gives {key} = {_fmt(value)}, the scenario reproduces "
                                        f"{_fmt(expected)}",
                                  fix=f"{_fmt(expected)} (what milab reproduces), or update {t.key} in "
                                      f"milab/registry.py if the page is right")


@rule("DRIFT002", "warning", "a fact the scenario depends on cannot be read from the page",
      fix="state the fact where the page's steps give it (a command, a request, a portal step)")
def _drift002(ctx):
    """Every fact a scenario depends on is read from the page it reproduces; a page fact that
    the page no longer states in a way milab can read (the role chosen in the portal, the IMDS
    request ...) is reported with the value the scenario expected, never silently replaced by
    the registry's. Facts milab has no reader for yet are listed under "not checked"."""
    from . import pagefacts
    for t in ctx.tutorials:
        for key, got in pagefacts.read(t, ctx.facts).items():
            if got is pagefacts.UNREAD:
                yield ctx.finding(ctx.page.line, f"{t.key}: the page does not state {key} in a way milab can read "
                                                 f"(the scenario expected {_fmt(t.facts[key])})",
                                  fix=f"state {key} as the scenario's step needs it, e.g. {_fmt(t.facts[key])}")


@rule("DRIFT003", "info", "facts milab cannot read from pages yet", limit=True,
      fix="nothing on the page: milab needs a reader for these facts (milab/docs/pagefacts.py)")
def _drift003(ctx):
    """Facts of the page's scenarios that milab has no reader for: they are taken from the
    registry, and listed here (one line per page, each fact with the tutorials that use it), so
    that none is a silent fallback."""
    from . import pagefacts
    keys: dict[str, list[str]] = {}
    for t in ctx.tutorials:
        for key, got in pagefacts.read(t, ctx.facts).items():
            if got is None:
                keys.setdefault(key, []).append(t.key)
    if keys:
        desc = "; ".join(f"{k} ({len(v)}: {', '.join(v[:2])}{', ...' if len(v) > 2 else ''})"
                         for k, v in sorted(keys.items()))
        yield ctx.finding(ctx.page.line, f"milab cannot read these facts from the page yet, so the scenarios use "
                                         f"the registry's: {desc}")


@rule("DENY001", "error", "a step is refused as the page writes it",
      fix="grant a role whose actions include the refused call (or call what the granted role allows), as the scenario shows")
def _deny001(ctx):
    """For pages in the tutorial registry whose scenario shows a step refused as the page writes it
    (the ``page_denied`` fact). The 2019 Windows Cosmos DB page assigns Cosmos DB Account Reader Role,
    then calls ``listKeys``, which that role cannot: Resource Manager answers 403 AuthorizationFailed.
    Reported at the page's call while the page still assigns that role and the built-in role still
    lacks the action (``milab/cloud/authorization/roles.py``)."""
    from ..cloud.authorization import permits, roles
    for t in ctx.tutorials:
        denied = t.facts.get("page_denied")
        role_name = t.facts.get("role")
        if not denied or not role_name:
            continue
        role = roles.by_name(role_name)
        if role is None or permits(role, denied["action"]):
            continue
        assigns = any(r.command and r.name and r.name.lower() == role_name.lower() for r in ctx.facts.roles)
        calls = [c for c in ctx.facts.arm_calls
                 if (arm_operation(c.path)[1] or "").lower() == denied["operation"].lower()]
        if assigns and calls:
            yield ctx.finding(calls[0].line,
                              f"{t.key}: the page assigns '{role_name}', then calls {denied['operation']}; that role "
                              f"does not have {denied['action']}, so Resource Manager answers {denied['status']} "
                              f"{denied['code']} (the scenario shows it). Use {denied['alternative']}, or assign a "
                              f"role that has the action.")


@rule("DENY002", "error", "a step needs an Azure role the page never grants",
      fix="add a step that assigns a role whose actions include the call (the scenario's role works), before the step")
def _deny002(ctx):
    """For pages in the tutorial registry whose scenario shows a step refused because the page grants
    no Azure RBAC role that allows it (the ``page_ungranted`` fact). The Cosmos DB RBAC page grants a
    data-plane role only, while its program creates the database and container through Resource
    Manager with the VM's identity: Resource Manager answers 403 AuthorizationFailed. Reported at the
    step's section while no role the page assigns has the action."""
    from ..cloud.authorization import permits, roles
    from .pagefacts import granted_roles
    for t in ctx.tutorials:
        need = t.facts.get("page_ungranted")
        if not need:
            continue
        granted = [roles.by_name(name) for name, _, _ in granted_roles(ctx.facts)]
        if any(r is not None and permits(r, need["action"]) for r in granted):
            continue
        heading = next((h for h in ctx.page.headings if h.text.strip() == need["section"]), None)
        yield ctx.finding(heading.line if heading else ctx.page.line,
                          f"{t.key}: '{need['section']}' {need['operation']}, which needs {need['action']}; the "
                          f"page assigns no Azure role that has it, so Resource Manager answers {need['status']} "
                          f"{need['code']} (the scenario shows it). Assign '{need['role']}' (or a role with the "
                          f"action) to the identity first.")


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _fmt(v):
    return json.dumps(v) if not isinstance(v, str) else v


def _same(key, a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b if key.endswith(("resource", "url")) else a.lower() == b.lower()
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return {k.lower(): str(v).lower() for k, v in a.items()} == {k.lower(): str(v).lower() for k, v in b.items()}
    return a == b


# ============================================================== roles that cannot do the page's next step

def _call_action(call: HttpCall) -> tuple[str, bool, str] | None:
    """(permission, is a data action, what) the call needs, as the emulator authorizes it:
    ARM ``<type>/read|write|delete`` or ``<type>/<operation>/action``; Blob data actions."""
    from milab.cloud.arm import ids
    from milab.cloud.authorization import required_action
    if call.kind == "arm":
        try:
            ref = ids.parse(call.path)
        except Exception:  # noqa: BLE001 - a path ARM would not route: API rules report it
            return None
        if ref.tail and call.method == "POST":
            return f"{ref.type}/{ref.tail}/action", False, f"POST .../{ref.tail}"
        if ref.tail:
            return None
        try:
            return required_action(call.method or "GET", ref.type), False, f"{call.method} {ref.type}"
        except ValueError:
            return None
    if call.host.endswith(".blob.core.windows.net") or "blob.core.windows.net" in call.url:
        from milab.cloud.storage.actions import required_permission
        try:
            perm = required_permission(call.method or "GET", call.parts.path, call.parts.query)
        except Exception:  # noqa: BLE001
            return None
        return perm.action, perm.data_action, perm.operation
    return None


def _bearer(call: HttpCall) -> bool:
    auth = call.header("Authorization") or ""
    return auth.lower().startswith("bearer")


@rule("ROLE004", "error", "the role the page grants cannot perform the page's next call",
      fix="grant a role whose permissions include the call's action, or make the call the role allows")
def _role004(ctx):
    """The page grants its identity a role and then calls Azure with the identity's token: each
    call must be allowed by a role the page granted, as Azure RBAC decides it (the built-in
    roles' actions and notActions in ``milab/cloud/authorization/roles.py``, the action the
    emulator authorizes the call with: ``listKeys`` needs ``.../listKeys/action``, reading a blob
    the ``blobs/read`` data action). Example: Cosmos DB Account Reader Role cannot ``listKeys``
    (it has ``readonlykeys``)."""
    from milab.cloud.authorization import permits, roles as builtin
    from .pagefacts import granted_roles
    granted = []
    for name, line, _scope in granted_roles(ctx.facts):
        role = builtin.by_name(name)
        if role is not None:
            granted.append((name, line, role))
    if not granted:
        return
    first_grant = min(line for _, line, _ in granted)
    for call in ctx.facts.http_calls:
        if call.line <= first_grant or not _bearer(call):
            continue  # only the identity's calls after the grant (operator steps carry no bearer token here)
        need = _call_action(call)
        if need is None:
            continue
        action, data, what = need
        before = [(n, l, r) for n, l, r in granted if l < call.line]
        if not before or any(permits(r, action, data_action=data) for _, _, r in before):
            continue
        names = " or ".join(sorted({f"'{n}'" for n, _, _ in before}))
        able = sorted(r["roleName"] for r in builtin.BUILTIN_ROLES if permits(r, action, data_action=data)
                      and r["roleName"] not in ("Owner", "Contributor") and len(r["actions"] + r["dataActions"]) < 30)
        alt = ""
        if action.lower().endswith("/listkeys/action") and "documentdb" in action.lower():
            alt = "; or call readonlykeys, which Cosmos DB Account Reader Role allows"
        yield ctx.finding(call.line, f"{what} needs {'data action ' if data else ''}{action}, which the role "
                                     f"{names} granted on line {before[-1][1]} does not include",
                          fix=(f"grant {', '.join(repr(a) for a in able[:3])}" if able else
                               "grant a role that includes " + action) + alt)


# ============================================================== values the text says to replace

_REPLACE_VERB = re.compile(r"\b(replace|substitute|update the values?|use your own|with your own)\b", re.I)


@rule("NAME006", "error", "a hard-coded ID where the text says to replace it",
      fix="the placeholder the text names, e.g. /subscriptions/<SUBSCRIPTION ID>/...")
def _name006(ctx):
    """The text asks the reader to replace ``<SUBSCRIPTION ID>`` (or a tenant or client ID),
    but the code right after it has somebody's real ID written in (``/subscriptions/80c696ff-
    ...``): a reader who copies it calls another subscription. Sample IDs
    (``00000000-...``, ``aaaaaaaa-bbbb-...``) are not reported."""
    asks = []
    for t in ctx.page.prose:
        if not _REPLACE_VERB.search(t.text):
            continue
        for p in find_placeholders(t.text):
            key = placeholder_key(p)
            for kind, words in (("subscription", ("subscription",)), ("tenant", ("tenant",)),
                                ("client", ("clientid", "appid", "applicationid"))):
                if any(w in key for w in words):
                    asks.append((t.line, p, kind))
    if not asks:
        return
    headings = sorted(h.line for h in ctx.page.headings)
    patterns = {"subscription": rf"/subscriptions/({GUID_RE.pattern})",
                "tenant": rf"(?:tenant(?:_?id)?[=:\s\"']+|login\.microsoftonline\.com/)({GUID_RE.pattern})",
                "client": rf"client_id=({GUID_RE.pattern})"}
    reported = set()
    for line, p, kind in asks:
        end = next((h for h in headings if h > line), ctx.page.end_line + 1)
        for b in ctx.page.code_blocks:
            if not (line < b.line < end) or ctx.facts.kinds.get(b.line) not in ("shell", "powershell", "http", "code",
                                                                                 "other"):
                continue  # only what the reader runs; responses show whatever IDs they show
            if placeholder_key(p) in {placeholder_key(q) for q in find_placeholders(b.text)}:
                continue
            for i, l in enumerate(b.lines):
                for m in re.finditer(patterns[kind], l, re.I):
                    guid = m.group(1)
                    if K.is_sample_guid(guid) or (b.line_of(i), guid) in reported:
                        continue
                    reported.add((b.line_of(i), guid))
                    yield ctx.finding(b.line_of(i), f"the text (line {line}) asks to replace {p}, but the code has the "
                                                    f"{kind} ID {guid} written in",
                                      fix=l.strip().replace(guid, p)[:160])


# ============================================================== typos

def _identifier_vocabulary(ctx) -> dict[str, str]:
    """Identifiers a page may name: the API property names milab knows and every JSON key and
    query parameter in the page's code (lower case -> spelling)."""
    vocab: dict[str, str] = {}
    for schema in (K.VM_SCHEMA, K.VMSS_SCHEMA):
        for lvl, keys in schema.items():
            for k in keys:
                vocab.setdefault(k.lower(), k)
            for part in lvl.replace("[]", "").split("."):
                if part:
                    vocab.setdefault(part.lower(), part)
    for k in K.KNOWN_IDENTIFIERS:
        vocab.setdefault(k.lower(), k)
    for b in ctx.page.code_blocks:
        for m in re.finditer(r'"([A-Za-z][A-Za-z0-9]{3,})"\s*:', b.text):
            vocab.setdefault(m.group(1).lower(), m.group(1))
    return vocab


def _typo_of(word: str, vocab: dict[str, str]) -> str | None:
    """The one identifier of ``vocab`` that ``word`` misspells by one letter, if any. A word made
    of dictionary words (``resource`` next to ``resources``) is a word, not a typo."""
    low = word.lower()
    if low in vocab or len(low) < 8:
        return None
    near = [v for k, v in vocab.items() if abs(len(k) - len(low)) <= 1 and _damerau1(low, k)
            and not (k == low + "s" or low == k + "s")]
    if len(near) != 1:
        return None
    sp = _speller()
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", word)]
    if sp and parts and not sp.unknown([p for p in parts if p.isalpha()]):
        return None
    return near[0]


@rule("NAME007", "error", "misspelled identifier", fix="the identifier as the API spells it")
def _name007(ctx):
    """An identifier in inline code or a JSON key that is one letter away from a property the
    API has or the page uses elsewhere (``useraAssignedIdentities`` for
    ``userAssignedIdentities``): readers search for it, templates silently ignore it."""
    vocab = _identifier_vocabulary(ctx)
    seen = set()
    for t in ctx.page.prose:
        for m in re.finditer(r"`([A-Za-z][A-Za-z0-9]{7,})`", t.text):
            word = m.group(1)
            right = _typo_of(word, vocab)
            if right and word not in seen and not re.search(rf"\b{re.escape(word)}\b", "\n".join(
                    b.text for b in ctx.page.code_blocks)):
                seen.add(word)
                yield ctx.finding(t.line, f"'{word}' is not an identifier of the API; it is one letter away from "
                                          f"'{right}'", fix=f"`{right}`")
    for b, kind in ctx.blocks("json"):
        keys = re.findall(r'"([A-Za-z][A-Za-z0-9]{7,})"\s*:', b.text)
        counts = {k: keys.count(k) for k in keys}
        for i, l in enumerate(b.lines):
            for m in re.finditer(r'"([A-Za-z][A-Za-z0-9]{7,})"\s*:', l):
                word = m.group(1)
                known = {k: v for k, v in vocab.items() if k != word.lower()}
                right = _typo_of(word, known) if counts[word] == 1 and word.lower() not in \
                    {k.lower() for s in (K.VM_SCHEMA, K.VMSS_SCHEMA) for ks in s.values() for k in ks} | \
                    {k.lower() for k in K.KNOWN_IDENTIFIERS} else None
                if right and (b.line_of(i), word) not in seen and right.lower() in \
                        {k.lower() for s in (K.VM_SCHEMA, K.VMSS_SCHEMA) for ks in s.values() for k in ks} | \
                        {k.lower() for k in K.KNOWN_IDENTIFIERS}:
                    seen.add((b.line_of(i), word))
                    yield ctx.finding(b.line_of(i), f"JSON key '{word}' is not a property of the API; it is one "
                                                    f"letter away from '{right}'", fix=f'"{right}"')


_SPELL = None


def _speller():
    global _SPELL
    if _SPELL is None:
        try:
            from spellchecker import SpellChecker
            _SPELL = SpellChecker(distance=1)
        except Exception:  # noqa: BLE001 - the rule reports that it could not run
            _SPELL = False
    return _SPELL


#: common English misspellings (from the usual published lists) -> the right spelling
COMMON_MISSPELLINGS = {
    "atleast": "at least", "alot": "a lot", "fictituous": "fictitious", "seperate": "separate",
    "occured": "occurred", "recieve": "receive", "retreive": "retrieve", "accross": "across", "acheive": "achieve",
    "wich": "which", "untill": "until", "sucessful": "successful", "neccessary": "necessary",
    "enviroment": "environment", "paramter": "parameter", "paramters": "parameters", "occurence": "occurrence",
    "definately": "definitely", "begining": "beginning", "publically": "publicly", "transfered": "transferred",
    "defacto": "de facto", "identites": "identities", "authenication": "authentication",
}


@rule("NAME008", "warning", "misspelled word in the text", fix="the word spelled right")
def _name008(ctx):
    """A word of the text that is a common misspelling (``atleast``, ``fictituous``), or that is
    not in the English dictionary (pyspellchecker's) and is one letter away from a word the same
    page uses (``paramter`` on a page that says ``parameter``): a typo, not jargon; and a word
    or two repeated by mistake (``in the in the``). Code, links and inline code are not checked."""
    sp = _speller()
    words_on_page: dict[str, int] = {}
    lines = []
    for t in ctx.page.prose:
        text = re.sub(r"`[^`]*`|\[([^\]]*)\]\([^)]*\)|https?://\S+|<[^>]*>|\*\*|__", lambda m: m.group(1) or " ",
                      t.text)
        ws = re.findall(r"(?<![\w.@/-])[A-Za-z][a-z]{4,}(?![\w@/-])", text)
        lines.append((t.line, ws, text))
        for w in ws:
            words_on_page[w.lower()] = words_on_page.get(w.lower(), 0) + 1
    unknown = sp.unknown(list(words_on_page)) if sp else set()
    reported = set()
    for line, ws, text in lines:
        m = re.search(r"\b((?:[a-z]+ ){0,1}[a-z]+) \1\b", text)
        if m and m.group(1) not in ("that", "had", "is") and len(m.group(1)) > 1:
            yield ctx.finding(line, f"'{m.group(1)} {m.group(1)}': the words are repeated",
                              fix=f"'{m.group(1)}' once")
        for w in ws:
            low = w.lower()
            if low in reported:
                continue
            right = COMMON_MISSPELLINGS.get(low)
            if right is None and low in unknown and len(low) >= 6:
                near = [k for k in words_on_page if k != low and k not in unknown and _damerau1(low, k)
                        and not (k == low + "s" or low == k + "s")]
                right = near[0] if len(near) == 1 else None
            if right:
                reported.add(low)
                yield ctx.finding(line, f"'{w}' is misspelled", fix=right if w.islower() else right.capitalize())


# ============================================================== cmdlet parameters

@rule("CODE022", "error", "Az PowerShell cmdlet given a parameter it does not have",
      fix="a parameter the cmdlet has (see its help page)")
def _code022(ctx):
    """Az cmdlets called with a parameter that none of their parameter sets has (nor an alias,
    nor a common parameter): ``Update-AzVM -VirtualMachine $vm`` (the parameter is ``-VM``),
    ``Update-AzVM -AssignIdentity`` (removed with AzureRM; use ``-IdentityType SystemAssigned``).
    The parameters come from ``milab/docs/data/az_cmdlets.json`` (each cmdlet with its help
    page as the source); cmdlets not listed there are not checked. PowerShell accepts a unique
    prefix of a parameter name, so prefixes are accepted too."""
    data = K.az_cmdlets()
    if not data:
        return
    common = {c.lower() for c in data.get("common", [])}
    table = {k.lower(): v for k, v in data.get("cmdlets", {}).items()}
    for c in ctx.facts.commands:
        spec = table.get(c.name.lower()) if c.kind == "cmdlet" else None
        if spec is None:
            continue
        names = {p.lower() for p in spec["parameters"]} | {a.lower() for al in spec["parameters"].values() for a in al}
        for raw in c.params:
            p = raw.lstrip("-").split(":")[0].lower()
            if not p or p in names or p in common or sum(n.startswith(p) for n in names) == 1:
                continue
            near = sorted(spec["parameters"], key=lambda n: (not _close(p, n.lower()), not n.lower().startswith(p[:3]),
                                                               n))
            hint = K.PARAMETER_REPLACEMENTS.get((c.name.lower(), p))
            yield ctx.finding(c.line, f"{c.name} has no parameter '-{raw.lstrip('-')}' (source: {spec['source']})",
                              fix=hint or (f"-{near[0]}" if near else None))


# ============================================================== documented responses

def _json_type(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number" if isinstance(v, (int, float)) else "other")


def _shape_diffs(doc: Any, shape: dict) -> list[str]:
    out = []
    if not isinstance(doc, dict):
        return [f"the documented response is a JSON {_json_type(doc)}, the service returns an object"]
    keys = shape["keys"]
    for k, v in doc.items():
        if k not in keys:
            out.append(f"'{k}' is not in the response")
        elif _json_type(v) != keys[k] and keys[k] != "any" and not (isinstance(v, str) and "<" in v):
            out.append(f"'{k}' is a {keys[k]} in the response, the page shows a {_json_type(v)} ({_short(json.dumps(v), 20)})")
    items = shape.get("items")
    if items:
        for arr in (v for k, v in doc.items() if _json_type(v) == "array"):
            for it in arr[:1]:
                if isinstance(it, dict):
                    out += [f"'{k}' of each item is not in the response" for k in it if k not in items]
    return out


_OUT_INTRO = re.compile(r"respon|output|returns?|looks like|similar to|example|you (should )?see|gives? you", re.I)


@rule("API009", "warning", "documented response differs from what the service returns",
      fix="the response as the service returns it today")
def _api009(ctx):
    """A response the page shows after a request (IMDS tokens, a resource group, storage and
    Cosmos DB keys) compared with what the service returns: a key the service does not return
    (``refresh_token`` in an IMDS token response) or a value of another JSON type (``"expires_in":
    3599`` for the string ``"3599"``). A documented response may leave keys out; that is not
    reported. The real response comes from the page runner when it ran the step, otherwise from
    the service's shape in ``milab/docs/knowledge.py`` (``RESPONSE_SHAPES``, with its source)."""
    calls = sorted(ctx.facts.http_calls, key=lambda c: c.line)
    outputs = sorted(ctx.facts.outputs, key=lambda o: o[0])
    for n, call in enumerate(calls):
        kind = K.response_kind(call.method, call.host, call.path)
        if kind is None:
            continue
        nxt = calls[n + 1].line if n + 1 < len(calls) else ctx.page.end_line + 1
        doc = next((d for ln, d in outputs if call.line < ln < min(nxt, call.line + 60)
                    and _OUT_INTRO.search(prose_before(ctx.page, ln, 8) or "")), None)
        if doc is None:
            continue
        shape = K.RESPONSE_SHAPES[kind]
        real = (ctx.responses or {}).get(call.line)
        if real is not None:  # the page runner ran the step: its response is the truth
            shape = {"keys": {k: _json_type(v) for k, v in real.items()} if isinstance(real, dict) else {},
                     "service": "the service (the page's own step, run)", "source": "the page runner"}
        diffs = _shape_diffs(doc, shape)
        line = next(ln for ln, d in outputs if d is doc)
        if diffs:
            yield ctx.finding(line, f"the response documented for the request on line {call.line} differs from what "
                                    f"{shape['service']} returns: " + "; ".join(diffs[:4]),
                              fix="a response with the service's keys: " + ", ".join(
                                  f'"{k}"' for k in shape["keys"]) [:200])


# ============================================================== what to write instead

#: the advice of the rules whose findings do not carry their own
DEFAULT_FIXES = {
    "MD001": "a closing fence (the same ``` as the opening one, at most 3 spaces past its list item)",
    "MD002": "one fence around the block: remove the outer ``` lines",
    "MD003": "'::: zone-end' after each zone",
    "MD004": "a '---' line after the last tab of the group",
    "MD005": "include the file once, not from itself",
    "MD007": "a delimiter row with one '---' cell per header cell",
    "CODE001": "JSON that parses: no trailing commas, balanced braces, quoted keys",
    "CODE002": "the command as ShellCheck suggests",
    "CODE003": "a backtick (`) as the very last character of every continued line",
    "CODE004": "@{Name=\"value\"} (PowerShell hashtables use '=')",
    "CODE005": "'\\' at the end of continued lines in bash (or tag the block azurepowershell)",
    "CODE006": "two dashes before long Azure CLI options (--name)",
    "CODE007": "the variable's name as it was set",
    "CODE008": "METHOD URL HTTP/1.1 on the first line, each header on its own line, no quotes",
    "CODE009": "a template expression with balanced quotes and parentheses and ARM template functions",
    "CODE011": "a value after each option that takes one",
    "CODE012": "a semicolon at the end of the statement",
    "CODE013": "'#' for comments in bash and PowerShell",
    "CODE014": "the whole URL on one line",
    "CODE015": "the URL in quotes: curl 'https://...?a=1&b=2'",
    "CODE016": "Python 3 that compiles",
    "CODE018": "the string on one line (or a verbatim @\"...\" string in C#, a text block in Java)",
    "ROLE001": "the name of a built-in role (az role definition list --query [].roleName)",
    "ROLE002": "the ID of the role the page names (or the name of the role the ID is)",
    "ROLE003": "az cosmosdb sql role assignment create for Cosmos DB data-plane roles",
    "NAME001": "one spelling of the placeholder on the whole page",
    "NAME002": "one name for the resource in every step",
    "NAME004": "the resource group's name after -ResourceGroupName and the resource's after -Name",
    "NAME005": "the placeholder spelled as elsewhere on the page",
    "API001": "an api-version the resource type publishes",
    "API002": "an operation the resource provider has",
    "API004": "a body in the shape the operation and api-version expect",
    "API005": "the header Metadata: true, an api-version and a resource on every IMDS token request",
    "API006": "/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>/providers/...",
    "API007": "the property at the level the Compute API has it",
    "API008": "the resource's App ID URI, e.g. https://management.azure.com/",
    "DEP001": "the modern equivalent named in the finding",
}
for _rid, _fix in DEFAULT_FIXES.items():
    if _rid in RULES and not RULES[_rid].fix:
        RULES[_rid].fix = _fix
