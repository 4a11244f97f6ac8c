"""The tutorial matrix: one row per scenario test, written as ``matrix.md`` and ``matrix.json``.

Reused outside the pytest plugin (e.g. by the docs gate)::

    from milab.reporting.matrix import load_matrix, write_matrix
    rows = load_matrix("reports/matrix.json")        # or the reports directory
    failed = [r for r in rows if r.outcome in ("failed", "error")]
    write_matrix(rows, "some/dir")                   # -> (matrix.md, matrix.json)

Every string is passed through :func:`milab.redact.redact` on the way out.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from milab.redact import redact, redact_data

__all__ = [
    "OUTCOMES",
    "MATRIX_JSON",
    "MATRIX_HTML",
    "MATRIX_MD",
    "SCHEMA_VERSION",
    "MatrixRow",
    "load_matrix",
    "load_matrix_document",
    "render_markdown",
    "summarize",
    "summarize_verdicts",
    "write_matrix",
]

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed")
MATRIX_MD = "matrix.md"
MATRIX_HTML = "matrix.html"
MATRIX_JSON = "matrix.json"
SCHEMA_VERSION = 1
UNKNOWN = "unknown"


@dataclass
class MatrixRow:
    """One scenario test. ``page_title``/``page_file`` are ``None`` when the page is unknown."""

    family: str
    variant: str
    page_title: str | None
    page_file: str | None
    sections: list[str] = field(default_factory=list)
    target: str = "emulator"
    outcome: str = "passed"
    duration: float = 0.0  # seconds, setup + call + teardown
    nodeid: str = ""
    reason: str | None = None  # one line, redacted; for failed/error (and skip/xfail reasons)
    page_seed: str | None = None
    # the grid (milab/reporting/grid.py): which procedure and check this row is. All optional: the
    # registry and milab/procedures.py fill what is missing. The page runner sets ``procedure``
    # (a procedures.py id) and ``pivot`` to put its verdicts on the procedure's row.
    procedure: str | None = None
    pivot: str | None = None
    os: str | None = None
    identity: str | None = None
    page_url: str | None = None  # a Learn address, when the page is a current Learn page
    check: str | None = None  # the grid column of the whole test (default: from the test's name)
    checks: list[dict] = field(default_factory=list)  # milab.reporting.checks records
    # the page runner's verdict of a procedure (scenarios/test_pages.py)
    verdict: str | None = None  # passed, page-defect, milab-gap or not-run
    verdict_step: int | None = None
    verdict_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sections"] = list(self.sections)
        d["checks"] = [dict(c) for c in self.checks]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MatrixRow":
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs.setdefault("family", UNKNOWN)
        kwargs.setdefault("variant", "")
        kwargs.setdefault("page_title", None)
        kwargs.setdefault("page_file", None)
        row = cls(**kwargs)
        row.sections = list(row.sections or [])
        row.checks = [dict(c) for c in (row.checks or []) if isinstance(c, Mapping)]
        row.duration = float(row.duration or 0.0)
        return row

    def redacted(self) -> "MatrixRow":
        def r(v: Any) -> Any:
            return redact(v) if isinstance(v, str) else v

        return dataclasses.replace(
            self,
            family=r(self.family), variant=r(self.variant),
            page_title=r(self.page_title), page_file=r(self.page_file),
            sections=[r(s) for s in self.sections], target=r(self.target),
            outcome=r(self.outcome), nodeid=r(self.nodeid),
            reason=r(_one_line(r(self.reason))) if self.reason else self.reason,
            page_seed=r(self.page_seed), procedure=r(self.procedure), pivot=r(self.pivot),
            check=r(self.check), checks=redact_data([dict(c) for c in self.checks]),
            verdict_reason=r(_one_line(r(self.verdict_reason), 400)) if self.verdict_reason else None,
        )


def _one_line(text: str | None, limit: int = 240) -> str | None:
    if text is None:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _as_row(row: MatrixRow | Mapping[str, Any]) -> MatrixRow:
    if isinstance(row, MatrixRow):
        return row
    return MatrixRow.from_dict(row)


def _sort_key(row: MatrixRow) -> tuple[str, str, str]:
    return (row.family or "", row.variant or "", row.nodeid or "")


def summarize(rows: Iterable[MatrixRow | Mapping[str, Any]]) -> dict[str, int]:
    """Counts by outcome (every outcome in :data:`OUTCOMES`, others appended) and ``total``."""
    counts = Counter(_as_row(r).outcome for r in rows)
    summary = {o: counts.pop(o, 0) for o in OUTCOMES}
    summary.update(sorted(counts.items()))
    summary["total"] = sum(v for k, v in summary.items())
    return summary


def _md_cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


_COLUMNS = ("Variant", "Page", "File", "Sections", "Target", "Outcome",
            "Duration (s)", "Test", "Reason")


def _table_header(with_family: bool = False) -> list[str]:
    cols = (("Family",) if with_family else ()) + _COLUMNS
    return ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]


VERDICTS = ("passed", "page-defect", "milab-gap", "not-run")


def summarize_verdicts(rows: Iterable[MatrixRow | Mapping[str, Any]]) -> dict[str, int]:
    """Counts of the page runner's procedure verdicts (rows without a verdict are not counted)."""
    counts = Counter(_as_row(r).verdict for r in rows if _as_row(r).verdict)
    out = {v: counts.pop(v, 0) for v in VERDICTS}
    out.update(sorted(counts.items()))
    out["total"] = sum(out.values())
    return out


def _procedures_section(rows: list[MatrixRow]) -> list[str]:
    procs = sorted((r for r in rows if r.procedure), key=lambda r: (r.page_seed or "", r.procedure or ""))
    if not procs:
        return []
    counts = summarize_verdicts(procs)
    lines = ["## Procedures of the pages, run as written", "",
             f"{counts['total']} procedures: " + ", ".join(f"{counts[v]} {v}" for v in counts if v != "total"), "",
             "| Procedure | Page | Pivot | Family | Verdict | Step | Why |", "|---|---|---|---|---|---|---|"]
    for r in procs:
        lines.append("| " + " | ".join(_md_cell(c) for c in (
            r.procedure, r.page_title, r.pivot, r.family,
            f"**{r.verdict}**" if r.verdict in ("page-defect", "milab-gap") else r.verdict,
            r.verdict_step if r.verdict_step is not None else "", r.verdict_reason)) + " |")
    return lines + [""]


def render_markdown(rows: Iterable[MatrixRow | Mapping[str, Any]], *,
                    target: str | None = None, generated_at: str | None = None,
                    guest_isolation: str | None = None) -> str:
    rows = sorted((_as_row(r).redacted() for r in rows), key=_sort_key)
    summary = summarize(rows)
    lines = ["# Tutorial matrix", ""]
    meta = []
    if target:
        meta.append(f"target: `{target}`")
    if generated_at:
        meta.append(f"generated: {generated_at}")
    if guest_isolation:  # how the emulator isolated in-VM steps (see milab/cloud/guests.py)
        meta.append(f"guest isolation: `{guest_isolation}`"
                    + (" (**guests ran as the emulator's user on the host**)" if guest_isolation == "none" else ""))
    if meta:
        lines += [" \u00b7 ".join(meta), ""]
    parts = ", ".join(f"{summary[o]} {o}" for o in summary if o != "total")
    lines += [f"**Summary:** {summary['total']} scenario test"
              f"{'' if summary['total'] == 1 else 's'}: {parts}", ""]
    if not rows:
        lines += ["No scenario tests (tests with the `tutorial` marker) ran in this session; "
                  "the matrix is empty.", ""]
        lines += _table_header(with_family=True)
        return "\n".join(lines) + "\n"

    lines += _procedures_section(rows)
    families: dict[str, list[MatrixRow]] = {}
    for row in rows:
        if row.procedure:
            continue  # in the procedures' table above
        families.setdefault(row.family, []).append(row)
    for family, family_rows in families.items():
        fam = summarize(family_rows)
        counts = ", ".join(f"{fam[o]} {o}" for o in fam if o != "total" and fam[o])
        lines += [f"## {_md_cell(family)}", "", f"{fam['total']} test"
                  f"{'' if fam['total'] == 1 else 's'}: {counts}", ""]
        lines += _table_header()
        for r in family_rows:
            cells = [
                r.variant,
                r.page_title if r.page_title else f"_{UNKNOWN}_",
                f"`{r.page_file}`" if r.page_file else f"_{UNKNOWN}_",
                "; ".join(r.sections),
                r.target,
                f"**{r.outcome}**" if r.outcome in ("failed", "error") else r.outcome,
                f"{r.duration:.3f}",
                f"`{r.nodeid}`" if r.nodeid else "",
                r.reason,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_matrix(rows: Iterable[MatrixRow | Mapping[str, Any]], out_dir: str | os.PathLike[str], *,
                 target: str | None = None, generated_at: str | None = None,
                 guest_isolation: str | None = None, incomplete: str | None = None) -> tuple[Path, Path]:
    """Write ``matrix.md``, ``matrix.json`` and ``matrix.html`` into ``out_dir`` (created if needed).

    ``rows`` are :class:`MatrixRow` objects or dicts with the same keys. Rows are
    redacted and sorted by family, variant and node id. ``incomplete`` (a sentence such as
    "INCOMPLETE: interrupted, 12 of 40 tests never ran") heads every file of a run that did not
    finish. Returns the paths of matrix.md and matrix.json.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = sorted((_as_row(r).redacted() for r in rows), key=_sort_key)
    if target is None:
        targets = sorted({r.target for r in clean if r.target})
        target = targets[0] if len(targets) == 1 else (", ".join(targets) or None)
    if generated_at is None:
        generated_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    document = {
        "schema": SCHEMA_VERSION,
        "generated_at": generated_at,
        "target": target,
        "summary": summarize(clean),
        "incomplete": incomplete,
        "page_runner": summarize_verdicts(clean),  # the verdicts of scenarios/test_pages.py's procedures
        "rows": [r.to_dict() for r in clean],
    }
    if guest_isolation:
        document["guest_isolation"] = guest_isolation
    md_path = out / MATRIX_MD
    json_path = out / MATRIX_JSON
    from milab.reporting import procedures  # the lifecycle pages' procedures by page and pivot
    lifecycle = procedures.render(clean)
    if lifecycle:
        document["procedures"] = procedures.statuses(clean)
    from milab.reporting import grid as _grid
    cells = _grid.build(clean)
    document["grid"] = [{"family": g.family, "key": g.key, "procedure": g.procedure, "page": g.page_title,
                         "pivot": g.pivot, "os": g.os, "identity": g.identity, "status": g.status,
                         "cells": {c: {"status": v.status, "text": v.text()} for c, v in g.cells.items()}}
                        for g in cells]
    _atomic_write(json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    head = render_markdown(clean, target=target, generated_at=generated_at, guest_isolation=guest_isolation)
    if incomplete:
        head = head.replace("# Tutorial matrix\n", f"# Tutorial matrix\n\n> **{incomplete}**\n", 1)
    grid_md = _grid.render_markdown(cells)
    if grid_md:  # the grid first (what a pull-request comment shows), then the per-family details
        cut = head.find("\n## ")
        head = head + "\n" + grid_md if cut < 0 else head[:cut + 1] + grid_md + "\n## Tests by family\n" + head[cut:]
    _atomic_write(md_path, head + (("\n" + lifecycle) if lifecycle else ""))
    s = document["summary"]
    _grid.write_html(cells, out / MATRIX_HTML, meta=" \u00b7 ".join(x for x in (
        f"target: {target}" if target else "", f"generated: {generated_at}") if x),
        summary=f"{s['total']} tests: " + ", ".join(f"{s[o]} {o}" for o in s if o != "total" and s[o]),
        incomplete=incomplete)
    return md_path, json_path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        return p / MATRIX_JSON
    if p.suffix.lower() == ".md":
        return p.with_name(MATRIX_JSON) if p.name == MATRIX_MD else p.with_suffix(".json")
    return p


def load_matrix_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The whole ``matrix.json`` document (schema, generated_at, target, summary, rows as dicts)."""
    with _json_path(path).open(encoding="utf-8") as f:
        document = json.load(f)
    if isinstance(document, list):  # a bare list of rows
        document = {"schema": SCHEMA_VERSION, "rows": document}
    return document


def load_matrix(path: str | os.PathLike[str]) -> list[MatrixRow]:
    """Read the rows written by :func:`write_matrix`.

    ``path`` may be ``matrix.json``, the ``matrix.md`` next to it, or the directory.
    """
    return [MatrixRow.from_dict(r) for r in load_matrix_document(path).get("rows", [])]
