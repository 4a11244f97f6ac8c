"""Pages run as written: every procedure of the seed pages, its own commands, requests and
templates executed against the target (``milab/pages``), one test per procedure.

Outcomes: a procedure that passes passes; one the page gets wrong (a page defect) or that milab
does not reproduce yet (a milab gap) is an expected failure whose reason names the step, the
class and why; one nothing here can run (portal, PowerShell, C#, Java, Bicep) is skipped with the
reason. The tutorial matrix shows each procedure's verdict; the report shows each step's log.
Select with ``-k``: ``pivot_CLI``, ``family_vm_identity_config``, ``page_004``, or a procedure id.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fixtures.pages import parsed_pages
from milab.pages import catalog
from milab.pages.derive import derive
from milab.pages.model import MILAB_GAP, NOT_RUN, PAGE_DEFECT, PASSED
from milab.pages.runner import step_log

PROCEDURE_PROPERTY = "milab_procedure"


def _param(spec):
    return pytest.param(spec.id, id=spec.id, marks=[
        pytest.mark.tutorial(family=spec.family, variant=spec.id, page=spec.title or spec.page,
                             sections=list(spec.sections), file=spec.file, seed=spec.file)])


def _log_dir(config) -> Path | None:
    """reports/pages/: one redacted step log per procedure, beside the tutorial matrix."""
    value = config.getoption("milab_reports_dir", default=None)
    if config.getoption("milab_no_reports", default=False):
        return None
    base = Path(value) if value else Path(config.rootpath) / "reports"
    if not base.is_absolute():
        base = Path(config.invocation_params.dir) / base
    path = base / "pages"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("procedure_id", [_param(s) for s in catalog.SPECS])
def test_procedure(procedure_id, request, seeds_dir, page_overrides, page_runner):
    spec = catalog.get(procedure_id)
    spec = dataclasses.replace(spec, boundaries=catalog.boundaries_for(spec))
    source = page_overrides.get(procedure_id)
    path = Path(source) if source else (seeds_dir / spec.file if seeds_dir else None)
    if path is None or not path.is_file():
        pytest.skip(f"not run here: the seed page {spec.file} is not available (--seeds DIR or MILAB_SEEDS)")
    proc = derive(spec, parsed_pages(path))
    result = page_runner.run(proc)
    v = result.verdict
    log = step_log(result)
    request.node.add_report_section("call", "page steps", log)
    logs = _log_dir(request.config)
    if logs is not None:
        (logs / f"{proc.id}.log").write_text(log + "\n", encoding="utf-8")
    request.node.user_properties.append((PROCEDURE_PROPERTY, json.dumps({
        "procedure": proc.id, "verdict": v.verdict, "step": v.step, "line": v.line, "pivot": spec.pivot,
        "reason": v.reason, "seconds": result.seconds, "page_title": proc.page_title,
        "steps": [{"index": s.step.index, "language": s.step.language, "where": s.step.where, "status": s.status,
                   "line": s.step.line, "seconds": s.seconds} for s in result.steps]})))
    if v.verdict == PASSED:
        ran = [s for s in result.steps if s.status == PASSED]
        assert ran, f"{proc.id} passed without running a step"
        return
    if v.verdict == NOT_RUN:
        pytest.skip(f"not run here: {v.one_line()}")
    if v.verdict in (PAGE_DEFECT, MILAB_GAP):
        pytest.xfail(v.one_line())
    pytest.fail(f"{proc.id}: unexpected verdict {v.one_line()}")
