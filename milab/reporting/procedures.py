"""The identity-lifecycle part of the tutorial matrix: every procedure of the seeds' configure,
user-assigned CRUD, role-assignment and other-host pages (``milab/procedures.py``), counted per
page and pivot by how it is reproduced and whether this run reproduced it, so the gap to every
procedure of the seeds stays visible."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

COLUMNS = ("scenario", "portal", "bicep", "failed", "not run", "page-runner", "unwritten")
HEADINGS = {"scenario": "reproduced", "portal": "reproduced as the portal's ARM calls",
            "bicep": "reproduced as the Bicep file's ARM JSON", "failed": "failed", "not run": "not run",
            "page-runner": "CLI/PowerShell (page runner)", "unwritten": "unwritten (TODO)"}


def _families():
    from milab import procedures
    return {p.family for p in procedures.PROCEDURES}


def statuses(rows: Iterable) -> list[dict]:
    """One entry per procedure: its page, pivot, how it is reproduced and what this run made of it."""
    from milab import procedures
    outcomes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rows:
        outcomes[(r.family, r.variant)].append(r.outcome)
    by_id: dict[tuple[str, str], list] = defaultdict(list)
    for p in procedures.PROCEDURES:
        by_id[(p.family, p.id)].append(p)
    out = []
    for (family, pid), ps in by_id.items():
        p = ps[0]
        if p.how in ("page-runner", "unwritten"):
            status = p.how
        else:
            seen = [o for q in ps for o in outcomes.get((family, q.variant), [])]
            if not seen:
                status = "not run"
            elif any(o in ("failed", "error") for o in seen):
                status = "failed"
            elif all(o == "skipped" for o in seen):
                status = "not run"
            else:
                status = p.how
        title = procedures.PAGES[p.page][0]
        out.append({"id": pid, "family": family, "page": title, "pivot": p.pivot, "how": p.how,
                    "status": status, "seed_lines": p.seed_lines, "variants": [q.variant for q in ps if q.variant]})
    return out


def render(rows: list) -> str:
    """The markdown section, or "" when the run has no lifecycle scenario."""
    if not any(r.family in _families() for r in rows):
        return ""
    entries = statuses(rows)
    cells: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for e in entries:
        cells[(e["page"], e["pivot"])][e["status"]] += 1
    lines = ["## Identity lifecycle: procedures by page and pivot", "",
             "Every procedure of the lifecycle pages (milab/procedures.py). Portal pivots are reproduced by the ARM "
             "calls the portal makes and Bicep files by their ARM JSON; CLI and PowerShell pivots are the page "
             "runner's.", "",
             "| Page | Pivot | Procedures | " + " | ".join(HEADINGS[c] for c in COLUMNS) + " |",
             "|" + "---|" * (3 + len(COLUMNS))]
    for (page, pivot), c in sorted(cells.items()):
        lines.append(f"| {page} | {pivot} | {sum(c.values())} | " + " | ".join(str(c[k] or "") for k in COLUMNS) + " |")
    total = Counter(e["status"] for e in entries)
    lines.append(f"| **all** | | **{len(entries)}** | " + " | ".join(f"**{total[k]}**" if total[k] else ""
                                                                     for k in COLUMNS) + " |")
    fam = defaultdict(Counter)
    for e in entries:
        fam[e["family"]][e["status"]] += 1
    lines += ["", "| Family | Procedures | " + " | ".join(HEADINGS[c] for c in COLUMNS) + " |",
              "|" + "---|" * (2 + len(COLUMNS))]
    for f, c in sorted(fam.items()):
        lines.append(f"| {f} | {sum(c.values())} | " + " | ".join(str(c[k] or "") for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
