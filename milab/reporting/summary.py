"""The end of a run in the terminal: one line per tutorial page (its procedures passed, failed, not
run), and under it each failed procedure with its one-line reason."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from milab.reporting import grid as _grid


def by_tutorial(rows: Iterable[Any], width: int = 160) -> list[tuple[str, dict]]:
    """``(line, terminal markup)`` pairs; failures in red, pages whose procedures all passed in green."""
    cells = _grid.build(list(rows))
    pages: dict[str, list[_grid.GridRow]] = defaultdict(list)
    for g in cells:
        pages[g.page_title or f"{g.family} (no page)"].append(g)

    def rank(item):
        states = {g.status for g in item[1]}
        return (0 if "failed" in states else 1 if "passed" in states else 2, item[0].lower())

    out: list[tuple[str, dict]] = []
    for title, gs in sorted(pages.items(), key=rank):
        n = defaultdict(int)
        for g in gs:
            n[g.status] += 1
        ran = n["failed"] + n["passed"] + n["skipped"]
        if not ran:
            continue
        parts = [f"{n[s]} {s}" for s in _grid.STATUS_ORDER if n[s]]
        mark = {"red": True, "bold": True} if n["failed"] else {"green": True} if n["passed"] else {"yellow": True}
        label = "FAIL" if n["failed"] else "ok  " if n["passed"] else "skip"
        out.append((_cut(f"{label} {title}: {', '.join(parts)}", width), mark))
        for g in gs:
            if g.status == "failed":
                failing = [c for c, cell in g.cells.items() if cell.status == "failed"]
                reason = g.reasons[0] if g.reasons else next(
                    (g.cells[c].failure for c in failing if g.cells[c].failure), "failed")
                out.append((_cut(f"     {g.family}[{g.key}] {g.pivot} ({', '.join(failing)}): {reason}", width),
                            {"red": True}))
    skipped_pages = [t for t, gs in pages.items() if not any(g.status in ("failed", "passed", "skipped") for g in gs)]
    if skipped_pages:
        out.append((f"     not run: {len(skipped_pages)} more page(s) of these families (see matrix.md)", {}))
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"
