"""What the page runner works with: procedures, their steps, and verdicts.

A :class:`Procedure` is one thing a page tells a reader to do (enable a system-assigned identity
on an existing VM with the Azure CLI; the whole Linux storage tutorial ...): an ordered list of
:class:`Step` objects, each one code block of the page with its language and where it runs.
Running it gives a :class:`Verdict` per procedure:

``passed``
    every executable step ran as written and printed what the page shows.
``page-defect``
    the page is wrong at step N: its command does not parse or names an obsolete alias, its
    body is refused, the role it grants does not allow its next step, a placeholder cannot be
    bound to anything the page defines, or the output differs from what it shows.
``milab-gap``
    the emulator does not reproduce what step N needs yet (a service, a type, a route); never
    blamed on the page.
``not-run``
    nothing here can execute the procedure (the portal, PowerShell, C#, Java, Bicep); the reason
    says why. Never counted as passed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED = "passed"
PAGE_DEFECT = "page-defect"
MILAB_GAP = "milab-gap"
NOT_RUN = "not-run"
VERDICTS = (PASSED, PAGE_DEFECT, MILAB_GAP, NOT_RUN)

# languages a step can have
BASH = "bash"          # azurecli, bash, console, sh, untagged shell: bash with az and curl
HTTP = "http"          # a raw HTTP request
TEMPLATE = "template"  # an ARM template (JSON): deployed
PYTHON = "python"
JAVASCRIPT = "javascript"
POWERSHELL = "powershell"
CSHARP = "csharp"
JAVA = "java"
GO = "go"
BICEP = "bicep"
SQL = "sql"
PORTAL = "portal"
RUNNABLE = (BASH, HTTP, TEMPLATE, PYTHON, JAVASCRIPT)

OPERATOR = "operator"  # the reader's own machine, signed in as the operator (control plane)
VM = "vm"              # inside the procedure's VM (IMDS, the VM's identities)


@dataclass
class Expected:
    """An output the page shows for a step ("The response looks like ...")."""
    line: int
    text: str
    kind: str  # 'json' or 'text'


@dataclass
class Step:
    index: int  # 1-based within the procedure
    language: str
    code: str  # as on the page (logical lines re-joined where the export broke them)
    line: int  # first line of the code on the page
    end_line: int
    where: str = OPERATOR
    expected: list[Expected] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # lines of blocks that only document this step
    reason: str | None = None  # why the step cannot run here (language not runnable)
    block_lang: str = ""  # the fence's info string
    note: str | None = None  # what the runner did instead (e.g. 'az login' bound to the operator's sign-in)

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE and self.reason is None

    def short(self, width: int = 100) -> str:
        one = " ".join(self.code.split())
        return one if len(one) <= width else one[: width - 1] + "\u2026"


@dataclass
class Procedure:
    id: str
    title: str  # "page > procedure", as in the inventory
    page_title: str
    file: str  # the file the page was parsed from
    pivot: str  # CLI, REST, template, PowerShell, portal, Linux tutorial ...
    family: str
    os: str = "any"
    identity: str = "system"
    sections: tuple[str, ...] = ()
    tab: str | None = None
    line: int = 0
    end_line: int = 0
    steps: list[Step] = field(default_factory=list)
    given: tuple[str, ...] = ()  # state the harness makes first (what the page's portal steps or prerequisites make)
    reason: str | None = None  # why the procedure as a whole cannot run here, or could not be derived
    spec: Any = None  # the catalogue entry
    prerequisites: list[tuple[int, str]] = field(default_factory=list)  # (line, command) the page's prose asks for

    @property
    def runnable_steps(self) -> list[Step]:
        return [s for s in self.steps if s.runnable]


@dataclass
class StepResult:
    step: Step
    status: str  # 'passed', 'failed', 'not-run', 'skipped' (after a failure), 'unverified'
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    command: str = ""  # the bound code that ran
    http_status: int | None = None
    mismatches: list[str] = field(default_factory=list)
    classification: str | None = None  # page-defect / milab-gap for a failure
    reason: str | None = None
    bindings: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # what the runner did as the reader would ('az login' is the operator's sign-in ...)


@dataclass
class Verdict:
    verdict: str
    step: int | None = None  # the step the verdict is about (failures)
    reason: str = ""
    line: int | None = None  # the page line of that step

    def one_line(self) -> str:
        where = f" at step {self.step}" + (f" (line {self.line})" if self.line else "") if self.step else ""
        return f"{self.verdict}{where}: {self.reason}" if self.reason else f"{self.verdict}{where}"


@dataclass
class ProcedureResult:
    procedure: Procedure
    verdict: Verdict
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
