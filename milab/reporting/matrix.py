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

from milab.redact import redact

__all__ = [
    "OUTCOMES",
    "MATRIX_JSON",
    "MATRIX_MD",
    "SCHEMA_VERSION",
    "MatrixRow",
    "load_matrix",
    "load_matrix_document",
    "render_markdown",
    "summarize",
    "write_matrix",
]

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed")
MATRIX_MD = "matrix.md"
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

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sections"] = list(self.sections)
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
            page_seed=r(self.page_seed),
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

    families: dict[str, list[MatrixRow]] = {}
    for row in rows:
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
                 guest_isolation: str | None = None) -> tuple[Path, Path]:
    """Write ``matrix.md`` and ``matrix.json`` into ``out_dir`` (created if needed).

    ``rows`` are :class:`MatrixRow` objects or dicts with the same keys. Rows are
    redacted and sorted by family, variant and node id. Returns the two paths.
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
    _atomic_write(json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    _atomic_write(md_path, render_markdown(clean, target=target, generated_at=generated_at,
                                           guest_isolation=guest_isolation) +
                  (("\n" + lifecycle) if lifecycle else ""))
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
