"""Parse Microsoft Learn markdown (and the plain-text PDF export of the 2019 doc set).

The parser is deliberately forgiving: documentation is full of small breakages and the
point of the gate is to *report* them, so parsing never raises on bad input. Structural
problems it notices (an unclosed fence, a zone without ``::: zone-end`` ...) are kept on
the page as :class:`Issue` records, which the rules in :mod:`milab.docs.rules` turn into
findings.

Two layouts are understood:

``learn``
    One page per file: YAML front matter, ``#`` headings, tabs
    (``# [Azure CLI](#tab/azure-cli)`` ... ``---``), zone pivots (``::: zone pivot="x"`` ...
    ``::: zone-end``), includes (``[!INCLUDE [t](path)]``), notes (``> [!NOTE]``), fenced
    code with a language, pipe tables.
``export``
    The text made from a PDF export of a whole doc set: many pages in one file, each
    starting with a ``# Title`` line followed by a ``4/5/2019 • 8 minutes to read`` line,
    untagged fences, notes written as ``## NOTE`` headings, and long lines broken by the
    PDF layout (see :func:`milab.docs.facts.logical_lines` for how those are re-joined).

Every element keeps its file and its 1-based line number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DATE_LINE = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{4}\s*•.*minutes?\s+to\s+read", re.I)
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<text>.*?)[ \t]*#*[ \t]*$")
TAB_MARK = re.compile(r"^#{1,6}[ \t]*\[(?P<title>[^\]]+)\]\(#tab/(?P<id>[\w.-]+)\)[ \t]*$")
ZONE_OPEN = re.compile(r"^[ \t]*:::[ \t]*zone[ \t]+(?P<kind>pivot|target)[ \t]*=[ \t]*\"(?P<value>[^\"]*)\"[ \t]*$", re.I)
ZONE_END = re.compile(r"^[ \t]*:::[ \t]*zone-end[ \t]*$", re.I)
INCLUDE = re.compile(r"\[!INCLUDE[ \t]*\[(?P<title>[^\]]*)\][ \t]*\((?P<path>[^)]+)\)[ \t]*\]", re.I)
NOTE_LEARN = re.compile(r"^[ \t]*>[ \t]*\[!(?P<kind>NOTE|TIP|IMPORTANT|CAUTION|WARNING)\]", re.I)
NOTE_EXPORT = re.compile(r"^#{1,6}[ \t]+(?P<kind>NOTE|TIP|IMPORTANT|CAUTION|WARNING)[ \t]*$")
TABLE_LINE = re.compile(r"^[ \t]*\|")
DELIM_CELL = re.compile(r"^[ \t]*:?-{1,}:?[ \t]*$")
FM_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*)[ \t]*:[ \t]*(?P<value>.*)$")

LIST_ITEM = re.compile(r"^(?P<indent>[ ]*)(?P<marker>[-*+]|\d{1,9}[.)])(?P<space>[ ]{1,4})\S")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def container_column(lines: list[str], i: int, in_code, start: int = 0) -> int | None:
    """The column of the container (list item content, or 0 at top level) of the fence
    opened on ``lines[i]``, as CommonMark sees it; ``None`` when it cannot tell (block
    quotes, tabs). ``in_code(j)`` says whether line j is code (skipped)."""
    ind = _indent_of(lines[i])
    m = ind  # the least indented text line seen between the fence and its container
    for j in range(i - 1, max(start, i - 400) - 1, -1):
        line = lines[j]
        if not line.strip() or in_code(j):
            continue
        if "\t" in line[:_indent_of(line) + 1] or line.lstrip().startswith(">"):
            return None
        li = _indent_of(line)
        lm = LIST_ITEM.match(line)
        if lm:
            cc = len(lm["indent"]) + len(lm["marker"]) + len(lm["space"])
            if cc <= ind and cc <= m:
                return cc
            m = min(m, li)
        else:
            m = min(m, li)
        if m == 0:
            return 0
    return 0


def closes_fence(line: str, fence: str, container: int | None) -> bool:
    """Does ``line`` close a block opened with ``fence`` in a container at that column?
    (CommonMark: same character, at least as long, no info string, indented at most three
    columns past the container.)"""
    m = FENCE_OPEN.match(line)
    if not (m and m["fence"][0] == fence[0] and len(m["fence"]) >= len(fence) and not m["info"]):
        return False
    if container is None or "\t" in m["indent"]:
        return True
    return len(m["indent"]) - container <= 3


class Loc(int):
    """A line number that remembers its file: lines of an included file are numbered in that
    file, so findings on them name it (it is an ``int`` everywhere else)."""
    file: str | None = None

    def __new__(cls, line: int, file: str | None = None):
        obj = super().__new__(cls, line)
        obj.file = file
        return obj


@dataclass
class Issue:
    """A structural problem the parser noticed (turned into a finding by a rule)."""
    kind: str
    file: str
    line: int
    message: str


@dataclass
class Heading:
    file: str
    line: int
    level: int
    text: str
    anchor: str


@dataclass
class CodeBlock:
    file: str
    line: int  # line of the opening fence
    lang: str  # first word of the info string, lower-cased; '' when untagged
    info: str
    lines: list[str]
    end_line: int | None = None  # line of the closing fence; None when never closed
    indent: int = 0
    tab: str | None = None
    pivot: tuple[str, ...] | None = None
    section: str | None = None
    layout: str = "learn"
    from_include: str | None = None

    @property
    def first_line(self) -> int:
        return self.line + 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def line_of(self, index: int) -> int:
        n = self.first_line + index
        return Loc(n, self.file) if self.from_include else n

    @property
    def scope(self) -> str | None:
        """The tab or pivot this block belongs to (None: seen by every reader)."""
        if self.tab:
            return "tab:" + self.tab
        if self.pivot:
            return "pivot:" + ",".join(self.pivot)
        return None


@dataclass
class Include:
    file: str
    line: int
    title: str
    target: str
    resolved: str | None = None


@dataclass
class Note:
    file: str
    line: int
    kind: str


@dataclass
class Table:
    file: str
    line: int
    header: list[str]
    delimiter: list[str]
    rows: list[tuple[int, list[str]]]


@dataclass
class TabMarker:
    file: str
    line: int
    title: str
    id: str


@dataclass
class Pivot:
    file: str
    line: int
    kind: str
    values: tuple[str, ...]
    end_line: int | None = None


@dataclass
class TextLine:
    """A line of prose (outside code fences), with the tab/pivot it sits in."""
    line: int
    text: str
    tab: str | None = None
    pivot: tuple[str, ...] | None = None
    file: str | None = None  # set for prose from an included file (its lines are that file's)


@dataclass
class Page:
    file: str
    title: str
    line: int
    end_line: int
    layout: str = "learn"
    front_matter: dict[str, str] = field(default_factory=dict)
    headings: list[Heading] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    tabs: list[TabMarker] = field(default_factory=list)
    pivots: list[Pivot] = field(default_factory=list)
    prose: list[TextLine] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.file).name

    def text_of_lines(self) -> str:
        return "\n".join(t.text for t in self.prose)


def slugify(text: str) -> str:
    """The anchor Learn generates for a heading."""
    text = re.sub(r"`|\*\*|__", "", text).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r"\s", "-", text)


def split_cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", s)]


def parse_front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """Return (front matter, index of the first body line)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    fm: dict[str, str] = {}
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() == "---":
            return fm, i + 1
        m = FM_LINE.match(lines[i])
        if m and not lines[i].startswith((" ", "\t", "#")):
            fm[m["key"]] = m["value"].strip().strip("'\"")
    return {}, 0  # no closing line: not front matter


def detect_layout(lines: list[str]) -> str:
    if any(DATE_LINE.match(l) for l in lines[:5000]):
        return "export"
    return "learn"


def _is_page_title(lines: list[str], i: int) -> bool:
    """In the export layout a page starts with '# Title' and, a line or two below, a date line."""
    if not lines[i].startswith("# "):
        return False
    seen = 0
    for j in range(i + 1, min(len(lines), i + 6)):
        if not lines[j].strip():
            continue
        seen += 1
        if DATE_LINE.match(lines[j]):
            return True
        if seen >= 2:
            return False
    return False


#: reads an included file: its text, or None when it does not exist (see :func:`parse_text`)
Opener = Callable[[Path], "str | None"]


def read_file(path: Path) -> str | None:
    """The default :data:`Opener`: the file on disk."""
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def parse_file(path: str | Path, *, resolve_includes: bool = True, opener: Opener | None = None) -> list[Page]:
    p = Path(path)
    text = p.read_text(encoding="utf-8", errors="replace")
    return parse_text(text, str(p), resolve_includes=resolve_includes, opener=opener)


def parse_text(text: str, file: str = "<text>", *, resolve_includes: bool = True,
               _include_stack: tuple[str, ...] = (), opener: Opener | None = None) -> list[Page]:
    """Parse a file's text into pages (one for Learn markdown, several for the export).

    ``opener`` reads included files (default: from disk); the docs gate passes one that reads
    them as they were at a git revision."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    layout = detect_layout(lines)
    fm, body_start = parse_front_matter(lines)
    # Pre-scan for fences so that '# ' comment lines inside code never start a page.
    in_code = _fence_mask(lines)
    starts: list[int] = []
    if layout == "export":
        starts = [i for i in range(body_start, len(lines)) if not in_code[i] and _is_page_title(lines, i)]
        first_h1 = next((i for i in range(body_start, len(lines))
                         if not in_code[i] and lines[i].startswith("# ")), None)
        if first_h1 is not None and (not starts or first_h1 < starts[0]):
            starts.insert(0, first_h1)  # the table of contents before the first dated page
    if not starts or starts[0] > body_start:
        starts.insert(0, body_start)
    pages = []
    for n, s in enumerate(starts):
        e = starts[n + 1] if n + 1 < len(starts) else len(lines)
        page = _parse_range(lines, s, e, file, layout, fm if n == 0 else {})
        if n == 0 and s == body_start and len(starts) > 1 and layout == "export" \
                and not any(l.strip() for l in lines[s:e]):
            continue
        pages.append(page)
    if resolve_includes:
        for page in pages:
            _resolve_includes(page, _include_stack + (str(Path(file).resolve()),), opener or read_file)
    return pages


def _fence_mask(lines: list[str]) -> list[bool]:
    """Which lines are inside code fences (same pairing rules as :func:`_parse_range`)."""
    mask = [False] * len(lines)
    fence: str | None = None
    content = False
    wrapper = False
    container: int | None = None
    learn = detect_layout(lines) == "learn"
    i = 0
    while i < len(lines):
        l = lines[i]
        m = FENCE_OPEN.match(l)
        if fence is None:
            if m and not (m["fence"][0] == "`" and "`" in m["info"]):
                fence, content = m["fence"], False
                container = container_column(lines, i, lambda j: mask[j]) if learn else None
                mask[i] = True
            i += 1
            continue
        mask[i] = True
        if closes_fence(l, fence, container):
            fence = None
            if wrapper:
                j = i + 1
                while j < len(lines) and not lines[j].strip():
                    mask[j] = True
                    j += 1
                mm = FENCE_OPEN.match(lines[j]) if j < len(lines) else None
                if mm and not mm["info"]:
                    mask[j] = True
                    i = j
                wrapper = False
        elif m and m["info"] and m["fence"][0] == fence[0] and re.match(r"^[\w+#.-]+$", m["info"].split()[0]):
            wrapper = not content
            fence, content = m["fence"], False
            container = container_column(lines, i, lambda j: mask[j] and j < i) if learn else None
        elif l.strip():
            content = True
        i += 1
    return mask


def _title_from(lines: list[str], s: int, e: int, fm: dict[str, str], file: str) -> tuple[str, int]:
    if fm.get("title"):
        return fm["title"], s + 1
    mask = _fence_mask(lines[s:e])
    for i in range(s, e):
        if mask[i - s]:
            continue
        m = HEADING.match(lines[i])
        if m and len(m["hashes"]) == 1 and not TAB_MARK.match(lines[i]):
            return m["text"].strip(), i + 1
    return Path(file).stem, s + 1


def _parse_range(lines: list[str], s: int, e: int, file: str, layout: str,
                 fm: dict[str, str]) -> Page:
    title, _ = _title_from(lines, s, e, fm, file)
    page = Page(file=file, title=title, line=s + 1, end_line=e, layout=layout, front_matter=dict(fm))
    tab: TabMarker | None = None
    tab_group_start: int | None = None
    pivot_stack: list[Pivot] = []
    section: str | None = None
    block: CodeBlock | None = None
    fence = ""
    wrapper_pending = False  # a fence that only wrapped another fence (seen in the export)
    anchors: dict[str, int] = {}
    i = s
    table_buf: list[tuple[int, str]] = []
    code_lines: set[int] = set()
    too_deep: list[int] = []
    container: int | None = None

    def flush_table():
        nonlocal table_buf
        if len(table_buf) >= 2 and all(DELIM_CELL.match(c) for c in split_cells(table_buf[1][1]) if c != ""):
            (hl, h), (_, d) = table_buf[0], table_buf[1]
            page.tables.append(Table(file, hl + 1, split_cells(h), split_cells(d),
                                     [(ln + 1, split_cells(t)) for ln, t in table_buf[2:]]))
        table_buf = []

    cur_pivot = lambda: tuple(v for p in pivot_stack for v in p.values) or None  # noqa: E731

    while i < e:
        raw = lines[i]
        ln = i + 1
        if block is not None:
            code_lines.add(i)
            m = FENCE_OPEN.match(raw)
            if m and not closes_fence(raw, fence, container) and m["fence"][0] == fence[0] \
                    and len(m["fence"]) >= len(fence) and not m["info"]:
                too_deep.append(ln)  # a closing fence indented too deep: it is code, not a fence
            if closes_fence(raw, fence, container):
                block.end_line = ln
                page.code_blocks.append(block)
                block = None
                if wrapper_pending:
                    # consume the wrapper's own closing fence if it follows
                    j = i + 1
                    while j < e and not lines[j].strip():
                        j += 1
                    mm = FENCE_OPEN.match(lines[j]) if j < e else None
                    if mm and not mm["info"]:
                        i = j
                    wrapper_pending = False
                i += 1
                continue
            if m and m["info"] and m["fence"][0] == fence[0] and re.match(r"^[\w+#.-]+$", m["info"].split()[0]):
                # an opening fence inside an open block
                if not any(x.strip() for x in block.lines):
                    page.issues.append(Issue("fence-nested", file, ln,
                                             f"code fence '{m['fence']}{m['info']}' opens inside the fence opened on "
                                             f"line {block.line}: the block is wrapped in a second fence"))
                    wrapper_pending = True
                else:
                    deep = [d for d in too_deep if block.line < d < ln]
                    why = (f" (the fence on line {deep[0]} is indented too deep to close it: a closing fence may be "
                           f"indented at most 3 spaces more than its list item or the page)") if deep else ""
                    page.issues.append(Issue("fence-unclosed", file, block.line,
                                             f"code fence opened on line {block.line} is not closed before the "
                                             f"fence '{m['fence']}{m['info']}' on line {ln}{why}"))
                    block.end_line = None
                    page.code_blocks.append(block)
                block = _new_block(file, ln, m, tab, cur_pivot(), section, layout)
                fence = m["fence"]
                container = container_column(lines, i, lambda j: j in code_lines, s) if layout == "learn" else None
                i += 1
                continue
            ind = block.indent
            block.lines.append(raw[ind:] if raw[:ind].strip() == "" else raw.lstrip())
            i += 1
            continue

        m = FENCE_OPEN.match(raw)
        if m and not (m["fence"][0] == "`" and "`" in m["info"]):
            flush_table()
            block = _new_block(file, ln, m, tab, cur_pivot(), section, layout)
            fence = m["fence"]
            container = container_column(lines, i, lambda j: j in code_lines, s) if layout == "learn" else None
            code_lines.add(i)
            i += 1
            continue

        if TABLE_LINE.match(raw):
            table_buf.append((i, raw))
        else:
            flush_table()

        tm = TAB_MARK.match(raw)
        if tm:
            tab = TabMarker(file, ln, tm["title"], tm["id"])
            page.tabs.append(tab)
            if tab_group_start is None:
                tab_group_start = ln
            i += 1
            continue
        if raw.strip() == "---" and tab_group_start is not None and layout == "learn":
            tab = None
            tab_group_start = None
            i += 1
            continue
        zm = ZONE_OPEN.match(raw)
        if zm:
            if pivot_stack:
                page.issues.append(Issue("pivot-unbalanced", file, ln,
                                         f"zone opened on line {ln} inside the zone opened on line "
                                         f"{pivot_stack[-1].line}: zones cannot nest (missing '::: zone-end'?)"))
            pv = Pivot(file, ln, zm["kind"].lower(), tuple(v.strip() for v in zm["value"].split(",") if v.strip()))
            page.pivots.append(pv)
            pivot_stack.append(pv)
            i += 1
            continue
        if ZONE_END.match(raw):
            if not pivot_stack:
                page.issues.append(Issue("pivot-unbalanced", file, ln, "'::: zone-end' without an open zone"))
            else:
                pivot_stack.pop().end_line = ln
            i += 1
            continue

        nm = NOTE_LEARN.match(raw)
        if nm:
            page.notes.append(Note(file, ln, nm["kind"].upper()))
        if layout == "export":
            nm = NOTE_EXPORT.match(raw)
            if nm:
                page.notes.append(Note(file, ln, nm["kind"].upper()))
                i += 1
                continue
        hm = HEADING.match(raw)
        if hm:
            text = hm["text"].strip()
            anchor = slugify(text)
            if anchor in anchors:
                anchors[anchor] += 1
                anchor = f"{anchor}-{anchors[anchor]}"
            else:
                anchors[anchor] = 0
            page.headings.append(Heading(file, ln, len(hm["hashes"]), text, anchor))
            section = text
            if tab_group_start is not None and len(hm["hashes"]) <= 2 and layout == "learn":
                page.issues.append(Issue("tab-unclosed", file, tab_group_start,
                                         f"tab group started on line {tab_group_start} is not closed with '---' "
                                         f"before the heading on line {ln}"))
                tab = None
                tab_group_start = None
        for im in INCLUDE.finditer(raw):
            page.includes.append(Include(file, ln, im["title"], im["path"].strip()))
        page.prose.append(TextLine(ln, raw, tab.id if tab else None, cur_pivot()))
        i += 1

    flush_table()
    if block is not None:
        deep = [d for d in too_deep if d > block.line]
        why = (f" (the fence on line {deep[0]} is indented too deep to close it: a closing fence may be indented "
               f"at most 3 spaces more than its list item or the page)") if deep else ""
        page.issues.append(Issue("fence-unclosed", file, block.line,
                                 f"code fence opened on line {block.line} is never closed{why}"))
        page.code_blocks.append(block)
    for pv in pivot_stack:
        page.issues.append(Issue("pivot-unbalanced", file, pv.line,
                                 f"zone opened on line {pv.line} has no '::: zone-end'"))
    if tab_group_start is not None and layout == "learn":
        page.issues.append(Issue("tab-unclosed", file, tab_group_start,
                                 f"tab group started on line {tab_group_start} is not closed with '---'"))
    return page


def _new_block(file, ln, m, tab, pivot, section, layout) -> CodeBlock:
    info = m["info"].strip()
    lang = info.split()[0].lower() if info else ""
    lang = lang.strip("{}.")
    return CodeBlock(file=file, line=ln, lang=lang, info=info, lines=[],
                     indent=len(m["indent"].expandtabs(4)), tab=tab.id if tab else None,
                     pivot=pivot, section=section, layout=layout)


def _resolve_includes(page: Page, stack: tuple[str, ...], opener: Opener = read_file) -> None:
    base = Path(page.file).resolve().parent
    for inc in page.includes:
        target = inc.target.split("#")[0].split("?")[0]
        candidates: list[Path] = []
        if target.startswith("~/"):
            rest = target[2:]
            candidates = [d / rest for d in [base, *base.parents]]
        elif target.startswith("/"):
            continue
        else:
            candidates = [base / target]
        found = text = None
        for c in candidates:
            text = opener(c)
            if text is not None:
                found = c
                break
        if found is None:
            continue
        inc.resolved = str(found)
        if str(found.resolve()) in stack:
            page.issues.append(Issue("include-cycle", page.file, inc.line, f"include cycle through {inc.target}"))
            continue
        sub = parse_text(text, str(found), _include_stack=stack, opener=opener)
        for sp in sub:
            for b in sp.code_blocks:
                b.from_include = inc.target
                b.line = Loc(b.line, b.file)
                page.code_blocks.append(b)
            page.issues.extend(sp.issues)
            page.tables.extend(sp.tables)
            for t in sp.prose:
                t.file = t.file or str(found)
                t.line = Loc(t.line, t.file)
            page.prose.extend(sp.prose)
