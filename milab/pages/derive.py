"""From a parsed page to procedures: which code blocks are a procedure's steps, in what
language, where each runs, and which blocks only show its output or document it.

A procedure is found on the page by its section headings (and, on Learn pages, its tab or
zone pivot): it runs from its heading to the next heading that starts another procedure of
the same page or ends the article ("Next steps"), whatever the heading levels, because the
2019 export's levels are unreliable (a ``## Request headers`` inside a ``##`` procedure).
Blocks are read with the docs gate's parser and fact extractor, so the export's broken
lines are re-joined the same way the gate reads them (:func:`milab.docs.facts.logical_lines`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..docs import facts as F
from ..docs.parser import CodeBlock, Page
from .model import (BASH, BICEP, CSHARP, GO, HTTP, JAVA, JAVASCRIPT, OPERATOR, PORTAL, POWERSHELL, PYTHON,
                    SQL, TEMPLATE, VM, Expected, Procedure, Step)

END_HEADINGS = ("next steps", "related content", "clean up resources")
_OUTPUT_WORDS = re.compile(
    r"(?i)\b(response|responses|output|returns?|returned|result|looks? like|similar to|you should see|you see|"
    r"you'll see|you will see|receive|displayed|shows?|following example|as follows|should (?:include|look|"
    r"return|contain)|like this|review the)\b")
_DOC_HEADINGS = re.compile(r"(?i)^(request (headers?|body)|response|sample (request|response)|api version)")
IMDS = "169.254.169.254"

NOT_RUNNABLE = {
    POWERSHELL: "PowerShell (and the Az and AzureAD modules) is not installed on this machine; "
                "it runs on --target azure where a Windows VM has it",
    CSHARP: ".NET (C#) is not installed on this machine",
    JAVA: "Java is not installed on this machine",
    GO: "Go is not installed on this machine",
    BICEP: "no Bicep compiler is installed here (not on PyPI, npm or Debian)",
    SQL: "T-SQL run from SQL Server Management Studio: no SQL client step here",
}


@dataclass
class Section:
    heading: str
    line: int
    end_line: int


def norm(text: str) -> str:
    text = re.sub(r"[`*_]", "", text)
    return " ".join(text.lower().split()).rstrip(".:")


def find_page(pages: list[Page], key: str) -> Page | None:
    """The page whose title (or file stem, for pages without one) is ``key``."""
    k = norm(key)
    for p in pages:
        if norm(p.title) == k:
            return p
    for p in pages:
        stem = p.file.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        if key.lower() in (stem, stem.split("_")[0]):
            return p
    if len(pages) == 1 and pages[0].layout == "learn":
        return pages[0]  # one Learn page per file: a changed page may be retitled or renamed
    return None


def find_heading(page: Page, text: str, after: int = 0):
    want = norm(text)
    for h in page.headings:
        if h.line >= after and norm(h.text) == want:
            return h
    for h in page.headings:  # a heading the page has reworded a little (a trailing colon, a "the")
        if h.line >= after and (norm(h.text).startswith(want) or want.startswith(norm(h.text))) and len(h.text) > 8:
            return h
    return None


def section_range(page: Page, heading: str | None, boundaries: list[str], after: int = 0) -> Section | None:
    """From the heading (the page's start when None) to the next boundary heading or 'Next steps'."""
    if heading is None:
        start = page.line
        label = page.title
    else:
        h = find_heading(page, heading, after)
        if h is None:
            return None
        start, label = h.line, h.text
    bounds = {norm(b) for b in boundaries}
    end = page.end_line
    for h in page.headings:
        if h.line <= start:
            continue
        n = norm(h.text)
        if n in bounds or n in END_HEADINGS or n == "next steps":
            end = h.line - 1
            break
    return Section(label, start, end)


def _prose_between(page: Page, a: int, b: int) -> str:
    return "\n".join(t.text for t in page.prose if a < t.line < b)


def _headings_between(page: Page, a: int, b: int) -> list[str]:
    return [h.text for h in page.headings if a < h.line < b]


def _code_language(block: CodeBlock) -> str:
    lang = block.lang
    if lang in ("python", "py", "python3"):
        return PYTHON
    if lang in ("javascript", "js", "nodejs", "typescript", "ts"):
        return JAVASCRIPT
    if lang in ("csharp", "cs", "c#"):
        return CSHARP
    if lang == "java":
        return JAVA
    if lang in ("go", "golang"):
        return GO
    text = block.text
    if re.search(r"^\s*package main\b|\bfunc main\(", text, re.M):
        return GO
    if re.search(r"^\s*import java\.|\bpublic static void main\b|\bHttpURLConnection\b", text, re.M):
        return JAVA
    if re.search(r"^\s*(using [\w.]+;|namespace\s)|\bHttpWebRequest\b|\bvar \w+ = new\b|\bstatic async Task\b",
                 text, re.M):
        return CSHARP
    if re.search(r"^\s*(import \w+|from [\w.]+ import|def \w+\()", text, re.M):
        return PYTHON
    if re.search(r"\b(require\(|const \w+ = |await \w+)", text):
        return JAVASCRIPT
    return CSHARP if "{" in text and ";" in text else PYTHON


def _shell_code(block: CodeBlock) -> tuple[str, int, int]:
    lines = F.logical_lines(block, "shell")
    if not lines:
        return "", block.first_line, block.first_line
    code = "\n".join(l.text for l in lines)
    return code, lines[0].line, lines[-1].end_line


def _first_code_line(block: CodeBlock) -> int:
    """The line of the block's first non-blank line: what a verdict points at (a page often leaves
    a blank line after the opening fence, and the fence itself is no code)."""
    skip = next((i for i, text in enumerate(block.lines) if text.strip()), 0)
    return block.line_of(skip)


def _from_first_code_line(block: CodeBlock, text: str) -> str:
    """``text`` (the block's, in the learn layout) without the blank lines before its first code line,
    so that line 1 of the text is :func:`_first_code_line` (a template's parse error names its line)."""
    return text.lstrip("\n") if text == block.text else text


def _looks_like_template(data) -> bool:
    if not isinstance(data, dict):
        return False
    keys = set(data)
    return bool({"$schema", "resources", "contentVersion", "parameters", "variables", "identity", "outputs",
                 "type", "apiVersion", "builtInRoleType", "Reader"} & keys) or \
        any(isinstance(v, str) and v.startswith("[") for v in data.values())


def _looks_like_response(block: CodeBlock) -> bool:
    head = block.text.lstrip()[:300]
    return bool(re.match(r"^(HTTP/\d|StatusCode\s*:|\{\s*\"(access_token|id|keys|value|serviceSasToken|clientId|"
                         r"principalId|primaryReadonlyMasterKey|odata\.metadata|canDelegate|identity|"
                         r"properties|name|blobType|etag|lastModified|contentLength)\")", head))


def _split(block: CodeBlock, kind: str, windows: bool) -> list[tuple[str, list]]:
    """(kind, logical lines) parts of a block. An untagged export block that mixes Azure CLI (or
    curl) lines with PowerShell is split, so the CLI lines run as bash; on a Windows page an
    untagged shell-looking block is PowerShell (``echo ... > file`` in Windows PowerShell)."""
    if block.lang or kind not in ("shell", "powershell"):
        return [(kind, [])]
    lines = F.logical_lines(block, kind)
    parts: list[tuple[str, list]] = []
    for l in lines:
        k = "shell" if re.match(r"^\s*(az|curl)\s", l.text) else ("powershell" if (windows or kind == "powershell")
                                                                  else "shell")
        if parts and parts[-1][0] == k:
            parts[-1][1].append(l)
        else:
            parts.append((k, [l]))
    return parts or [(kind, [])]


def steps_from_blocks(page: Page, blocks: list[CodeBlock], pivot: str, os_name: str = "any") -> list[Step]:
    """Turn a procedure's blocks into steps; outputs and documentation attach to their step."""
    steps: list[Step] = []
    template_pivot = pivot.lower().startswith("template")
    prev_end = blocks[0].line - 1 if blocks else 0
    prev_runnable: Step | None = None
    for b in blocks:
        kind = F.block_kind(b)
        between = _prose_between(page, prev_end, b.line)
        heads = _headings_between(page, prev_end, b.line)
        end = b.end_line or (b.line + len(b.lines) + 1)
        attach_to = steps[-1] if steps else None
        documented = bool(heads and any(_DOC_HEADINGS.match(h.strip()) for h in heads))
        if kind in ("json", "output", "other") and attach_to is not None and not template_pivot:
            text = F.repair_export_json(b)[0] if (kind == "json" and b.layout == "export") else b.text
            if documented and kind == "json":
                attach_to.documents.append(b.line)
            elif _OUTPUT_WORDS.search(between) or _looks_like_response(b) or attach_to.expected:
                attach_to.expected.append(Expected(_first_code_line(b), text, "json" if kind == "json" else "text"))
            elif kind == "json":
                attach_to.documents.append(b.line)  # parameters shown before the command that sends them
            prev_end = end
            continue
        if kind == "http" and attach_to is not None and attach_to.language == BASH and "curl" in attach_to.code:
            attach_to.documents.append(b.line)  # the raw request the curl above sends
            prev_end = end
            continue
        for part_kind, lines in _split(b, kind, os_name == "windows"):
            step = _step_for(page, b, part_kind, template_pivot, len(steps) + 1, between, prev_runnable, lines)
            if step is None:
                continue
            steps.append(step)
            if step.runnable:
                prev_runnable = step
        prev_end = end
    return steps


def _step_for(page: Page, b: CodeBlock, kind: str, template_pivot: bool, index: int, between: str,
              prev: Step | None, lines: list | None = None) -> Step | None:
    end = b.end_line or (b.line + len(b.lines) + 1)
    if lines:  # one part of a split block
        code = "\n".join(l.text for l in lines)
        if kind == "shell":
            step = Step(index, BASH, code, lines[0].line, lines[-1].end_line, block_lang=b.lang)
            step.where = _where(code, between, prev)
            return step
        return Step(index, POWERSHELL, code, lines[0].line, lines[-1].end_line, reason=NOT_RUNNABLE[POWERSHELL],
                    block_lang=b.lang, where=VM if IMDS in code else OPERATOR)
    if kind == "shell":
        code, first, last = _shell_code(b)
        if not code.strip():
            return None
        step = Step(index, BASH, code, first, last, block_lang=b.lang)
        step.where = _where(code, between, prev)
        return step
    if kind == "http":
        lines = F.logical_lines(b, "http")
        code = "\n".join(l.text for l in lines) if b.layout == "export" else b.text
        step = Step(index, HTTP, _from_first_code_line(b, code), _first_code_line(b), end - 1, block_lang=b.lang)
        step.where = VM if IMDS in code or "localhost:50342" in code else OPERATOR
        return step
    if kind == "json":
        text = F.repair_export_json(b)[0] if b.layout == "export" else b.text
        if not text.strip():
            return None
        return Step(index, TEMPLATE, _from_first_code_line(b, text), _first_code_line(b), end - 1,
                    block_lang=b.lang)
    if kind == "powershell":
        code = "\n".join(l.text for l in F.logical_lines(b, "powershell")) or b.text
        if not code.strip():
            return None
        return Step(index, POWERSHELL, code, _first_code_line(b), end - 1, reason=NOT_RUNNABLE[POWERSHELL],
                    block_lang=b.lang, where=VM if IMDS in code else OPERATOR)
    if kind == "code":
        lang = _code_language(b)
        step = Step(index, lang, _from_first_code_line(b, b.text), _first_code_line(b), end - 1,
                    reason=NOT_RUNNABLE.get(lang), block_lang=b.lang)
        step.where = VM if IMDS in b.text or "ManagedIdentityCredential" in b.text or \
            "DefaultAzureCredential" in b.text else OPERATOR
        return step
    if kind == "bicep":
        return Step(index, BICEP, b.text, _first_code_line(b), end - 1, reason=NOT_RUNNABLE[BICEP], block_lang=b.lang)
    if kind == "sql":
        return Step(index, SQL, b.text, _first_code_line(b), end - 1, reason=NOT_RUNNABLE[SQL], block_lang=b.lang)
    return None


def _where(code: str, prose: str, prev: Step | None) -> str:
    """Inside the VM when the step calls IMDS, signs in with the VM's identity, or follows an
    in-VM step without signing in as the operator again."""
    if IMDS in code or re.search(r"\baz\s+login\b[^\n]*--identity", code) or re.match(r"\s*ssh\s", code):
        return VM
    if re.search(r"\baz\s+login\b", code):
        return OPERATOR
    if prev is not None and prev.where == VM:
        if re.search(r"\baz\s+(role|vm|vmss|identity|group|resource|cosmosdb|keyvault|ad)\b", code) and \
                "--identity" not in prev.code:
            return OPERATOR
        return VM
    return OPERATOR


_PREREQ = re.compile(r"`(az account get-access-token[^`]*)`")


def prerequisites(page: Page) -> list[tuple[int, str]]:
    """Commands the page's prose tells the reader to run before its steps ("Retrieve a Bearer access
    token using `az account get-access-token`"), with their lines."""
    out = []
    for t in page.prose:
        for m in _PREREQ.finditer(t.text):
            out.append((t.line, m.group(1).strip()))
    return out


def derive(spec, pages: list[Page]) -> Procedure:
    """The procedure a catalogue entry names, with its steps, from the pages of its file."""
    proc = Procedure(id=spec.id, title=spec.title, page_title=spec.page, file=pages[0].file if pages else "",
                     pivot=spec.pivot, family=spec.family, os=spec.os, identity=spec.identity,
                     sections=tuple(spec.sections), tab=spec.tab, given=tuple(spec.given), spec=spec)
    page = find_page(pages, spec.page)
    if page is None:
        proc.reason = f"the page '{spec.page}' is not in {proc.file or 'the files given'}"
        return proc
    proc.page_title = page.title
    proc.file = page.file
    boundaries = list(spec.boundaries)
    ranges: list[Section] = []
    after = 0
    for heading in (spec.sections or (None,)):
        sec = section_range(page, heading, boundaries, after)
        if sec is None:
            proc.reason = f"the section '{heading}' is not on the page '{page.title}' (renamed or removed?)"
            return proc
        ranges.append(sec)
        after = sec.line
    proc.line, proc.end_line = ranges[0].line, max(r.end_line for r in ranges)
    blocks = [b for b in page.code_blocks if any(r.line <= b.line <= r.end_line for r in ranges)]
    if spec.tab:
        blocks = [b for b in blocks if b.tab in (None, spec.tab)]
        if not any(b.tab == spec.tab for b in blocks) and not any(t.id == spec.tab for t in page.tabs):
            proc.reason = f"the tab '{spec.tab}' is not on the page"
            return proc
    if spec.zone:
        blocks = [b for b in blocks if b.pivot is None or spec.zone in b.pivot]
    if spec.select:
        blocks = [b for b in blocks if re.search(spec.select, b.text)
                  or F.block_kind(b) in ("json", "output", "other")]
    if spec.exclude:
        blocks = [b for b in blocks if not re.search(spec.exclude, b.text)]
    blocks.sort(key=lambda b: b.line)
    proc.steps = steps_from_blocks(page, blocks, spec.pivot, spec.os)
    proc.prerequisites = prerequisites(page)
    for i, st in enumerate(proc.steps, 1):
        st.index = i
        if i in spec.where:
            st.where = spec.where[i]
    if spec.pivot == PORTAL or spec.pivot.lower() == "portal":
        proc.reason = spec.reason or "portal: the procedure is a sequence of clicks in the Azure portal"
    elif spec.reason:
        proc.reason = spec.reason
    elif not proc.steps:
        proc.reason = "the section has no code to run (it states facts: checked by the scenarios)"
    elif not proc.runnable_steps:
        langs = sorted({s.language for s in proc.steps})
        proc.reason = "; ".join(sorted({s.reason for s in proc.steps if s.reason})) or \
            f"no step in a language that runs here ({', '.join(langs)})"
    return proc
