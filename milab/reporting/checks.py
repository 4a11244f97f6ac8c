"""The checks a scenario makes, as the tutorial grid's columns.

A scenario's assertion helpers (``scenarios/helpers.py`` ``assert_denied``/``assert_ok``,
``fixtures/storage.py`` ``assert_storage_denied``, the lifecycle's as-written check) call
:func:`record` with what they checked and what they saw; the reporting plugin collects the
records of each test into its report (``user_properties``) so the matrix can show, per procedure
and per check, pass or fail with the status and error code seen.

A record is a plain dict (the matrix's input stays JSON)::

    {"check": "before the grant",      # a column of COLUMNS (None: the test's own column)
     "what": "before the grant",       # the helper's description, as the assertion message has it
     "passed": True,
     "status": 403, "code": "AuthorizationFailed",    # what was seen
     "expected": "403 AuthorizationFailed"}           # what the page (or Azure) says

Columns come from the description (:func:`classify`) or, for a whole test, from its name
(:func:`test_column`): ``test_arm_read_denied_expired_token`` is the "expired token" check.
"""
from __future__ import annotations

import re
import threading
from typing import Any

COLUMNS = ("page steps", "as written", "main flow", "before the grant", "after the revoke", "beyond the grant",
           "wrong audience", "expired token", "ungranted caller", "bad credential", "other checks")

# (column, words) in order: the first column whose pattern matches a description wins.
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("as written", re.compile(r"as written")),
    ("wrong audience", re.compile(r"audience|token presented to|token for another|\barm token\b.*storage")),
    ("expired token", re.compile(r"expired")),
    ("after the revoke", re.compile(r"\bafter\b.*\b(revok|remov|delet)|\brevoked?\b|policy.removed|removed\b")),
    ("before the grant", re.compile(r"before the grant|without (any )?role|\bno.role\b|\bno.policy\b|"
                                    r"without.role")),
    ("ungranted caller", re.compile(r"never granted|ungranted|second vm|other.object.id|another (vm|identity)")),
    ("bad credential", re.compile(r"tamper|regenerated|old key|bad key|signature")),
    ("beyond the grant", re.compile(r"not granted|other.(container|vault|group|account)|writ|list.only|"
                                    r"missing.permission|control.plane|reader listing|beyond|scope")),
]

_local = threading.local()


def _records() -> list[dict[str, Any]]:
    if not hasattr(_local, "records"):
        _local.records = []
    return _local.records


def reset() -> None:
    """Forget the records of the previous test (the plugin calls it before each test)."""
    _local.records = []


def take() -> list[dict[str, Any]]:
    """The records made since :func:`reset`, and forget them."""
    out = list(_records())
    reset()
    return out


def classify(text: str | None) -> str | None:
    """The column a description names, or None (then the check belongs to its test's column)."""
    if not text:
        return None
    low = " ".join(str(text).lower().replace("_", " ").split())
    for column, pattern in _RULES:
        if pattern.search(low):
            return column
    return None


def record(what: str, *, passed: bool, status: int | None = None, code: str | None = None,
           expected: str | None = None, check: str | None = None) -> dict[str, Any]:
    """Note one check (call it before asserting, so a failing check is recorded too)."""
    from milab.redact import redact
    entry = {"check": check or classify(what), "what": redact(str(what))[:200], "passed": bool(passed),
             "status": status, "code": redact(str(code)) if code else None,
             "expected": redact(str(expected)) if expected else None}
    records = _records()
    if len(records) < 200:  # a bounded list: a test polling in a loop does not grow it without end
        records.append(entry)
    return entry


def test_column(test_name: str, family: str | None = None, variant: str | None = None) -> str:
    """The column a whole test belongs to, from its function name (and an ``-as-written`` variant)."""
    if variant and str(variant).endswith("-as-written"):
        return "as written"
    name = test_name.split("[", 1)[0]
    name = re.sub(r"^test_", "", name)
    if family and name.startswith(family):
        name = name[len(family):]
    name = name.strip("_")
    if name in ("", "procedure", "documented_request_and_response"):
        return "main flow"
    return classify(name) or "other checks"


def seen(entry: dict[str, Any]) -> str:
    """``403 AuthorizationFailed``: the status and code a check saw."""
    parts = [str(entry["status"]) if entry.get("status") is not None else "", entry.get("code") or ""]
    return " ".join(p for p in parts if p)
