"""The ARM template expression language: ``"[func(args).prop[idx]]"`` in any JSON string.

A JSON string that starts with ``[`` and ends with ``]`` is an expression; ``[[`` at the
start escapes a literal ``[``. Expressions are parsed with a lark grammar (function calls,
single-quoted string literals with ``''`` as the escaped quote, integers, ``.property`` and
``[index]`` accessors) and evaluated against a :class:`Scope` that knows the deployment's
parameters, variables, copy loops, resource group, subscription and a ``reference()``
callback. Function names are case-insensitive, as ARM's are.

Errors are :class:`TemplateError` with ARM's code and message shapes ("Unable to parse
language expression ...", "The template function 'x' is not valid ..."); the deployment
engine (``deployments.py``) wraps them as a deployment wraps them.

Facts carried over (the algorithms, not code): ``uniqueString`` is Microsoft's 64-bit
MurmurHash variant over the arguments joined with ``-``, written as 13 characters of
lower-case RFC 4648 base32 (the vectors in ``tests/test_templates.py`` are published
outputs); ``guid`` is an RFC 4122 version-5 UUID in the namespace
``11fb06fb-712d-4ddd-98c7-e71bbd588830`` over the arguments joined with ``-`` (Bicep's
string-functions reference).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from lark import Lark, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
?start: expression
expression: NAME "(" [argument ("," argument)*] ")" accessor*
?argument: expression | string | integer
string: STRING
integer: INT
accessor: "." NAME          -> member
        | "[" argument "]"  -> index
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^']|'')*'/
INT: /-?[0-9]+/
%ignore /[ \t\r\n]+/
"""

# ARM's names of the tokens, for "expected token 'X' and actual 'Y'" messages
_TOKEN_NAMES = {"LPAR": "LeftParenthesis", "RPAR": "RightParenthesis", "LSQB": "LeftSquareBracket",
                "RSQB": "RightSquareBracket", "COMMA": "Comma", "DOT": "Dot", "NAME": "Identifier",
                "STRING": "String", "INT": "Integer", "$END": "EndOfData"}


class TemplateError(Exception):
    """A template-language error with ARM's code (``InvalidTemplate`` unless said otherwise)."""

    def __init__(self, message: str, code: str = "InvalidTemplate", status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple
    accessors: tuple  # ("member", name) | ("index", node)


@dataclass(frozen=True)
class Literal:
    value: Any


class _ToAst(Transformer):
    def expression(self, items):
        name, *rest = items
        args = tuple(i for i in rest if not (isinstance(i, tuple) and i and i[0] in ("member", "index")) and
                     i is not None)
        accessors = tuple(i for i in rest if isinstance(i, tuple) and i and i[0] in ("member", "index"))
        return Call(str(name), args, accessors)

    def string(self, items):
        return Literal(str(items[0])[1:-1].replace("''", "'"))

    def integer(self, items):
        return Literal(int(items[0]))

    def member(self, items):
        return ("member", str(items[0]))

    def index(self, items):
        return ("index", items[0])


_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)
_AST = _ToAst()
_CACHE: dict[str, Any] = {}


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]" \
        and not value.startswith("[[")


def parse(text: str):
    """Parse the inside of ``[...]`` into an AST (cached: templates repeat expressions)."""
    hit = _CACHE.get(text)
    if hit is not None:
        return hit
    try:
        tree = _AST.transform(_PARSER.parse(text))
    except UnexpectedInput as e:
        raise TemplateError(f"Unable to parse language expression '{text}': {_describe(e)}") from None
    if len(_CACHE) < 4096:
        _CACHE[text] = tree
    return tree


def _describe(e: UnexpectedInput) -> str:
    if isinstance(e, UnexpectedToken):
        expected = sorted(_TOKEN_NAMES.get(t, t) for t in e.expected)
        actual = _TOKEN_NAMES.get(e.token.type, e.token.type)
        return f"expected token '{' or '.join(expected)}' and actual '{actual}'."
    if isinstance(e, UnexpectedEOF):
        expected = sorted(_TOKEN_NAMES.get(t, t) for t in e.expected)
        return f"expected token '{' or '.join(expected)}' and actual 'EndOfData'."
    if isinstance(e, UnexpectedCharacters):
        return f"the character '{e.char}' at position '{e.column}' is not valid."
    return "the expression is not valid."


def check_static(value: Any, where: str = "template") -> None:
    """What ARM's validation finds without evaluating: every expression parses and names only known
    functions (so ``[myResourceGroup().location]`` fails before anything is deployed)."""
    if isinstance(value, str):
        if is_expression(value):
            _check_names(parse(value[1:-1]), where)
    elif isinstance(value, list):
        for v in value:
            check_static(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_static(k, where)
            check_static(v, where)


def _check_names(node, where: str) -> None:
    if isinstance(node, Literal):
        return
    if node.name.lower() != "if" and node.name.lower() not in FUNCTIONS:
        raise TemplateError(f"The {where} is not valid: The template function '{node.name}' is not valid. Please "
                            f"see https://aka.ms/arm-functions for usage details.")
    for a in node.args:
        _check_names(a, where)
    for kind, arg in node.accessors:
        if kind == "index":
            _check_names(arg, where)


# ------------------------------------------------------------------------ the scope

@dataclass
class Scope:
    """What expressions see: set by the deployment engine."""

    subscription_id: str
    tenant_id: str
    resource_group: dict | None  # the group's document (id, name, location, properties, tags)
    deployment: dict = field(default_factory=dict)  # {"name": ..., "properties": {...}}
    parameters: dict[str, Any] = field(default_factory=dict)  # lower-cased name -> value
    variable_defs: dict[str, Any] = field(default_factory=dict)  # raw definitions (lower-cased names)
    reference: Callable[..., Any] | None = None  # reference(name_or_id, api_version, full) -> value
    resource_ids: Callable[[str], str | None] | None = None  # template resource name -> id, for reference()
    copy_index: dict[str, int] = field(default_factory=dict)  # loop name (lower) -> index
    current_loop: str | None = None
    _variables: dict[str, Any] = field(default_factory=dict)
    _evaluating: set = field(default_factory=set)
    allow_reference: bool = True

    def child(self, **changes) -> "Scope":
        s = Scope(**{**{k: getattr(self, k) for k in ("subscription_id", "tenant_id", "resource_group", "deployment",
                                                         "parameters", "variable_defs", "reference", "resource_ids",
                                                         "allow_reference")},
                     "copy_index": dict(self.copy_index), "current_loop": self.current_loop})
        s._variables = self._variables
        s._evaluating = self._evaluating
        for k, v in changes.items():
            setattr(s, k, v)
        return s

    def variable(self, name: str) -> Any:
        key = name.lower()
        if key in self._variables:
            return self._variables[key]
        if key not in self.variable_defs:
            raise TemplateError(f"The template variable '{name}' is not found. Please see "
                                f"https://aka.ms/arm-variables for usage details.")
        if key in self._evaluating:
            raise TemplateError(f"The template variable '{name}' is referenced in a cycle.")
        self._evaluating.add(key)
        try:
            value = evaluate_value(self.variable_defs[key], self)
        finally:
            self._evaluating.discard(key)
        self._variables[key] = value
        return value


# ------------------------------------------------------------------------ evaluation

def evaluate_value(value: Any, scope: Scope) -> Any:
    """Evaluate every expression in a JSON value (objects' keys too, as ARM does)."""
    if isinstance(value, str):
        if value.startswith("[["):
            return value[1:]
        if is_expression(value):
            return evaluate(parse(value[1:-1]), scope)
        return value
    if isinstance(value, list):
        return [evaluate_value(v, scope) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = evaluate_value(k, scope) if isinstance(k, str) else k
            if not isinstance(key, str):
                raise TemplateError(f"The template property name '{k}' must evaluate to a string.")
            out[key] = evaluate_value(v, scope)
        return out
    return value


def evaluate_text(text: str, scope: Scope) -> Any:
    return evaluate_value(text, scope)


def evaluate(node, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    fname = node.name.lower()
    if fname == "if":  # only the chosen branch is evaluated
        if len(node.args) != 3:
            raise _arity("if", 3)
        cond = evaluate(node.args[0], scope)
        if not isinstance(cond, bool):
            raise TemplateError("The template language function 'if' expects its first parameter to be of type "
                                "'Boolean'.")
        value = evaluate(node.args[1] if cond else node.args[2], scope)
    else:
        fn = FUNCTIONS.get(fname)
        if fn is None:
            raise TemplateError(f"The template function '{node.name}' is not valid. Please see "
                                f"https://aka.ms/arm-functions for usage details.")
        args = [evaluate(a, scope) for a in node.args]
        value = fn(scope, *args) if getattr(fn, "takes_scope", False) else fn(*args)
    for kind, arg in node.accessors:
        value = _access(value, arg if kind == "member" else evaluate(arg, scope), kind)
    return value


def _access(value: Any, key: Any, kind: str) -> Any:
    if isinstance(value, dict):
        if not isinstance(key, str):
            raise TemplateError(f"The language expression property '{key}' can't be evaluated, property name "
                                f"must be a string.")
        if key in value:
            return value[key]
        for k, v in value.items():
            if k.lower() == key.lower():
                return v
        raise TemplateError(f"The language expression property '{key}' doesn't exist, available properties are "
                            f"'{', '.join(value)}'.")
    if isinstance(value, list):
        if not isinstance(key, int) or isinstance(key, bool):
            raise TemplateError(f"The language expression property '{key}' can't be evaluated, the array index "
                                f"must be an integer.")
        if not 0 <= key < len(value):
            raise TemplateError(f"The language expression property array index '{key}' is out of bounds.")
        return value[key]
    raise TemplateError(f"The language expression property '{key}' can't be evaluated: the value is of type "
                        f"'{_type_name(value)}'.")


def _type_name(v: Any) -> str:
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    if isinstance(v, dict):
        return "Object"
    return type(v).__name__


def _arity(name: str, n: int | str) -> TemplateError:
    return TemplateError(f"Unable to evaluate template language function '{name}': function requires {n} "
                         f"argument(s). Please see https://aka.ms/arm-functions for usage details.")


def _need(name: str, value: Any, *types) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise TemplateError(f"Unable to evaluate template language function '{name}': the argument of type "
                            f"'{_type_name(value)}' is not valid.")
    return value


# ------------------------------------------------------------------------ functions

FUNCTIONS: dict[str, Callable] = {}


def function(name: str, takes_scope: bool = False):
    def register(fn):
        fn.takes_scope = takes_scope
        FUNCTIONS[name.lower()] = fn
        return fn
    return register


@function("parameters", takes_scope=True)
def _parameters(scope: Scope, name=None):
    _need("parameters", name, str)
    if name.lower() not in scope.parameters:
        raise TemplateError(f"The template parameter '{name}' is not found. Please see "
                            f"https://aka.ms/arm-syntax-parameters for usage details.")
    return scope.parameters[name.lower()]


@function("variables", takes_scope=True)
def _variables(scope: Scope, name=None):
    return scope.variable(_need("variables", name, str))


@function("resourceGroup", takes_scope=True)
def _resource_group(scope: Scope):
    if scope.resource_group is None:
        raise TemplateError("The template function 'resourceGroup' is not expected at this location.")
    return dict(scope.resource_group)


@function("subscription", takes_scope=True)
def _subscription(scope: Scope):
    return {"id": f"/subscriptions/{scope.subscription_id}", "subscriptionId": scope.subscription_id,
            "tenantId": scope.tenant_id, "displayName": "milab emulated subscription"}


@function("tenant", takes_scope=True)
def _tenant(scope: Scope):
    return {"tenantId": scope.tenant_id, "countryCode": "US", "displayName": "milab"}


@function("deployment", takes_scope=True)
def _deployment(scope: Scope):
    return dict(scope.deployment)


@function("environment")
def _environment():
    return {"name": "AzureCloud", "resourceManager": "https://management.azure.com/",
            "authentication": {"loginEndpoint": "https://login.microsoftonline.com/",
                               "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"]},
            "suffixes": {"storage": "core.windows.net", "keyvaultDns": ".vault.azure.net"}}


def _type_and_names(fname: str, args: list) -> tuple[str, list[str]]:
    for a in args:
        _need(fname, a, str)
    type_at = next((i for i, a in enumerate(args) if "/" in a and "." in a.split("/")[0]), None)
    if type_at is None:
        raise TemplateError(f"Unable to evaluate template language function '{fname}': the type argument is "
                            f"missing or not a fully qualified resource type (namespace/type).")
    rtype = args[type_at].strip("/")
    names = args[type_at + 1:]
    segs = rtype.split("/")
    if len(segs) - 1 != len(names) or any(n == "" for n in names):
        raise TemplateError(f"Unable to evaluate template language function '{fname}': the type "
                            f"'{rtype}' requires {len(segs) - 1} resource name argument(s).")
    return rtype, names


def _provider_path(rtype: str, names: list[str]) -> str:
    segs = rtype.split("/")
    out = ["providers", segs[0]]
    for t, n in zip(segs[1:], names):
        out += [t, n]
    return "/".join(out)


@function("resourceId", takes_scope=True)
def _resource_id(scope: Scope, *args):
    args = list(args)
    rtype, names = _type_and_names("resourceId", args)
    prefix = [a for a in args[:len(args) - len(names) - 1]]
    sub, rg = scope.subscription_id, (scope.resource_group or {}).get("name")
    if len(prefix) == 2:
        sub, rg = prefix
    elif len(prefix) == 1:
        rg = prefix[0]
    elif len(prefix) > 2:
        raise _arity("resourceId", "at most two scope")
    if rg is None:
        return f"/subscriptions/{sub}/{_provider_path(rtype, names)}"
    return f"/subscriptions/{sub}/resourceGroups/{rg}/{_provider_path(rtype, names)}"


@function("subscriptionResourceId", takes_scope=True)
def _subscription_resource_id(scope: Scope, *args):
    args = list(args)
    rtype, names = _type_and_names("subscriptionResourceId", args)
    prefix = args[:len(args) - len(names) - 1]
    sub = prefix[0] if prefix else scope.subscription_id
    if rtype.lower() == "microsoft.resources/resourcegroups":  # a group's id has no providers segment
        return f"/subscriptions/{sub}/resourceGroups/{names[0]}"
    return f"/subscriptions/{sub}/{_provider_path(rtype, names)}"


@function("tenantResourceId")
def _tenant_resource_id(*args):
    rtype, names = _type_and_names("tenantResourceId", list(args))
    return f"/{_provider_path(rtype, names)}"


@function("extensionResourceId")
def _extension_resource_id(scope_id=None, *args):
    _need("extensionResourceId", scope_id, str)
    rtype, names = _type_and_names("extensionResourceId", list(args))
    return f"{scope_id.rstrip('/')}/{_provider_path(rtype, names)}"


@function("reference", takes_scope=True)
def _reference(scope: Scope, target=None, api_version=None, full=None):
    _need("reference", target, str)
    if not scope.allow_reference or scope.reference is None:
        raise TemplateError("The template function 'reference' is not expected at this location. Please see "
                            "https://aka.ms/arm-functions-resource for usage details.")
    if full is not None and str(full).lower() != "full":
        raise TemplateError(f"The template function 'reference' third parameter must be 'Full', not '{full}'.")
    return scope.reference(target, api_version, full is not None)


@function("copyIndex", takes_scope=True)
def _copy_index(scope: Scope, *args):
    loop, offset = None, 0
    for a in args:
        if isinstance(a, str):
            loop = a
        elif isinstance(a, int) and not isinstance(a, bool):
            offset = a
    name = (loop or scope.current_loop or "").lower()
    if name not in scope.copy_index:
        raise TemplateError("The template function 'copyIndex' is not expected at this location. The function can "
                            "only be used in a resource with copy specified. Please see https://aka.ms/arm-copy "
                            "for usage details.")
    return scope.copy_index[name] + offset


@function("concat")
def _concat(*args):
    if args and all(isinstance(a, list) for a in args):
        return [x for a in args for x in a]
    return "".join(_to_string(a) for a in args)


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "True" if v else "False"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


@function("string")
def _string(v=None):
    return _to_string(v)


@function("format")
def _format(fmt=None, *args):
    _need("format", fmt, str)
    out, i = [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == "{":
            if fmt.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            end = fmt.find("}", i)
            if end < 0:
                raise TemplateError(f"Unable to evaluate template language function 'format': the format string "
                                    f"'{fmt}' is not valid.")
            spec = fmt[i + 1:end].split(":", 1)[0].split(",", 1)[0].strip()
            if not spec.isdigit() or int(spec) >= len(args):
                raise TemplateError(f"Unable to evaluate template language function 'format': the format string "
                                    f"'{fmt}' refers to argument {spec!r}, which is not given.")
            out.append(_to_string(args[int(spec)]))
            i = end + 1
        elif c == "}" and fmt.startswith("}}", i):
            out.append("}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _murmur64(data: bytes) -> int:
    """Microsoft's 64-bit MurmurHash variant behind uniqueString (two 32-bit lanes, seed 0)."""
    m = 0xFFFFFFFF
    c1, c2, c3, c4 = 0xAB0E9789, 0x239B961B, 0x85EBCA6B, 0xC2B2AE35

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    h1 = h2 = 0
    n = len(data)
    i = 0
    while i + 8 <= n:
        k1 = int.from_bytes(data[i:i + 4], "little")
        k2 = int.from_bytes(data[i + 4:i + 8], "little")
        k1 = (rotl((k1 * c2) & m, 15) * c1) & m
        h1 = (rotl(h1 ^ k1, 19) + h2) & m
        h1 = (h1 * 5 + 0x561CCD1B) & m
        k2 = (rotl((k2 * c1) & m, 17) * c2) & m
        h2 = (rotl(h2 ^ k2, 13) + h1) & m
        h2 = (h2 * 5 + 0x0BCAA747) & m
        i += 8
    rest = n - i
    if rest:
        k1 = int.from_bytes(data[i:i + min(rest, 4)], "little")
        h1 ^= (rotl((k1 * c2) & m, 15) * c1) & m
        if rest > 4:
            k2 = int.from_bytes(data[i + 4:n], "little")
            h2 ^= (rotl((k2 * c1) & m, 17) * c2) & m

    def fmix(h):
        h = ((h ^ (h >> 16)) * c3) & m
        h = ((h ^ (h >> 13)) * c4) & m
        return h ^ (h >> 16)

    h2 = (h2 ^ n) & m
    h1 = ((h1 ^ n) + h2) & m
    h2 = (h2 + h1) & m
    h1, h2 = fmix(h1), fmix(h2)
    h1 = (h1 + h2) & m
    h2 = (h2 + h1) & m
    return (h2 << 32) | h1


@function("uniqueString")
def _unique_string(*args):
    if not args:
        raise _arity("uniqueString", "at least 1")
    for a in args:
        _need("uniqueString", a, str)
    h = _murmur64("-".join(args).encode("utf-8"))
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    mask = (1 << 64) - 1  # 13 characters take 65 bits: the last one gets the low four and a zero
    return "".join(alphabet[(((h << (5 * i)) & mask) >> 59) & 31] for i in range(13))


_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


@function("guid")
def _guid(*args):
    if not args:
        raise _arity("guid", "at least 1")
    for a in args:
        _need("guid", a, str)
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(args)))


@function("newGuid")
def _new_guid():
    return str(uuid.uuid4())


@function("utcNow")
def _utc_now(fmt="yyyyMMddTHHmmssZ"):
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") if fmt == "yyyyMMddTHHmmssZ" else now.isoformat()


@function("toLower")
def _to_lower(s=None):
    return _need("toLower", s, str).lower()


@function("toUpper")
def _to_upper(s=None):
    return _need("toUpper", s, str).upper()


@function("trim")
def _trim(s=None):
    return _need("trim", s, str).strip()


@function("replace")
def _replace(s=None, old=None, new=None):
    return _need("replace", s, str).replace(_need("replace", old, str), _need("replace", new, str))


@function("split")
def _split(s=None, sep=None):
    _need("split", s, str)
    seps = sep if isinstance(sep, list) else [_need("split", sep, str)]
    parts = [s]
    for d in seps:
        parts = [p for part in parts for p in part.split(d)]
    return parts


@function("substring")
def _substring(s=None, start=0, length=None):
    _need("substring", s, str)
    if start < 0 or start > len(s) or (length is not None and (length < 0 or start + length > len(s))):
        raise TemplateError("Unable to evaluate template language function 'substring': the index and length "
                            "parameters must refer to a location within the string.")
    return s[start:] if length is None else s[start:start + length]


@function("startsWith")
def _starts_with(s=None, p=None):
    return _need("startsWith", s, str).lower().startswith(_need("startsWith", p, str).lower())


@function("endsWith")
def _ends_with(s=None, p=None):
    return _need("endsWith", s, str).lower().endswith(_need("endsWith", p, str).lower())


@function("indexOf")
def _index_of(s=None, p=None):
    return _need("indexOf", s, str).lower().find(_need("indexOf", p, str).lower())


@function("padLeft")
def _pad_left(v=None, width=0, char=" "):
    return _to_string(v).rjust(int(width), char)


@function("base64")
def _base64(s=None):
    return base64.b64encode(_need("base64", s, str).encode()).decode()


@function("base64ToString")
def _base64_to_string(s=None):
    return base64.b64decode(_need("base64ToString", s, str)).decode()


@function("json")
def _json(s=None):
    try:
        return json.loads(_need("json", s, str))
    except ValueError:
        raise TemplateError(f"Unable to evaluate template language function 'json': '{s}' is not valid "
                            f"JSON.") from None


@function("int")
def _int(v=None):
    try:
        return int(v)
    except (TypeError, ValueError):
        raise TemplateError(f"Unable to evaluate template language function 'int': '{v}' is not an "
                            f"integer.") from None


@function("bool")
def _bool(v=None):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    if isinstance(v, int):
        return v != 0
    raise TemplateError(f"Unable to evaluate template language function 'bool': '{v}' is not a boolean.")


@function("true")
def _true():
    return True


@function("false")
def _false():
    return False


@function("null")
def _null():
    return None


@function("length")
def _length(v=None):
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise TemplateError(f"Unable to evaluate template language function 'length': the argument of type "
                        f"'{_type_name(v)}' is not valid.")


@function("empty")
def _empty(v=None):
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)


def _norm(v):
    if isinstance(v, str):
        return v.lower()
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k.lower(): _norm(x) for k, x in v.items()}
    return v


@function("equals")
def _equals(a=None, b=None):
    return _norm(a) == _norm(b)


@function("not")
def _not(v=None):
    return not _need("not", v, bool)


@function("and")
def _and(*args):
    return all(_need("and", a, bool) for a in args)


@function("or")
def _or(*args):
    return any(_need("or", a, bool) for a in args)


@function("coalesce")
def _coalesce(*args):
    return next((a for a in args if a is not None), None)


@function("contains")
def _contains(container=None, item=None):
    if isinstance(container, str):
        return _to_string(item) in container
    if isinstance(container, list):
        return _norm(item) in _norm(container)
    if isinstance(container, dict):
        return str(item).lower() in (k.lower() for k in container)
    raise TemplateError(f"Unable to evaluate template language function 'contains': the argument of type "
                        f"'{_type_name(container)}' is not valid.")


@function("createArray")
def _create_array(*args):
    return list(args)


@function("array")
def _array(v=None):
    return v if isinstance(v, list) else [v]


@function("createObject")
def _create_object(*args):
    if len(args) % 2:
        raise TemplateError("Unable to evaluate template language function 'createObject': it takes pairs of "
                            "keys and values.")
    return {_need("createObject", args[i], str): args[i + 1] for i in range(0, len(args), 2)}


@function("union")
def _union(*args):
    if args and all(isinstance(a, dict) for a in args):
        out: dict = {}
        for a in args:
            out.update(a)
        return out
    if args and all(isinstance(a, list) for a in args):
        out_l: list = []
        for a in args:
            out_l += [x for x in a if x not in out_l]
        return out_l
    raise TemplateError("Unable to evaluate template language function 'union': the arguments must all be "
                        "objects or all be arrays.")


@function("first")
def _first(v=None):
    return v[0] if v else None


@function("last")
def _last(v=None):
    return v[-1] if v else None


@function("take")
def _take(v=None, n=0):
    return v[:max(0, n)]


@function("skip")
def _skip(v=None, n=0):
    return v[max(0, n):]


@function("range")
def _range(start=0, count=0):
    return list(range(start, start + count))


@function("add")
def _add(a=None, b=None):
    return _need("add", a, int) + _need("add", b, int)


@function("sub")
def _sub(a=None, b=None):
    return _need("sub", a, int) - _need("sub", b, int)


@function("mul")
def _mul(a=None, b=None):
    return _need("mul", a, int) * _need("mul", b, int)


@function("div")
def _div(a=None, b=None):
    if b == 0:
        raise TemplateError("Unable to evaluate template language function 'div': division by zero.")
    return int(_need("div", a, int) / _need("div", b, int))


@function("mod")
def _mod(a=None, b=None):
    if b == 0:
        raise TemplateError("Unable to evaluate template language function 'mod': division by zero.")
    return _need("mod", a, int) % _need("mod", b, int)


@function("greater")
def _greater(a=None, b=None):
    return a > b


@function("less")
def _less(a=None, b=None):
    return a < b


@function("greaterOrEquals")
def _greater_or_equals(a=None, b=None):
    return a >= b


@function("lessOrEquals")
def _less_or_equals(a=None, b=None):
    return a <= b


@function("min")
def _min(*args):
    vals = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return min(vals)


@function("max")
def _max(*args):
    vals = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
    return max(vals)


@function("providers")
def _providers(namespace=None, resource_type=None):
    """A resource type's registration, newest api-version first (``az vmss create``'s template
    reads ``providers('Microsoft.Compute', 'virtualMachineScaleSets').apiVersions[0]``)."""
    from .catalog import known_api_versions
    _need("providers", namespace, str)
    if resource_type is None:
        raise _arity("providers", 2)
    versions = known_api_versions(f"{namespace}/{_need('providers', resource_type, str)}")
    if not versions:
        raise TemplateError(f"The resource type '{namespace}/{resource_type}' is not registered with the emulator.")
    return {"namespace": namespace, "resourceType": resource_type, "locations": [],
            "apiVersions": sorted(versions, reverse=True)}
