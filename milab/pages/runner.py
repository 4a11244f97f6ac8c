"""Running a procedure's steps as the page writes them, and the verdict.

Each step runs in its place: as the operator on the reader's machine (bash with the worker's
Azure CLI signed in as the operator, curl through the emulator's proxy) or inside the VM (the VM
context the scenarios use, ``target.run_in_vm``; Run Command on Azure). Bash steps of one place
share their shell variables and working directory (``spID=$(az ...)`` in one block, ``$spID`` in
the next), as in the terminal a reader types them into. Placeholders and example names are bound
first (``bind.py``); a step fails when its exit status is not zero, when any ``az`` in it failed,
or when any ``curl`` in it got an HTTP error; then ``classify.py`` says whose fault it is.
Outputs the page shows are compared (``compare.py``); a mismatch is a page defect at that step.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .. import redact
from ..cloud.nodejs import NODE_MODULES, node_binary, node_options
from . import az as azmod
from .bind import Binder
from .classify import classify, client_side, modelled, service_of_command, value_dependent
from .compare import compare
from .model import (BASH, HTTP, JAVASCRIPT, MILAB_GAP, NOT_RUN, OPERATOR, PAGE_DEFECT, PASSED, PYTHON, TEMPLATE,
                    VM, Procedure, ProcedureResult, Step, StepResult, Verdict)
from .world import GivenError, World

STATUS_MARK = "milab-http-status:"
AZ_TRACE = "milab-az-exit:"
STEP_TIMEOUT = 300
PROBE = "milab-unbound"

# The shell a bash step runs in: the variables and directory the earlier steps of the same place
# left, a curl that also reports each response's status on stderr, and the state saved afterwards.
SHELL = r'''__milab_base=$(compgen -v | LC_ALL=C sort)
__milab_state={state}
mkdir -p {workdir} && cd {workdir}
[ -f "$__milab_state" ] && . "$__milab_state"
curl() {{ command curl -w '%{{stderr}}\n{mark}%{{http_code}}\n' "$@"; }}
az() {{ command az "$@"; __milab_az=$?; echo "{trace}$__milab_az" >&2; return $__milab_az; }}
{prelude}
{code}
__milab_rc=$?
{{ for __milab_v in $(LC_ALL=C comm -13 <(echo "$__milab_base") <(compgen -v | LC_ALL=C sort)); do
    case "$__milab_v" in __milab*|BASH*|_|PIPESTATUS|FUNCNAME|COLUMNS|LINES|OLDPWD|PWD|SHLVL) ;;
    *) declare -p "$__milab_v" 2>/dev/null ;; esac; done; echo "cd $(printf %q "$PWD")"; }} > "$__milab_state.tmp" \
  && mv "$__milab_state.tmp" "$__milab_state"
exit $__milab_rc
'''


class Runner:
    """Runs procedures on a target with a worker's Azure CLI and the scenario fixtures."""

    def __init__(self, target, az: "azmod.AzureCli | None", factories, guest_az: "azmod.AzureCli | None" = None):
        self.target = target
        self.az = az
        self.guest_az = guest_az  # the warm CLI in-VM steps use on the emulator (signed in by the steps)
        self.factories = factories

    # -- one procedure ------------------------------------------------------------------------------
    def run(self, proc: Procedure) -> ProcedureResult:
        started = time.monotonic()
        result = ProcedureResult(proc, Verdict(NOT_RUN, reason=proc.reason or ""))
        # the operator's steps run here; it goes with the procedure (its state.sh holds what the steps
        # put in shell variables: keys and tokens too)
        work = Path(tempfile.mkdtemp(prefix=f"milab-page-{proc.id.lower()}-"))
        try:
            result.verdict = self._run(proc, result, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            result.seconds = round(time.monotonic() - started, 3)
        return result

    def _run(self, proc: Procedure, result: ProcedureResult, work: Path) -> Verdict:
        if not proc.runnable_steps:
            result.steps = [StepResult(s, NOT_RUN, reason=s.reason) for s in proc.steps]
            return Verdict(NOT_RUN, reason=proc.reason or "no step runs here")
        spec = proc.spec
        binder = Binder(explicit=getattr(spec, "bind", {}) or {})
        world = World(self.target, self.factories, binder, os="windows" if proc.os == "windows" else "linux")
        world.name_everything(proc.id)
        if self.az is None and any(s.language in (BASH, TEMPLATE) and "az " in s.code for s in proc.runnable_steps):
            return Verdict(NOT_RUN, reason=azmod.unavailable_reason() or "the Azure CLI is not available")
        try:
            world.prepare(proc.given)
        except GivenError as e:
            result.notes.append(str(e))
            return Verdict(MILAB_GAP, 0, f"the starting state cannot be made here: {e}")
        result.notes += world.log
        if self.guest_az is not None:
            self.guest_az.reset()  # every procedure's VM signs in for itself
        # in the VM, a directory of its own temporary directory (see _bash): named here, made by the step
        places = {OPERATOR: work / "operator", VM: Path(f"milab-vm-{proc.id.lower()}-{secrets.token_hex(4)}")}
        verdict: Verdict | None = None  # the failure that stopped the procedure
        mismatch: Verdict | None = None  # the first output that differs from the page's (the steps go on)
        blocked_by: Step | None = None  # a step that could not run here, whose values later steps may need
        unverified: list[tuple[Step, list[str]]] = []
        needs_missing_all = [n for n in getattr(spec, "needs", ()) if not modelled(n, self.target.name, self.target)]
        for step in proc.steps:
            if verdict is not None and verdict.verdict in (PAGE_DEFECT, MILAB_GAP) and not step.runnable:
                result.steps.append(StepResult(step, "skipped", reason="after the failure"))
                continue
            if verdict is not None:
                result.steps.append(StepResult(step, "skipped", reason="after the failure"))
                continue
            if not step.runnable:
                result.steps.append(StepResult(step, NOT_RUN, reason=step.reason))
                blocked_by = blocked_by or step
                continue
            if step.index in getattr(spec, "branches", {}):
                try:
                    world.remake(spec.branches[step.index])
                except GivenError as e:
                    verdict = Verdict(MILAB_GAP, step.index, f"the state step {step.index} starts from cannot be "
                                                             f"made here: {e}", step.line)
                    continue
            sr = self._step(proc, step, binder, world, places, blocked_by)
            result.steps.append(sr)
            needs = [n for n in service_of_command(step.code) if not modelled(n, self.target.name, self.target)]
            if sr.status == "failed":
                if sr.classification is None:
                    cls, why = classify(sr.stdout + "\n" + sr.stderr, needs_missing=needs or
                                        (needs_missing_all if unverified else []), code=sr.command)
                    if blocked_by is not None and not client_side(sr.stdout + sr.stderr):
                        sr.status, sr.classification = NOT_RUN, None
                        sr.reason = (f"fails without what step {blocked_by.index} makes, which cannot run here "
                                     f"({blocked_by.reason})")
                        continue
                    out = sr.stdout + sr.stderr
                    if unverified and cls == PAGE_DEFECT and (not client_side(out) or value_dependent(out)):
                        cls, why = MILAB_GAP, (f"fails after step {unverified[0][0].index}, which used what the "
                                               f"emulator does not model ({', '.join(unverified[0][1])}): {why}")
                    if cls == MILAB_GAP and getattr(spec, "gap", None) and needs:
                        why = f"{spec.gap} ({why})"
                    sr.classification, sr.reason = cls, _as_on_the_page(why, sr.bindings, binder)
                verdict = Verdict(sr.classification, step.index, sr.reason or "", step.line)
                continue
            if sr.status == NOT_RUN:
                blocked_by = blocked_by or step
                continue
            if needs:
                unverified.append((step, needs))
                sr.status = "unverified"
            if sr.mismatches and mismatch is None:
                mismatch = Verdict(PAGE_DEFECT, step.index, "the output differs from the page's: " + sr.mismatches[0],
                                   step.line)
            binder.learn(sr.stdout, f"step {step.index}")
        outcome = self._outcome(result, verdict, blocked_by, unverified, needs_missing_all, spec)
        if mismatch is not None and (verdict is None or (verdict.step or 0) > (mismatch.step or 0)):
            # the earliest defect is the verdict, and what came after it is said too: an old sample
            # output must not hide the procedure's own outcome
            after = "the procedure then passed" if outcome.verdict == PASSED else \
                f"then {outcome.one_line()}"
            return Verdict(PAGE_DEFECT, mismatch.step, f"{mismatch.reason}; {after}", mismatch.line)
        return outcome

    @staticmethod
    def _outcome(result: ProcedureResult, verdict: Verdict | None, blocked_by: Step | None,
                 unverified: list, needs_missing_all: list, spec) -> Verdict:
        """The procedure's verdict from its steps, leaving aside outputs that differ from the page's."""
        if verdict is not None:
            return verdict
        ran = [s for s in result.steps if s.status in (PASSED, "unverified")]
        if not ran and blocked_by is not None:
            return Verdict(NOT_RUN, blocked_by.index, f"step {blocked_by.index} cannot run here ({blocked_by.reason}), "
                                                      f"and the other steps need what it makes", blocked_by.line)
        if unverified or needs_missing_all:
            step, what = unverified[0] if unverified else (None, needs_missing_all)
            reason = getattr(spec, "gap", None) or f"the emulator does not model {', '.join(what)} yet"
            return Verdict(MILAB_GAP, step.index if step else None,
                           f"{reason}: the steps ran, but against state the emulator only stores", step.line if step else None)
        if blocked_by is not None:
            ran = [s for s in result.steps if s.status == PASSED]
            return Verdict(NOT_RUN, blocked_by.index, f"step {blocked_by.index} cannot run here ({blocked_by.reason}); "
                                                      f"{len(ran)} other step(s) passed", blocked_by.line)
        return Verdict(PASSED)

    # -- one step ---------------------------------------------------------------------------------
    def _step(self, proc: Procedure, step: Step, binder: Binder, world: World, places: dict,
              blocked_by: Step | None) -> StepResult:
        code, note = _as_the_reader_would(step)
        binding = binder.bind(code)
        if binding.unbound and any(binder.role_of(p) == "access_token" for p in binding.unbound) and \
                proc.prerequisites and step.where == OPERATOR:
            line, command = proc.prerequisites[0]
            pre = StepResult(replace(step, index=0, code=command, line=line, expected=[]), "failed", command=command)
            self._bash(pre.step, command, world, places, pre)
            if pre.status == PASSED:
                binder.learn(pre.stdout, f"the prerequisite on line {line}")
                note = (note + "; " if note else "") + f"ran the page's prerequisite '{command}' (line {line})"
                binding = binder.bind(code)
        sr = StepResult(step, "failed", command=binding.text, bindings=dict(binding.used), note=note)
        if binding.unbound:
            if blocked_by is None:
                sr.classification = PAGE_DEFECT
                sr.reason = (f"the placeholder(s) {', '.join(binding.unbound)} cannot be bound: the page does not "
                             f"say what they stand for, and no earlier step printed them")
                return sr
            # the values would come from a step that cannot run here; probe the command itself
            probe = binding.text
            for ph in binding.unbound:
                probe = probe.replace(ph, PROBE)
            sr.command = probe
            self._execute(proc, step, probe, world, places, sr)
            out = sr.stdout + sr.stderr
            if sr.status == "failed" and sr.classification == PAGE_DEFECT:
                return sr  # e.g. a snippet that does not parse, whatever its values
            if sr.status == "failed" and client_side(out):
                sr.classification, sr.reason = classify(out, code=probe)
                return sr
            sr.status = NOT_RUN
            sr.reason = (f"its values ({', '.join(binding.unbound)}) come from step {blocked_by.index}, which cannot run "
                         f"here")
            return sr
        self._execute(proc, step, binding.text, world, places, sr)
        if sr.status == PASSED:
            for exp in step.expected:
                bound = binder.bind(exp.text).text
                mm = compare(bound, exp.kind, _body(sr.stdout), sr.http_status, _no_progress_lines(sr.stderr))
                sr.mismatches += [f"{m} (page line {exp.line})" for m in mm]
        return sr

    def _execute(self, proc: Procedure, step: Step, code: str, world: World, places: dict, sr: StepResult) -> None:
        started = time.monotonic()
        try:
            if step.language == BASH:
                self._bash(step, code, world, places, sr)
            elif step.language == HTTP:
                self._bash(step, http_as_curl(code), world, places, sr)
            elif step.language == TEMPLATE:
                self._template(proc, step, code, world, places, sr)
            elif step.language == PYTHON:
                self._program(step, code, world, places, sr, ["python3"], ".py")
            elif step.language == JAVASCRIPT:
                self._javascript(step, code, world, places, sr)
        except subprocess.TimeoutExpired:
            sr.status, sr.classification = "failed", MILAB_GAP
            sr.reason = f"the step did not finish within {STEP_TIMEOUT} s"
        finally:
            sr.seconds = round(time.monotonic() - started, 3)

    def _bash(self, step: Step, code: str, world: World, places: dict, sr: StepResult) -> None:
        where = step.where
        state_dir = places[where]
        prelude = ""
        if where == VM:
            # the warm guest CLI serves from the host: an isolated guest (own mount and network
            # namespaces) cannot reach it, and runs the pinned CLI itself (the emulator exposes it)
            isolated = os.environ.get("MILAB_GUEST_ISOLATION") == "namespaces"
            guest = self.guest_az if (self.guest_az is not None and not isolated
                                      and re.search(r"\baz\s", code)) else None
            if guest is not None:
                guest.start()
            prelude = azmod.vm_prelude(self.target.name, guest)
        # in the VM: below its TMPDIR (a guest's disk, which goes with the VM; /tmp when unset, as on
        # Azure), not the host's /tmp, which a guest without namespaces shares
        root = ('"${TMPDIR:-/tmp}"/' + shlex.quote(str(state_dir))) if where == VM else shlex.quote(str(state_dir))
        script = SHELL.format(state=f"{root}/state.sh", workdir=root,
                              mark=STATUS_MARK, trace=AZ_TRACE, prelude=prelude, code=code)
        if where == VM:
            vm = world.made.get("vm")
            if vm is None:
                sr.status, sr.classification = "failed", MILAB_GAP
                sr.reason = "the step runs inside a VM, and the procedure has none"
                return
            script = f"export MILAB_STATE_DIR={root}\n" + script
            rc, out, err = self.target.run_in_vm(vm, script)
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
            if self.az is not None and re.search(r"\baz\s", code):
                self.az.ready()
            env = self.az.env() if self.az else dict(os.environ)
            done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL, cwd=str(state_dir))
            rc, out, err = done.returncode, done.stdout, done.stderr
        _judge(sr, rc, out, err)

    def _program(self, step: Step, code: str, world: World, places: dict, sr: StepResult, cmd: list[str],
                 suffix: str) -> None:
        path = places[OPERATOR] / f"step{step.index}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        import sys
        runner = [sys.executable] if cmd == ["python3"] else cmd
        self._bash(replace(step, code=""), " ".join(shlex.quote(c) for c in [*runner, str(path)]), world, places, sr)

    def _javascript(self, step: Step, code: str, world: World, places: dict, sr: StepResult) -> None:
        path = places[OPERATOR] / f"step{step.index}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        node = node_binary()  # the Node 22 infra/ pins, which @azure/cosmos needs
        check = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            sr.status, sr.exit_code, sr.stderr = "failed", check.returncode, check.stderr
            sr.classification, sr.reason = PAGE_DEFECT, "the JavaScript does not parse: " + _first_error(check.stderr)
            return
        modules = sorted(set(re.findall(r"""require\(\s*['"]([^'"]+)['"]""", code)) |
                         set(re.findall(r"""from\s+['"](@azure/[^'"]+)['"]""", code)))
        names = set(re.findall(r"\bnew\s+(CosmosClient|ManagedIdentityCredential|DefaultAzureCredential|"
                               r"BlobServiceClient|SecretClient)\b", code))
        if names and not modules:
            sr.status, sr.classification = NOT_RUN, None
            sr.reason = (f"a snippet: it uses {', '.join(sorted(names))} without importing them (no program to run; "
                         f"it parses)")
            return
        # the guard refuses connections to anything but loopback (the proxy; a guest's own endpoints) and
        # sends an emulated host's name to the emulator: @azure/cosmos takes no proxy, and would otherwise
        # look up and reach the real account's host. milab's environments set NODE_OPTIONS already; it is
        # set again here because a procedure's steps share one shell's variables, and a page may set its own
        self._bash(replace(step, code=""), f"NODE_PATH={shlex.quote(str(NODE_MODULES))} "
                                           f"NODE_OPTIONS={shlex.quote(node_options())} "
                                           f"{shlex.quote(node)} {shlex.quote(str(path))}", world, places, sr)

    def _template(self, proc: Procedure, step: Step, code: str, world: World, places: dict, sr: StepResult) -> None:
        from ..docs.facts import JsonProblem, parse_doc_json
        from .templates import compose
        try:
            doc = parse_doc_json(code)
        except JsonProblem as e:
            sr.status, sr.classification = "failed", PAGE_DEFECT
            sr.reason = f"the template JSON does not parse: {e.message} (line {step.line + e.lineno - 1})"
            return
        if not modelled("Microsoft.Resources/deployments", self.target.name, self.target):
            sr.status = PASSED
            sr.stdout = json.dumps(doc)[:2000]
            sr.reason = "the template parses; template deployments are not served by the emulator yet"
            return
        earlier = world.made.setdefault("template_fragments", [])
        template, parameters = compose(doc, proc, world.binder, earlier)
        earlier.append(doc)
        path = places[OPERATOR] / f"template{step.index}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(template, indent=2))
        args = ["az", "deployment", "group", "create", "-g", world.binder.values["resource_group"],
                "-n", f"{world.binder.values['deployment_name']}{step.index}", "--template-file", str(path)]
        if parameters:
            args += ["--parameters", *[f"{k}={v}" for k, v in parameters.items()]]
        world.group()
        self._bash(replace(step, where=OPERATOR), " ".join(shlex.quote(a) for a in args), world, places, sr)


def _as_on_the_page(reason: str, bindings: dict, binder: Binder) -> str:
    """A reason names what the page wrote (``myResourceGroup``), not the run's unique name for it."""
    for written, role in sorted(bindings.items(), key=lambda kv: -len(str(binder.values.get(kv[1]) or ""))):
        value = binder.values.get(role)
        if value and len(value) >= 6 and value in reason:
            reason = reason.replace(value, written)
    return reason


def _as_the_reader_would(step: Step) -> tuple[str, str | None]:
    """A reader's ``az login`` is the operator's sign-in (made once per worker); ``ssh`` to the VM is
    where the in-VM steps run."""
    code = step.code
    notes = []
    if step.where == OPERATOR and re.search(r"(?m)^\s*az\s+login\s*$", code):
        code = re.sub(r"(?m)^\s*az\s+login\s*$", ": az login: the harness signed in as the operator", code)
        notes.append("'az login' is the harness's sign-in as the operator (az login --service-principal)")
    if re.search(r"(?m)^\s*ssh\s+\S+", code):
        code = re.sub(r"(?m)^\s*ssh\s+.*$", ": ssh: this step runs inside the VM", code)
        notes.append("'ssh' stands for the in-VM context")
    return code, "; ".join(notes) or None


def _judge(sr: StepResult, rc: int, out: str, err: str) -> None:
    statuses = [int(s) for s in re.findall(STATUS_MARK + r"(\d{3})", err) if s.isdigit()]
    az_codes = [int(s) for s in re.findall(AZ_TRACE + r"(\d+)", err)]
    clean_err = re.sub(rf"\n?(?:{STATUS_MARK}\d{{3}}|{AZ_TRACE}\d+)\n?", "\n", err).strip("\n")
    sr.exit_code, sr.stdout, sr.stderr = rc, out, clean_err
    sr.http_status = statuses[-1] if statuses else None
    failed_http = [s for s in statuses if s >= 400 or s == 0]
    failed_az = [c for c in az_codes if c != 0]
    if rc != 0 or failed_http or failed_az:
        sr.status = "failed"
        if failed_http and not sr.reason:
            sr.reason = f"HTTP {failed_http[0]}"
        return
    sr.status = PASSED


def _body(stdout: str) -> str:
    """A response body without the status line and headers ``curl -i`` prints."""
    if stdout.startswith("HTTP/"):
        parts = re.split(r"\r?\n\r?\n", stdout, maxsplit=1)
        return parts[1] if len(parts) > 1 else stdout
    return stdout


def _first_error(text: str) -> str:
    lines = [l for l in text.splitlines() if l.strip()]
    for l in lines:
        if "Error" in l:
            return l.strip()[:200]
    return (lines[-1] if lines else "").strip()[:200]


def http_as_curl(code: str) -> str:
    """A raw HTTP request (``GET url HTTP/1.1``, headers, body) as the curl command that sends it."""
    lines = code.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    m = re.match(r"^(\w+)\s+'?([^'\s]+)'?(?:\s+HTTP/[\d.]+)?(.*)$", first)
    if not m:
        return f": not an HTTP request: {shlex.quote(first)}\nfalse"
    method, url, rest = m.group(1), m.group(2), m.group(3).strip()
    headers, body, in_body = [], [], False
    candidates = ([rest] if rest else []) + lines[1:]
    for line in candidates:
        if in_body:
            body.append(line)
            continue
        hm = re.match(r"^\s*([\w-]+)\s*:\s*(.*)$", line)
        if hm and not line.strip().startswith("{"):
            if hm.group(1).lower() not in ("host", "content-length"):
                headers.append(f"{hm.group(1)}: {hm.group(2).strip()}")
        elif line.strip():
            in_body = True
            body.append(line)
    if "://" not in url:
        host = next((h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("host:")),
                    "management.azure.com")
        url = f"https://{host}{url}"
    cmd = ["curl", "-sS", "-X", method, url] + [a for h in headers for a in ("-H", h)]
    if body:
        cmd += ["--data-binary", "\n".join(body)]
    return " ".join(shlex.quote(c) for c in cmd)


def step_log(result: ProcedureResult) -> str:
    """The per-step log the report shows (redacted)."""
    p = result.procedure
    lines = [f"{p.id}: {p.title}", f"page: {p.page_title} ({Path(p.file).name}:{p.line}-{p.end_line})",
             f"verdict: {result.verdict.one_line()}  [{result.seconds:.2f} s]"]
    if p.given:
        lines.append(f"given (made by the harness): {', '.join(p.given)}")
    lines += [f"note: {n}" for n in result.notes]
    for sr in result.steps:
        st = sr.step
        head = f"step {st.index} [{st.language}@{st.where}] line {st.line}: {sr.status}"
        if sr.exit_code is not None:
            head += f" (exit {sr.exit_code}" + (f", HTTP {sr.http_status}" if sr.http_status else "") + \
                f", {sr.seconds:.2f} s)"
        lines.append(head)
        lines.append("  $ " + (sr.command or st.code).replace("\n", "\n    "))
        if sr.bindings:
            lines.append("  bound: " + ", ".join(f"{k} -> {v}" for k, v in sorted(sr.bindings.items())))
        if sr.note:
            lines.append(f"  note: {sr.note}")
        if sr.reason:
            lines.append(f"  {sr.classification + ': ' if sr.classification else ''}{sr.reason}")
        for m in sr.mismatches:
            lines.append(f"  mismatch: {m}")
        if sr.stdout.strip():
            lines.append("  stdout: " + _clip(sr.stdout))
        if sr.stderr.strip():
            lines.append("  stderr: " + _clip(_no_progress(sr.stderr)))
    return redact.redact("\n".join(lines))


def _no_progress_lines(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if not l.startswith("WARNING: Failed to retrieve image alias doc"))


def _no_progress(text: str) -> str:
    """curl's progress meter (the pages' curl has no -s) says nothing a reader needs."""
    return "\n".join(l for l in text.splitlines()
                     if not re.match(r"^\s*(% Total|Dload|\d+\s+\d+\s+\d+\s+\d+)", l.strip()))


def _clip(text: str, limit: int = 1500) -> str:
    text = redact.redact(text.strip())  # before clipping: a token cut in two is no longer recognisable
    if len(text) > limit:
        text = text[:limit // 2] + f"\n    ... ({len(text) - limit} characters) ...\n" + text[-limit // 2:]
    return text.replace("\n", "\n    ")
