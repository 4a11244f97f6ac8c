"""pytest plugin: every run writes redacted JUnit XML, a pytest-html report and the tutorial matrix.

Load it from the root ``conftest.py`` (``pytest_plugins = ["milab.reporting.plugin", ...]``)
or with ``-p milab.reporting.plugin``. It must be registered before ``pytest_configure``
runs (root conftest or ``-p``), because it points ``--junitxml``/``--html`` at the
reports directory when the user did not pass them.

Options
    ``--reports-dir DIR``  where ``junit.xml``, ``report.html``, ``matrix.md`` and
                           ``matrix.json`` go (default: ``reports`` under the rootdir;
                           a relative DIR is taken from the invocation directory).
    ``--no-reports``       write none of them and leave ``--junitxml``/``--html`` alone
                           (report objects and logs are still redacted in memory).

Scenario tests carry ``@pytest.mark.tutorial(family=..., variant=...)``; each one becomes
a matrix row. The worker side (or the only process, without xdist) puts the tutorial
information into ``report.user_properties`` under :data:`TUTORIAL_PROPERTY` as a JSON
string, so the xdist controller, which only sees ``pytest_runtest_logreport``, can build
the rows. Only the controller writes files.

Redaction (:mod:`milab.redact`): each report's ``longrepr``, captured ``sections``,
``user_properties``, ``wasxfail`` and text extras are redacted when the report is made
and again when it is logged; a :class:`~milab.redact.RedactingFilter` sits on the root
logger's handlers for the session (also on the per-test capture handlers); and at
``pytest_unconfigure`` -- after junitxml and pytest-html have written their files in
``pytest_sessionfinish`` -- ``junit.xml`` and ``report.html`` are redacted once more.
"""
from __future__ import annotations

import html as _html
import json
import logging
import os
import re
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator

import pytest

from milab.redact import RedactingFilter, contains_secret, redact, redact_data, redact_markup
from milab.reporting import checks
from milab.reporting.matrix import MATRIX_HTML, MATRIX_JSON, MATRIX_MD, MatrixRow, write_matrix

try:  # the TerminalRepr base lives in a private module; keep a fallback
    from _pytest._code.code import ReprFileLocation, TerminalRepr
except Exception:  # pragma: no cover
    ReprFileLocation = None  # type: ignore[assignment]
    TerminalRepr = object  # type: ignore[assignment,misc]

TUTORIAL_PROPERTY = "milab_tutorial"
CHECKS_PROPERTY = "milab_checks"
PROCEDURE_PROPERTY = "milab_procedure"  # the page runner's verdict of a procedure (scenarios/test_pages.py)
PLUGIN_NAME = "milab-reporting"
JUNIT_NAME = "junit.xml"
HTML_NAME = "report.html"
MARKER = "tutorial"

_STATE = pytest.StashKey["MilabReporting"]()


# --------------------------------------------------------------------------- options

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("milab-reports", "milab reporting")
    group.addoption(
        "--reports-dir", dest="milab_reports_dir", default=None, metavar="DIR",
        help="directory for junit.xml, report.html, matrix.md and matrix.json "
             "(default: 'reports' under the rootdir).")
    group.addoption(
        "--no-reports", dest="milab_no_reports", action="store_true", default=False,
        help="do not write junit.xml, report.html or the tutorial matrix.")


def _target(config: pytest.Config) -> str:
    try:
        value = config.getoption("target", default="emulator")
    except (ValueError, AttributeError):
        value = "emulator"
    return str(value) if value else "emulator"


def _guest_isolation(target: str) -> str | None:
    """How the emulator of this run isolated its guests (``MILAB_GUEST_ISOLATION`` of its env)."""
    return os.environ.get("MILAB_GUEST_ISOLATION") if target == "emulator" else None


def _reports_dir(config: pytest.Config) -> Path:
    value = config.getoption("milab_reports_dir", default=None)
    if not value:
        return Path(config.rootpath) / "reports"
    path = Path(os.path.expandvars(os.path.expanduser(str(value))))
    if not path.is_absolute():
        path = Path(config.invocation_params.dir) / path
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: must run before junitxml's and pytest-html's pytest_configure,
    # which read config.option.xmlpath / htmlpath.
    config.addinivalue_line(
        "markers", f"{MARKER}(family, variant=None, page=None, section=None): "
                   "the documentation page and section a scenario reproduces")
    is_worker = hasattr(config, "workerinput")
    enabled = not config.getoption("milab_no_reports", default=False)
    reports_dir = _reports_dir(config)
    state = MilabReporting(config, reports_dir=reports_dir, enabled=enabled,
                           is_worker=is_worker, target=_target(config))
    if enabled and not is_worker:
        # junitxml and pytest-html write reports/junit.xml and report.html; the files of the last run
        # are kept aside and put back when no test ran (--collect-only, a usage error, a run that
        # ended before its first test), see MilabReporting.finish.
        opt = config.option
        if hasattr(opt, "xmlpath"):
            if not opt.xmlpath:
                opt.xmlpath = str(reports_dir / JUNIT_NAME)
            state.files.append(Path(os.path.abspath(os.path.expanduser(os.path.expandvars(opt.xmlpath)))))
        if hasattr(opt, "htmlpath"):
            if not opt.htmlpath:
                opt.htmlpath = str(reports_dir / HTML_NAME)
                opt.self_contained_html = True
            state.files.append(Path.cwd() / Path(os.path.expandvars(opt.htmlpath)).expanduser())
        state.keep_previous()
        if config.pluginmanager.hasplugin("html"):
            config.pluginmanager.register(_HtmlColumns(state), PLUGIN_NAME + "-html")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistCount(state), PLUGIN_NAME + "-xdist")
    config.stash[_STATE] = state
    config.pluginmanager.register(state, PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    try:
        state.finish()
    finally:
        del config.stash[_STATE]
        if config.pluginmanager.get_plugin(PLUGIN_NAME) is state:
            config.pluginmanager.unregister(state, PLUGIN_NAME)
        for extra in (PLUGIN_NAME + "-html", PLUGIN_NAME + "-xdist"):
            plugin = config.pluginmanager.get_plugin(extra)
            if plugin is not None:
                config.pluginmanager.unregister(plugin, extra)


# --------------------------------------------------------------------------- tutorial info

def tutorial_info(item: pytest.Item, target: str) -> dict[str, Any] | None:
    """What the matrix needs to know about a scenario test, or None without the marker."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    args, kwargs = marker.args, marker.kwargs
    family = kwargs.get("family") or (args[0] if len(args) > 0 else None)
    variant = kwargs.get("variant") or (args[1] if len(args) > 1 else None)
    if not variant:
        callspec = getattr(item, "callspec", None)
        variant = getattr(callspec, "id", None) if callspec is not None else None
        if not variant:
            variant = getattr(item, "originalname", None) or item.name
    family = str(family) if family else "unknown"
    variant = str(variant)

    tutorial = None
    try:
        from milab import registry
        try:
            tutorial = registry.find(family, variant)
        except KeyError:
            try:
                tutorial = registry.find(family)
            except KeyError:
                tutorial = None
    except Exception:  # a broken registry must not break the run
        tutorial = None

    page_title = page_file = page_seed = None
    sections: list[str] = []
    if tutorial is not None:
        page_title, page_file, page_seed = tutorial.page.title, tutorial.page.file, tutorial.page.seed
        sections = [str(s) for s in tutorial.sections]
    elif kwargs.get("page"):
        page_title = str(kwargs["page"])
        page_file = str(kwargs["file"]) if kwargs.get("file") else None
        page_seed = str(kwargs["seed"]) if kwargs.get("seed") else None
    marker_sections = kwargs.get("sections", kwargs.get("section"))
    if marker_sections:
        sections = ([str(marker_sections)] if isinstance(marker_sections, str)
                    else [str(s) for s in marker_sections])
    info = {
        "family": family, "variant": variant,
        "page_title": page_title, "page_file": page_file, "page_seed": page_seed,
        "sections": sections, "target": target,
    }
    try:  # pivot, OS, identity kind and procedure id, for the grid
        from milab.reporting.grid import describe
        described = describe(family, variant)
        info.update({k: described[k] for k in ("pivot", "os", "identity", "procedure") if described.get(k)})
    except Exception:
        pass
    return info


def _info_from_properties(props: Any) -> dict[str, Any] | None:
    for entry in props or ():
        try:
            name, value = entry
        except (TypeError, ValueError):
            continue
        if name == TUTORIAL_PROPERTY:
            if isinstance(value, dict):
                return value
            try:
                return json.loads(value)
            except (TypeError, ValueError):
                return None
    return None


def procedure_fields(procedure: dict | None) -> dict[str, Any]:
    """The matrix fields of a page-runner procedure (none for other scenarios)."""
    if not procedure:
        return {}
    return {"procedure": procedure.get("procedure"), "verdict": procedure.get("verdict"),
            "verdict_step": procedure.get("step"), "pivot": procedure.get("pivot"),
            "verdict_reason": redact(str(procedure.get("reason") or "")) or None}


# --------------------------------------------------------------------------- report redaction

class RedactedRepr(TerminalRepr):  # type: ignore[misc,valid-type]
    """A redacted longrepr used when the structured one could not be cleaned in place."""

    def __init__(self, text: str, reprcrash: Any = None) -> None:
        self.text = text
        self.reprcrash = reprcrash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def _scrub(obj: Any, depth: int = 0) -> Any:
    """Redact the strings inside a longrepr structure, in place where possible."""
    if isinstance(obj, str):
        return redact(obj)
    if depth > 16 or obj is None or isinstance(obj, (int, float, bool)):
        return obj
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            obj[i] = _scrub(value, depth + 1)
        return obj
    if isinstance(obj, tuple):
        items = [_scrub(v, depth + 1) for v in obj]
        if type(obj) is tuple:
            return tuple(items)
        return type(obj)(*items)  # namedtuple
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _scrub(obj[key], depth + 1)
        return obj
    if isinstance(obj, TerminalRepr) and hasattr(obj, "__dict__"):
        for name, value in list(vars(obj).items()):
            new = _scrub(value, depth + 1)
            if new is not value:
                setattr(obj, name, new)
    return obj


def _redact_longrepr(report: Any) -> None:
    longrepr = getattr(report, "longrepr", None)
    if longrepr is None:
        return
    if isinstance(longrepr, str):
        report.longrepr = redact(longrepr)
        return
    if isinstance(longrepr, tuple):  # skip: (path, lineno, reason)
        report.longrepr = tuple(redact(v) if isinstance(v, str) else v for v in longrepr)
        return
    try:
        _scrub(longrepr)
        if not contains_secret(str(longrepr)):
            return
    except Exception:
        pass
    # Could not clean the structure: replace it by its redacted text.
    try:
        text = str(longrepr)
    except Exception:
        text = repr(longrepr)
    crash = getattr(longrepr, "reprcrash", None)
    new_crash = None
    if crash is not None and ReprFileLocation is not None:
        try:
            new_crash = ReprFileLocation(redact(str(crash.path)), crash.lineno, redact(crash.message))
        except Exception:
            new_crash = None
    report.longrepr = RedactedRepr(redact(text), new_crash)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    try:
        text = str(value)
    except Exception:
        return value
    return redact(text) if contains_secret(text) else value


def redact_report(report: Any) -> None:
    """Redact a TestReport/CollectReport in place."""
    _redact_longrepr(report)
    sections = getattr(report, "sections", None)
    if sections:
        report.sections = [(title, redact(content) if isinstance(content, str) else content)
                           for title, content in sections]
    props = getattr(report, "user_properties", None)
    if props:
        cleaned = []
        for entry in props:
            try:
                name, value = entry
            except (TypeError, ValueError):
                cleaned.append(entry)
                continue
            cleaned.append((name, _redact_value(value)))
        report.user_properties = cleaned
    wasxfail = getattr(report, "wasxfail", None)
    if isinstance(wasxfail, str):
        report.wasxfail = redact(wasxfail)
    extras = getattr(report, "extras", None)
    if isinstance(extras, list):
        for extra in extras:
            if (isinstance(extra, dict) and isinstance(extra.get("content"), str)
                    and extra.get("format_type") in ("text", "json", "html", "url")):
                extra["content"] = redact(extra["content"])


# --------------------------------------------------------------------------- file safety net

_JSONBLOB = re.compile(r'(data-jsonblob=")([^"]*)(")')


def redact_html_text(text: str) -> str:
    """Redact a pytest-html report: the JSON test data blob, then the whole page."""
    match = _JSONBLOB.search(text)
    if match:
        try:
            data = json.loads(_html.unescape(match.group(2)))
            clean = redact_data(data, redact_markup)
            if clean != data:
                blob = _html.escape(json.dumps(clean), quote=True)
                text = text[:match.start(2)] + blob + text[match.end(2):]
        except ValueError:
            pass
    return redact_markup(text)


def redact_file(path: Path) -> bool:
    """Redact a written XML/HTML report file in place; True if it changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    clean = redact_html_text(text) if path.suffix.lower() in (".html", ".htm") else redact_markup(text)
    if clean == text:
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(clean, encoding="utf-8")
    os.replace(tmp, path)
    return True


# --------------------------------------------------------------------------- the session plugin

@dataclass
class _Pending:
    info: dict[str, Any] | None = None
    duration: float = 0.0
    outcome: str | None = None
    reason: str | None = None
    checks: dict[str, list] | None = None  # phase -> recorded checks


def _checks_from_properties(props: Any) -> dict[str, list]:
    out: dict[str, list] = {}
    for entry in props or ():
        try:
            name, value = entry
        except (TypeError, ValueError):
            continue
        if name == CHECKS_PROPERTY:
            try:
                doc = json.loads(value) if isinstance(value, str) else value
                out[str(doc.get("when"))] = list(doc.get("checks") or [])
            except (TypeError, ValueError, AttributeError):
                continue
    return out


def _first_line(text: Any) -> str | None:
    if not text:
        return None
    for line in str(text).splitlines():
        if line.strip():
            return " ".join(line.split())
    return None


def _failure_reason(report: Any) -> str | None:
    longrepr = report.longrepr
    if report.skipped:
        wasxfail = getattr(report, "wasxfail", None)
        if wasxfail is not None:
            return _first_line(wasxfail) or "xfail"
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            return _first_line(longrepr[2])
        return _first_line(longrepr)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _first_line(crash.message)
    try:
        text = report.longreprtext
    except Exception:
        text = str(longrepr or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    if errors:
        return errors[0]
    return lines[-1] if lines else None


def _phase_outcome(report: Any) -> str | None:
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return "passed"
        if report.failed:
            return "failed"
        return "xfailed" if xfail else "skipped"
    if report.failed:
        return "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return None


class MilabReporting:
    """Per-session state and hooks; registered in pytest_configure as ``milab-reporting``."""

    def __init__(self, config: pytest.Config, *, reports_dir: Path, enabled: bool,
                 is_worker: bool, target: str) -> None:
        self.config = config
        self.reports_dir = reports_dir
        self.enabled = enabled
        self.is_worker = is_worker
        self.target = target
        self.files: list[Path] = []  # junit/html files to post-process
        self.staging = reports_dir / f".previous-{os.getpid()}"  # the last run's files, until a test runs
        self.seen: set[str] = set()  # node ids that reported (this process, or the xdist controller)
        self.collected = 0
        self.incomplete: str | None = None
        self.published = False
        self._kept: list[tuple[Path, Path]] = []
        self.rows: list[MatrixRow] = []
        self.matrix_written: tuple[Path, Path] | None = None
        self._pending: dict[str, _Pending] = {}
        self._filter = RedactingFilter()
        self._filtered: weakref.WeakSet[logging.Handler] = weakref.WeakSet()

    @staticmethod
    def _procedure(props) -> dict | None:
        for entry in props or ():
            if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == PROCEDURE_PROPERTY:
                try:
                    return json.loads(entry[1]) if isinstance(entry[1], str) else dict(entry[1])
                except (TypeError, ValueError):
                    return None
        return None

    @property
    def writes_files(self) -> bool:
        return self.enabled and not self.is_worker

    # ---- logging
    def attach_log_filter(self) -> None:
        for handler in logging.getLogger().handlers:
            if self._filter not in handler.filters:
                handler.addFilter(self._filter)
                self._filtered.add(handler)

    def detach_log_filter(self) -> None:
        for handler in list(self._filtered):
            handler.removeFilter(self._filter)
        self._filtered = weakref.WeakSet()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.attach_log_filter()

    # trylast wrappers run inside the logging plugin's, when its capture handlers
    # (caplog, report sections, live logging) are already on the root logger.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.attach_log_filter()
        checks.reset()
        return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.attach_log_filter()
        return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: Any) -> Generator[None, Any, Any]:
        self.attach_log_filter()
        return (yield)

    # ---- reports (worker side or serial)
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Generator[None, Any, Any]:
        if not any(isinstance(p, tuple) and p and p[0] == TUTORIAL_PROPERTY
                   for p in item.user_properties):
            try:
                info = tutorial_info(item, self.target)
            except Exception:
                info = None
            if info is not None:
                item.user_properties.append(
                    (TUTORIAL_PROPERTY, json.dumps(info, ensure_ascii=False, sort_keys=True)))
        recorded = checks.take()
        if recorded:
            item.user_properties.append((CHECKS_PROPERTY, json.dumps({"when": call.when, "checks": recorded},
                                                                     ensure_ascii=False)))
        report = yield
        try:
            redact_report(report)
        except Exception:
            pass
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        try:
            redact_report(report)
        except Exception:
            pass

    # ---- reports (controller side or serial)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        try:
            redact_report(report)
        except Exception:
            pass
        if self.writes_files:
            self.seen.add(report.nodeid)
            self._record(report)

    def _record(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        info = _info_from_properties(getattr(report, "user_properties", None))
        if info is None and nodeid not in self._pending:
            return
        if report.outcome == "rerun":
            self._pending.pop(nodeid, None)
            return
        pending = self._pending.setdefault(nodeid, _Pending())
        if info is not None:
            pending.info = info
        recorded = _checks_from_properties(getattr(report, "user_properties", None))
        if recorded:
            pending.checks = {**(pending.checks or {}), **recorded}
        page_run = self._procedure(getattr(report, "user_properties", None))
        if page_run is not None and pending.info is not None:
            pending.info = {**pending.info, "page_run": page_run}
        pending.duration += float(getattr(report, "duration", 0.0) or 0.0)
        outcome = _phase_outcome(report)
        if outcome is not None:
            if report.when == "teardown":
                if pending.outcome in (None, "passed"):
                    pending.outcome = outcome
                    pending.reason = _failure_reason(report)
            elif report.when == "call" or pending.outcome is None:
                pending.outcome = outcome
                if outcome != "passed":
                    pending.reason = _failure_reason(report)
        if report.when == "teardown":
            self._finish_row(nodeid)

    def _finish_row(self, nodeid: str) -> None:
        pending = self._pending.pop(nodeid, None)
        if pending is None or pending.info is None:
            return
        info = pending.info
        self.rows.append(MatrixRow(
            family=str(info.get("family") or "unknown"),
            variant=str(info.get("variant") or ""),
            page_title=info.get("page_title"),
            page_file=info.get("page_file"),
            page_seed=info.get("page_seed"),
            sections=list(info.get("sections") or []),
            target=str(info.get("target") or self.target),
            outcome=pending.outcome or "passed",
            duration=round(pending.duration, 4),
            nodeid=nodeid,
            reason=redact(pending.reason) if pending.reason else None,
            os=info.get("os"), identity=info.get("identity"),
            checks=[c for when in ("setup", "call", "teardown") for c in (pending.checks or {}).get(when, [])],
            # a page-runner procedure's verdict names its procedure and pivot; else the registry's
            **({"procedure": info.get("procedure"), "pivot": info.get("pivot")}
               | procedure_fields(info.get("page_run"))),
        ))

    # ---- end of session
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = max(self.collected, len(session.items))

    @pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html write their files
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.writes_files:
            return
        for nodeid in list(self._pending):  # e.g. a crashed xdist worker: no teardown report
            self._finish_row(nodeid)
        if not self.seen:
            return  # no test ran: reports/ keeps the last real run's files
        total = max(self.collected, getattr(session, "testscollected", 0) or 0, len(self.seen))
        never = total - len(self.seen)
        stopped = session.shouldstop or session.shouldfail
        if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED) or stopped or never > 0:
            why = (str(stopped) if isinstance(stopped, str) else "stopped early") if stopped else (
                "interrupted" if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED) else "ended early")
            self.incomplete = f"INCOMPLETE: the run was {why}; {never} of {total} tests never ran"
        self.matrix_written = write_matrix(self.rows, self.reports_dir, target=self.target,
                                           guest_isolation=_guest_isolation(self.target), incomplete=self.incomplete)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.writes_files:
            return
        if not self.seen:
            terminalreporter.write_sep("-", f"milab reports: no test ran; {self.reports_dir} left as it was")
            return
        from milab.reporting.summary import by_tutorial
        lines = by_tutorial(self.rows)
        if lines:
            terminalreporter.write_sep("=", "milab: by tutorial")
            for line, markup in lines:
                terminalreporter.write_line(line, **markup)
        if self.incomplete:
            terminalreporter.write_line(self.incomplete, yellow=True, bold=True)
        names = [p.name for p in self.files] + [MATRIX_MD, MATRIX_HTML, MATRIX_JSON]
        terminalreporter.write_sep(
            "-", f"milab reports in {self.reports_dir}: {', '.join(names)} "
                 f"({len(self.rows)} scenario row{'' if len(self.rows) == 1 else 's'})")
        isolation = _guest_isolation(self.target)
        if isolation:
            terminalreporter.write_line(f"milab guest isolation: {isolation}" + (
                " (WARNING: in-VM steps ran as the emulator's user on the host)" if isolation == "none" else ""),
                yellow=isolation == "none")

    def keep_previous(self) -> None:
        """Copy the last run's report files aside (copies: junitxml and pytest-html rewrite in place)."""
        for path in [*self.files, *(self.reports_dir / n for n in (MATRIX_MD, MATRIX_JSON, MATRIX_HTML))]:
            if path.is_file():
                self.staging.mkdir(parents=True, exist_ok=True)
                kept = self.staging / f"{len(self._kept)}-{path.name}"
                shutil.copy2(path, kept)
                self._kept.append((kept, path))

    def finish(self) -> None:
        """At pytest_unconfigure: junitxml and pytest-html wrote their files in
        pytest_sessionfinish. If a test ran, redact them once more (and mark an incomplete run);
        if none did, put the last run's files back. Then take the log filter off."""
        try:
            if self.writes_files:
                if self.seen:
                    for path in self.files:
                        if not path.is_file():
                            continue
                        redact_file(path)
                        if path.suffix.lower() in (".html", ".htm"):
                            finish_html(path, self.incomplete)
                        elif self.incomplete:
                            mark_xml_incomplete(path, self.incomplete)
                    self.published = True
                else:
                    kept = {final for _, final in self._kept}
                    for path in self.files:  # written by this run that ran nothing, and no earlier file
                        if path not in kept and path.is_file():
                            path.unlink()
                    for saved, final in self._kept:
                        os.replace(saved, final)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.detach_log_filter()


class _XdistCount:
    """With pytest-xdist, the controller learns the number of tests from the workers' collections."""

    def __init__(self, state: MilabReporting) -> None:
        self.state = state

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list) -> None:
        self.state.collected = max(self.state.collected, len(ids))


class _HtmlColumns:
    """report.html: Family, Page, Section and Target columns; the failure's reason above its log."""

    def __init__(self, state: MilabReporting) -> None:
        self.state = state

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells[2:2] = ['<th class="sortable" data-column-type="family">Family</th>',
                      '<th class="sortable" data-column-type="page">Page</th>',
                      "<th>Section</th>", '<th class="sortable" data-column-type="target">Target</th>']

    def pytest_html_results_table_row(self, report: Any, cells: list) -> None:
        info = _info_from_properties(getattr(report, "user_properties", None)) or {}
        esc = _html.escape
        page = ""
        if info.get("page_title"):
            from milab.reporting.grid import GridRow, page_link
            g = GridRow(info.get("family") or "", info.get("variant") or "", page_title=info.get("page_title"),
                        page_seed=info.get("page_seed"))
            href, where = page_link(g)
            title = esc(info["page_title"])
            page = (f'<a href="{esc(href, quote=True)}">{title}</a>' if href else title) + (
                f' <small>({esc(where)})</small>' if where else "")
        sections = list(info.get("sections") or [])
        section = esc("; ".join(sections[:2]) + (f"; +{len(sections) - 2}" if len(sections) > 2 else ""))
        family = esc(f"{info['family']}[{info.get('variant', '')}]") if info.get("family") else ""
        cells[2:2] = [f'<td class="col-family">{family}</td>', f'<td class="col-page">{page}</td>',
                      f'<td class="col-section">{section}</td>',
                      f'<td class="col-target">{esc(str(info.get("target") or self.state.target))}</td>']

    def pytest_html_results_table_html(self, report: Any, data: list) -> None:
        if report.failed or (report.skipped and report.when != "call"):
            reason = _failure_reason(report)
            if reason:
                data.insert(0, '<div class="milab-reason" style="background:#fde7e6;color:#8e1b1f;'
                               'font:600 14px system-ui,sans-serif;padding:6px 8px;margin:4px 0">'
                               f"{_html.escape(redact(reason)[:400])}</div>")

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list, session: Any) -> None:
        if self.state.incomplete:
            prefix.append('<p style="background:#fff4ce;border:1px solid #c19c00;padding:8px;font-weight:700">'
                          f"{_html.escape(self.state.incomplete)}</p>")


def finish_html(path: Path, incomplete: str | None) -> None:
    """Rows in a stable order (by test id, whatever order xdist finished them in); INCOMPLETE in the title."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    match = _JSONBLOB.search(text)
    if match:
        try:
            data = json.loads(_html.unescape(match.group(2)))
            if isinstance(data.get("tests"), dict):
                data["tests"] = dict(sorted(data["tests"].items()))
                blob = _html.escape(json.dumps(data), quote=True)
                text = text[:match.start(2)] + blob + text[match.end(2):]
        except ValueError:
            pass
    if incomplete:
        text = re.sub(r"<title([^>]*)>(.*?)</title>", lambda m: f"<title{m.group(1)}>INCOMPLETE - {m.group(2)}</title>",
                      text, count=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.order")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def mark_xml_incomplete(path: Path, incomplete: str) -> None:
    """An XML comment after the declaration: the file stays valid JUnit XML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    note = f"<!-- {incomplete.replace('--', '-')} -->"
    cut = text.find("?>") + 2 if text.startswith("<?xml") else 0
    path.write_text(text[:cut] + note + text[cut:], encoding="utf-8")
