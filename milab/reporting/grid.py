"""The tutorial grid: one row per procedure of a page, one column per check, in ``matrix.md`` and
a self-contained ``matrix.html``.

Input: the matrix rows (:class:`milab.reporting.matrix.MatrixRow`, one per test, or dicts with the
same keys). A row lands on the grid row of its procedure:

* ``(family, variant)`` with a ``-as-written`` suffix folded into the corrected variant's row (its
  cell is the "as written" check), so a scenario test and its denials share one grid row;
* a page-runner row (it has a ``verdict``) carries the procedure id of ``milab/procedures.py``
  (``VMC-SA-create``): it lands on that procedure's row, the one its scenario fills when it has
  one (family and variant from ``procedures.py``), else the row that shows "page runner" until
  then; its verdict is the "page steps" cell (failed at step N for a page defect or a milab gap,
  with which of the two; skipped when not executable here). Procedures ``procedures.py`` does
  not list (the tutorials of other families) get a row of their own, keyed by procedure id.

A test's cell is its ``check`` (or the column its name gives, :func:`checks.test_column`);
the checks it recorded (``checks``: ``{"check", "what", "passed", "status", "code", "expected"}``)
fill their own columns with the status and error code seen. Page, pivot, OS and identity kind
come from the row, else from the registry and ``milab/procedures.py``. Rows with a failure come
first. Pages link to Learn where the seed is a current Learn page, else to the seed file and the
line of the page's heading; each section links to its heading.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from milab.reporting import checks as _checks

# Learn pages the seeds are copies of (verified addresses); other seeds link to the seed file.
LEARN_URLS = {
    "002_3ac18aa7751238e2.txt": "https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/"
                                "tutorial-vm-managed-identities-cosmos",
    "001_b0c92987657c19fd.txt": "https://learn.microsoft.com/en-us/azure/cosmos-db/nosql/security/"
                                "how-to-create-managed-identities",
}

STATUS_ORDER = ("failed", "passed", "skipped", "not run", "page runner", "unwritten")
_AS_WRITTEN = "-as-written"


@dataclass
class Cell:
    status: str = ""  # passed | failed | skipped | ""
    seen: list[str] = field(default_factory=list)  # "403 AuthorizationFailed", ...
    detail: list[str] = field(default_factory=list)  # one line per check, for the tooltip
    failure: str | None = None  # "got 200, expected 403 AuthorizationFailed"

    def add(self, status: str, seen: str | None, detail: str, failure: str | None = None) -> None:
        rank = {"failed": 3, "passed": 2, "skipped": 1, "": 0}
        if rank.get(status, 0) > rank.get(self.status, 0):
            self.status = status
        if seen and seen not in self.seen:
            self.seen.append(seen)
        self.detail.append(detail)
        if failure and not self.failure:
            self.failure = failure

    def text(self) -> str:
        if self.status == "failed":
            return f"\u2717 {self.failure or 'failed'}"
        if self.status == "passed":  # a denial's code says more than the 200 of the token request before it
            shown = [s for s in self.seen if not s.startswith("2")] or self.seen
            return "\u2713 " + (", ".join(shown[:2]) + (" \u2026" if len(shown) > 2 else "") if shown else "pass")
        if self.status == "skipped":
            return "skip"
        return ""


@dataclass
class GridRow:
    family: str
    key: str  # variant (as-written folded) or procedure id
    page_title: str | None = None
    page_file: str | None = None
    page_seed: str | None = None
    page_url: str | None = None
    sections: list[str] = field(default_factory=list)
    pivot: str = ""
    os: str = ""
    identity: str = ""
    procedure: str = ""
    seed_lines: str = ""  # "004:4779-4878" (procedures.py)
    cells: dict[str, Cell] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    tests: int = 0
    fixed_status: str | None = None  # page runner | unwritten | not run

    @property
    def status(self) -> str:
        states = {c.status for c in self.cells.values()}
        if "failed" in states:
            return "failed"
        if "passed" in states:
            return "passed"
        if "skipped" in states:
            return "skipped"
        return self.fixed_status or "not run"


# ----------------------------------------------------------------------------- what a row is

def describe(family: str, variant: str | None) -> dict[str, Any]:
    """Page, pivot, OS and identity kind of a registry tutorial or procedure (empty when unknown)."""
    from milab import procedures, registry
    out: dict[str, Any] = {}
    proc = next((p for p in procedures.PROCEDURES if p.family == family and variant
                 and variant in (p.variant, p.id)), None)
    try:
        t = registry.find(family, variant) if variant else None
    except KeyError:
        t = None
    if t is not None:
        out.update(page_title=t.page.title, page_file=t.page.file, page_seed=t.page.seed,
                   sections=list(t.sections))
        facts = t.facts
        out["os"] = facts.get("os", "")
        kind = facts.get("identity")
        if not kind and isinstance(facts.get("expect"), dict):
            e = facts["expect"]
            kind = " + ".join(k for k, on in (("system", e.get("system")), ("user", e.get("users"))) if on)
        out["identity"] = kind or ""
        out["pivot"] = facts.get("pivot") or ("tutorial" if facts.get("os") else "")
    if proc is not None:
        title, file, seed = procedures.PAGES[proc.page]
        out.setdefault("page_title", title)
        out.setdefault("page_file", file)
        out.setdefault("page_seed", seed)
        if proc.section and not out.get("sections"):
            out["sections"] = [proc.section]
        out["pivot"] = proc.pivot
        out["procedure"] = proc.id
        out["seed_lines"] = proc.seed_lines
        if not out.get("identity"):
            pid = proc.id.upper()
            out["identity"] = ("system" if "-SA" in pid else "user" if "-UA" in pid or family == "ua_identity_crud"
                               else "")
    return out


def _base(variant: str) -> str:
    return variant[: -len(_AS_WRITTEN)] if variant.endswith(_AS_WRITTEN) else variant


def _get(row: Any, name: str, default: Any = None) -> Any:
    return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)


def build(rows: Iterable[Any]) -> list[GridRow]:
    """The grid rows of a run (failures first), plus the not-run procedures of its families."""
    from milab import procedures, registry
    grid: dict[tuple[str, str], GridRow] = {}
    for r in rows:
        family = _get(r, "family") or "unknown"
        variant = _get(r, "variant") or ""
        procedure = _get(r, "procedure") or ""
        key = _base(variant) if variant else procedure
        if _get(r, "verdict") and procedure:
            family, key = procedure_row(family, procedure)
        g = grid.get((family, key))
        if g is None:
            g = grid[(family, key)] = GridRow(family, key)
            info = describe(family, key) or describe(family, procedure)
            for name, value in info.items():
                setattr(g, name, value)
        for name in ("page_title", "page_file", "page_seed", "page_url", "pivot", "os", "identity", "procedure"):
            value = _get(r, name)
            if value and not getattr(g, name):
                setattr(g, name, value)
        if _get(r, "sections") and not g.sections:
            g.sections = list(_get(r, "sections"))
        g.tests += 1
        _fill(g, r, variant)
    families = {f for f, _ in grid}
    for t in registry.TUTORIALS:  # what the run did not reach, so gaps stay visible
        if t.family in families and (t.family, _base(t.variant)) not in grid:
            g = grid[(t.family, _base(t.variant))] = GridRow(t.family, _base(t.variant), fixed_status="not run")
            for name, value in describe(t.family, t.variant).items():
                setattr(g, name, value)
    for p in procedures.PROCEDURES:
        if p.family in families and p.variant is None and (p.family, p.id) not in grid:
            g = grid[(p.family, p.id)] = GridRow(p.family, p.id, fixed_status=p.how.replace("-", " "))
            for name, value in describe(p.family, p.id).items():
                setattr(g, name, value)
    return sorted(grid.values(), key=_order)


PAGE_STEPS = "page steps"  # the page runner's column


def procedure_row(family: str, procedure: str) -> tuple[str, str]:
    """(family, key) of the grid row a page-runner verdict of ``procedure`` lands on."""
    from milab import procedures
    proc = next((p for p in procedures.PROCEDURES if p.id == procedure), None)
    if proc is None:
        return family, procedure
    return proc.family, (_base(proc.variant) if proc.variant else proc.id)


def _order(g: GridRow) -> tuple:
    return (STATUS_ORDER.index(g.status) if g.status in STATUS_ORDER else len(STATUS_ORDER),
            (g.page_title or "~").lower(), g.pivot, g.family, g.key)


_VERDICT_WORDS = {"page-defect": "page defect", "milab-gap": "milab gap"}


def _fill_verdict(g: GridRow, r: Any, verdict: str) -> None:
    step, why = _get(r, "verdict_step"), _get(r, "verdict_reason") or ""
    cell = g.cells.setdefault(PAGE_STEPS, Cell())
    if verdict == "passed":
        cell.add("passed", None, "\u2713 every step ran as the page says")
    elif verdict in _VERDICT_WORDS:
        what = _VERDICT_WORDS[verdict] + (f" at step {step}" if step is not None else "")
        cell.add("failed", what, f"\u2717 {what}: {why}", what)
        g.reasons.append(f"{what}: {why}" if why else what)
    else:
        cell.add("skipped", None, f"not run here: {why}")


def _fill(g: GridRow, r: Any, variant: str) -> None:
    verdict = _get(r, "verdict")
    if verdict:
        _fill_verdict(g, r, verdict)
        return
    outcome = _get(r, "outcome") or "passed"
    nodeid = _get(r, "nodeid") or ""
    test_name = nodeid.rsplit("::", 1)[-1]
    column = _get(r, "check") or _checks.test_column(test_name, g.family, variant)
    recorded = list(_get(r, "checks") or [])
    failed_check = None
    for c in recorded:
        col = c.get("check") or column
        seen = _checks.seen(c)
        what = c.get("what") or col
        if c.get("passed"):
            g.cells.setdefault(col, Cell()).add("passed", seen, f"\u2713 {what}: {seen or 'ok'}")
        else:
            failed_check = c
            failure = f"{seen or 'no answer'} (want {c.get('expected')})" if c.get("expected") else seen
            g.cells.setdefault(col, Cell()).add("failed", seen, f"\u2717 {what}: {seen}", failure)
    reason = _get(r, "reason")
    if outcome in ("failed", "error"):
        if reason:
            g.reasons.append(re.sub(r"^AssertionError:\s*", "", reason))
        if failed_check is None:  # the failure is not one of the recorded checks: it is the test's
            g.cells.setdefault(column, Cell()).add("failed", None, f"\u2717 {test_name}: {reason or outcome}",
                                                   _short(reason) or outcome)
    elif outcome in ("skipped", "xfailed"):
        g.cells.setdefault(column, Cell()).add("skipped", None, f"skipped {test_name}: {reason or ''}")
    elif not recorded or not any((c.get("check") or column) == column for c in recorded):
        g.cells.setdefault(column, Cell()).add("passed", None, f"\u2713 {test_name}")


def _short(reason: str | None, limit: int = 60) -> str | None:
    if not reason:
        return None
    text = re.sub(r"^(AssertionError|assert)\s*:?\s*", "", reason.strip())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def columns(grid: list[GridRow]) -> list[str]:
    used = {c for g in grid for c in g.cells}
    return [c for c in _checks.COLUMNS if c in used] + sorted(used - set(_checks.COLUMNS))


# ----------------------------------------------------------------------------- links

def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return re.sub(r"\s+", "-", text.strip())


def page_link(g: GridRow) -> tuple[str | None, str | None]:
    """(href, seed location) of the page: Learn for current pages, else the seed file and line."""
    from milab import seeds
    url = g.page_url or LEARN_URLS.get(g.page_seed or "")
    where = None
    if g.page_seed and g.page_title:
        line = seeds.title_line(g.page_title, g.page_seed)
        where = f"{g.page_seed[:3]}:{line}" if line else g.page_seed[:3]
        if url is None:
            url = (seeds.seeds_dir() / g.page_seed).as_uri() if seeds.seeds_dir().is_absolute() else None
    return url, where


def section_links(g: GridRow) -> list[tuple[str, str | None, str | None]]:
    """(section, href, seed location) of each section."""
    from milab import seeds
    learn = g.page_url or LEARN_URLS.get(g.page_seed or "")
    out = []
    for s in g.sections:
        line = seeds.section_line(g.page_title, g.page_seed, s) if g.page_seed and g.page_title else None
        if line is None and g.seed_lines and ":" in g.seed_lines:
            line = int(g.seed_lines.split(":", 1)[1].split("-", 1)[0])
        where = f"{g.page_seed[:3]}:{line}" if g.page_seed and line else None
        if learn:
            href = f"{learn}#{_slug(s)}"
        elif g.page_seed and seeds.seeds_dir().is_absolute():
            href = (seeds.seeds_dir() / g.page_seed).as_uri()
        else:
            href = None
        out.append((s, href, where))
    return out


# ----------------------------------------------------------------------------- markdown

def _md(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _md_link(text: str, href: str | None) -> str:
    return f"[{_md(text)}]({href.replace(' ', '%20').replace(')', '%29')})" if href else _md(text)


def counts(grid: list[GridRow]) -> Counter:
    return Counter(g.status for g in grid)


def render_markdown(grid: list[GridRow]) -> str:
    if not grid:
        return ""
    cols = columns(grid)
    c = counts(grid)
    lines = ["## Procedures by check", "",
             "One row per procedure (page, pivot, OS, identity kind), one column per check; each cell is "
             "pass (\u2713) or fail (\u2717) with the status and error code seen. Failures first.", "",
             "**" + ", ".join(f"{c[s]} {s}" for s in STATUS_ORDER if c[s]) + "**", "",
             "| Status | Page | Section | Pivot | OS | Identity | Procedure | " + " | ".join(cols) + " | Reason |",
             "|" + "---|" * (8 + len(cols))]
    for g in grid:
        href, where = page_link(g)
        page = _md_link(g.page_title or "unknown page", href) + (f" ({_md(where)})" if where else "")
        secs = "; ".join(_md_link(s, h) + (f" ({w})" if w else "") for s, h, w in section_links(g)[:2])
        if len(g.sections) > 2:
            secs += f"; +{len(g.sections) - 2}"
        status = f"**{g.status.upper()}**" if g.status == "failed" else g.status
        cells = [_md(g.cells[col].text()) if col in g.cells else "" for col in cols]
        reason = _md(g.reasons[0]) if g.reasons else ""
        lines.append(f"| {status} | {page} | {secs} | {_md(g.pivot)} | {_md(g.os)} | {_md(g.identity)} | "
                     f"{_md(g.procedure or g.key)} | " + " | ".join(cells) + f" | {reason} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.35 system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px;color:#1b1b1b;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.meta{color:#555;margin-bottom:10px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;margin-right:6px;font-weight:600}
.b-failed{background:#fde2e1;color:#a4262c}.b-passed{background:#dff6dd;color:#107c10}
.b-skipped,.b-not-run{background:#eee;color:#444}.b-page-runner,.b-unwritten{background:#f3f0ff;color:#5c2d91}
.incomplete{background:#fff4ce;border:1px solid #c19c00;padding:8px 12px;margin:8px 0;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d6d6d6;padding:4px 6px;vertical-align:top}
thead th{position:sticky;top:0;background:#f3f3f3;text-align:left;font-size:13px}
td.page{min-width:340px;max-width:460px}
td.page .why{color:#a4262c;font-size:12px;font-weight:600;margin:2px 0}
td.page a.title{font-weight:600;color:#0f6cbd;text-decoration:none}
td.page .where{color:#666;font-size:12px;margin-left:4px}
td.page ul{margin:2px 0 0 0;padding-left:14px;font-size:12px}
td.page li{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:440px}
td.page ul a{color:#0f6cbd}
td.small{font-size:12px;white-space:nowrap}
td.cell{font-size:12px;text-align:left;font-family:ui-monospace,Consolas,monospace;max-width:190px;
  overflow-wrap:anywhere}
td.passed{background:#e9f7e8;color:#0b5a0b}td.failed{background:#fde7e6;color:#8e1b1f;font-weight:600}
td.skipped{background:#f2f2f2;color:#555}
tr.row-failed td.status{color:#a4262c;font-weight:700}
td.status{font-size:12px;white-space:nowrap;font-weight:600}
"""


def _a(text: str, href: str | None, cls: str = "") -> str:
    t = html.escape(text)
    c = f' class="{cls}"' if cls else ""
    return f'<a{c} href="{html.escape(href, quote=True)}">{t}</a>' if href else f"<span{c}>{t}</span>"


def render_html(grid: list[GridRow], *, title: str = "Tutorial matrix", meta: str = "",
                summary: str = "", incomplete: str | None = None) -> str:
    """A self-contained page (inline CSS, no scripts, no network)."""
    cols = columns(grid)
    c = counts(grid)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    if meta:
        out.append(f'<div class="meta">{html.escape(meta)}</div>')
    if incomplete:
        out.append(f'<div class="incomplete">{html.escape(incomplete)}</div>')
    out.append('<div class="meta">' + "".join(
        f'<span class="badge b-{s.replace(" ", "-")}">{c[s]} {s}</span>' for s in STATUS_ORDER if c[s]) +
        (f" {html.escape(summary)}" if summary else "") + "</div>")
    if not grid:
        out.append("<p>No scenario tests ran in this session.</p></body></html>")
        return "\n".join(out) + "\n"
    out.append("<table><thead><tr><th>Status</th><th>Page and sections</th><th>Pivot</th><th>OS</th>"
               "<th>Identity</th><th>Procedure</th>" + "".join(f"<th>{html.escape(col)}</th>" for col in cols) +
               "</tr></thead><tbody>")
    for g in grid:
        href, where = page_link(g)
        page = _a(g.page_title or "unknown page", href, "title")
        if where:
            page += f'<span class="where">{html.escape(where)}</span>'
        secs = "".join(f"<li>{_a(s, h)}" + (f' <span class="where">{html.escape(w)}</span>' if w else "") + "</li>"
                       for s, h, w in section_links(g))
        if g.reasons:
            page += f'<div class="why">{html.escape(_short(g.reasons[0], 160) or "")}</div>'
        if secs:
            page += f"<ul>{secs}</ul>"
        anchor = html.escape(f"{g.family}-{g.key}", quote=True)
        row = [f'<tr id="{anchor}" class="row-{g.status.replace(" ", "-")}">',
               f'<td class="status">{html.escape(g.status.upper() if g.status == "failed" else g.status)}</td>',
               f'<td class="page">{page}</td>',
               f'<td class="small">{html.escape(g.pivot)}</td><td class="small">{html.escape(g.os)}</td>'
               f'<td class="small">{html.escape(g.identity)}</td>'
               f'<td class="small">{html.escape(g.procedure or g.family)}<br>{html.escape(g.key)}</td>']
        for col in cols:
            cell = g.cells.get(col)
            if cell is None:
                row.append("<td></td>")
                continue
            tip = html.escape("\n".join(cell.detail[:20]), quote=True)
            row.append(f'<td class="cell {cell.status}" title="{tip}">{html.escape(cell.text())}</td>')
        row.append("</tr>")
        out.append("".join(row))
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def write_html(grid: list[GridRow], path: Path, **kw: Any) -> Path:
    from milab.redact import redact_markup
    text = redact_markup(render_html(grid, **kw))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
