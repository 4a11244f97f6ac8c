"""The emulator's log: a repeated failure is one record per interval (with the count it dropped), and a
client's fault that aiohttp logs with a traceback becomes one line without it."""
from __future__ import annotations

import logging

from aiohttp.http_exceptions import LineTooLong

from milab.cloud.logs import ClientErrorFilter, RepeatFilter


def _record(msg: str, level: int = logging.ERROR, exc: BaseException | None = None, name: str = "asyncio"):
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord(name, level, __file__, 1, msg, (), exc_info)


def test_a_repeated_failure_is_logged_once_per_interval():
    now = [0.0]
    f = RepeatFilter(interval=10, clock=lambda: now[0])
    emfile = OSError(24, "Too many open files")
    passed = []
    for i in range(1000):  # an accept loop failing every millisecond for a second
        now[0] = i / 1000
        r = _record("socket.accept() out of system resource", exc=emfile)
        if f.filter(r):
            passed.append(r)
    assert len(passed) == 1
    now[0] = 10.5
    r = _record("socket.accept() out of system resource", exc=emfile)
    assert f.filter(r) and "repeated 999 more times" in r.msg
    assert f.filter(_record("another failure", exc=emfile))  # another kind is not held back
    assert f.filter(_record("socket.accept() out of system resource", level=logging.INFO))  # below WARNING: all


def test_a_client_fault_is_one_line_without_traceback():
    logging.getLogger("milab").setLevel(logging.INFO)
    try:
        f = ClientErrorFilter()
        r = _record("Error handling request from %s", exc=LineTooLong("header", 8190, 200000), name="aiohttp.server")
        r.args = ("127.0.0.1",)
        assert f.filter(r)
        assert r.exc_info is None and r.levelno == logging.INFO and "400 LineTooLong" in r.getMessage()
        gone = _record("Error handling request", exc=ConnectionResetError(104, "reset"), name="aiohttp.server")
        assert f.filter(gone) and gone.exc_info is None and "went away" in gone.getMessage()
        bug = _record("Error handling request", exc=KeyError("x"), name="aiohttp.server")
        assert f.filter(bug) and bug.exc_info is not None and bug.levelno == logging.ERROR  # our own fault: kept
    finally:
        logging.getLogger("milab").setLevel(logging.NOTSET)
    quiet = _record("Error handling request", exc=LineTooLong("header", 8190, 9000), name="aiohttp.server")
    logging.getLogger("milab").setLevel(logging.WARNING)
    try:
        assert not ClientErrorFilter().filter(quiet)  # without -v a client's fault is not logged at all
    finally:
        logging.getLogger("milab").setLevel(logging.NOTSET)
