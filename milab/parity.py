"""Parity between Azure and the emulator: what each answered to the same steps.

Recording: ``pytest --record-responses DIR`` (or ``$MILAB_RECORD_RESPONSES``) makes every in-host
HTTP step (``Vm.http``, which the scenarios' calls to ARM, IMDS and the data planes go through)
append one redacted line to ``DIR/<pid>.jsonl``::

    {"test": "scenarios/test_arm_read.py::test_arm_read[linux-system-assigned]", "n": 3,
     "method": "GET", "endpoint": "management.azure.com/subscriptions/{id}/resourceGroups/{name}",
     "status": 403, "code": "AuthorizationFailed", "shape": ["error", "error.code", "error.message"]}

No body, header or token is kept: the status, the error code and the body's shape (its key paths).

Comparing: ``milab parity LIVE --against EMULATOR`` pairs the steps of two recordings by test and
step number and reports every difference in status, error code or shape (``parity.md`` and
``parity.json``); the exit status is 1 when there is one, so the emulator's differences from
Azure show up as a report. The nightly records on the sandbox and on the emulator and compares.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_VAR = "MILAB_RECORD_RESPONSES"
_lock = threading.Lock()
_counters: dict[str, int] = defaultdict(int)
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def endpoint(url: str) -> str:
    """Host and path with the run's names and ids replaced, so Azure's and the emulator's match."""
    parts = urlsplit(url)
    host = re.sub(r"^[a-z0-9-]+\.(blob\.core\.windows\.net|vault\.azure\.net|documents\.azure\.com)$",
                  r"{account}.\1", parts.hostname or "")
    segments = []
    prev = ""
    for seg in parts.path.split("/"):
        if _GUID.fullmatch(seg):
            seg = "{id}"
        elif prev.lower() in ("resourcegroups", "virtualmachines", "storageaccounts", "vaults", "secrets",
                              "userassignedidentities", "virtualmachinescalesets", "containers",
                              "roleassignments", "deployments", "sites", "containergroups"):
            seg = "{name}"
        segments.append(seg)
        prev = seg if seg not in ("{id}", "{name}") else prev
    path = "/".join(segments)
    if host.startswith("{account}.blob") and path.count("/") >= 2:
        path = "/{container}/{blob}"
    return host + path


def shape(body: str) -> list[str]:
    """The key paths of a JSON body (two levels), or its kind."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError):
        text = (body or "").lstrip()
        return ["<xml>"] if text.startswith("<") else ["<text>"] if text else ["<empty>"]
    out: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(k)
            if isinstance(v, dict):
                out.update(f"{k}.{k2}" for k2 in v)
    elif isinstance(doc, list):
        out.add("[]")
    return sorted(out)


def note(step: Any, result: Any) -> None:
    """Record one step's answer (a no-op unless recording is on)."""
    directory = os.environ.get(ENV_VAR)
    if not directory:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    with _lock:
        _counters[test] += 1
        n = _counters[test]
    code = result.error_code() if hasattr(result, "error_code") else None
    if code is None and "<Code>" in (result.body or ""):
        m = re.search(r"<Code>([^<]+)</Code>", result.body)
        code = m.group(1) if m else None
    entry = {"test": test, "n": n, "method": step.method, "endpoint": endpoint(step.url),
             "status": result.status, "code": code if result.status >= 400 else None, "shape": shape(result.body)}
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with _lock, open(path / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def load(directory: str | os.PathLike[str]) -> dict[tuple[str, int], dict]:
    out = {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                e = json.loads(line)
                out[(e["test"], int(e["n"]))] = e
    return out


def compare(live: dict, emulated: dict) -> list[dict]:
    """Differences per step: status, code, shape; steps only one side made."""
    diffs = []
    for key in sorted(set(live) | set(emulated)):
        a, b = live.get(key), emulated.get(key)
        if a is None or b is None:
            diffs.append({"test": key[0], "n": key[1], "what": "step", "live": a and a["endpoint"],
                          "emulator": b and b["endpoint"]})
            continue
        for field in ("status", "code", "shape"):
            if a.get(field) != b.get(field):
                diffs.append({"test": key[0], "n": key[1], "endpoint": f"{a['method']} {a['endpoint']}",
                              "what": field, "live": a.get(field), "emulator": b.get(field)})
    return diffs


def render(diffs: list[dict], steps: int) -> str:
    lines = ["# Parity: Azure's answers and the emulator's", "",
             f"{steps} steps compared, {len(diffs)} difference{'' if len(diffs) == 1 else 's'}.", ""]
    if diffs:
        lines += ["| Test | Step | Request | What | Azure | Emulator |", "|---|---|---|---|---|---|"]
        for d in diffs:
            lines.append(f"| `{d['test']}` | {d['n']} | {d.get('endpoint', '')} | {d['what']} | "
                         f"{json.dumps(d['live'])} | {json.dumps(d['emulator'])} |".replace("|  |", "| |"))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="milab parity", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("live", help="recordings of a run against Azure (pytest --target azure --record-responses DIR)")
    p.add_argument("--against", required=True, metavar="DIR", help="recordings of the same scenarios on the emulator")
    p.add_argument("--out", default="reports", help="where parity.md and parity.json go (default: reports)")


def run(args: argparse.Namespace) -> int:
    for d in (args.live, args.against):
        if not Path(d).is_dir():
            print(f"milab parity: no recordings in {d}", file=sys.stderr)
            return 2
    try:
        live, emulated = load(args.live), load(args.against)
    except (ValueError, KeyError) as e:
        print(f"milab parity: unreadable recording: {e}", file=sys.stderr)
        return 2
    diffs = compare(live, emulated)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parity.json").write_text(json.dumps({"steps": len(set(live) | set(emulated)), "differences": diffs},
                                                indent=2) + "\n")
    text = render(diffs, len(set(live) | set(emulated)))
    (out / "parity.md").write_text(text)
    print(text.split("\n\n")[1])
    for d in diffs[:20]:
        print(f"  {d['test']} step {d['n']} {d.get('endpoint', '')}: {d['what']} Azure {d['live']!r}, "
              f"emulator {d['emulator']!r}")
    return 1 if diffs else 0
