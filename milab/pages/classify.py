"""Why a step failed: the page's fault, or something milab does not reproduce yet.

The emulator answers as Azure does (status, error code, body), so by default a step that fails
against it fails because of what the page wrote: a command the CLI does not know, an image
alias it dropped, a body Azure refuses, a resource the page never created, a role that does not
allow the next step. What is *milab's* gap instead is recognisable: the emulator's proxy
refusing a host it does not emulate, a route it does not serve, a type it only stores
generically (``needs``), an internal error, or a request the network guard stopped.
"""
from __future__ import annotations

import re

from . import catalog
from .model import MILAB_GAP, PAGE_DEFECT

# (pattern over stderr+stdout, reason) -- the page's fault, whatever the target
PAGE_PATTERNS: list[tuple[re.Pattern, str]] = [(re.compile(p, re.I | re.M), r) for p, r in [
    (r"^bash: line \d+: syntax error|syntax error near unexpected token|unexpected EOF while looking for matching",
     "the shell code does not parse"),
    (r"^bash: line \d+: ([^:\n]+): command not found", "the shell runs '{0}', which is not a command"),
    (r"(?:ERROR: )?'([^'\n]+)' is misspelled or not recognized by the system",
     "the Azure CLI does not recognize the command ('{0}' is misspelled or not recognized: a subcommand that does "
     "not exist, or a value where it expects one)"),
    (r"AAZInvalidValueError: ([^\n]+)", "the Azure CLI refuses the command's value: {0}"),
    (r"az: '([\w-]+)' is not in the '([\w -]+)' command group", "the Azure CLI has no command '{1} {0}'"),
    (r"the following arguments are required: ([^\n]+)", "the command lacks required arguments: {0}"),
    (r"unrecognized arguments: ([^\n]+)", "the Azure CLI does not know the arguments {0}"),
    (r"argument ([-\w/ ]+): expected one argument", "the argument {0} has no value"),
    (r"Invalid image \"?([^\".\n]+)\"?", "the image alias '{0}' is not one the Azure CLI knows"),
    (r"The Resource 'Microsoft\.Compute/images/([^']+)' under resource group",
     "the image '{0}' is no alias the Azure CLI knows any more (so it looked for a custom image of that name)"),
    (r"The password length must be between|Password must have the 3 of the following",
     "the password does not meet Azure's rules"),
    (r"(?:ERROR: )?usage error: ([^\n]+)", "usage error: {0}"),
    (r"The value of the parameter --set is invalid|Couldn't find '([^']+)' in '([^']+)'",
     "the generic --set/--remove path does not exist on the resource"),
]]

# emulator or harness limits: milab's gap
GAP_PATTERNS: list[tuple[re.Pattern, str]] = [(re.compile(p, re.I | re.M), r) for p, r in [
    (r"milab proxy: (\S+?):\d+ is not an emulated Azure endpoint", "the emulator does not serve {0}"),
    (r"milab emulates no service at '([^']+)'", "the emulator serves no service at {0}"),
    (r"HostNotEmulated", "the emulator serves no service at that host"),
    (r"CONNECT tunnel failed, response 403", "the emulator's proxy refused the host{host} (not emulated)"),
    (r"The emulator failed to process the request|InternalServerError", "the emulator failed (internal error)"),
    (r"not supported by the emulator", "the emulator does not support it yet"),
    (r"Operation returned an invalid status '([^']+)'",
     "the emulator answered '{0}', a status the Azure CLI's SDK does not accept for this operation"),
    (r"The resource path '([^']+)' is not supported", "the emulator does not route {0}"),
    (r"milab netguard: (?:connection to|name lookup of) '?([^' :]+)", "the step tries to reach {0} beyond the emulator"),
    (r"The command failed with an unexpected error\. Here is the traceback:(?:.|\n)*?\n(\w+(?:\.\w+)*: [^\n]+)\n"
     r"To check existing", "the Azure CLI crashed on the emulator's answer: {0}"),
    (r"Failed to connect to localhost port 50342|localhost:50342.*(refused|Connection)",
     "the VM extension endpoint (localhost:50342) is not emulated"),
]]


FILTER_BY_NAME = "ARM's $filter=name eq '...' on /resources"
_CAPABILITIES: dict[tuple[int, str], bool] = {}


def probe_capability(target, what: str) -> bool:
    """Does the target do this (checked once per target)? ``az resource list -n NAME`` relies on ARM
    filtering ``/resources`` by name; an emulator that ignores the filter lists everything."""
    key = (id(target), what)
    if key not in _CAPABILITIES:
        ok = True
        if what == FILTER_BY_NAME:
            try:
                found = list(target.resources.resources.list(filter="name eq 'milab-no-such-resource-name'"))
                ok = not found
            except Exception:
                ok = False
        else:  # a host: served unless the emulator's proxy says it emulates no service there
            ok = _host_served(target, what)
        _CAPABILITIES[key] = ok
    return _CAPABILITIES[key]


def _host_served(target, host: str) -> bool:
    import requests
    env = getattr(target, "env", None) or {}
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy")
    if not proxy:
        return False
    try:
        r = requests.get(f"https://{host}/", proxies={"https": proxy}, timeout=15,
                         verify=env.get("REQUESTS_CA_BUNDLE") or True)
    except requests.RequestException:
        return False
    return "HostNotEmulated" not in r.text[:2000]


def service_of_command(code: str) -> list[str]:
    """Resource types (or services) a step's Azure CLI commands need the emulator to model."""
    needs = []
    table = [
        (r"\baz\s+cosmosdb\b", catalog.COSMOS), (r"\baz\s+keyvault\b", catalog.KEY_VAULT),
        (r"\baz\s+container\s+(create|show)\b", catalog.ACI), (r"\baz\s+(webapp|appservice)\b", catalog.WEB),
        (r"\baz\s+sql\b", catalog.SQL), (r"\baz\s+ad\b", catalog.GRAPH),
        (r"\baz\s+(deployment\s|vm\s+create\b|vmss\s+create\b)", catalog.DEPLOYMENTS),
        (r"https://graph\.microsoft\.com", "graph.microsoft.com"), (r"https://graph\.windows\.net", "graph.windows.net"),
        (r"\.azuredatalakestore\.net", "Microsoft.DataLakeStore/accounts"),
        (r"/providers/Microsoft\.DocumentDB/", catalog.COSMOS), (r"\.documents\.azure\.com", catalog.COSMOS),
        (r"/providers/Microsoft\.KeyVault/|\.vault\.azure\.net", catalog.KEY_VAULT),
        (r"localhost:50342", "localhost:50342"),
        (r"\baz\s+resource\s+list\b[^\n]*\s(-n|--name)\s", FILTER_BY_NAME),
    ]
    for pat, what in table:
        if re.search(pat, code, re.I) and what not in needs:
            needs.append(what)
    return needs


def modelled(what: str, target_name: str, target=None) -> bool:
    """Does the target reproduce this type or service? Azure does; the emulator, what it models."""
    if target_name != "emulator":
        return True
    if what == FILTER_BY_NAME:
        return target is not None and probe_capability(target, what)
    if "/" in what and what.split("/", 1)[0].startswith("Microsoft."):
        from ..cloud.arm import catalog as arm_catalog
        return arm_catalog.is_known(what)
    if re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", what) and target is not None:
        return probe_capability(target, what)  # a host: does the emulator serve it?
    return False  # what the emulator does not serve (the retired VM extension at localhost:50342)


def diagnose_code(code: str) -> str | None:
    """A defect visible in the step's own code that explains how it failed."""
    if re.search(r"[^\s`]\s+`\s*$", code, re.M):
        return ("the bash block continues its lines with PowerShell's backtick (`) instead of a backslash, "
                "so bash runs each line as a separate command")
    m = re.search(r"(?m)^\s*([A-Za-z_]\w*)\s+=\s+\S", code)
    if m:
        return f"bash assignments take no spaces around '=': '{m.group(0).strip()[:60]}' runs a command '{m.group(1)}'"
    return None


def classify(output: str, *, needs_missing: list[str] | None = None, code: str = "") -> tuple[str, str]:
    """(page-defect or milab-gap, reason) for a failed step's output."""
    why = diagnose_code(code) if code else None
    if why and any(p.search(output) for p, _ in PAGE_PATTERNS[:2]):
        return PAGE_DEFECT, why
    for pat, reason in PAGE_PATTERNS:  # client-side failures: nothing was sent, whatever the emulator models
        m = pat.search(output)
        if m:
            return PAGE_DEFECT, _fmt(reason, m)
    detail = next((_fmt(r, m) for p, r in GAP_PATTERNS if (m := p.search(output))), None)
    if detail and "{host}" in detail:  # name the host the step's own URL reaches
        hosts = re.findall(r"https://([A-Za-z0-9.-]+)", code)
        detail = detail.replace("{host}", f" {hosts[-1]}" if hosts else "")
    if needs_missing:
        return MILAB_GAP, (f"the emulator does not model {', '.join(needs_missing)} yet"
                           + (f" ({detail})" if detail else ""))
    if detail:
        return MILAB_GAP, detail
    code = arm_error_code(output)
    if code:
        return PAGE_DEFECT, f"Azure refuses the request: {code}"
    said = re.search(r"^(?:ERROR|error|Error): (.+)$", output, re.M)  # the tool's own words, when it says why
    if said:
        return PAGE_DEFECT, f"the step fails as written: {said.group(1).strip()[:300]}"
    return PAGE_DEFECT, "the step fails as written"


_VALUE_DEPENDENT = re.compile(r"unrecognized arguments|expected one argument|the following arguments are required")


def value_dependent(output: str) -> bool:
    """A client-side failure that an earlier step's printed value can cause (an empty or doubled $var)."""
    return bool(_VALUE_DEPENDENT.search(output))


def client_side(output: str) -> bool:
    """Did the command fail before sending anything (a parse error, an unknown command or alias)?"""
    return any(p.search(output) for p, _ in PAGE_PATTERNS)


_ARM_CODE = re.compile(r'\((?P<code>[A-Z][A-Za-z]+)\)|"code"\s*:\s*"(?P<jcode>[A-Za-z]+)"|Code: (?P<ccode>[A-Za-z]+)')


def arm_error_code(output: str) -> str | None:
    m = _ARM_CODE.search(output)
    if not m:
        return None
    return m.group("code") or m.group("jcode") or m.group("ccode")


def _fmt(reason: str, m: re.Match) -> str:
    groups = [(g or "").strip() for g in m.groups()]
    try:
        return reason.format(*groups)
    except (IndexError, KeyError):
        return reason
