"""OData ``$filter`` on directory objects, as Microsoft Graph and Azure AD Graph evaluate it.

The subset the directory APIs support on the objects the emulator holds (Graph reference,
"Use the $filter query parameter" and each resource's filterable properties), parsed with a
lark grammar:

* ``eq`` / ``ne`` on a property against a string, GUID, boolean or ``null``:
  ``appId eq '00000002-0000-0000-c000-000000000000'``, ``displayName eq 'myGroup'``;
* ``startswith(property, 'prefix')`` (``az ad sp list --display-name`` sends
  ``startswith(displayName,'myVM')``; so does the 2019 Linux Graph page);
* ``collection/any(c:c eq 'value')`` on multi-valued properties (``servicePrincipalNames``,
  ``tags``), which ``az ad sp show --id`` uses for an app ID URI;
* ``and``, ``or``, ``not`` and parentheses.

String comparisons ignore case, as the directory compares names and ids. A property the
resource does not filter on is :class:`FilterError` ``unsupported`` (Graph:
``Request_UnsupportedQuery``); text the grammar does not accept is ``syntax`` (Graph:
``BadRequest`` "Invalid filter clause"). Nothing is ever silently ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*       -> or_
?and_expr: not_expr (_AND not_expr)*     -> and_
?not_expr: _NOT not_expr                 -> not_
         | atom
?atom: comparison
     | function
     | any_expr
     | "(" or_expr ")"
comparison: path OP value
function: FUNC "(" path "," value ")"
any_expr: path _SLASH_ANY "(" NAME ":" NAME OP value ")"
path: NAME ("/" NAME)*
value: STRING  -> string
     | TRUE    -> true
     | FALSE   -> false
     | NULL    -> null
     | GUID    -> guid
     | NUMBER  -> number

_OR.2: /or\b/
_AND.2: /and\b/
_NOT.2: /not\b/
_SLASH_ANY.3: /\/any\b/
OP.2: /(eq|ne)\b/
FUNC.2: /(startswith|endswith)\b/
TRUE.2: /true\b/
FALSE.2: /false\b/
NULL.2: /null\b/
GUID.3: /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/
NUMBER: /-?\d+(\.\d+)?/
STRING: /'([^']|'')*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)

Predicate = Callable[[dict], bool]


class FilterError(Exception):
    """kind: syntax | unsupported."""

    def __init__(self, kind: str, message: str, prop: str | None = None):
        super().__init__(message)
        self.kind, self.message, self.prop = kind, message, prop


@dataclass(frozen=True)
class Properties:
    """What one resource type filters on: single-valued and multi-valued property names (as the
    API spells them) mapped to how a stored object's value is read."""
    resource: str  # ServicePrincipal, Group, User (for messages)
    single: dict[str, Callable[[dict], Any]]
    multi: dict[str, Callable[[dict], list]]

    def lookup(self, name: str, collection: bool) -> Callable[[dict], Any]:
        table = self.multi if collection else self.single
        for k, getter in table.items():
            if k.lower() == name.lower():
                return getter
        raise FilterError("unsupported", f"Unsupported or invalid query filter clause specified for property "
                                         f"'{name}' of resource '{self.resource}'.", name)


def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _equal(a: Any, b: Any) -> bool:
    return _norm(a) == _norm(b)


@v_args(inline=True)
class _Build(Transformer):
    def __init__(self, props: Properties):
        super().__init__()
        self.props = props

    def string(self, tok: Token):
        return str(tok)[1:-1].replace("''", "'")

    def guid(self, tok: Token):
        return str(tok)

    def number(self, tok: Token):
        return float(tok) if "." in tok else int(tok)

    def true(self, _):
        return True

    def false(self, _):
        return False

    def null(self, _):
        return None

    def path(self, *names: Token):
        return "/".join(str(n) for n in names)

    def comparison(self, path: str, op: Token, value):
        get = self.props.lookup(path, collection=False)
        if str(op) == "eq":
            return lambda o: _equal(get(o), value)
        return lambda o: not _equal(get(o), value)

    def function(self, name: Token, path: str, value):
        get = self.props.lookup(path, collection=False)
        if not isinstance(value, str):
            raise FilterError("syntax", f"Invalid filter clause: {name} needs a string.")
        if str(name) == "startswith":
            return lambda o: isinstance(get(o), str) and get(o).lower().startswith(value.lower())
        return lambda o: isinstance(get(o), str) and get(o).lower().endswith(value.lower())

    def any_expr(self, path: str, var: Token, var2: Token, op: Token, value):
        if str(var) != str(var2):
            raise FilterError("syntax", f"Invalid filter clause: the lambda variable '{var2}' is not '{var}'.")
        get = self.props.lookup(path, collection=True)
        if str(op) == "eq":
            return lambda o: any(_equal(v, value) for v in get(o) or ())
        return lambda o: any(not _equal(v, value) for v in get(o) or ())

    def and_(self, *preds):
        return lambda o: all(p(o) for p in preds)

    def or_(self, *preds):
        return lambda o: any(p(o) for p in preds)

    def not_(self, pred):
        return lambda o: not pred(o)


def compile_filter(text: str, props: Properties) -> Predicate:
    """A predicate over stored objects, or FilterError."""
    if not isinstance(text, str) or not text.strip():
        raise FilterError("syntax", "Invalid filter clause: the filter is empty.")
    try:
        tree = _PARSER.parse(text)
    except LarkError as e:
        where = getattr(e, "column", None)
        raise FilterError("syntax", f"Invalid filter clause: syntax error"
                                    f"{f' at position {where}' if where else ''} in '{text}'.") from None
    try:
        pred = _Build(props).transform(tree)
    except LarkError as e:  # a FilterError raised inside the transformer arrives wrapped
        inner = getattr(e, "orig_exc", None)
        if isinstance(inner, FilterError):
            raise inner from None
        raise FilterError("syntax", f"Invalid filter clause in '{text}'.") from None
    if not callable(pred):
        raise FilterError("syntax", f"Invalid filter clause in '{text}'.")
    return pred
