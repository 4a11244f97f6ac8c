"""The emulator's log: redacted, one line for a client's mistake, and a repeated failure once per interval.

* ``RepeatFilter`` lets the first record of a kind (logger, level, message template, exception
  type) through, drops the same kind for ``interval`` seconds, then lets the next one through
  with the number it dropped: ``Too many open files`` in an accept loop is a line every 10 s,
  not a traceback per loop turn.
* ``ClientErrorFilter`` (on aiohttp's server logger) turns what aiohttp logs as an error with a
  traceback for a client's fault (a malformed request it answered 400/431, a peer that went
  away) into one informational line: the emulator's log keeps tracebacks for its own bugs.
"""
from __future__ import annotations

import logging
import time

REPEAT_INTERVAL = 10.0


class RepeatFilter(logging.Filter):
    def __init__(self, interval: float = REPEAT_INTERVAL, level: int = logging.WARNING, clock=time.monotonic):
        super().__init__()
        self.interval, self.level, self.clock = interval, level, clock
        self._seen: dict[tuple, list] = {}  # kind -> [time let through, number dropped since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, record.levelno, str(record.msg), exc)
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [repeated {seen[1]} more times in the last {now - seen[0]:.0f} s]"
        self._seen[kind] = [now, 0]
        if len(self._seen) > 4096:  # bounded: forget the oldest kinds
            for k in sorted(self._seen, key=lambda k: self._seen[k][0])[:1024]:
                del self._seen[k]
        return True


def _client_fault(exc: BaseException | None) -> str | None:
    """A one-line description when ``exc`` is the client's doing, else None."""
    from aiohttp.http_exceptions import HttpProcessingError
    if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500:
        return f"{exc.code} {type(exc).__name__}: {exc.message!s:.200}"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"the peer went away ({type(exc).__name__})"
    return None


class ClientErrorFilter(logging.Filter):
    """For ``aiohttp.server``: a client's fault becomes one INFO line without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        fault = _client_fault(exc)
        if fault is None:
            return True
        record.msg, record.args = "%s: %s", (record.getMessage(), fault)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger("milab").isEnabledFor(logging.INFO)


def configure(verbose: bool = False) -> None:
    """Set up the emulator process's log: level, format, client errors, repeats, redaction."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from ..redact import RedactingFilter
    logging.getLogger("aiohttp.server").addFilter(ClientErrorFilter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatFilter())  # before redaction, which replaces the message template
        handler.addFilter(RedactingFilter())  # the emulator's log never holds a token, key or SAS
