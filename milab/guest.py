"""In-VM steps: an HTTP request rendered as the guest's own tool would make it.

A Linux guest runs ``curl`` in bash, a Windows guest ``Invoke-WebRequest`` in
PowerShell, as the tutorials do. The rendered script prints the response body and a
last line ``milab-status:<code>``, which :func:`parse_output` reads back, so the same
step runs through Run Command on Azure and in a VM context on the emulator.

Windows scripts also declare their step as JSON in a comment. On a machine without
PowerShell (this project's CI), the emulator's Windows guest runs that declared step
with Python's standard library (``python -m milab.guest --run-declared-steps``), sending the same
request.

A :class:`PythonStep` runs a small Python program in the guest (an SDK step, e.g.
azure-storage-blob with the VM's identity): ``python3`` in bash, ``python`` in PowerShell,
the code passed base64-encoded so no shell quoting can alter it. Its exit code is the
step's status line. Windows scripts declare it as ``# milab-python: {...}`` for the
stand-in, which runs it with its own interpreter.
"""
from __future__ import annotations

import argparse
import base64
import json
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

STATUS_MARK = "milab-status:"
STEP_MARK = "# milab-step: "
PYTHON_MARK = "# milab-python: "


HEADER_MARK = "milab-header:"


def _redacted_repr(obj: Any) -> str:
    """The dataclass repr with secrets masked, so pytest's failure output (which truncates reprs,
    cutting a token where no pattern finds it) never shows a token, key or signature."""
    from milab.redact import redact
    fields = ", ".join(f"{f}={getattr(obj, f)!r}" for f in obj.__dataclass_fields__)
    return redact(f"{type(obj).__name__}({fields})")


@dataclass(repr=False)
class HttpStep:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # redirects to follow: None is the tool's default (curl follows none, Invoke-WebRequest up to
    # five); 0 none, as `-MaximumRedirection 0` on the Windows Data Lake page
    max_redirects: int | None = None
    show_headers: tuple[str, ...] = ()  # response headers to report back (e.g. Location)

    __repr__ = _redacted_repr

    def to_json(self) -> str:
        doc = {"method": self.method, "url": self.url, "headers": self.headers, "body": self.body}
        if self.max_redirects is not None:
            doc["max_redirects"] = self.max_redirects
        if self.show_headers:
            doc["show_headers"] = list(self.show_headers)
        return json.dumps(doc)


@dataclass(repr=False)
class HttpResult:
    status: int
    body: str
    step: HttpStep | None = None
    stderr: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # those the step asked to show

    __repr__ = _redacted_repr

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"response to {self.step.method if self.step else ''} "
                                 f"{self.step.url if self.step else ''} is not JSON "
                                 f"(status {self.status}): {self.body[:300]!r}") from None

    def error_code(self) -> str | None:
        """The error code of an Azure error body: ARM's error.code, or IMDS/Entra's error."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(doc, dict):
            err = doc.get("error")
            if isinstance(err, dict):
                return err.get("code")
            if isinstance(err, str):
                return err
            if "code" in doc:
                return doc.get("code")
        return None


def render_bash(step: HttpStep) -> str:
    parts = ["curl", "-sS", "-X", step.method, shlex.quote(step.url)]
    for k, v in step.headers.items():
        parts += ["-H", shlex.quote(f"{k}: {v}")]
    if step.body is not None:
        parts += ["--data-binary", shlex.quote(step.body)]
    if step.max_redirects:
        parts += ["-L", "--max-redirs", str(step.max_redirects)]
    shown = "".join(f"\\n{HEADER_MARK}{h}:%header{{{h.lower()}}}" for h in step.show_headers)
    parts += ["-w", shlex.quote(shown + "\\n" + STATUS_MARK + "%{http_code}\\n")]
    return " ".join(parts) + "\n"


def _ps_quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def render_powershell(step: HttpStep) -> str:
    headers = "; ".join(f"{_ps_quote(k)}={_ps_quote(v)}" for k, v in step.headers.items()
                        if k.lower() != "content-type")
    ctype = next((v for k, v in step.headers.items() if k.lower() == "content-type"), None)
    args = f"-UseBasicParsing -Uri {_ps_quote(step.url)} -Method {step.method} -Headers @{{{headers}}}"
    if ctype:
        args += f" -ContentType {_ps_quote(ctype)}"
    if step.body is not None:
        args += f" -Body {_ps_quote(step.body)}"
    if step.max_redirects is not None:
        args += f" -MaximumRedirection {step.max_redirects}"
    shown = [f"Write-Output \"{HEADER_MARK}{h}:$($headers[{_ps_quote(h)}])\"" for h in step.show_headers]
    return "\n".join([
        STEP_MARK + step.to_json(),
        "$ProgressPreference = 'SilentlyContinue'",
        "try {",
        f"  $response = Invoke-WebRequest {args}",
        "  $status = [int]$response.StatusCode; $content = $response.Content; $headers = $response.Headers",
        "} catch {",
        "  $failed = $_.Exception.Response",
        "  if ($null -eq $failed) { throw }",
        "  $status = [int]$failed.StatusCode; $headers = $failed.Headers",
        "  $content = $_.ErrorDetails.Message",
        "  if (-not $content) { $content = (New-Object System.IO.StreamReader($failed.GetResponseStream())).ReadToEnd() }",
        "}",
        "Write-Output $content",
        *shown,
        f"Write-Output \"{STATUS_MARK}$status\"",
        "",
    ])


def render(step: HttpStep, os_name: str) -> str:
    return render_powershell(step) if os_name.lower() == "windows" else render_bash(step)


@dataclass
class PythonStep:
    code: str
    packages: tuple[str, ...] = ("azure-storage-blob", "azure-identity")  # installed when missing

    def to_json(self) -> str:
        return json.dumps({"code": self.code, "packages": list(self.packages)})

    def payload(self) -> str:
        return base64.b64encode(self.code.encode()).decode()


def render_python(step: PythonStep, os_name: str, prefer: str | None = None) -> str:
    """The guest script of a Python step. ``prefer`` is an interpreter to use when the guest has
    it (the emulated guests share the harness's machine and its virtual environment). One start of
    the interpreter: the step's packages are imported first, and installed (``pip install --user``)
    only when that fails, as on a VM that lacks them."""
    launcher = _launcher(step)
    if os_name.lower() == "windows":
        lines = [PYTHON_MARK + step.to_json(), "$py = 'python'"]
        if prefer:
            lines.append(f"if (Test-Path {_ps_quote(prefer)}) {{ $py = {_ps_quote(prefer)} }}")
        lines += [f"& $py -c {_ps_quote(launcher)}",
                  f"Write-Output \"{STATUS_MARK}$LASTEXITCODE\"", ""]
        return "\n".join(lines)
    lines = ["PY=python3"]
    if prefer:
        lines.append(f"[ -x {shlex.quote(prefer)} ] && PY={shlex.quote(prefer)}")
    lines += [f"\"$PY\" -c {shlex.quote(launcher)}",
              f"echo \"\n{STATUS_MARK}$?\"", ""]
    return "\n".join(lines)


def _launcher(step: PythonStep) -> str:
    """The ``python -c`` program that runs the step's code unaltered (base64 keeps every quote):
    its packages imported, or installed when the VM lacks them (pip's output on stderr)."""
    lines = ["import base64, sys"]
    modules = _modules(step.packages)
    if modules:
        lines += ["try:", *(f"    import {m}" for m in modules),
                  "except ImportError:",
                  "    import importlib, site, subprocess",
                  f"    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--user', "
                  f"{', '.join(repr(p) for p in step.packages)}], stdout=sys.stderr)",
                  "    site.addsitedir(site.getusersitepackages())",
                  "    importlib.invalidate_caches()"]
    lines.append(f"exec(base64.b64decode('{step.payload()}').decode())")
    return "\n".join(lines)


_MODULES = {"azure-storage-file-datalake": "azure.storage.filedatalake", "mssql-python": "mssql_python"}  # where the name does not say it


def _modules(packages) -> list[str]:
    return [_MODULES.get(p, p.replace("-", ".")) for p in packages]


def parse_output(stdout: str, step: HttpStep | None = None, stderr: str = "") -> HttpResult:
    text = stdout.rstrip("\n")
    idx = text.rfind(STATUS_MARK)
    if idx < 0:
        raise AssertionError(f"the in-VM step printed no status line; stdout={stdout[-500:]!r} "
                             f"stderr={stderr[-500:]!r}")
    status_txt = text[idx + len(STATUS_MARK):].strip().split()[0] if text[idx + len(STATUS_MARK):].strip() else ""
    body = text[:idx]
    if body.endswith("\n"):
        body = body[:-1]
    try:
        status = int(status_txt)
    except ValueError:
        raise AssertionError(f"unreadable status line {text[idx:]!r}") from None
    headers: dict[str, str] = {}
    if step is not None and step.show_headers:
        kept = []
        for line in body.split("\n"):
            if line.startswith(HEADER_MARK):
                name, _, value = line[len(HEADER_MARK):].partition(":")
                headers[name] = value.rstrip("\r")
            else:
                kept.append(line)
        body = "\n".join(kept)
    return HttpResult(status=status, body=body.strip("\r\n") if body.strip() else body, step=step, stderr=stderr,
                      headers=headers)


def _send(method: str, url: str, headers: dict, body: bytes | None, max_redirects: int | None,
          timeout: float = 60) -> tuple[int, str, dict]:
    """One request as the stand-in sends it, with the standard library only (a guest run starts a
    fresh interpreter for every step; ``requests`` costs it a tenth of a second to import): the
    proxy and its credentials from ``HTTPS_PROXY``/``HTTP_PROXY``, the CA bundle from
    ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``, redirects followed as ``requests`` follows them
    (307 and 308 keep the method and the body; ``max_redirects=0`` follows none), and every
    status an answer, not an exception. Returns (status, text, headers)."""
    import os
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request

    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or None
    context = ssl.create_default_context(cafile=cafile)

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = 30 if max_redirects is None else max_redirects

        def redirect_request(self, req, fp, code, msg, hdrs, newurl):
            if self.max_redirections == 0:
                return None  # the 3xx is the answer
            if code in (307, 308):  # the same method and body, to the new place
                new = urllib.request.Request(newurl, data=req.data, headers=dict(req.header_items()),
                                             method=req.get_method())
            else:
                new = super().redirect_request(req, fp, code, msg, hdrs, newurl)
            if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
                new.remove_header("Authorization")  # as requests does: a credential stays with its host
            return new

    opener = urllib.request.build_opener(urllib.request.ProxyHandler(), Redirects(),
                                         urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as e:  # a 4xx, 5xx or an unfollowed 3xx: an answer like any other
        response = e
    with response:
        raw = response.read()
        charset = response.headers.get_content_charset() or "utf-8"
        return response.status if hasattr(response, "status") else response.code, \
            raw.decode(charset, "replace"), dict(response.headers.items())


def _run_declared_steps(script: str) -> int:
    """The Windows stand-in: send each declared step, print like the PowerShell would."""
    steps = []
    for line in script.splitlines():
        if line.startswith(STEP_MARK):
            steps.append(json.loads(line[len(STEP_MARK):]))
        elif line.startswith(PYTHON_MARK):
            steps.append({"python": json.loads(line[len(PYTHON_MARK):])})
    if not steps:
        print("milab guest: this Windows script declares no step and PowerShell is not installed here; "
              "only declared HTTP steps can run on an emulated Windows guest.", file=sys.stderr)
        return 2
    for s in steps:
        if "python" in s:
            import subprocess
            done = subprocess.run([sys.executable, "-c", s["python"]["code"]], capture_output=True, text=True)
            sys.stderr.write(done.stderr)
            print(done.stdout.rstrip("\n"))
            print(f"{STATUS_MARK}{done.returncode}")
            continue
        try:
            status, text, headers = _send(s["method"], s["url"], s.get("headers") or {},
                                          s.get("body").encode() if s.get("body") is not None else None,
                                          s.get("max_redirects"))
        except (OSError, ValueError) as e:  # no connection, TLS, a bad URL: Invoke-WebRequest throws
            print(f"Invoke-WebRequest : {e}", file=sys.stderr)
            return 1
        print(text)
        wanted = {k.lower(): v for k, v in headers.items()}
        for h in s.get("show_headers") or ():
            print(f"{HEADER_MARK}{h}:{wanted.get(h.lower(), '')}")
        print(f"{STATUS_MARK}{status}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m milab.guest")
    p.add_argument("--run-declared-steps", metavar="SCRIPT", required=True)
    a = p.parse_args(argv)
    return _run_declared_steps(a.run_declared_steps)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
