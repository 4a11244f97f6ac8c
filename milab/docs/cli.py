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
    sub = docs.add_subparsers(dest="docs_command", metavar="{check,map}")
    sub.required = True

    chk = sub.add_parser("check", help="check pages: broken code, drift from the scenarios, (optionally) run them",
                         description="Check documentation pages (files, folders, or the pages changed in a git "
                                     "checkout) and write docs-findings.md/.json and docs-junit.xml.")
    chk.add_argument("paths", nargs="*", metavar="PATH",
                     help="files or folders to check (with --changed-since: the git checkout, default '.')")
    chk.add_argument("--changed-since", metavar="REV",
                     help="check only the pages changed since REV in the git checkout given as PATH")
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

    mp = sub.add_parser("map", help="print the tutorial registry: page, file, tutorial, test, facts")
    mp.add_argument("--json", action="store_true", help="print JSON")
    mp.set_defaults(func=cmd_map)
    return docs


def _err(msg: str) -> int:
    print(f"milab docs: error: {msg}", file=sys.stderr)
    return 2


def cmd_check(args) -> int:
    from .gate import UsageError, changed_since, check_files, collect_files, run_scenarios
    from .report import exit_status, redact, write_reports
    from .rules import RULES

    if args.list_rules:
        for r in RULES.values():
            print(f"{r.id:9} {r.severity:8} {r.summary}")
        return 0
    only = None
    if args.rules:
        only = {x.strip().upper() for x in args.rules.split(",") if x.strip()}
        unknown = only - set(RULES)
        if unknown:
            return _err(f"unknown rule id(s): {', '.join(sorted(unknown))} (see --list-rules)")
    meta = {"target": args.target if args.run else None}
    try:
        if args.changed_since:
            if len(args.paths) > 1:
                return _err("--changed-since takes one git checkout directory")
            checkout = args.paths[0] if args.paths else "."
            files = changed_since(checkout, args.changed_since)
            meta.update(changed_since=args.changed_since, checkout=checkout)
        else:
            if not args.paths:
                return _err("give the pages to check (files or folders), or --changed-since REV")
            files = collect_files(args.paths)
    except UsageError as exc:
        return _err(str(exc))
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        return _err(f"--out {args.out} exists and is not a directory")
    results, run_findings = check_files(files, shellcheck=False if args.no_shellcheck else True, only=only)
    if args.run:
        run_findings += run_scenarios(results, target=args.target, out_dir=out_dir, timeout=args.run_timeout)
    meta["files"] = [str(f) for f in files]
    try:
        paths = write_reports(out_dir, results, run_findings, meta)
    except OSError as exc:
        return _err(f"cannot write the reports to {out_dir}: {exc}")
    if not args.quiet:
        for r in results:
            for f in r.findings:
                print(redact(f"{f.file}:{f.line}: {f.severity}: {f.rule}: {f.message}"))
            for s in r.scenarios:
                print(f"{r.page.file}:{r.page.line}: scenario {s['test']}: {s['outcome']}")
        for f in run_findings:
            print(redact(f"{f.severity}: {f.rule}: {f.message}"))
    allf = [f for r in results for f in r.findings] + run_findings
    n = {s: sum(f.severity == s for f in allf) for s in ("error", "warning", "info")}
    print(f"{len(results)} page(s) in {len(files)} file(s): {n['error']} error(s), {n['warning']} warning(s), "
          f"{n['info']} note(s). Reports: {paths['markdown']}, {paths['json']}, {paths['junit']}")
    return exit_status(results, run_findings)


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
