"""Write the findings: ``docs-findings.md`` (people), ``docs-findings.json`` (machines),
``docs-junit.xml`` (CI: one testcase per page, a failure when it has error findings or a
scenario failed). Everything written is passed through :func:`redact` first."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..redact import redact as redact_secrets
from ..redact import redact_data
from .gate import PageResult
from .rules import Finding

# Pages quote sample tokens, often cut short ("eyJ0eXAi..."); hide those too, on top of the
# project's redaction of tokens, SAS signatures and keys.
_JWT_FRAGMENT = re.compile(r"eyJ[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]*){0,2}(?:\.\.\.|…)?")


def redact(text: str) -> str:
    """Hide anything that looks like a token, a SAS signature or an account key."""
    if not text:
        return text
    return _JWT_FRAGMENT.sub("eyJ<redacted>", redact_secrets(text))


def counts(findings: list[Finding]) -> dict[str, int]:
    """Defects by severity (a grouped finding counts once per line), and what was not checked."""
    c = {"error": 0, "warning": 0, "info": 0, "not_checked": 0}
    for f in findings:
        if f.category != "defect":
            c["not_checked"] += f.count
        else:
            c[f.severity] = c.get(f.severity, 0) + f.count
    return c


def exit_status(results: list[PageResult], run_findings: list[Finding]) -> int:
    """1 when a page has an error finding or a scenario failed; what milab could not check
    (the "not checked" section) never changes the exit status."""
    if any(r.errors or r.failed_scenarios for r in results) or \
            any(f.severity == "error" and f.category == "defect" for f in run_findings):
        return 1
    return 0


def where(f: Finding) -> str:
    """'line 12' or 'lines 12, 40, 77' for a grouped finding."""
    lines = f.lines or [f.line]
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(map(str, lines[:8])) + (f", ... ({len(lines)} in all)" if len(lines) > 8 else "")
    return f"lines {shown}"


def one_line(f: Finding, with_file: bool = True) -> str:
    """A finding as one line of text: ``file:line: severity: rule: message. Write instead: fix``."""
    rep = f" ({len(f.lines)} times: {where(f)})" if len(f.lines) > 1 else ""
    fix = f" Write instead: {f.fix}" if f.fix else ""
    loc = f"{f.file}:{f.line}: " if with_file else ""
    sev = "not checked" if f.category != "defect" else f.severity
    return f"{loc}{sev}: {f.rule}: {f.message.rstrip('.')}{rep}.{fix}"


def _all(results: list[PageResult], run_findings: list[Finding]) -> list[Finding]:
    return [f for r in results for f in r.findings + r.not_checked] + run_findings


def to_json(results: list[PageResult], run_findings: list[Finding], meta: dict[str, Any]) -> dict[str, Any]:
    allf = _all(results, run_findings)
    by_rule: dict[str, int] = {}
    for f in allf:
        if f.category == "defect":
            by_rule[f.rule] = by_rule.get(f.rule, 0) + f.count
    suppressed: dict[str, int] = {}
    for r in results:
        for k, v in r.suppressed.items():
            suppressed[k] = suppressed.get(k, 0) + v
    data = {
        "meta": meta,
        "summary": {"pages": len(results), **counts(allf), "by_rule": dict(sorted(by_rule.items())),
                    "suppressed": suppressed,
                    "scenarios": sum(len(r.scenarios) for r in results),
                    "scenarios_failed": sum(r.failed_scenarios for r in results),
                    "exit_status": exit_status(results, run_findings)},
        "run_findings": [f.as_dict() for f in run_findings],
        "pages": [{
            "file": r.page.file, "title": r.page.title, "line": r.page.line, "end_line": r.page.end_line,
            "layout": r.page.layout,
            "changed_lines": r.changed_lines,
            "tutorials": [{"key": t.key, "test": t.test} for t in r.tutorials],
            "counts": counts(r.findings + r.not_checked),
            "findings": [f.as_dict() for f in r.findings],
            "not_checked": [f.as_dict() for f in r.not_checked],
            "suppressed": r.suppressed,
            "scenarios": r.scenarios,
            "facts": r.facts.as_dict(),
        } for r in results],
    }
    return redact_data(data, redact)


def to_markdown(results: list[PageResult], run_findings: list[Finding], meta: dict[str, Any]) -> str:
    allf = _all(results, run_findings)
    c = counts(allf)
    out = ["# Documentation check", ""]
    out.append(f"{len(results)} page(s) checked: **{c['error']} error(s)**, {c['warning']} warning(s), "
               f"{c['info']} note(s); {c['not_checked']} thing(s) milab could not check (see *Not checked*).")
    if meta.get("changed_since"):
        out.append(f"Lines changed since `{meta['changed_since']}` in `{meta.get('checkout', '')}`"
                   + (" (every finding of the changed pages)." if meta.get("all_findings") else
                      ": findings on those lines, and findings the change caused elsewhere on the same page."))
    sup = {}
    for r in results:
        for k, v in r.suppressed.items():
            sup[k] = sup.get(k, 0) + v
    if sup.get("baseline"):
        out.append(f"{sup['baseline']} finding(s) accepted in the baseline `{meta.get('baseline', '')}` are not shown.")
    if any(r.scenarios for r in results):
        n = sum(len(r.scenarios) for r in results)
        failed = sum(r.failed_scenarios for r in results)
        out.append(f"Scenarios run on target `{meta.get('target')}`: {n}, failed: {failed}.")
    out.append("")
    for f in run_findings:
        if f.category == "defect":
            out.append(f"- **{f.severity}** {f.rule}: {f.message}" + (f" — write instead: {f.fix}" if f.fix else ""))
    if any(f.category == "defect" for f in run_findings):
        out.append("")
    out += ["## Summary by page", "",
            "| page | file:line | errors | warnings | notes | not checked | tutorials | scenarios |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        cc = counts(r.findings + r.not_checked)
        tuts = ", ".join(t.key for t in r.tutorials) or "-"
        sc = ", ".join(f"{s['tutorial']}: {s['outcome']}" for s in r.scenarios) or "-"
        out.append(f"| {_cell(r.page.title)} | `{Path(r.page.file).name}:{r.page.line}` | {cc['error']} | "
                   f"{cc['warning']} | {cc['info']} | {cc['not_checked']} | {tuts} | {sc} |")
    out += ["", "## Findings", ""]
    for r in results:
        if not r.findings and not r.scenarios:
            continue
        out.append(f"### {r.page.title}")
        out.append("")
        out.append(f"`{r.page.file}`, from line {r.page.line}" +
                   (f"; reproduced by {', '.join(f'`{t.key}` ({t.test})' for t in r.tutorials)}" if r.tutorials else ""))
        out.append("")
        for s in r.scenarios:
            out.append(f"- scenario `{s['test']}`: **{s['outcome']}**" + (f" — {s['message'][:300]}" if s["message"] else ""))
        for f in r.findings:
            inc = f" (in `{Path(f.file).name}`)" if f.file != r.page.file else ""
            out.append(f"- {where(f)}{inc} · **{f.severity}** · {f.rule}: {f.message}"
                       + (f"  \n  *Write instead:* {f.fix}" if f.fix else ""))
        out.append("")
    gaps = [(r, f) for r in results for f in r.not_checked] + [(None, f) for f in run_findings
                                                                 if f.category != "defect"]
    out += ["## Not checked", "",
            "What milab itself cannot check (types the emulator does not model, includes that are not in the "
            "checked tree, tools that are not installed ...). These are limits of milab, not defects of the "
            "pages, and do not change the exit status.", ""]
    for r, f in gaps:
        page = f"{r.page.title} (`{Path(f.file).name}`, {where(f)})" if r else "every page"
        out.append(f"- {page} · {f.rule}: {f.message}" + (f" ({f.fix})" if f.fix else ""))
    if not gaps:
        out.append("- nothing")
    out.append("")
    return redact("\n".join(out)) + "\n"


def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def to_junit(results: list[PageResult], run_findings: list[Finding]) -> str:
    suite = ET.Element("testsuite", name="milab-docs", tests=str(len(results)))
    failures = 0
    for r in results:
        tc = ET.SubElement(suite, "testcase", classname=Path(r.page.file).name, name=f"{r.page.title} (line {r.page.line})",
                           file=r.page.file, line=str(r.page.line))
        errs = [f for f in r.findings if f.severity == "error" and f.category == "defect"]
        bad = [s for s in r.scenarios if s["outcome"] not in ("passed", "skipped")]
        if errs or bad:
            failures += 1
            msg = f"{len(errs)} error finding(s)" + (f", {len(bad)} scenario(s) failed" if bad else "")
            el = ET.SubElement(tc, "failure", message=msg)
            el.text = redact("\n".join([one_line(f) for f in errs] +
                                       [f"scenario {s['test']}: {s['outcome']} {s['message']}" for s in bad]))
        other = [f for f in r.findings + r.not_checked if f not in errs]
        if other:
            so = ET.SubElement(tc, "system-out")
            so.text = redact("\n".join(one_line(f) for f in other))
    suite.set("failures", str(failures))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_reports(out_dir: Path, results: list[PageResult], run_findings: list[Finding],
                  meta: dict[str, Any]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "docs-findings.md", "json": out_dir / "docs-findings.json",
             "junit": out_dir / "docs-junit.xml"}
    paths["markdown"].write_text(to_markdown(results, run_findings, meta), encoding="utf-8")
    paths["json"].write_text(json.dumps(to_json(results, run_findings, meta), indent=2, default=str) + "\n",
                             encoding="utf-8")
    paths["junit"].write_text(to_junit(results, run_findings), encoding="utf-8")
    return paths
