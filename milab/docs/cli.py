"""``milab docs check`` and ``milab docs map``.

``add_parser(subparsers)`` adds the ``docs`` command to milab's argparse parser;
``main(argv)`` runs it standalone (``python -m milab.docs.cli check PATH``).

Exit status: 0 no error findings, 1 error findings (or a scenario failed under ``--run``),
2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import registry


def add_parser(subparsers) -> argparse.ArgumentParser:
    docs = subparsers.add_parser("docs", help="check documentation pages against the scenarios",
                                 description="The documentation regression gate.")
    sub = docs.add_subparsers(dest="docs_command", metavar="{check,baseline,map}")
    sub.required = True

    chk = sub.add_parser("check", help="check pages: broken code, drift from the scenarios, (optionally) run them",
                         description="Check documentation pages (files, folders, or the pages changed in a git "
                                     "checkout) and write docs-findings.md/.json and docs-junit.xml.")
    chk.add_argument("paths", nargs="*", metavar="PATH",
                     help="files or folders to check (with --changed-since: the git checkout, default '.')")
    chk.add_argument("--changed-since", metavar="REV",
                     help="check only what changed since REV in the git checkout given as PATH: findings on the "
                          "changed lines, and findings the change caused elsewhere on the same page")
    chk.add_argument("--all-findings", action="store_true",
                     help="with --changed-since: report every finding of the changed pages, not only the change's")
    chk.add_argument("--baseline", metavar="FILE",
                     help="leave out findings accepted in FILE (written by 'milab docs baseline')")
    chk.add_argument("--out", metavar="DIR", default="reports", help="where to write the reports (default: reports)")
    chk.add_argument("--run", action="store_true", help="run the scenarios of the affected tutorials with the "
                                                         "facts the pages state")
    chk.add_argument("--target", default="emulator", choices=("emulator", "azure"),
                     help="target for --run (default: emulator)")
    chk.add_argument("--run-timeout", type=int, default=1800, metavar="SECONDS", help="time limit for --run")
    chk.add_argument("--rules", metavar="IDS", help="comma-separated rule ids to run (default: all)")
    chk.add_argument("--no-shellcheck", action="store_true", help="do not run ShellCheck")
    chk.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    chk.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    chk.set_defaults(func=cmd_check)

    bl = sub.add_parser("baseline", help="write a baseline: the current findings, accepted",
                        description="Check pages and write their findings to a baseline file; 'milab docs check "
                                    "--baseline FILE' then reports only findings that are not in it.")
    bl.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (with --changed-since: the checkout)")
    bl.add_argument("--changed-since", metavar="REV", help="only the findings of what changed since REV")
    bl.add_argument("--output", "-o", metavar="FILE", required=True, help="the baseline file to write")
    bl.add_argument("--no-shellcheck", action="store_true", help="do not run ShellCheck")
    bl.set_defaults(func=cmd_baseline)

    mp = sub.add_parser("map", help="print the tutorial registry: page, file, tutorial, test, facts")
    mp.add_argument("--json", action="store_true", help="print JSON")
    mp.set_defaults(func=cmd_map)
    return docs


def _err(msg: str) -> int:
    print(f"milab docs: error: {msg}", file=sys.stderr)
    return 2


def list_rules() -> str:
    """Every rule, sorted by id, with its severity, summary and explanation."""
    import textwrap

    from .rules import RULES
    out = []
    for r in sorted(RULES.values(), key=lambda r: r.id):
        kind = "not checked" if r.limit else r.severity
        out.append(f"{r.id:9} {kind:11} {r.summary}")
        if r.doc:
            out += textwrap.wrap(r.doc, width=100, initial_indent=" " * 10, subsequent_indent=" " * 10)
        if r.fix:
            out += textwrap.wrap("Write instead: " + r.fix, width=100, initial_indent=" " * 10,
                                 subsequent_indent=" " * 10)
    return "\n".join(out)


def _select(args):
    """(files, change set or None, meta) for check and baseline."""
    from .gate import changes_since, collect_files
    meta: dict = {}
    changes = None
    if args.changed_since:
        if len(args.paths) > 1:
            raise _Usage("--changed-since takes one git checkout directory")
        checkout = args.paths[0] if args.paths else "."
        changes = changes_since(checkout, args.changed_since)
        files = changes.files
        meta.update(changed_since=args.changed_since, checkout=checkout)
    else:
        if not args.paths:
            raise _Usage("give the pages to check (files or folders), or --changed-since REV")
        files = collect_files(args.paths)
    return files, changes, meta


class _Usage(Exception):
    pass


def cmd_check(args) -> int:
    from .gate import UsageError, check_files, load_baseline, run_scenarios
    from .report import exit_status, one_line, redact, write_reports
    from .rules import RULES

    if args.list_rules:
        print(list_rules())
        return 0
    only = None
    if args.rules:
        only = {x.strip().upper() for x in args.rules.split(",") if x.strip()}
        unknown = only - set(RULES)
        if unknown:
            return _err(f"unknown rule id(s): {', '.join(sorted(unknown))} (see --list-rules)")
    try:
        files, changes, meta = _select(args)
        baseline = load_baseline(args.baseline) if args.baseline else None
    except (UsageError, _Usage) as exc:
        return _err(str(exc))
    meta.update(target=args.target if args.run else None, baseline=args.baseline, all_findings=args.all_findings)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        return _err(f"--out {args.out} exists and is not a directory")
    results, run_findings = check_files(files, shellcheck=False if args.no_shellcheck else True, only=only,
                                        changes=changes, baseline=baseline, all_findings=args.all_findings)
    if args.run:
        def progress(line: str) -> None:
            print(redact(line), file=sys.stderr, flush=True)
        if not args.quiet:
            print(f"running the scenarios of {sum(len(r.tutorials) for r in results)} tutorial(s) on "
                  f"--target {args.target} ...", file=sys.stderr, flush=True)
        run_findings += run_scenarios(results, target=args.target, out_dir=out_dir, timeout=args.run_timeout,
                                      progress=None if args.quiet else progress)
    meta["files"] = [str(f) for f in files]
    meta["affected_pages"] = [{"file": r.page.file, "title": r.page.title, "line": r.page.line,
                               "end_line": r.page.end_line, "changed_lines": r.changed_lines} for r in results]
    try:
        paths = write_reports(out_dir, results, run_findings, meta)
    except OSError as exc:
        return _err(f"cannot write the reports to {out_dir}: {exc}")
    if not args.quiet:
        for r in results:
            for f in r.findings:
                print(redact(one_line(f)))
            for s in r.scenarios:  # a failure's one-line reason on its line
                why = f": {redact(_first_line(s['message']))}" if s["outcome"] in ("failed", "error") and \
                    s.get("message") else ""
                print(f"{r.page.file}:{r.page.line}: scenario {s['test']}: {s['outcome']}{why}")
        for f in run_findings:
            if f.category == "defect":
                print(redact(one_line(f, with_file=bool(f.file))))
    from .report import counts
    c = counts([f for r in results for f in r.findings + r.not_checked] + run_findings)
    left_out = sum(r.suppressed.get("baseline", 0) for r in results)
    print(f"{len(results)} page(s) in {len(files)} file(s): {c['error']} error(s), {c['warning']} warning(s), "
          f"{c['info']} note(s), {c['not_checked']} not checked"
          + (f", {left_out} in the baseline" if args.baseline else "")
          + f". Reports: {paths['markdown']}, {paths['json']}, {paths['junit']}")
    return exit_status(results, run_findings)


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def cmd_baseline(args) -> int:
    from .gate import UsageError, baseline_data, check_files
    try:
        files, changes, _ = _select(args)
    except (UsageError, _Usage) as exc:
        return _err(str(exc))
    results, _ = check_files(files, shellcheck=False if args.no_shellcheck else True, changes=changes)
    data = baseline_data(results)
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        return _err(f"cannot write {out}: {exc}")
    print(f"{len(data['findings'])} finding(s) of {len(results)} page(s) written to {out}")
    return 0


def cmd_map(args) -> int:
    rows = [{"title": t.page.title, "file": t.page.file, "seed": t.page.seed, "tutorial": t.key,
             "test": t.test, "sections": list(t.sections), "facts": t.facts} for t in registry.TUTORIALS]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for r in rows:
        print(f"{r['title']}")
        print(f"  file:     {r['file']}" + (f"  (seed {r['seed']})" if r["seed"] else ""))
        print(f"  tutorial: {r['tutorial']}")
        print(f"  test:     {r['test']}")
        for k, v in r["facts"].items():
            print(f"    {k}: {json.dumps(v) if not isinstance(v, str) else v}")
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="milab")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] != "docs":
        argv = ["docs", *argv]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints the usage message
        return 2 if exc.code else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
