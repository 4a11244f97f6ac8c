"""What a page states: HTTP calls, IMDS requests, roles, CLI commands and cmdlets,
placeholders, ARM resources in templates, expected outputs.

Everything is extracted from *logical lines*: physical lines joined where a command
continues (``\\`` in shell, a backtick in PowerShell, an open quote), and, in the PDF
export layout, where the export broke a long line (a URL split after ``api-version=2017-12-``,
a placeholder split after ``<SUBSCRIPTION``, a PowerShell parameter name left at the end of
a line ...). See :func:`logical_lines`.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .parser import CodeBlock, Page

SHELL_LANGS = {"bash", "sh", "shell", "azurecli", "azurecli-interactive", "azure-cli", "zsh", "console"}
PS_LANGS = {"powershell", "azurepowershell", "azurepowershell-interactive", "pwsh", "ps", "ps1"}
JSON_LANGS = {"json", "jsonc", "arm", "armtemplate"}
CODE_LANGS = {"csharp", "cs", "c#", "java", "python", "py", "go", "golang", "javascript", "js", "typescript",
              "ts", "nodejs", "cpp", "ruby", "php"}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

PLACEHOLDER = re.compile(r"(?<![\w<>])(<<[A-Za-z][^<>\n]{0,80}>>|<[A-Za-z][^<>\n=\"]{0,80}>)")
HTML_TAGS = {"a", "b", "i", "u", "p", "br", "hr", "em", "strong", "code", "pre", "sup", "sub", "div", "span",
             "img", "table", "tr", "td", "th", "ul", "ol", "li", "summary", "details", "kbd", "nobr", "center",
             "string", "int", "dynamic", "t", "object", "bool", "byte", "h1", "h2", "h3", "h4"}
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
GUID_RE = re.compile(GUID)
URL_RE = re.compile(r"https?://[^\s'\"`<>()\\]*(?:<[^<>\n]*>[^\s'\"`<>()\\]*)*", re.I)
IMDS_HOSTS = ("169.254.169.254",)
PS_CMDLET = re.compile(r"^[A-Z][a-zA-Z]+-[A-Z][A-Za-z0-9]+$")


# --------------------------------------------------------------------------- logical lines

@dataclass
class LogicalLine:
    text: str
    line: int  # first physical line
    end_line: int
    export_joined: bool = False  # re-joined because the PDF export broke it

    def __str__(self) -> str:
        return self.text


def block_kind(block: CodeBlock) -> str:
    """'shell', 'powershell', 'json', 'http', 'code', 'bicep', 'output' or 'other'."""
    lang = block.lang
    if lang in SHELL_LANGS:
        return "shell"
    if lang in PS_LANGS:
        return "powershell"
    if lang in JSON_LANGS:
        return "json"
    if lang == "http":
        return "http"
    if lang in CODE_LANGS:
        return "code"
    if lang == "bicep":
        return "bicep"
    if lang in ("output", "text", "txt", "console-output", "plaintext"):
        return "output"
    if lang:
        return "other"
    return guess_kind(block.lines)


def guess_kind(lines: list[str]) -> str:
    """Guess what an untagged block holds (the export has no languages)."""
    body = [l for l in lines if l.strip()]
    if not body:
        return "other"
    first = body[0].strip()
    text = "\n".join(body)
    if re.match(rf"^({'|'.join(HTTP_METHODS)})\s+\S+", first) and re.search(r"HTTP/\d", text[:400]):
        return "http"
    if re.match(r"^(HTTP/\d|StatusCode\s*:|PS [A-Z]:\\>|Finished\[)", first):
        return "output"
    if looks_like_json(lines):
        return "json"
    if re.search(r"^\s*(using\s+[\w.]+;|import\s+[\w.]+|package\s+\w+|namespace\s|class\s+\w+|public\s|"
                 r"static\s|func\s|var\s+\w+\s*=\s*new|HttpWebRequest|#include)", text, re.M):
        return "code"
    if re.search(r"^\s*(\$\w+\s*=|[A-Z][a-z]+-[A-Z][A-Za-z]+\b|\(Invoke-)", text, re.M):
        return "powershell"
    if re.search(r"^\s*(az|curl|sudo|export|echo|wget|ssh|apt(-get)?|cd|ls|cat|\w+=\$\()\b", text, re.M):
        return "shell"
    if re.match(r"^(CREATE|ALTER|SELECT|INSERT|GRANT|DROP)\b", first, re.I):
        return "sql"
    if re.match(r"^[\w ]+\s*:\s", first) or re.match(r"^\w[\w ]*:\s*$", first):
        return "output"
    return "other"


def looks_like_json(lines: list[str]) -> bool:
    body = [l.strip() for l in lines if l.strip() and not l.strip().startswith("//")]
    if not body:
        return False
    first = body[0]
    if first.startswith("{") or first.startswith("["):
        rest = "\n".join(body)[1:].lstrip()
        if not rest:
            return False
        if rest[0] in "{[\"}]":
            return True
        return bool(re.match(r"^\d|^true|^false|^null", rest))
    return bool(re.match(r'^"[^"]+"\s*:', first))


def _open_quote(text: str, kind: str) -> str | None:
    """The quote character still open at the end of text (shell/PowerShell rules, roughly)."""
    q: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if q is None:
            if c == "#" and kind in ("shell", "powershell") and (i == 0 or text[i - 1] in " \t;"):
                return None  # a comment: quotes after it do not count
            if c == "\\" and kind != "powershell":
                i += 2
                continue
            if c == "`" and kind == "powershell":
                i += 2
                continue
            if c in "'\"":
                q = c
        elif c == q:
            q = None
        elif c == "\\" and q == '"' and kind not in ("powershell",):
            i += 2
            continue
        elif c == "`" and q == '"' and kind == "powershell":
            i += 2
            continue
        i += 1
    return q


def _unclosed_placeholder(text: str) -> bool:
    lt = text.rfind("<")
    return lt >= 0 and text.rfind(">") < lt and re.match(r"<<?[A-Za-z]", text[lt:] if text[lt:lt + 2] != "<<" else text[lt:]) is not None


def _export_glue(prev: str, nxt: str, in_quote: bool) -> str:
    """How the export broke prev|nxt: '' (mid-token) or ' ' (at a space)."""
    p = prev.rstrip()
    n = nxt.lstrip()
    if _unclosed_placeholder(p):
        return "" if p.endswith(("-", "_")) else " "
    if not p or not n:
        return " "
    if p.endswith(("-", "/", "?", "&", "=", "_", ".")) and not p.endswith((" -", " --")):
        return ""
    if p.endswith(("-", "--")):  # '-' + 'Headers' = '-Headers'; '-' + '-key' = '--key'
        return ""
    tail = p.split()[-1] if p.split() else p
    if in_quote and p[-1].isalnum() and n[0].isalnum() and re.search(r"[\"{:/,=?]", tail):
        return ""
    if re.match(r"^HTTP/\d(\.\d)?\b", n):  # a request line's protocol, moved to the next line
        return " "
    if re.search(r"https?://\S*$", tail) and n[0].isalnum() and not n.startswith(("-", "http")):
        return ""
    # an ARM resource ID broken inside a segment ('.../Microsoft.Storage/storageAc' + 'counts/myAcct')
    if re.search(r"/(subscriptions|providers|resourceGroups)/\S*$", tail, re.I) and re.match(r"^[A-Za-z0-9]+/", n):
        return ""
    return " "


def _brace_depth(text: str) -> int:
    depth = 0
    q = None
    for c in text:
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#":
            break
        elif c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
    return depth


_COMMAND_START = re.compile(r"^(az|curl|echo|export|sudo|cd|ls|cat|wget|ssh|python\d?|pip\d?|apt(-get)?|mkdir|"
                            r"rm|cp|mv|chmod|source|set|if|for|while|do|done|fi|then|else|[A-Za-z_]\w*=|#|\$|\{|\}|\(|\))")
_PARAM_AT_END = re.compile(r"(?:^|\s)(-[A-Za-z][\w]*|--?[a-z][\w-]*)\s*$")


def logical_lines(block: CodeBlock, kind: str | None = None) -> list[LogicalLine]:
    """Join continued lines. Learn layout: explicit continuations and open quotes only;
    export layout: also the breaks the PDF export introduced."""
    kind = kind or block_kind(block)
    export = block.layout == "export"
    out: list[LogicalLine] = []
    cur: LogicalLine | None = None
    cur_cont = cur_export_join = False
    cur_quote: str | None = None
    raw = block.lines
    for idx, line in enumerate(raw):
        ln = block.line_of(idx)
        if cur is None:
            if not line.strip():
                continue
            cur = LogicalLine(line.rstrip(), ln, ln)
        else:
            glue = "\n"
            if cur_export_join:
                glue = _export_glue(cur.text, line, cur_quote is not None)
                cur.export_joined = True
            elif cur_cont:
                glue = "\n" if kind == "powershell" and _brace_depth(cur.text) > 0 else " "
            cur.text = cur.text + glue + (line.strip() if glue != "\n" else line.rstrip())
            cur.end_line = ln
        # does the logical line continue?
        text = cur.text
        stripped = text.rstrip()
        cur_cont = False
        cur_export_join = False
        cur_quote = _open_quote(text, kind) if kind in ("shell", "powershell", "code", "other", "http") else None
        nxt = next((raw[j] for j in range(idx + 1, len(raw))), None)
        if kind == "shell" and stripped.endswith("\\"):
            cur.text = stripped[:-1].rstrip()
            cur_cont = True
        elif kind == "powershell" and stripped.endswith("`"):
            cur.text = stripped[:-1].rstrip()
            cur_cont = True
        elif kind in ("powershell", "other") and stripped.endswith(("|", "{", "(", ",")) and nxt is not None:
            cur_cont = True
        elif kind == "powershell" and nxt is not None and _brace_depth(text) > 0:
            cur_cont = True
        if export and nxt is not None and nxt.strip() and kind not in ("json", "output"):
            n = nxt.strip()
            if cur_quote is not None:
                cur_export_join = True
            elif stripped.endswith("-") or stripped.endswith("--"):
                cur_export_join = True
            elif kind in ("shell", "powershell", "other", "http") and (
                    re.match(r"^-{1,2}[A-Za-z]", n) or _PARAM_AT_END.search(stripped)
                    or _unclosed_placeholder(stripped) or re.search(r"(api-|\?|&|=|/)$", stripped)
                    or (kind == "http" and re.match(r"^[\w/.%<>-]*HTTP/\d", n))
                    or (kind == "http" and re.match(rf"^({'|'.join(HTTP_METHODS)})\s", stripped)
                        and not re.search(r"HTTP/\d", stripped) and not re.match(r"^[\w-]+:\s", n))):
                cur_export_join = True
            elif kind == "powershell" and re.match(r"^[@$\"'(]", n) and re.search(r"\s-\w+\s*$", stripped):
                cur_export_join = True
            elif kind == "shell" and re.match(r"^\s*(sudo\s+)?(az|curl)\s", cur.text) and not _COMMAND_START.match(n):
                cur_export_join = True
            elif kind == "code" and re.search(r"(=|\(|\?|\+|,|&&|\|\|)\s*$", stripped):
                cur_export_join = True
            if cur_export_join:
                cur_cont = False
        if kind == "json" or kind == "output":
            cur_cont = False
        if not (cur_cont or cur_export_join or (cur_quote is not None and nxt is not None and kind in ("shell", "powershell"))):
            out.append(cur)
            cur = None
        elif cur_quote is not None and not cur_export_join and not cur_cont:
            cur_cont = False  # keep the newline inside the quoted string
    if cur is not None:
        out.append(cur)
    return out


def repair_export_json(block: CodeBlock) -> tuple[str, dict[int, int]]:
    """Re-join JSON lines the export broke (inside a string, or a wrapped // comment).
    Returns the text and a map from its line index to the page line."""
    lines = block.lines
    out: list[str] = []
    where: dict[int, int] = {}
    i = 0
    while i < len(lines):
        cur = lines[i]
        start = block.line_of(i)
        while i + 1 < len(lines):
            nxt = lines[i + 1]
            if _json_open_string(cur):
                glue = " " if _unclosed_placeholder(cur) else ("" if not cur.endswith(" ") else "")
                cur = cur.rstrip() + glue + nxt.strip()
                i += 1
                continue
            if _has_line_comment(cur) and nxt.strip() and not re.match(r"^\s*[\"{}\[\]]|^\s*//|^\s*(true|false|null)\b", nxt):
                cur = cur.rstrip() + " " + nxt.strip()
                i += 1
                continue
            break
        where[len(out)] = start
        out.append(cur)
        i += 1
    return "\n".join(out), where


def _json_open_string(line: str) -> bool:
    q = False
    esc = False
    for i, c in enumerate(line):
        if esc:
            esc = False
            continue
        if c == "\\":
            esc = True
            continue
        if c == '"':
            q = not q
        elif not q and c == "/" and line[i:i + 2] == "//":
            return False
    return q


def _has_line_comment(line: str) -> bool:
    q = False
    for i, c in enumerate(line):
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            q = not q
        elif not q and line[i:i + 2] == "//":
            return True
    return False


# --------------------------------------------------------------------------- JSON with comments

class JsonProblem(Exception):
    def __init__(self, message: str, lineno: int):
        super().__init__(message)
        self.message = message
        self.lineno = lineno  # 1-based within the parsed text


def strip_json_comments(text: str) -> str:
    """Blank out // and /* */ comments (outside strings), keeping line numbers."""
    out = []
    i, n = 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
            out.append(c)
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_doc_json(text: str) -> Any:
    """Parse JSON as documentation shows it: comments allowed, '...' elision lines
    allowed, and fragments (``"identity": {...},``) wrapped in braces."""
    body = strip_json_comments(text)
    lines = body.split("\n")
    lines = [("" if re.match(r"^\s*(\.\.\.|…)\s*,?\s*$", l) else l) for l in lines]
    body = "\n".join(lines)
    stripped = body.strip()
    if not stripped:
        raise JsonProblem("empty JSON block", 1)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        first_err = exc
    if re.match(r'^"[^"]*"\s*:', stripped):
        # a fragment: wrap it; a single trailing comma after the fragment is fine
        frag = re.sub(r",\s*$", "", body.rstrip())
        try:
            return json.loads("{\n" + frag + "\n}")
        except json.JSONDecodeError as exc:
            raise JsonProblem(_json_msg(exc), max(1, exc.lineno - 1)) from None
    raise JsonProblem(_json_msg(first_err), first_err.lineno)


def _json_msg(exc: json.JSONDecodeError) -> str:
    doc = exc.doc
    # explain the common doc mistakes
    before = doc[:exc.pos].rstrip()
    if exc.msg.startswith("Expecting property name") and before.endswith(","):
        return "trailing comma before '}'"
    if exc.msg.startswith("Expecting value") and before.endswith(",") and doc[exc.pos:exc.pos + 1] in "]}":
        return "trailing comma before ']'"
    if exc.msg.startswith("Extra data"):
        return "unexpected text after the end of the JSON value (unbalanced braces?)"
    return exc.msg


# --------------------------------------------------------------------------- tokenizers

_SP = "\u2423"  # stands for a space inside a placeholder while tokenizing


def protect(text: str) -> str:
    """Hide the spaces inside placeholders (``<SUBSCRIPTION ID>``) from tokenizers."""
    return PLACEHOLDER.sub(lambda m: m.group(0).replace(" ", _SP), text)


def unprotect(text: str) -> str:
    return text.replace(_SP, " ")

def shell_words(text: str) -> list[str] | None:
    try:
        lex = shlex.shlex(protect(text), posix=True, punctuation_chars=False)
        lex.whitespace_split = True
        lex.commenters = ""
        return [unprotect(w) for w in lex]
    except ValueError:
        return None


def ps_tokens(text: str) -> list[str]:
    """Split a PowerShell command line into tokens (strings keep their quotes off,
    @{...}, (...) and {...} groups stay whole)."""
    toks: list[str] = []
    text = protect(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            break
        start = i
        buf = []
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "'\"":
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if (text[j] == "`" and c == '"') else 1
                buf.append(text[i + 1:j])
                i = j + 1
                continue
            if c in "({" or text.startswith("@{", i) or text.startswith("@(", i) or text.startswith("$(", i):
                open_c = "(" if c in "(@$" and text[i + 1:i + 2] == "(" or c == "(" else "{"
                close_c = ")" if open_c == "(" else "}"
                j = text.find(open_c, i)
                depth = 0
                k = j
                q = None
                while k < n:
                    ch = text[k]
                    if q:
                        if ch == q:
                            q = None
                    elif ch in "'\"":
                        q = ch
                    elif ch == open_c:
                        depth += 1
                    elif ch == close_c:
                        depth -= 1
                        if depth == 0:
                            break
                    k += 1
                buf.append(text[i:k + 1])
                i = k + 1
                continue
            if c == "`" and i + 1 < n:
                buf.append(text[i + 1])
                i += 2
                continue
            if c == "|" or c == ";":
                if buf or i > start:
                    break
                buf.append(c)
                i += 1
                break
            buf.append(c)
            i += 1
        toks.append(unprotect("".join(buf)))
    return toks


def parse_hashtable(text: str) -> tuple[dict[str, str], bool]:
    """Parse a PowerShell hashtable literal '@{a="b"; c = 'd'}'. Returns (entries, uses_colon)
    where uses_colon says the literal was written JSON-style with ':' (not valid PowerShell)."""
    inner = text.strip()
    if inner.startswith("@{"):
        inner = inner[2:]
    if inner.endswith("}"):
        inner = inner[:-1]
    entries: dict[str, str] = {}
    colon = False
    for part in re.split(r";|\n", inner):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"""^(['"]?)([^'"=:]+)\1\s*(=|:)\s*(.*)$""", part)
        if not m:
            continue
        if m.group(3) == ":":
            colon = True
        val = m.group(4).strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        entries[m.group(2).strip()] = val
    return entries, colon


# --------------------------------------------------------------------------- facts

@dataclass
class HttpCall:
    file: str
    line: int
    source: str  # curl, powershell, http, code, az-rest, invoke-azrestmethod
    method: str | None
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    block_line: int = 0
    scope: str | None = None

    @property
    def parts(self):
        return urlsplit(self.url if "://" in self.url else "https://" + self.url.lstrip("/"))

    @property
    def host(self) -> str:
        try:
            return (self.parts.hostname or "").lower()
        except ValueError:
            return ""

    @property
    def path(self) -> str:
        return unquote(self.parts.path)

    @property
    def query(self) -> dict[str, str]:
        try:
            return {k: v for k, v in parse_qsl(self.parts.query, keep_blank_values=True)}
        except ValueError:
            return {}

    @property
    def api_version(self) -> str | None:
        q = self.query
        return q.get("api-version")

    @property
    def kind(self) -> str:
        h = self.host
        if h in IMDS_HOSTS:
            return "imds"
        if h in ("localhost", "127.0.0.1") and ":50342" in self.url:
            return "vm-extension"
        if h == "management.azure.com":
            return "arm"
        return "other"

    @property
    def template(self) -> str:
        return placeholder_template(self.url)

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def body_json(self) -> Any:
        if self.body is None:
            return None
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, TypeError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "source": self.source, "method": self.method, "url": self.url,
                "template": self.template, "api_version": self.api_version, "headers": self.headers,
                "body": self.body, "kind": self.kind}


@dataclass
class RoleRef:
    file: str
    line: int
    name: str | None
    id: str | None
    kind: str  # 'rbac' or 'cosmos-sql'
    source: str  # 'cli', 'powershell', 'json', 'output', 'prose', 'template'
    command: bool = False  # the role is an argument of an assignment command


@dataclass
class Command:
    file: str
    line: int
    kind: str  # 'az' or 'cmdlet'
    name: str  # 'az vm identity assign' / 'New-AzRoleAssignment'
    params: dict[str, str | None]
    raw: str
    scope: str | None = None
    block_line: int = 0
    tokens: list[str] = field(default_factory=list)


@dataclass
class ArmResource:
    """A resource declared in a template (ARM JSON or Bicep)."""
    file: str
    line: int
    type: str
    api_version: str
    body: Any = None


@dataclass
class PageFacts:
    page: Page
    http_calls: list[HttpCall] = field(default_factory=list)
    roles: list[RoleRef] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    placeholders: list[tuple[str, int]] = field(default_factory=list)
    arm_resources: list[ArmResource] = field(default_factory=list)
    outputs: list[tuple[int, Any]] = field(default_factory=list)  # parsed JSON outputs
    variables: dict[str, str] = field(default_factory=dict)
    logical: dict[int, list[LogicalLine]] = field(default_factory=dict)  # block line -> logical lines
    kinds: dict[int, str] = field(default_factory=dict)  # block line -> kind
    tagged_output: dict[int, str] = field(default_factory=dict)  # block line -> why a shell/PS block is output

    @property
    def imds_calls(self) -> list[HttpCall]:
        return [c for c in self.http_calls if c.kind == "imds"]

    @property
    def arm_calls(self) -> list[HttpCall]:
        return [c for c in self.http_calls if c.kind == "arm"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "http_calls": [c.as_dict() for c in self.http_calls],
            "imds": [imds_summary(c) for c in self.imds_calls],
            "roles": [{"line": r.line, "name": r.name, "id": r.id, "kind": r.kind, "source": r.source}
                      for r in self.roles],
            "commands": [{"line": c.line, "name": c.name, "params": c.params} for c in self.commands],
            "placeholders": sorted({p for p, _ in self.placeholders}),
            "arm_resources": [{"line": r.line, "type": r.type, "api_version": r.api_version}
                              for r in self.arm_resources],
        }


def placeholder_key(p: str) -> str:
    return re.sub(r"[^a-z0-9]", "", p.lower())


def placeholder_template(url: str) -> str:
    def sub(m):
        return "{" + re.sub(r"[^a-z0-9]+", "_", m.group(0).strip("<>").lower()).strip("_") + "}"
    return PLACEHOLDER.sub(sub, url)


def find_placeholders(text: str) -> list[str]:
    out = []
    for m in PLACEHOLDER.finditer(text):
        p = m.group(0)
        inner = p.strip("<>").strip()
        if inner.lower().split(" ")[0].rstrip("/") in HTML_TAGS or inner.startswith("/"):
            continue
        if re.match(r"^[a-z]+(\s+[a-z-]+=)", inner):  # <a href=...>
            continue
        if p.startswith("<<") != p.endswith(">>"):
            continue
        out.append(p)
    return out


def imds_summary(call: HttpCall) -> dict[str, Any]:
    q = call.query
    sel = {k: q[k] for k in ("client_id", "object_id", "mi_res_id", "msi_res_id") if k in q}
    return {"line": call.line, "api_version": q.get("api-version"), "resource": q.get("resource"),
            "selectors": sel, "metadata_header": (call.header("Metadata") or "").lower() == "true"}


OUTPUT_INTRO = re.compile(r"(response|output|returns?|result|looks like|look like|similar to|contents?\b|comes back|"
                          r"you should see|you see|prints?)\b[^.]*[:.]?\s*\**\s*$", re.I)
SHELL_WORDS = re.compile(r"^\s*(\$\s+)?(az|curl|sudo|export|echo|wget|ssh|apt(-get)?|cd|ls|cat|jq|python\d?|pip\d?|"
                         r"kubectl|docker|git|mkdir|rm|cp|mv|chmod|source|set|unset|read|if|for|while|do|done|then|"
                         r"fi|#|[A-Za-z_]\w*=)", re.M)
_PS_PROPERTY_LINE = re.compile(r"^\s*[A-Za-z][\w .]*?\s*:(\s|$)")
_PS_COMMAND = re.compile(r"^\s*(\$\w+\s*=|[A-Z][a-z]+-[A-Z]\w+|\(|PS [A-Z]:\\>|&|\.\\)")


def prose_before(page: Page, line: int, within: int = 6) -> str:
    """The last line of prose with text before ``line``, if it is close enough."""
    best = None
    for t in page.prose:
        if t.line >= line:
            break
        if t.text.strip() and (t.file is None or t.file == page.file):
            best = t
    if best is None or line - best.line > within:
        return ""
    return best.text.strip()


def output_reason(page: Page, b: CodeBlock) -> str | None:
    """Why a block tagged as shell or PowerShell holds output rather than commands ('JSON' or
    'output'; None when it holds commands): JSON with no command in it, or text the page
    introduces as a response ("Response:", "The response looks like ...") that starts with no
    command (PowerShell's 'Name : value' lists included)."""
    if b.lang not in SHELL_LANGS and b.lang not in PS_LANGS:
        return None
    body = [l for l in b.lines if l.strip()]
    if not body:
        return None
    if looks_like_json(b.lines) and not SHELL_WORDS.search(b.text) and not _PS_COMMAND.match(body[0]):
        return "JSON"
    if b.layout == "export":
        return None
    intro = prose_before(page, b.line)
    if not intro or not OUTPUT_INTRO.search(intro):
        return None
    if b.lang in SHELL_LANGS and not any(SHELL_WORDS.match(l) for l in body):
        return "output"
    if b.lang in PS_LANGS and not any(_PS_COMMAND.match(l) for l in body) and \
            sum(bool(_PS_PROPERTY_LINE.match(l)) for l in body) * 2 >= len(body):
        return "output"
    return None


_AZ_LINE = re.compile(r"(?:^|[;&|(=]\s*|\$\()\s*(az\s+[a-z].*)$")


def extract(page: Page) -> PageFacts:
    f = PageFacts(page)
    # variables first: the whole page (values used by later blocks)
    for b in page.code_blocks:
        kind = block_kind(b)
        why = output_reason(page, b)
        if why:  # a response tagged 'bash' or 'powershell': output, never commands
            f.tagged_output[b.line] = why
            kind = "json" if why == "JSON" else "output"
        f.kinds[b.line] = kind
        ll = logical_lines(b, kind)
        f.logical[b.line] = ll
        for l in ll:
            for m in re.finditer(r"^\s*\$(\w+)\s*=\s*(['\"])([^'\"]*)\2", l.text, re.M):
                f.variables["$" + m.group(1).lower()] = m.group(3)
            for m in re.finditer(r"^\s*([A-Za-z_]\w*)\s*=\s*(['\"])([^'\"]*)\2", l.text, re.M):
                f.variables[m.group(1).lower()] = m.group(3)
            for m in re.finditer(r"^\s*([A-Za-z_]\w*)\s*=\s*([^\s'\"$(]+)\s*$", l.text, re.M):
                f.variables.setdefault(m.group(1).lower(), m.group(2))
    for b in page.code_blocks:
        kind = f.kinds[b.line]
        ll = f.logical[b.line]
        for l in ll:
            for p in find_placeholders(l.text):
                f.placeholders.append((p, l.line))
        if kind in ("shell", "powershell", "other", "http", "code"):
            _extract_calls(f, b, kind, ll)
        if kind == "json":
            _extract_json_block(f, b)
        if kind == "bicep":
            for i, line in enumerate(b.lines):
                m = re.search(r"resource\s+\w+\s+'([\w.]+/[\w/.]+)@([\w.-]+)'", line)
                if m:
                    f.arm_resources.append(ArmResource(page.file, b.line_of(i), m.group(1), m.group(2)))
        if kind in ("output", "other", "powershell"):
            _extract_output_roles(f, b)
        if kind in ("output", "other", "http"):
            _extract_http_response(f, b)
    for t in page.prose:
        for p in find_placeholders(t.text):
            if "`" in t.text or page.layout == "export":
                f.placeholders.append((p, t.line))
    _extract_prose_roles(f)
    return f


def _resolve(value: str | None, f: PageFacts) -> str | None:
    if value is None:
        return None
    v = value.strip()
    m = re.fullmatch(r"\$\{?(\w+)\}?", v)
    if m:
        return f.variables.get("$" + m.group(1).lower(), f.variables.get(m.group(1).lower(), v))
    return v


def _extract_calls(f: PageFacts, b: CodeBlock, kind: str, ll: list[LogicalLine]) -> None:
    page = f.page
    hashtables: dict[str, dict[str, str]] = {}
    if kind == "http":
        _extract_raw_http(f, b, ll)
        return
    for l in ll:
        text = l.text
        # PowerShell splatting tables: $parameters = @{ ... }
        hm = re.match(r"^\s*\$(\w+)\s*=\s*(@\{.*\})\s*(\|.*)?$", text, re.S)
        if hm:
            hashtables["@" + hm.group(1).lower()] = parse_hashtable(hm.group(2))[0]
        for seg in _segments(text):
            seg_s = seg.strip()
            if not seg_s:
                continue
            if re.match(r"^(sudo\s+)?curl\s", seg_s):
                _curl(f, b, l, seg_s)
            elif re.match(r"^az\s+[a-z]", seg_s):
                _az(f, b, l, seg_s)
            else:
                _cmdlet(f, b, l, seg_s, hashtables)
        if kind in ("code", "other"):
            _literal_urls(f, b, l)


def _segments(text: str) -> list[str]:
    """Split a logical line into the commands it runs (assignments, pipes, $(...))."""
    segs = []
    for part in re.split(r"(?<![|])\|(?![|])|;|&&", text):
        p = part.strip()
        p = re.sub(r"^\$?[\w.]+(\[[^\]]*\])?\s*=\s*", "", p)  # $x = ... / x=...
        p = re.sub(r"^\$\(|^\(|^\$\{", "", p).strip()
        p = re.sub(r"\)\s*(\.\w+)*\s*$", "", p) if p.count(")") > p.count("(") else p
        segs.append(p)
    return segs


def _curl(f: PageFacts, b: CodeBlock, l: LogicalLine, text: str) -> None:
    words = shell_words(text) or text.split()
    if words and words[0] == "sudo":
        words = words[1:]
    method = None
    url = None
    headers: dict[str, str] = {}
    body = None
    i = 1
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w in ("-X", "--request") and nxt:
            method = nxt.upper()
            i += 2
            continue
        if w in ("-H", "--header") and nxt:
            if ":" in nxt:
                k, v = nxt.split(":", 1)
                headers[k.strip()] = v.strip()
            i += 2
            continue
        if w in ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--json") and nxt is not None:
            body = nxt
            i += 2
            continue
        if w in ("-T", "--upload-file") and nxt:
            method = method or "PUT"
            i += 2
            continue
        if w in ("-I", "--head"):
            method = method or "HEAD"
        if w in ("-o", "--output", "-u", "--user", "-F", "--form", "--cacert", "-w", "-A", "-e", "--max-time", "-m"):
            i += 2
            continue
        if not w.startswith("-") and url is None and (re.match(r"https?://", w, re.I) or re.match(r"^[\w.-]+\.[a-z]{2,}/", w)):
            url = w
        i += 1
    if url is None:
        m = URL_RE.search(text)
        if not m:
            return
        url = m.group(0)
    if method is None:
        method = "POST" if body is not None else "GET"
    f.http_calls.append(HttpCall(f.page.file, l.line, "curl", method, url, headers, body, b.line, b.scope))


def _az(f: PageFacts, b: CodeBlock, l: LogicalLine, text: str) -> None:
    words = shell_words(text) or text.split()
    name_parts = []
    i = 0
    while i < len(words) and not words[i].startswith("-") and re.match(r"^[a-z][a-z0-9-]*$", words[i]):
        name_parts.append(words[i])
        i += 1
    params: dict[str, str | None] = {}
    toks = words[i:]
    j = 0
    while j < len(toks):
        t = toks[j]
        if t.startswith("-"):
            key = t
            if "=" in t and t.startswith("--"):
                key, val = t.split("=", 1)
                params[key] = val
                j += 1
                continue
            vals = []
            while j + 1 < len(toks) and not (toks[j + 1].startswith("-") and len(toks[j + 1]) > 1
                                              and not GUID_RE.match(toks[j + 1])):
                vals.append(toks[j + 1])
                j += 1
            params[key] = " ".join(vals) if vals else None
        j += 1
    cmd = Command(f.page.file, l.line, "az", " ".join(name_parts), params, text, b.scope, b.line, words)
    f.commands.append(cmd)
    if cmd.name.startswith("az rest"):
        url = params.get("--url") or params.get("--uri") or params.get("-u")
        if url:
            hdrs = {}
            h = params.get("--headers")
            if h:
                for part in h.split():
                    if "=" in part:
                        k, v = part.split("=", 1)
                        hdrs[k] = v
            f.http_calls.append(HttpCall(f.page.file, l.line, "az-rest", (params.get("--method") or params.get("-m") or "GET").upper(),
                                         url, hdrs, params.get("--body") or params.get("-b"), b.line, b.scope))
    _roles_from_command(f, cmd)


def _cmdlet(f: PageFacts, b: CodeBlock, l: LogicalLine, text: str, hashtables: dict[str, dict[str, str]]) -> None:
    toks = ps_tokens(text)
    if not toks:
        return
    name = toks[0]
    if name.lower() in ("iwr", "irm", "curl.exe"):
        name = {"iwr": "Invoke-WebRequest", "irm": "Invoke-RestMethod"}.get(name.lower(), name)
    if not PS_CMDLET.match(name):
        return
    params: dict[str, str | None] = {}
    positional: list[str] = []
    i = 1
    while i < len(toks):
        t = toks[i]
        if t.startswith("@") and not t.startswith("@{") and not t.startswith("@("):
            for k, v in hashtables.get(t.lower(), {}).items():
                params["-" + k] = v
            i += 1
            continue
        if re.match(r"^-[A-Za-z][\w]*(:.*)?$", t):
            if ":" in t:
                k, v = t.split(":", 1)
                params[k] = v
                i += 1
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is not None and not re.match(r"^-[A-Za-z]", nxt) and nxt not in ("|", ";"):
                params[t] = nxt
                i += 2
            else:
                params[t] = None
                i += 1
            continue
        if t in ("|", ";"):
            break
        positional.append(t)
        i += 1
    cmd = Command(f.page.file, l.line, "cmdlet", name, params, text, b.scope, b.line, toks)
    f.commands.append(cmd)
    lname = name.lower()
    if lname in ("invoke-webrequest", "invoke-restmethod"):
        url = _pget(params, "-Uri", "-Url") or (positional[0] if positional else None)
        url = _resolve(url, f)
        if url and re.match(r"^(https?://|[\w.-]+\.\w+/)", url.strip(), re.I):
            headers: dict[str, str] = {}
            h = _pget(params, "-Headers", "-Header")
            if h and h.startswith("@{"):
                headers = parse_hashtable(h)[0]
            ct = _pget(params, "-ContentType")
            if ct:
                headers.setdefault("Content-Type", ct)
            body = _pget(params, "-Body")
            f.http_calls.append(HttpCall(f.page.file, l.line, "powershell",
                                         (_pget(params, "-Method") or "GET").upper(), url.strip(), headers,
                                         _resolve(body, f), b.line, b.scope))
    elif lname == "invoke-azrestmethod":
        path = _pget(params, "-Path") or _pget(params, "-Uri")
        if not path and _pget(params, "-ResourceProviderName"):
            path = (f"/subscriptions/{{subscription_id}}/resourceGroups/{_pget(params, '-ResourceGroupName') or '{rg}'}"
                    f"/providers/{_pget(params, '-ResourceProviderName')}/{_pget(params, '-ResourceType')}/"
                    f"{_pget(params, '-Name') or '{name}'}?api-version={_pget(params, '-ApiVersion') or ''}")
        if path:
            url = path if path.startswith("http") else "https://management.azure.com" + path
            f.http_calls.append(HttpCall(f.page.file, l.line, "invoke-azrestmethod",
                                         (_pget(params, "-Method") or "GET").upper(), url, {},
                                         _pget(params, "-Payload"), b.line, b.scope))
    _roles_from_command(f, cmd)


def _pget(params: dict[str, str | None], *names: str) -> str | None:
    for n in names:
        for k, v in params.items():
            if k.lower() == n.lower():
                return v
    return None


def _literal_urls(f: PageFacts, b: CodeBlock, l: LogicalLine) -> None:
    for m in re.finditer(r"[\"'](https?://[^\"'\s]+)[\"']", l.text):
        url = m.group(1)
        if any(c.url == url and c.line == l.line for c in f.http_calls):
            continue
        host = urlsplit(url).hostname or ""
        if host not in IMDS_HOSTS and "management.azure.com" not in host and ":50342" not in url:
            continue
        block = b.text
        method = None
        mm = re.search(r"(?:Method\s*=\s*|setRequestMethod\(|NewRequest\()\s*\"(GET|POST|PUT|PATCH|DELETE)\"", block)
        if mm:
            method = mm.group(1)
        headers = {}
        if re.search(r"Metadata\W{1,8}true", block, re.I):
            headers["Metadata"] = "true"
        call = HttpCall(f.page.file, l.line, "code", method or "GET", url, headers, None, b.line, b.scope)
        if call.kind == "imds" and not call.query.get("resource"):
            rm = re.search(r"[\"']resource[\"']\s*[,:=)]\s*[\"']([^\"']+)[\"']", block) or \
                re.search(r"\w*token\w*\s*\(\s*[\"'](https?://[^\"'\s]+)[\"']\s*\)", block, re.I)
            if rm:  # the resource as a parameter, or an argument of the helper that builds the URL
                base = call.url[:-len("resource=")].rstrip("&?") if call.url.endswith("resource=") else call.url
                call.url = base + ("&" if "?" in base else "?") + "resource=" + rm.group(1)
        f.http_calls.append(call)


def _extract_raw_http(f: PageFacts, b: CodeBlock, ll: list[LogicalLine]) -> None:
    if not ll:
        return
    first = ll[0]
    ftext = protect(first.text)
    m = re.match(rf"^\s*({'|'.join(HTTP_METHODS)})\s+(\S+)", ftext)
    if not m:
        return
    target = unprotect(m.group(2)).strip("'\"")
    headers: dict[str, str] = {}
    body_lines: list[str] = []
    in_body = False
    rest = unprotect(re.sub(rf"^\s*{m.group(1)}\s+\S+\s*(HTTP/[\d.]+)?\s*", "", ftext))
    hm = re.match(r"^([\w-]+)\s*:\s*(.*)$", rest)
    if hm:
        headers[hm.group(1)] = hm.group(2).strip()
    for l in ll[1:]:
        if in_body:
            body_lines.append(l.text)
            continue
        hm = re.match(r"^([\w-]+)\s*:\s*(.*)$", l.text.strip())
        if hm and not l.text.strip().startswith("{"):
            headers[hm.group(1)] = hm.group(2).strip()
        else:
            in_body = True
            body_lines.append(l.text)
    url = target if "://" in target else "https://" + headers.get("Host", "management.azure.com") + target
    f.http_calls.append(HttpCall(f.page.file, first.line, "http", m.group(1), url, headers,
                                 "\n".join(body_lines) or None, b.line, b.scope))


def _extract_json_block(f: PageFacts, b: CodeBlock) -> None:
    text = repair_export_json(b)[0] if b.layout == "export" else b.text
    try:
        data = parse_doc_json(text)
    except JsonProblem:
        data = None
    if data is not None:
        f.outputs.append((b.line, data))
    # ARM resources: "type": "Microsoft.X/y" with an "apiVersion" close by
    lines = b.lines
    for i, line in enumerate(lines):
        m = re.search(r'"type"\s*:\s*"(Microsoft\.[\w]+/[\w/]+)"', line)
        if not m:
            continue
        for j in range(max(0, i - 6), min(len(lines), i + 7)):
            am = re.search(r'"apiVersion"\s*:\s*"([^"]+)"', lines[j])
            if am:
                f.arm_resources.append(ArmResource(f.page.file, b.line_of(j), m.group(1), am.group(1)))
                break
    # roles in JSON: roleDefinitionId paths, name -> GUID template variables
    for i, line in enumerate(lines):
        for rm in re.finditer(rf"/(sqlRoleDefinitions|roleDefinitions)/({GUID})", line):
            f.roles.append(RoleRef(f.page.file, b.line_of(i), None, rm.group(2).lower(),
                                   "cosmos-sql" if rm.group(1) == "sqlRoleDefinitions" else "rbac", "json"))
        nm = re.match(rf'^\s*"([A-Za-z][\w ]+)"\s*:\s*"[^"]*({GUID})[^"]*"', line)
        if nm and not re.search(r"(?i)id$|^name$|principal|tenant|client|object|subscription", nm.group(1)):
            f.roles.append(RoleRef(f.page.file, b.line_of(i), nm.group(1), nm.group(2).lower(), "rbac", "template"))
    if data is not None:
        _template_roles(f, b, data)


def _template_roles(f: PageFacts, b: CodeBlock, data: Any) -> None:
    pass


def _extract_http_response(f: PageFacts, b: CodeBlock) -> None:
    """A documented response with its status line (``HTTP/1.1 200 OK``, headers, JSON body):
    the body joins the page's outputs."""
    lines = b.lines
    first = next((i for i, l in enumerate(lines) if l.strip()), None)
    if first is None or not re.match(r"^\s*HTTP/\d(\.\d)?\s+\d{3}", lines[first]):
        return
    start = next((i for i in range(first + 1, len(lines)) if lines[i].strip().startswith(("{", "["))), None)
    if start is None:
        return
    try:
        data = parse_doc_json("\n".join(lines[start:]))
    except JsonProblem:
        return
    f.outputs.append((b.line_of(start), data))


def _roles_from_command(f: PageFacts, cmd: Command) -> None:
    n = cmd.name.lower()
    p = {k.lower(): v for k, v in cmd.params.items()}
    if n.startswith("az role assignment") and ("--role" in p):
        val = _resolve(p["--role"], f)
        if val:
            f.roles.append(_role_ref(f, cmd.line, val, "rbac", "cli", True))
    elif n.startswith("az cosmosdb sql role assignment"):
        val = _resolve(p.get("--role-definition-id") or p.get("-d"), f)
        if val:
            f.roles.append(_role_ref(f, cmd.line, val, "cosmos-sql", "cli", True))
    elif n in ("new-azroleassignment", "remove-azroleassignment", "get-azroleassignment"):
        name = _resolve(p.get("-roledefinitionname"), f)
        rid = _resolve(p.get("-roledefinitionid"), f)
        if name or rid:
            f.roles.append(RoleRef(f.page.file, cmd.line, name, rid.lower() if rid else None, "rbac", "powershell",
                                   n.startswith("new")))
    elif n in ("new-azcosmosdbsqlroleassignment", "update-azcosmosdbsqlroleassignment"):
        rid = _resolve(p.get("-roledefinitionid"), f)
        name = _resolve(p.get("-roledefinitionname"), f)
        if rid or name:
            f.roles.append(_role_ref(f, cmd.line, rid or name, "cosmos-sql", "powershell", True))


def _role_ref(f: PageFacts, line: int, value: str, kind: str, source: str, command: bool) -> RoleRef:
    value = value.strip().strip("'\"")
    m = GUID_RE.search(value)
    if m and (value.lower() == m.group(0).lower() or "/" in value):
        return RoleRef(f.page.file, line, None, m.group(0).lower(), kind, source, command)
    return RoleRef(f.page.file, line, value, None, kind, source, command)


def _extract_output_roles(f: PageFacts, b: CodeBlock) -> None:
    text = b.text
    nm = re.search(r"^\s*RoleDefinitionName\s*:\s*(.+?)\s*$", text, re.M)
    im = re.search(rf"^\s*RoleDefinitionId\s*:\s*.*?({GUID})\s*$", text, re.M)
    if nm and im:
        line = b.line_of(text[:nm.start()].count("\n") + (1 if text[nm.start()] == "\n" else 0))
        f.roles.append(RoleRef(f.page.file, line, nm.group(1), im.group(1).lower(), "rbac", "output"))
    # "$x = '<guid>' # This is the ID of the <role name> role definition"
    for i, line in enumerate(b.lines):
        m = re.search(rf"['\"]({GUID})['\"]\s*#\s*(?:This is )?(?:the )?ID of the (.+?) role(?: definition)?\s*$", line, re.I)
        if m:
            f.roles.append(RoleRef(f.page.file, b.line_of(i), m.group(2).strip(), m.group(1).lower(),
                                   "cosmos-sql" if m.group(1).startswith("00000000-0000-0000-0000-00000000000")
                                   else "rbac", "comment"))


def _extract_prose_roles(f: PageFacts) -> None:
    from .knowledge import role_table
    names = sorted(role_table().keys(), key=len, reverse=True)
    if not names:
        return
    alt = "|".join(re.escape(n) for n in names)
    pat = re.compile(rf"(?:\*\*|`|\"|')({alt})(?:\*\*|`|\"|')", re.I)
    for t in f.page.prose:
        for m in pat.finditer(t.text):
            f.roles.append(RoleRef(f.page.file, t.line, m.group(1), None, "rbac", "prose"))
