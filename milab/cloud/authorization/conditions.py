"""Role-assignment conditions (Azure ABAC): parse and evaluate the ``condition`` of an assignment.

The grammar follows "Azure role assignment condition format and syntax" (Learn,
``role-based-access-control/conditions-format``), conditionVersion ``2.0`` (and the preview
``1.0``, which has the same syntax):

* logical operators ``AND`` / ``&&``, ``OR`` / ``||``, ``NOT`` / ``!``, parentheses; ``AND`` and ``OR``
  may not be mixed at one level without parentheses (the page: "you must add parentheses"), so
  ``a AND b OR c`` does not parse;
* ``ActionMatches{'<action pattern>'}`` (the RBAC action matching, wildcards included) and
  ``SubOperationMatches{'<suboperation>'}``;
* ``<attribute> <operator> <value>`` where an attribute is ``@Resource[...]``, ``@Request[...]``,
  ``@Principal[...]`` or ``@Environment[...]``; values are single-quoted strings, integers,
  ``true``/``false`` or sets ``{'a', 'b'}``; operators are the String* and Numeric* families
  (with ``IgnoreCase`` and ``Not`` forms), ``BoolEquals``/``BoolNotEquals``, and the cross-product
  forms ``ForAnyOfAnyValues:`` / ``ForAllOfAnyValues:`` / ``ForAnyOfAllValues:`` /
  ``ForAllOfAllValues:``.

Evaluation fails closed: a condition that does not parse, names an operator the emulator does
not implement, or reads an attribute the calling service does not provide raises
:class:`Unevaluable`, and the evaluator then treats the assignment as granting nothing. An
attribute the service knows but the request lacks (a blob path on List Blobs, a tag the blob
does not carry) is an empty set of values: positive comparisons are false, their ``Not`` forms
true. Evaluation short-circuits left to right, as the documented ``!(ActionMatches{...}) OR
(...)`` pattern relies on.

The grammar is parsed with lark (LALR); the parse tree of each condition text is cached.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

__all__ = ["RequestContext", "Unevaluable", "SUPPORTED_VERSIONS", "attributes_in", "evaluate", "parse"]

SUPPORTED_VERSIONS = ("1.0", "2.0")


class Unevaluable(Exception):
    """The condition cannot be evaluated here (syntax, operator or attribute unknown)."""


@dataclass
class RequestContext:
    """What a service knows about one request, for the conditions of the assignments it checks.

    ``attributes`` maps an attribute as written in a condition, ``"@Resource[<name>]"``, to its
    value: a string, an int, a bool, or a collection of those; ``None`` or an empty collection
    means the service knows the attribute but this request has none. Any attribute not in the
    mapping (and not matched by ``tag_lookup``) is unknown: the condition is unevaluable.
    ``tag_lookup(source, key, case_sensitive)`` answers blob-index-tag attributes
    (``...blobs/tags:<key><$key_case_sensitive$>``) for the sources it knows, or raises KeyError.
    """
    action: str = ""
    sub_operation: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tag_lookup: Callable[[str, str, bool], Any] | None = None


_GRAMMAR = r"""
?start: expr
?expr: and_chain | or_chain | unary
and_chain: unary (AND unary)+
or_chain: unary (OR unary)+
?unary: NOT unary -> negation
      | atom
?atom: "(" expr ")"
     | ACTION_MATCHES "{" STRING "}" -> action_matches
     | SUBOP_MATCHES "{" STRING "}" -> suboperation_matches
     | operand OPERATOR operand -> comparison
?operand: ATTRIBUTE -> attribute
        | value
?value: STRING -> string
      | INT -> integer
      | BOOL -> boolean
      | "{" [value ("," value)*] "}" -> set_
AND.3: /AND\b/i | "&&"
OR.3: /OR\b/i | "||"
NOT.3: /NOT\b/i | "!"
ACTION_MATCHES.2: /ActionMatches\b/
SUBOP_MATCHES.2: /SubOperationMatches\b/
BOOL.2: /(true|false)\b/i
OPERATOR: /(For(Any|All)Of(Any|All)Values:)?[A-Z][A-Za-z]+/
ATTRIBUTE: /@(Resource|Request|Principal|Environment)\[[^\[\]]+\]/
STRING: /'(\\.|[^'\\])*'/
INT: /-?\d+/
%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


@lru_cache(maxsize=1024)
def parse(condition: str) -> Tree:
    """The parse tree of a condition; raises :class:`Unevaluable` when it does not parse."""
    if not isinstance(condition, str) or not condition.strip():
        raise Unevaluable("empty condition")
    try:
        return _PARSER.parse(condition)
    except LarkError as e:
        raise Unevaluable(f"the condition does not parse: {str(e).splitlines()[0]}") from None


def attributes_in(condition: str) -> set[str]:
    """The attributes a condition reads (``@Source[name]`` as written); empty if it does not parse."""
    try:
        tree = parse(condition)
    except Unevaluable:
        return set()
    return {str(t) for t in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "ATTRIBUTE")}


# -- values -----------------------------------------------------------------------------------
def _unquote(tok: str) -> str:
    # only an escaped quote is unescaped: backslashes before * and ? stay for the Like operators
    return tok[1:-1].replace("\\'", "'")


_TAG = re.compile(r"^@(Resource|Request)\[Microsoft\.Storage/storageAccounts/blobServices/containers/blobs/tags:"
                  r"(?P<key>.+?)(?P<cs><\$key_case_sensitive\$>)?\]$")


def _values(node, ctx: RequestContext) -> list:
    """An operand as a list of values (single values are one-element lists)."""
    kind = node.data
    if kind == "string":
        return [_unquote(str(node.children[0]))]
    if kind == "integer":
        return [int(str(node.children[0]))]
    if kind == "boolean":
        return [str(node.children[0]).lower() == "true"]
    if kind == "set_":
        out = []
        for child in node.children:
            out.extend(_values(child, ctx))
        return out
    if kind == "attribute":
        name = str(node.children[0])
        if name in ctx.attributes:
            value = ctx.attributes[name]
        else:
            m = _TAG.match(name)
            if m is None or ctx.tag_lookup is None:
                raise Unevaluable(f"the attribute {name} is not available for this request")
            try:
                value = ctx.tag_lookup(m.group(1), m.group("key"), bool(m.group("cs")))
            except KeyError:
                raise Unevaluable(f"the attribute {name} is not available for this request") from None
        if value is None:
            return []
        if isinstance(value, (list, tuple, set, frozenset)):
            return list(value)
        return [value]
    raise Unevaluable(f"unexpected operand {kind}")  # pragma: no cover - the grammar has no other


# -- operators --------------------------------------------------------------------------------
def _like(pattern: str, value: str, fold: bool) -> bool:
    # '*' any run, '?' one character, '\*' and '\?' literal (conditions-format, "Special characters")
    rx, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            rx += re.escape(pattern[i + 1])
            i += 2
            continue
        rx += ".*" if c == "*" else "." if c == "?" else re.escape(c)
        i += 1
    return re.fullmatch(rx, value, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


def _str_op(base: str) -> Callable[[Any, Any], bool] | None:
    fold = base.endswith("IgnoreCase")
    core = base[: -len("IgnoreCase")] if fold else base

    def norm(v):
        if not isinstance(v, str):
            raise Unevaluable(f"{base} compares strings, got {type(v).__name__}")
        return v.casefold() if fold else v
    if core == "StringEquals":
        return lambda a, b: norm(a) == norm(b)
    if core == "StringStartsWith":
        return lambda a, b: norm(a).startswith(norm(b))
    if core == "StringLike":
        def like(a, b):
            norm(a), norm(b)  # both must be strings; the pattern keeps its escapes
            return _like(b, a, fold)
        return like
    return None


def _num_op(base: str) -> Callable[[Any, Any], bool] | None:
    import operator
    ops = {"NumericEquals": operator.eq, "NumericLessThan": operator.lt, "NumericLessThanEquals": operator.le,
           "NumericGreaterThan": operator.gt, "NumericGreaterThanEquals": operator.ge}
    fn = ops.get(base)
    if fn is None:
        return None

    def cmp(a, b):
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int) or not isinstance(b, int):
            try:
                a, b = int(a), int(b)
            except (TypeError, ValueError):
                raise Unevaluable(f"{base} compares integers") from None
        return fn(a, b)
    return cmp


def _bool_op(base: str) -> Callable[[Any, Any], bool] | None:
    if base != "BoolEquals":
        return None

    def cmp(a, b):
        if isinstance(a, str):
            a = a.lower() == "true"
        if isinstance(b, str):
            b = b.lower() == "true"
        return bool(a) == bool(b)
    return cmp


def _operator(name: str) -> tuple[str | None, bool, Callable[[Any, Any], bool]]:
    """(cross-product quantifiers or None, negated, pairwise comparison) of an operator name."""
    quant, _, base = name.rpartition(":")
    negated = False
    positive = base
    for prefix in ("StringNot", "NumericNot", "BoolNot"):
        if base.startswith(prefix):
            negated = True
            positive = prefix[: -len("Not")] + base[len(prefix):]
    fn = _str_op(positive) or _num_op(positive) or _bool_op(positive)
    if fn is None:
        raise Unevaluable(f"the operator {name} is not supported by the emulator")
    return (quant or None), negated, fn


def _compare(name: str, left: list, right: list) -> bool:
    quant, negated, fn = _operator(name)
    if quant is None:
        # a single-valued operator: true when the (one) left value matches one of the right values
        result = any(fn(a, b) for a in left for b in right)
        return not result if negated else result
    m = re.fullmatch(r"For(Any|All)Of(Any|All)Values", quant)
    lhs_all, rhs_all = m.group(1) == "All", m.group(2) == "All"

    def pair(a, b):
        r = fn(a, b)
        return not r if negated else r

    def left_ok(a):
        return all(pair(a, b) for b in right) if rhs_all else any(pair(a, b) for b in right)
    return all(left_ok(a) for a in left) if lhs_all else any(left_ok(a) for a in left)


def _eval(node, ctx: RequestContext) -> bool:
    kind = node.data
    if kind == "and_chain":
        return all(_eval(c, ctx) for c in node.children if isinstance(c, Tree))
    if kind == "or_chain":
        return any(_eval(c, ctx) for c in node.children if isinstance(c, Tree))
    if kind == "negation":
        return not _eval(node.children[-1], ctx)
    if kind == "action_matches":
        from .rbac import action_matches
        return action_matches(_unquote(str(node.children[-1])), ctx.action)
    if kind == "suboperation_matches":
        return (ctx.sub_operation or "").lower() == _unquote(str(node.children[-1])).lower()
    if kind == "comparison":
        left, op, right = node.children
        if isinstance(left, Tree) and left.data == "attribute" and str(left.children[0]) == "@Request[subOperation]":
            lvals = [ctx.sub_operation] if ctx.sub_operation else []
        else:
            lvals = _values(left, ctx)
        return _compare(str(op), lvals, _values(right, ctx))
    raise Unevaluable(f"unexpected expression {kind}")  # pragma: no cover


def evaluate(condition: str, version: str | None, ctx: RequestContext) -> bool:
    """True when the condition allows the request; raises :class:`Unevaluable` (the caller denies)."""
    if version not in SUPPORTED_VERSIONS:
        raise Unevaluable(f"conditionVersion {version!r} is not supported (supported: {', '.join(SUPPORTED_VERSIONS)})")
    return _eval(parse(condition), ctx)

