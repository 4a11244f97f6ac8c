"""The facts a scenario depends on, read from the page it reproduces.

A scenario runs with the facts of its registry entry (:mod:`milab.registry`). For the docs
gate to test a changed page, every one of those facts must come from the page: the role and
where it is granted, the IMDS request, the ARM request and its api-version, the request body,
the blob's name and content, the secret, the documented response ... :func:`read` returns
what the page states, for each key of the tutorial's facts:

* a value (and the line it is on): compared with the registry by DRIFT001, and passed to the
  scenario by ``milab docs check --run``;
* ``UNREAD``: the key is a page fact but the page does not state it in a way milab can read
  (DRIFT002: never a silent fallback to the registry);
* nothing, for keys that are not page facts (:data:`NOT_PAGE_FACTS`: milab's own choices, such
  as what a vault answers today) and for documented responses a page does not show
  (:data:`OUTPUT_KEYS`: the scenario checks the service's answer either way).

Each extractor is a function of the page's facts, registered by key with :func:`reads`; a key
that has no extractor is reported in the "not checked" section (milab cannot read it yet).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote

from . import facts as F


class _Unread:
    def __repr__(self) -> str:
        return "<not on the page>"


UNREAD = _Unread()

#: keys that are not facts of the page: milab's own choices, with the reason
NOT_PAGE_FACTS: dict[str, str] = {
    "recovery_level": "what a vault with the default retention answers today, not what the page shows",
    "writer_role": "the role milab uses to write the test secret, not a step of the page",
    # milab's bookkeeping of a procedure (milab/procedures.py): where it is, how milab runs it
    "procedure": "milab's id of the procedure", "pivot": "the pivot the procedure is in",
    "how": "how milab reproduces the procedure", "seed_lines": "where the procedure is in the seed",
    "step": "milab's name of the step", "page_defect": "milab's note of a defect of the page",
    "page_ungranted": "milab's note of a role the page never grants (rule DENY002)",
}

#: (tutorial key or family, fact key) -> why this page does not state the fact
NOT_ON_THIS_PAGE: dict[tuple[str, str], str] = {
    ("key_vault_rbac", "role"): "the 2019 Key Vault pages grant access with an access policy; the RBAC variant's "
                                "role comes from the current Key Vault page",
    ("key_vault_rbac", "role_scope"): "the 2019 Key Vault pages grant access with an access policy",
    ("key_vault_rbac", "model"): "the RBAC variant reproduces the current Key Vault model, not this page's",
    ("other_hosts", "role"): "the Bicep procedures create the host and its identity; the role the scenario then "
                             "grants is its own example, the page grants none",
    ("cosmos_rbac", "os"): "the page's VM may be Windows or Linux (it links both quickstarts); the scenario runs "
                           "Linux",
    ("cosmos_rbac", "role"): "the page grants no Azure role (DENY002 reports it); DocumentDB Account Contributor "
                             "is the role the scenario grants so that the page's program can run",
    ("cosmos_rbac", "role_scope"): "the page grants no Azure role (DENY002 reports it)",
    ("ua_identity_crud[overview-shared]", "role"): "the overview describes a grant in general; Reader is the "
                                                   "scenario's example",
    ("ua_identity_crud[portal-role]", "role"): "the page lets the reader choose 'the role to assign'; the "
                                               "scenario's role is its example",
}

#: keys that describe a documented response: compared when the page shows the response
OUTPUT_KEYS = {"expected_keys", "expected_provisioning_state", "response_fields", "imds_response_fields",
               "attribute_fields", "page_recovery_level", "response_keys", "key_names", "key_permissions",
               "response_key", "sas_version", "storage_headers"}

#: keys compared as "every value the scenario checks is on the page" (the page may show more)
SUBSET_KEYS = {"response_fields", "imds_response_fields", "attribute_fields", "expected_keys", "response_keys"}

Extractor = Callable[["Reader"], "tuple[Any, int] | None"]
EXTRACTORS: dict[str, Extractor] = {}


def reads(*keys: str):
    def deco(fn):
        for k in keys:
            EXTRACTORS[k] = fn
        return fn
    return deco


class Reader:
    """What one tutorial's extractors share: the page's facts and the registry's values."""

    def __init__(self, tutorial, facts: F.PageFacts):
        self.tutorial = tutorial
        self.want = tutorial.facts
        self.facts = facts
        self.page = facts.page
        self.key = ""

    # -- helpers -------------------------------------------------------------------------
    def prose(self):
        return self.page.prose

    def imds_call(self):
        calls = [c for c in self.facts.imds_calls if "/metadata/identity/" in c.path]
        own = [c for c in calls if c.source != "code"] or calls
        want = str(self.want.get("imds_resource") or "").rstrip("/")
        return next((c for c in own if want and _res(c).rstrip("/") == want), None) or \
            next((c for c in own if c.query.get("resource")), own[0] if own else None)

    def arm_calls(self):
        want = str(self.want.get("arm_path") or "")
        shape = _shape(want)
        if not shape:
            return []
        exact = [c for c in self.facts.arm_calls if _shape(c.path) == shape]
        # a path with a placeholder where the scenario has a name ('.../<KEY OPERATION TYPE>?...')
        # is the page's call when the prose before it offers that name ('use `listKeys`')
        return exact or [c for c in self.facts.arm_calls
                         if _placeholder_shape_match(c.path, want, {o.lower() for o in offered(self.page, c.line)})]

    def outputs_after(self, line: int, within: int = 60):
        return [(ln, d) for ln, d in self.facts.outputs if line < ln <= line + within]

    def text_lines(self):
        """Prose and code lines of the page, in order: (line, text)."""
        out = [(t.line, t.text) for t in self.page.prose]
        for b in self.page.code_blocks:
            out += [(b.line_of(i), l) for i, l in enumerate(b.lines)]
        return sorted(out)


def _res(c) -> str:
    return unquote(c.query.get("resource", ""))


def _placeholder_shape_match(page_path: str, want_path: str, choices: set[str]) -> bool:
    page = [x for x in page_path.split("?")[0].split("/") if x]
    want = [x for x in want_path.split("?")[0].split("/") if x]
    if len(page) != len(want) or not choices:
        return False
    bound = False
    for i, (a, b) in enumerate(zip(page, want)):
        if i % 2 or a.lower() == b.lower():
            continue
        if F.PLACEHOLDER.fullmatch(a) and b.lower() in choices:
            bound = True
            continue
        return False
    return bound


def _shape(path: str) -> str:
    segs = [s for s in path.split("?")[0].split("/") if s]
    return "/".join(s.lower() if i % 2 == 0 else "*" for i, s in enumerate(segs))


def read(tutorial, facts: F.PageFacts) -> dict[str, Any]:
    """key -> (value, line) for what the page states, ``UNREAD`` for page facts it does not
    state, ``None`` for keys milab cannot read at all (no extractor); keys that are not page
    facts are left out."""
    r = Reader(tutorial, facts)
    out: dict[str, Any] = {}
    for key in tutorial.facts:
        if key in NOT_PAGE_FACTS or (tutorial.key, key) in NOT_ON_THIS_PAGE or \
                (tutorial.family, key) in NOT_ON_THIS_PAGE:
            continue
        fn = EXTRACTORS.get(key)
        if fn is None:
            out[key] = None
            continue
        r.key = key
        got = fn(r)
        if got is None:
            if key not in OUTPUT_KEYS:
                out[key] = UNREAD
            continue
        out[key] = got
    return out


def not_read_reason(tutorial, key: str) -> str | None:
    return NOT_PAGE_FACTS.get(key) or NOT_ON_THIS_PAGE.get((tutorial.key, key)) or \
        NOT_ON_THIS_PAGE.get((tutorial.family, key))


def same(key: str, page_value: Any, expected: Any) -> bool:
    """Does the page's value agree with the registry's?"""
    a, b = page_value, expected
    if key in SUBSET_KEYS and isinstance(a, list) and isinstance(b, list):
        return {str(x).lower() for x in b} <= {str(x).lower() for x in a}
    if isinstance(a, str) and isinstance(b, str):
        if key.endswith(("resource", "url")):
            return a == b  # the trailing slash of a resource matters to Entra
        return a.strip().lower() == b.strip().lower()
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if key == "errors":
            return set(a) == set(b)
        if key == "request_body":
            return _body_same(a, b)
        return {k.lower(): str(v).lower() for k, v in a.items()} == {k.lower(): str(v).lower() for k, v in b.items()}
    return a == b


def _body_same(page: dict, reg: dict) -> bool:
    """A request body: the same keys; fixed values equal (placeholders and {templates} match anything)."""
    if {k.lower() for k in page} != {k.lower() for k in reg}:
        return False
    low = {k.lower(): v for k, v in page.items()}
    for k, v in reg.items():
        pv, rv = str(low[k.lower()]), str(v)
        if "{" in rv or "<" in pv or "<" in rv:
            continue
        if k.lower() == "signedexpiry":
            continue  # a time the reader chooses
        if pv != rv:
            return False
    return True


# ============================================================== extractors

@reads("os")
def _os(r: Reader):
    t = r.page.title.lower()
    if "windows" in t and "linux" not in t:
        return "windows", r.page.line
    if "linux" in t and "windows" not in t:
        return "linux", r.page.line
    return None


def _identity_in(text: str) -> str | None:
    t = text.lower()
    user = "user-assigned" in t or "user assigned" in t
    system = "system-assigned" in t or "system assigned" in t
    return None if user == system else ("user" if user else "system")


@reads("identity")
def _identity(r: Reader):
    """The page's title, else its first heading (a Learn file's front-matter title can be shorter
    than its H1), else the description; a page about both kinds states the variant's kind in a
    heading of its own ('Create a VM with a user-assigned managed identity')."""
    kind = _identity_in(r.page.title)
    if kind:
        return kind, r.page.line
    h1 = next((h for h in r.page.headings if h.level == 1), None)
    if h1 is not None and _identity_in(h1.text):
        return _identity_in(h1.text), h1.line
    kind = _identity_in(r.page.front_matter.get("description", ""))
    if kind:
        return kind, r.page.line
    want = r.want.get("identity")
    for h in r.page.headings:
        if h.level > 1 and _identity_in(h.text) == want:
            return want, h.line
    return None


@reads("imds_url")
def _imds_url(r: Reader):
    c = r.imds_call()
    if c is None:
        return None
    p = c.parts
    return f"{p.scheme}://{p.netloc}{p.path}", c.line


@reads("imds_api_version")
def _imds_api(r: Reader):
    calls = [c for c in r.facts.imds_calls if "/metadata/identity/" in c.path and c.api_version]
    if not calls:
        return None
    want = r.want.get("imds_api_version")
    hit = next((c for c in calls if c.api_version == want), calls[0])
    return hit.api_version, hit.line


@reads("imds_resource")
def _imds_resource(r: Reader):
    c = r.imds_call()
    if c is None or not c.query.get("resource"):
        return None
    res = _res(c)
    if re.search(r"[<{$]", res):
        return None
    return res, c.line


@reads("imds_headers")
def _imds_headers(r: Reader):
    c = r.imds_call()
    if c is None:
        return None
    if (c.header("Metadata") or "").lower() == "true":
        return {"Metadata": "true"}, c.line
    return {}, c.line


@reads("imds_selector")
def _imds_selector(r: Reader):
    c = r.imds_call()
    if c is None:
        return None
    sel = next((k for k in ("client_id", "object_id", "mi_res_id", "msi_res_id") if k in c.query), None)
    return sel, c.line


@reads("selectors")
def _selectors(r: Reader):
    text = "\n".join(t.text for t in r.page.prose) + "\n".join(b.text for b in r.page.code_blocks)
    present = [s for s in ("object_id", "client_id", "mi_res_id", "msi_res_id") if s in text]
    if not present:
        return None
    want = r.want.get("selectors") or []
    return ([s for s in want if s in present] if set(want) <= set(present) else present), r.page.line


# -- roles -------------------------------------------------------------------------------

_PORTAL_ROLE = re.compile(r"\*\*Role\*\*[^.\n]{0,60}?(?:\*\*|\")(?P<name>[A-Za-z][^*\"\n]{1,80}?)(?:\*\*|\")")


_ROLE_WORDS = re.compile(r"\b(Reader|Contributor|Owner|Administrator|Operator|Role|User|Officer|Delegator)\b")
_PROSE_GRANT = re.compile(r"\b(?:grant|give|assign)\b[^.]{0,40}?\*\*(?P<name>[^*]+)\*\*\s+(?:access|role)\b", re.I)


def _role_name(name: str) -> bool:
    from . import knowledge as K
    return bool(K.role_by_name(name) or K.cosmos_role_by_name(name)) or \
        (bool(_ROLE_WORDS.search(name)) and len(name.split()) <= 7)


def portal_roles(page) -> list[tuple[str, int]]:
    """Roles a portal step selects: 'Choose **Role** as **Reader**', 'Under **Role** ... select
    **Storage Blob Data Reader**', 'Set **Role** to "Storage Account Contributor"', the portal
    blade's text the export kept ('Role' and then 'Reader'), and 'give your VM **Reader** access'."""
    from . import knowledge as K
    out = []
    prose = [t for t in page.prose if t.text.strip()]
    for n, t in enumerate(prose):
        for m in _PORTAL_ROLE.finditer(t.text):
            name = m["name"].strip()
            if _role_name(name):
                out.append((name, t.line))
        for m in _PROSE_GRANT.finditer(t.text):
            if K.role_by_name(m["name"].strip()):
                out.append((m["name"].strip(), t.line))
        if re.fullmatch(r"\s*Role(\s*ⓘ)?\s*", t.text) and n + 1 < len(prose) and \
                K.role_by_name(prose[n + 1].text.strip()):
            out.append((prose[n + 1].text.strip(), prose[n + 1].line))
    return out


def granted_roles(facts: F.PageFacts) -> list[tuple[str, int, str | None]]:
    """(role name, line, scope or None) of every role the page assigns (commands and portal steps)."""
    from . import knowledge as K
    out = []
    for ref in facts.roles:
        if ref.kind != "rbac" or not (ref.command or ref.source in ("output", "template")):
            continue
        name = ref.name or (K.role_by_id(ref.id) if ref.id else None)
        if name and "<" not in name and "$" not in name:
            out.append((name, ref.line, _scope_of(facts, ref.line)))
        elif name and ref.command and F.PLACEHOLDER.search(name):
            # --role '<ROLE NAME>' after prose offering the roles: 'Assign the `DocumentDB Account
            # Contributor` role ..., or assign the `Cosmos DB Account Reader Role` role ...'
            for choice in _roles_offered(facts.page, ref.line):
                out.append((choice, ref.line, _scope_of(facts, ref.line)))
    for name, line in portal_roles(facts.page):
        out.append((name, line, None))
    return out


def offered(page, line: int, within: int = 15) -> list[str]:
    """What the prose just before ``line`` offers in backticks, for a placeholder the step then uses:
    'use `listKeys` for read/write keys, `readonlykeys` for read-only ones', 'assign the `DocumentDB
    Account Contributor` role ... or the `Cosmos DB Account Reader Role` role'."""
    text = " ".join(t.text for t in page.prose if line - within <= t.line < line)
    return [m.strip() for m in re.findall(r"`([^`<>]{2,80})`", text)]


def _roles_offered(page, line: int) -> list[str]:
    from . import knowledge as K
    return [m for m in offered(page, line) if K.role_by_name(m)]


def _scope_of(facts: F.PageFacts, line: int) -> str | None:
    for c in facts.commands:
        if c.line == line:
            low = {k.lower(): v for k, v in c.params.items()}
            return low.get("--scope") or low.get("-scope")
    return None


@reads("role")
def _role(r: Reader):
    want = str(r.want.get("role") or "")
    roles = granted_roles(r.facts)
    if not roles:
        return None
    hit = next((x for x in roles if x[0].lower() == want.lower()), roles[0])
    return hit[0], hit[1]


_SCOPE_WORDS = [("container", r"\bcontainers?\b"), ("account", r"\bstorage account\b|\bcosmos ?db account\b"),
                ("vault", r"\bkey vault\b"), ("resource_group", r"\bresource groups?\b"),
                ("subscription", r"\bsubscriptions?\b")]


def scope_kind(scope: str) -> str | None:
    s = scope.strip().strip("'\"").rstrip("/").lower()
    if "/containers/" in s:
        return "container"
    if "/providers/microsoft.keyvault/vaults/" in s:
        return "vault"
    if re.search(r"/providers/microsoft\.(storage|documentdb)/\w+/[^/]+$", s):
        return "account"
    if re.search(r"/resourcegroups/[^/]+$", s):
        return "resource_group"
    if re.search(r"^/subscriptions/[^/]+$", s):
        return "subscription"
    return None


@reads("role_scope")
def _role_scope(r: Reader):
    roles = granted_roles(r.facts)
    want = str(r.want.get("role") or "").lower()
    hit = next((x for x in roles if x[0].lower() == want), roles[0] if roles else None)
    if hit is None:
        return None
    name, line, scope = hit
    if scope:
        kind = scope_kind(scope)
        return (kind, line) if kind else None
    # a portal step: the resource the reader navigated to before opening Access control (IAM)
    before = [t for t in r.page.prose if line - 12 <= t.line <= line and t.text.strip()]
    for t in reversed(before):
        if re.search(r"navigate|go to|select the|open|newly created|you created", t.text, re.I):
            low = t.text.lower()
            for kind, rx in _SCOPE_WORDS:
                if re.search(rx, low):
                    return kind, t.line
    return None


# -- ARM ---------------------------------------------------------------------------------

@reads("arm_path")
def _arm_path(r: Reader):
    arm = r.arm_calls()
    if not arm:
        return None
    return r.want["arm_path"], arm[0].line


@reads("arm_api_version")
def _arm_api(r: Reader):
    arm = [c for c in r.arm_calls() if c.api_version and "<" not in c.api_version]
    if not arm:
        return None
    want = r.want.get("arm_api_version")
    hit = next((c for c in arm if c.api_version == want), arm[0])
    return hit.api_version, hit.line


def _documented_response(r: Reader, pred) -> tuple[int, Any] | None:
    calls = r.arm_calls() or r.facts.http_calls
    for c in calls:
        for ln, d in r.outputs_after(c.line):
            if pred(d):
                return ln, d
    return None


@reads("expected_keys")
def _expected_keys(r: Reader):
    got = _documented_response(r, lambda d: isinstance(d, dict) and "id" in d and "name" in d)
    return (sorted(got[1]), got[0]) if got else None


@reads("expected_provisioning_state")
def _prov_state(r: Reader):
    got = _documented_response(r, lambda d: isinstance(d, dict) and isinstance(d.get("properties"), dict)
                               and "provisioningState" in d["properties"])
    return (got[1]["properties"]["provisioningState"], got[0]) if got else None


@reads("request_body")
def _request_body(r: Reader):
    arm = [c for c in r.arm_calls() if c.method == "POST"]
    if not arm:
        return None
    c = arm[0]
    want = r.want.get("request_body")
    if isinstance(want, str):  # no body (listKeys): curl -d "" or no -Body at all
        return (c.body or "").strip().strip("'\""), c.line
    if want is None:  # the scenario sends no body: the page's call has none, or shows the one it sends
        return (c.body if c.body and c.body.strip() else None), c.line
    body = c.body
    data = None
    if body and body.strip().startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    if data is None:  # -Body $jsonParams: the hashtable or the JSON block the page shows
        for ref_line, d in sorted(r.facts.outputs, key=lambda x: -x[0]):
            if ref_line < c.line and isinstance(d, dict) and set(map(str.lower, d)) >= \
                    {k.lower() for k in (want or {})}:
                data = d
                break
    if not isinstance(data, dict):
        return None
    # the page's placeholders (and the expiry the reader chooses) bind to the scenario's values
    bound = {}
    for k, v in data.items():
        reg = next((rv for rk, rv in (want or {}).items() if rk.lower() == k.lower()), None)
        if isinstance(reg, str) and "{" in reg and (re.search(r"<[^>]+>", str(v)) or k.lower() == "signedexpiry"):
            v = reg
        bound[k] = v
    return bound, c.line


# -- documented responses ----------------------------------------------------------------

def _token_response(r: Reader):
    for ln, d in r.facts.outputs:
        if isinstance(d, dict) and "access_token" in d:
            return ln, d
    return None


@reads("response_fields", "imds_response_fields")
def _response_fields(r: Reader):
    fam = r.tutorial.family
    if r.key == "response_fields" and fam.startswith("key_vault"):
        got = _secret_response(r)
        return (sorted(got[1]), got[0]) if got else None
    got = _token_response(r)
    return (sorted(got[1]), got[0]) if got else None


def _secret_response(r: Reader):
    for ln, d in r.facts.outputs:
        if isinstance(d, dict) and "value" in d and "/secrets/" in str(d.get("id", "")):
            return ln, d
    return None


@reads("attribute_fields")
def _attribute_fields(r: Reader):
    got = _secret_response(r)
    if not got or not isinstance(got[1].get("attributes"), dict):
        return None
    return sorted(got[1]["attributes"]), got[0]


@reads("page_recovery_level")
def _recovery(r: Reader):
    got = _secret_response(r)
    if not got or not isinstance(got[1].get("attributes"), dict) or "recoveryLevel" not in got[1]["attributes"]:
        return None
    return got[1]["attributes"]["recoveryLevel"], got[0]


@reads("secret_name")
def _secret_name(r: Reader):
    got = _secret_response(r)
    if got:
        m = re.search(r"/secrets/([^/?\"]+)", str(got[1].get("id", "")))
        if m:
            return m.group(1), got[0]
    return None


@reads("secret_value")
def _secret_value(r: Reader):
    got = _secret_response(r)
    return (got[1]["value"], got[0]) if got else None


@reads("vault_api_version")
def _vault_api(r: Reader):
    for c in r.facts.http_calls:
        if "/secrets/" in c.path and c.api_version:
            return c.api_version, c.line
    return None


@reads("model")
def _model(r: Reader):
    for t in r.page.prose:
        if re.search(r"\*\*Access policies\*\*|access polic(y|ies)", t.text, re.I):
            return "access_policy", t.line
    for name, line, _ in granted_roles(r.facts):
        if name.lower().startswith("key vault"):
            return "rbac", line
    return None


#: permissions of the Key Vault portal's access-policy templates (Azure portal, "Configure from template")
POLICY_TEMPLATES = {
    "secret management": ["get", "list", "set", "delete", "recover", "backup", "restore"],
}


def _in_prose(r: Reader, pattern: str):
    """(the first group of ``pattern``, its line) in the page's prose, or None."""
    for t in r.page.prose:
        m = re.search(pattern, t.text, re.I)
        if m:
            return m.group(1).strip(), t.line
    return None


@reads("policy_template")
def _policy_template(r: Reader):
    return _in_prose(r, r"Configure from template,? select \*\*([^*]+)\*\*")


@reads("policy_permissions")
def _policy_permissions(r: Reader):
    got = _policy_template(r)
    if got and got[0].lower() in POLICY_TEMPLATES:
        return POLICY_TEMPLATES[got[0].lower()], got[1]
    return None


# -- storage -----------------------------------------------------------------------------

@reads("blob_name")
def _blob_name(r: Reader):
    for c in r.facts.commands:
        low = {k.lower(): v for k, v in c.params.items()}
        v = low.get("-blob") or (low.get("-n") or low.get("--name") if c.name.startswith("az storage blob") else None)
        if v and "<" not in v and "$" not in v:
            return v.strip("'\""), c.line
    return _in_prose(r, r"create a file (?:titled|called|named) [*\"`']+([^*\"`']+\.\w+)[*\"`']+")


@reads("blob_content")
def _blob_content(r: Reader):
    for lls in r.facts.logical.values():
        for ll in lls:
            m = re.search(r"\becho\s+([\"'])(.+?)\1\s*>\s*\S+", ll.text)
            if m:
                return m.group(2), ll.line
    return _in_prose(r, r"add the text[^\"]*\"([^\"]+)\"")


@reads("storage_headers")
def _storage_headers(r: Reader):
    for c in r.facts.http_calls:
        if c.host.endswith(".blob.core.windows.net") or "blob.core.windows.net" in c.url:
            v = c.header("x-ms-version")
            if v:
                return {"x-ms-version": v}, c.line
    return None


def _keys_response(r: Reader):
    for ln, d in r.facts.outputs:
        if isinstance(d, dict) and isinstance(d.get("keys"), list) and d["keys"] and isinstance(d["keys"][0], dict):
            return ln, d
    return None


@reads("response_keys")
def _response_keys(r: Reader):
    got = _keys_response(r)
    return (sorted(got[1]["keys"][0]), got[0]) if got else None


@reads("key_names")
def _key_names(r: Reader):
    got = _keys_response(r)
    return ([k.get("keyName") for k in got[1]["keys"]], got[0]) if got else None


@reads("key_permissions")
def _key_permissions(r: Reader):
    got = _keys_response(r)
    return (got[1]["keys"][0].get("permissions"), got[0]) if got else None


def _sas_text(r: Reader) -> tuple[int, str] | None:
    for ln, d in r.facts.outputs:
        if isinstance(d, dict) and "serviceSasToken" in d:
            return ln, str(d["serviceSasToken"])
    for lines in r.facts.logical.values():
        for ll in lines:
            if re.search(r"\bsv=\d{4}-\d{2}-\d{2}&", ll.text.replace("\n", "")):
                return ll.line, ll.text.replace("\n", "")
    return None


@reads("response_key")
def _response_key(r: Reader):
    for ln, d in r.facts.outputs:
        if isinstance(d, dict) and any(k.lower().endswith("sastoken") for k in d):
            return next(k for k in d if k.lower().endswith("sastoken")), ln
    for lines in r.facts.logical.values():
        for ll in lines:
            m = re.search(r"\$\w+\.(\w*SasToken)\b", ll.text, re.I)
            if m:
                return m.group(1), ll.line
    return None


@reads("sas_version")
def _sas_version(r: Reader):
    got = _sas_text(r)
    if not got:
        return None
    q = dict(parse_qsl(got[1].split("?")[-1].strip().strip("'\"")))
    return (q["sv"], got[0]) if "sv" in q else None


# -- Azure SQL ---------------------------------------------------------------------------
# The page's T-SQL, with its placeholder for the VM's name (``[VMName]``) as the registry's ``{vm}``.
_CREATE_USER = re.compile(r"^\s*(CREATE USER \[)VMName(\] FROM EXTERNAL PROVIDER)\s*;?\s*$", re.I)
_ALTER_ROLE = re.compile(r"^\s*(ALTER ROLE (\w+) ADD MEMBER \[)VMName(\])\s*;?\s*$", re.I)


def _tsql(r: Reader, pattern: re.Pattern):
    return next(((m, line) for line, text in r.text_lines() for m in [pattern.match(text)] if m), None)


@reads("create_user")
def _create_user(r: Reader):
    got = _tsql(r, _CREATE_USER)
    return (got[0][1] + "{vm}" + got[0][2], got[1]) if got else None


@reads("alter_role")
def _alter_role(r: Reader):
    got = _tsql(r, _ALTER_ROLE)
    return (got[0][1] + "{vm}" + got[0][3], got[1]) if got else None


_QUERY = re.compile(r"\"(SELECT \* from )<TABLE>(;)\"", re.I)  # the C# sample's CommandText


_STRING_QUERY = re.compile(r"\"(SELECT [^\"]{1,200}?)\"", re.I)  # a query in a code sample's string literal


@reads("query")
def _query(r: Reader):
    """The SQL page's C# CommandText (``<TABLE>`` is the table the scenario makes), else the query a
    code sample passes as a string (the Cosmos page's ``GetItemQueryIterator("SELECT * FROM c")``)."""
    got = next(((m, line) for line, text in r.text_lines() for m in [_QUERY.search(text)] if m), None)
    if got:
        return got[0][1] + "{table}" + got[0][2], got[1]
    found = [(m[1], line) for line, text in r.text_lines() for m in [_STRING_QUERY.search(text)] if m]
    want = str(r.want.get("query") or "")
    return next((f for f in found if f[0] == want), found[0] if found else None)


@reads("db_role")
def _db_role(r: Reader):
    got = _tsql(r, _ALTER_ROLE)
    return (got[0][2], got[1]) if got else None


# -- the token endpoint page -------------------------------------------------------------

@reads("errors")
def _errors(r: Reader):
    text = "\n".join(t.text for t in r.page.prose)
    want = r.want.get("errors") or {}
    found = {name: e for name, e in want.items() if str(e.get("error")) in text}
    if not found:
        return None
    return found, r.page.line


# ============================================================== --doc-facts files

def validate_doc_facts(data: Any, where: str = "--doc-facts") -> str | None:
    """Why a ``--doc-facts`` document is unusable (None when it is fine): it maps tutorial keys
    of the registry (``family[variant]``) to facts of that tutorial; ``_from_registry`` lists
    the keys the page did not state."""
    from .. import registry
    if not isinstance(data, dict):
        return f"{where}: expected a JSON object of tutorials ({{\"family[variant]\": {{fact: value}}}})"
    known = {t.key: t for t in registry.TUTORIALS}
    for key, facts in data.items():
        t = known.get(key)
        if t is None:
            close = sorted(k for k in known if k.split("[")[0] == str(key).split("[")[0]) or sorted(known)[:4]
            return f"{where}: unknown tutorial {key!r} (known: {', '.join(close)})"
        if not isinstance(facts, dict):
            return f"{where}: the facts of {key} must be a JSON object"
        for k, v in facts.items():
            if k == "_from_registry":
                if not isinstance(v, list) or any(x not in t.facts for x in v):
                    return f"{where}: {key}: _from_registry must list fact keys of the tutorial"
                continue
            if k not in t.facts:
                return f"{where}: {key} has no fact {k!r} (its facts: {', '.join(sorted(t.facts))})"
    return None


def load_doc_facts(path: str) -> dict[str, Any]:
    """Read and validate a ``--doc-facts`` file; raises ValueError with a one-line message."""
    from pathlib import Path
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"--doc-facts {path}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--doc-facts {path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"--doc-facts {path}: not JSON ({exc})") from None
    why = validate_doc_facts(data, f"--doc-facts {path}")
    if why:
        raise ValueError(why)
    return data
