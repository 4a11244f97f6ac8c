"""The Cosmos DB for NoSQL query language: a grammar (lark), an evaluator and the query plan.

The grammar covers the surface the tutorials and the SDK samples use, and what the SDK sends
back after a query plan: ``SELECT [DISTINCT] [TOP n] * | VALUE expr | expr [AS name], ...``
``FROM alias [[AS] alias]``, ``WHERE`` with ``AND``/``OR``/``NOT``, comparisons, ``IN``,
``BETWEEN``, arithmetic and ``||``, property paths (``c.a.b``, ``c["a"]``, ``c.list[0]``),
``@parameters``, array and object literals, the common built-in functions, the aggregates
``COUNT``/``SUM``/``MIN``/``MAX``/``AVG``, ``ORDER BY`` (one or more paths) and
``OFFSET ... LIMIT``.

Values follow Cosmos's type system: a missing property is *undefined* (not ``null``);
comparisons between different types are undefined, so they filter nothing in; ``ORDER BY``
sorts undefined < null < booleans < numbers < strings < arrays < objects.

A query the gateway cannot serve across partitions (``ORDER BY``, aggregates, ``DISTINCT``,
``TOP``, ``OFFSET``) is answered with 400 / substatus 1004; the SDK then asks for the query plan
(:func:`query_plan`) and runs the plan's ``rewrittenQuery`` against each partition key range,
merging the results itself. The rewritten forms are the ones the real gateway produces
(``[{"item": ...}] AS orderByItems, ... AS payload``; ``VALUE [{"item": COUNT(1)}]``), built from
the original text's own slices (lark keeps each node's position), so no unparser is needed.
"""
from __future__ import annotations

import functools
import json
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

GRAMMAR = r"""
?start: query

query: "SELECT"i distinct? top? selection from_clause? where_clause? order_clause? offset_clause?

distinct: "DISTINCT"i
top: "TOP"i (INT | PARAM)
?selection: star | select_value | select_list
star: "*"
select_value: "VALUE"i expr
select_list: select_item ("," select_item)*
select_item: expr ("AS"i NAME)?

from_clause: "FROM"i NAME (["AS"i] NAME)?
where_clause: "WHERE"i expr
order_clause: "ORDER"i "BY"i order_item ("," order_item)*
order_item: expr ORDER_DIR?
ORDER_DIR: "ASC"i | "DESC"i
offset_clause: "OFFSET"i (INT | PARAM) "LIMIT"i (INT | PARAM)

?expr: ternary
?ternary: or_expr
        | or_expr "?" expr ":" expr                  -> conditional
?or_expr: and_expr
        | or_expr "OR"i and_expr                     -> or_
?and_expr: not_expr
        | and_expr "AND"i not_expr                   -> and_
?not_expr: comparison
        | "NOT"i not_expr                            -> not_
?comparison: concat
        | concat COMP_OP concat                      -> compare
        | concat "IN"i "(" expr_list ")"             -> in_
        | concat "NOT"i "IN"i "(" expr_list ")"      -> not_in
        | concat "BETWEEN"i concat "AND"i concat     -> between
        | concat "LIKE"i concat                      -> like
?concat: sum
        | concat "||" sum                            -> strcat
?sum: product
        | sum ADD_OP product                         -> arith
?product: unary
        | product MUL_OP unary                       -> arith
?unary: primary
        | "-" unary                                  -> neg
        | "+" unary
?primary: literal
        | PARAM                                      -> param
        | NAME                                       -> ident
        | primary "." NAME                           -> member
        | primary "[" expr "]"                       -> index
        | NAME "(" [expr_list] ")"                   -> call
        | "(" expr ")"
        | "[" [expr_list] "]"                        -> array
        | "{" [pair ("," pair)*] "}"                 -> object
expr_list: expr ("," expr)*
pair: (STRING | NAME) ":" expr

?literal: NUMBER                                     -> number
        | STRING                                     -> string
        | TRUE                                       -> true
        | FALSE                                      -> false
        | NULL                                       -> null
        | UNDEFINED_KW                               -> undefined

TRUE: "true"i
FALSE: "false"i
NULL: "null"i
UNDEFINED_KW: "undefined"i
COMP_OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
PARAM: /@[A-Za-z_][A-Za-z0-9_]*/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
INT: /[0-9]+/
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/ | /\.[0-9]+/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/

%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


class QueryError(Exception):
    """A query Cosmos refuses: 400 BadRequest with the SC-coded error list in its message."""

    def __init__(self, message: str, code: str = "SC1001", start: int = 0, end: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.start, self.end = start, end

    def errors_json(self) -> str:
        return json.dumps({"errors": [{"severity": "Error", "location": {"start": self.start, "end": self.end},
                                       "code": self.code, "message": self.message}]})


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()
MAX_QUERY_LENGTH = 262144
AGGREGATES = {"count": "Count", "sum": "Sum", "min": "Min", "max": "Max", "avg": "Average"}


# -- values ----------------------------------------------------------------------------------
def _type_rank(v) -> int:
    if v is UNDEFINED:
        return 0
    if v is None:
        return 1
    if isinstance(v, bool):
        return 2
    if isinstance(v, (int, float)):
        return 3
    if isinstance(v, str):
        return 4
    if isinstance(v, list):
        return 5
    return 6


def sort_key(v):
    rank = _type_rank(v)
    if rank in (2, 3, 4):
        return (rank, v)
    if rank in (5, 6):
        return (rank, json.dumps(v, sort_keys=True))
    return (rank, 0)


def _same_kind(a, b) -> bool:
    ra, rb = _type_rank(a), _type_rank(b)
    return ra == rb and ra != 0


_SCALARS = (str, int, float, bool)  # one type on both sides: the same kind, and Python compares them as Cosmos
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _equal(a, b):
    t = type(a)
    if t is type(b) and t in _SCALARS:
        return a == b
    if not _same_kind(a, b):
        return UNDEFINED
    return a == b


def _compare(op: str, a, b):
    if op in ("=", "!=", "<>"):
        eq = _equal(a, b)
        if eq is UNDEFINED:
            return UNDEFINED
        return eq if op == "=" else not eq
    if not _same_kind(a, b) or _type_rank(a) not in (2, 3, 4):
        return UNDEFINED
    return _ORDER[op](a, b)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _arith(op: str, a, b):
    if not (_num(a) and _num(b)):
        return UNDEFINED
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return UNDEFINED
    if op == "/":
        r = a / b
        return int(r) if float(r).is_integer() and isinstance(a, int) and isinstance(b, int) else r
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else int(math.fmod(a, b))


def _truth(v) -> bool:
    return v is True


def _like(value, pattern) -> Any:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return UNDEFINED
    import re
    rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value, re.S) is not None


def _string_fn(fn):
    def wrapped(*args):
        if not args or not all(isinstance(a, str) for a in args[:2] if a is not None) or \
                any(not isinstance(a, str) for a in args[:1]):
            return UNDEFINED
        return fn(*args)
    return wrapped


def _contains(s, sub, ignore_case=False):
    if not isinstance(s, str) or not isinstance(sub, str):
        return UNDEFINED
    return sub.lower() in s.lower() if ignore_case is True else sub in s


def _starts(s, p, ignore_case=False):
    if not isinstance(s, str) or not isinstance(p, str):
        return UNDEFINED
    return s.lower().startswith(p.lower()) if ignore_case is True else s.startswith(p)


def _ends(s, p, ignore_case=False):
    if not isinstance(s, str) or not isinstance(p, str):
        return UNDEFINED
    return s.lower().endswith(p.lower()) if ignore_case is True else s.endswith(p)


def _array_contains(arr, v, partial=False):
    if not isinstance(arr, list):
        return UNDEFINED
    for x in arr:
        if partial is True and isinstance(x, dict) and isinstance(v, dict):
            if all(_equal(x.get(k, UNDEFINED), val) is True for k, val in v.items()):
                return True
        elif _equal(x, v) is True:
            return True
    return False


def _length(s):
    return len(s) if isinstance(s, str) else UNDEFINED


def _array_length(a):
    return len(a) if isinstance(a, list) else UNDEFINED


def _concat(*args):
    return "".join(args) if args and all(isinstance(a, str) for a in args) else UNDEFINED


def _to_string(v):
    if v is UNDEFINED:
        return UNDEFINED
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def _substring(s, start, length):
    if not isinstance(s, str) or not _num(start) or not _num(length):
        return UNDEFINED
    return s[int(start):int(start) + int(length)]


def _index_of(s, sub, start=0):
    if not isinstance(s, str) or not isinstance(sub, str):
        return UNDEFINED
    return s.find(sub, int(start) if _num(start) else 0)


def _num_fn(fn):
    def wrapped(v):
        return fn(v) if _num(v) else UNDEFINED
    return wrapped


FUNCTIONS: dict[str, Callable] = {
    "is_defined": lambda v: v is not UNDEFINED,
    "is_null": lambda v: v is None,
    "is_string": lambda v: isinstance(v, str),
    "is_number": _num,
    "is_bool": lambda v: isinstance(v, bool),
    "is_array": lambda v: isinstance(v, list),
    "is_object": lambda v: isinstance(v, dict),
    "is_primitive": lambda v: v is None or isinstance(v, (bool, int, float, str)),
    "contains": _contains,
    "startswith": _starts,
    "endswith": _ends,
    "stringequals": lambda a, b, ic=False: (UNDEFINED if not (isinstance(a, str) and isinstance(b, str))
                                           else (a.lower() == b.lower() if ic is True else a == b)),
    "lower": lambda s: s.lower() if isinstance(s, str) else UNDEFINED,
    "upper": lambda s: s.upper() if isinstance(s, str) else UNDEFINED,
    "ltrim": lambda s: s.lstrip() if isinstance(s, str) else UNDEFINED,
    "rtrim": lambda s: s.rstrip() if isinstance(s, str) else UNDEFINED,
    "trim": lambda s: s.strip() if isinstance(s, str) else UNDEFINED,
    "length": _length,
    "concat": _concat,
    "tostring": _to_string,
    "substring": _substring,
    "index_of": _index_of,
    "array_contains": _array_contains,
    "array_length": _array_length,
    "abs": _num_fn(abs),
    "floor": _num_fn(math.floor),
    "ceiling": _num_fn(math.ceil),
    "round": _num_fn(round),
}


# -- compilation -------------------------------------------------------------------------------
Env = dict  # {"doc": <row>, "params": {...}, "aggs": [...]}


@dataclass
class Compiled:
    """A parsed query, its parts compiled to functions of an environment."""
    text: str
    distinct: bool = False
    top: Any = None  # int, or a parameter name
    kind: str = "star"  # star | value | list
    value: Callable | None = None
    items: list = field(default_factory=list)  # [(alias, fn)]
    alias: str | None = None  # the FROM alias
    source: str | None = None  # the FROM name
    where: Callable | None = None
    order: list = field(default_factory=list)  # [(fn, descending, text)]
    offset: Any = None
    limit: Any = None
    aggregates: list = field(default_factory=list)  # [(kind, fn of the argument)]
    # texts for the query plan's rewritten query
    select_text: str = ""
    from_text: str = ""
    where_text: str = ""
    order_text: str = ""
    value_text: str = ""
    agg_texts: list = field(default_factory=list)
    has_select_value: bool = False

    @property
    def needs_plan(self) -> bool:
        """Does the gateway refuse this query across partitions (400 / 1004)?"""
        return bool(self.order or self.aggregates or self.distinct or self.top is not None
                    or self.offset is not None)


class _Compiler:
    def __init__(self, text: str):
        self.text = text
        self.q = Compiled(text)

    def slice(self, node) -> str:
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return self.text[meta.start_pos:meta.end_pos]
        if isinstance(node, Token):
            return str(node)
        return ""

    def compile(self, tree: Tree) -> Compiled:
        q = self.q
        children = [c for c in tree.children if isinstance(c, Tree)]
        # the FROM alias first: identifiers elsewhere are resolved against it when compiled
        children.sort(key=lambda c: c.data != "from_clause")
        for child in children:
            kind = child.data
            if kind == "distinct":
                q.distinct = True
            elif kind == "top":
                q.top = self._count_value(child.children[0])
            elif kind == "star":
                q.kind = "star"
                q.select_text = "*"
            elif kind == "select_value":
                q.kind = "value"
                q.has_select_value = True
                q.value = self.expr(child.children[0])
                q.value_text = self.slice(child.children[0])
                q.select_text = "VALUE " + q.value_text
            elif kind == "select_list":
                q.kind = "list"
                for n, item in enumerate(child.children, 1):
                    expr_node = item.children[0]
                    alias = str(item.children[1]) if len(item.children) > 1 else self._implicit_alias(expr_node, n)
                    q.items.append((alias, self.expr(expr_node), self.slice(expr_node)))
                q.select_text = self.slice(child)
            elif kind == "from_clause":
                names = [str(t) for t in child.children if isinstance(t, Token) and t.type == "NAME"]
                q.source = names[0]
                q.alias = names[-1]
                q.from_text = " ".join(names[:1] + names[1:])
            elif kind == "where_clause":
                q.where = self.expr(child.children[0])
                q.where_text = self.slice(child.children[0])
            elif kind == "order_clause":
                for item in child.children:
                    desc = len(item.children) > 1 and str(item.children[1]).upper() == "DESC"
                    q.order.append((self.expr(item.children[0]), desc, self.slice(item.children[0])))
                q.order_text = self.slice(child)[len("ORDER"):].strip()[2:].strip()
            elif kind == "offset_clause":
                q.offset = self._count_value(child.children[0])
                q.limit = self._count_value(child.children[1])
        if q.kind == "star" and q.alias is None:
            raise QueryError("'SELECT *' is only valid with a single input set.", "SC2001")
        return q

    def _count_value(self, tok):
        if tok.type == "PARAM":
            return str(tok)
        return int(tok)

    def _implicit_alias(self, node, n: int) -> str:
        if isinstance(node, Tree) and node.data == "member":
            return str(node.children[1])
        if isinstance(node, Tree) and node.data == "index" and isinstance(node.children[1], Tree) and \
                node.children[1].data == "string":
            return _unquote(str(node.children[1].children[0]))
        if isinstance(node, Tree) and node.data == "ident":
            return str(node.children[0])
        return f"${n}"

    # -- expressions ---------------------------------------------------------------------------
    def expr(self, node) -> Callable[[Env], Any]:
        if isinstance(node, Token):
            raise QueryError(f"Syntax error, incorrect syntax near '{node}'.")
        data = node.data
        ch = node.children
        method = getattr(self, "_" + data, None)
        if method is None:
            raise QueryError(f"Syntax error, unsupported expression '{self.slice(node)}'.")
        return method(node, ch)

    def _number(self, node, ch):
        text = str(ch[0])
        v = float(text) if any(c in text for c in ".eE") else int(text)
        return lambda env: v

    def _string(self, node, ch):
        v = _unquote(str(ch[0]))
        return lambda env: v

    def _true(self, node, ch):
        return lambda env: True

    def _false(self, node, ch):
        return lambda env: False

    def _null(self, node, ch):
        return lambda env: None

    def _undefined(self, node, ch):
        return lambda env: UNDEFINED

    def _param(self, node, ch):
        name = str(ch[0])

        def get(env):
            params = env["params"]
            if name not in params:
                raise QueryError(f"The parameter '{name}' is not defined.", "SC2033")
            return params[name]
        return get

    def _ident(self, node, ch):
        name = str(ch[0])
        q = self.q
        if q.alias is None or name != q.alias:
            raise QueryError(f"Identifier '{name}' could not be resolved.", "SC2001",
                             node.meta.start_pos, node.meta.end_pos)
        return lambda env: env["doc"]

    def _member(self, node, ch):
        base = self.expr(ch[0])
        key = str(ch[1])

        def get(env):
            obj = base(env)
            return obj.get(key, UNDEFINED) if isinstance(obj, dict) else UNDEFINED
        return get

    def _index(self, node, ch):
        base, key = self.expr(ch[0]), self.expr(ch[1])

        def get(env):
            obj, k = base(env), key(env)
            if isinstance(obj, dict) and isinstance(k, str):
                return obj.get(k, UNDEFINED)
            if isinstance(obj, list) and _num(k) and float(k).is_integer() and 0 <= int(k) < len(obj):
                return obj[int(k)]
            return UNDEFINED
        return get

    def _call(self, node, ch):
        name = str(ch[0]).lower()
        args = [self.expr(a) for a in (ch[1].children if len(ch) > 1 else [])]
        if name in AGGREGATES:
            if len(args) != 1:
                raise QueryError(f"The aggregate function '{ch[0]}' takes one argument.", "SC2050")
            index = len(self.q.aggregates)
            self.q.aggregates.append((name, args[0]))
            self.q.agg_texts.append((AGGREGATES[name], self.slice(node), self.slice(ch[1].children[0])))
            return lambda env: env["aggs"][index]
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise QueryError(f"'{ch[0]}' is not a recognized built-in function name.", "SC2005",
                             node.meta.start_pos, node.meta.end_pos)

        def call(env):
            try:
                return fn(*[a(env) for a in args])
            except TypeError:
                raise QueryError(f"The built-in function '{ch[0]}' does not take {len(args)} argument(s).",
                                 "SC2050") from None
        return call

    def _array(self, node, ch):
        items = [self.expr(a) for a in (ch[0].children if ch else [])]
        return lambda env: [v for v in (f(env) for f in items) if v is not UNDEFINED]

    def _object(self, node, ch):
        pairs = [(_unquote(str(p.children[0])) if p.children[0].type == "STRING" else str(p.children[0]),
                  self.expr(p.children[1])) for p in ch]

        def build(env):
            out = {}
            for k, f in pairs:
                v = f(env)
                if v is not UNDEFINED:
                    out[k] = v
            return out
        return build

    def _compare(self, node, ch):
        a, op, b = self.expr(ch[0]), str(ch[1]), self.expr(ch[2])
        if op == "=":
            return lambda env: _equal(a(env), b(env))
        return lambda env: _compare(op, a(env), b(env))

    def _in_(self, node, ch):
        a = self.expr(ch[0])
        options = [self.expr(e) for e in ch[1].children]

        def test(env):
            v = a(env)
            if v is UNDEFINED:
                return UNDEFINED
            return any(_equal(v, o(env)) is True for o in options)
        return test

    def _not_in(self, node, ch):
        inner = self._in_(node, ch)

        def test(env):
            r = inner(env)
            return UNDEFINED if r is UNDEFINED else not r
        return test

    def _between(self, node, ch):
        v, lo, hi = (self.expr(c) for c in ch)

        def test(env):
            x = v(env)
            a, b = _compare(">=", x, lo(env)), _compare("<=", x, hi(env))
            if a is UNDEFINED or b is UNDEFINED:
                return UNDEFINED
            return a and b
        return test

    def _like(self, node, ch):
        a, b = self.expr(ch[0]), self.expr(ch[1])
        return lambda env: _like(a(env), b(env))

    def _and_(self, node, ch):
        a, b = self.expr(ch[0]), self.expr(ch[1])

        def test(env):
            x = a(env)
            if x is False:
                return False
            y = b(env)
            if y is False:
                return False
            if x is True and y is True:
                return True
            return UNDEFINED
        return test

    def _or_(self, node, ch):
        a, b = self.expr(ch[0]), self.expr(ch[1])

        def test(env):
            x = a(env)
            if x is True:
                return True
            y = b(env)
            if y is True:
                return True
            if x is False and y is False:
                return False
            return UNDEFINED
        return test

    def _not_(self, node, ch):
        a = self.expr(ch[0])

        def test(env):
            x = a(env)
            return (not x) if isinstance(x, bool) else UNDEFINED
        return test

    def _conditional(self, node, ch):
        c, t, f = (self.expr(x) for x in ch)
        return lambda env: t(env) if c(env) is True else f(env)

    def _strcat(self, node, ch):
        a, b = self.expr(ch[0]), self.expr(ch[1])

        def cat(env):
            x, y = a(env), b(env)
            return x + y if isinstance(x, str) and isinstance(y, str) else UNDEFINED
        return cat

    def _arith(self, node, ch):
        a, op, b = self.expr(ch[0]), str(ch[1]), self.expr(ch[2])
        return lambda env: _arith(op, a(env), b(env))

    def _neg(self, node, ch):
        a = self.expr(ch[0])
        return lambda env: (-a(env)) if _num(a(env)) else UNDEFINED


def _unquote(s: str) -> str:
    quote = s[0]
    body = s[1:-1]
    if quote == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        return json.loads('"' + body + '"')
    except ValueError:
        raise QueryError(f"Syntax error, invalid string literal {s}.") from None


@functools.lru_cache(maxsize=512)
def parse(text: str) -> Compiled:
    """Parse and compile a query (cached by text). Raises :class:`QueryError`."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The query text is empty.", "SC1001")
    if len(text) > MAX_QUERY_LENGTH:  # the account document's maxSqlQueryInputLength
        raise QueryError(f"The query text exceeds the maximum length of {MAX_QUERY_LENGTH} characters.", "SC1001")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as e:
        pos = getattr(e, "pos_in_stream", None) or 0
        near = text[pos:pos + 12].split()[0] if text[pos:pos + 12].split() else "end of input"
        raise QueryError(f"Syntax error, incorrect syntax near '{near}'.", "SC1001", pos,
                         pos + len(near)) from None
    except LarkError as e:
        raise QueryError(f"Syntax error: {e}.", "SC1001") from None
    try:
        return _Compiler(text).compile(tree)
    except RecursionError:
        raise QueryError("The query is nested too deeply.", "SC1001") from None


# -- execution ---------------------------------------------------------------------------------
def _resolve_count(value, params: dict, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in params:
            raise QueryError(f"The parameter '{value}' is not defined.", "SC2033")
        value = params[value]
    if not _num(value) or int(value) != value or value < 0:
        raise QueryError(f"The {what} value must be a non-negative integer.", "SC2062")
    return int(value)


def execute(q: Compiled, docs, params: dict) -> list:
    """Run a compiled query over ``docs`` (an iterable of items) with ``params`` (name -> value)."""
    env: Env = {"doc": None, "params": params, "aggs": []}
    rows = []
    source = docs if q.alias is not None else [UNDEFINED]
    for doc in source:
        env["doc"] = doc
        if q.where is not None and not _truth(q.where(env)):
            continue
        rows.append(doc)
    if q.aggregates:
        env["aggs"] = _aggregate(q, rows, params)
        env["doc"] = UNDEFINED
        results = [_project(q, env)]
        results = [r for r in results if r is not UNDEFINED]
    else:
        if q.order:
            keyed = []
            for doc in rows:
                env["doc"] = doc
                keyed.append(([o(env) for o, _, _ in q.order], doc))
            for i in range(len(q.order) - 1, -1, -1):
                keyed.sort(key=lambda kv, i=i: sort_key(kv[0][i]), reverse=q.order[i][1])
            rows = [doc for _, doc in keyed]
        results = []
        for doc in rows:
            env["doc"] = doc
            r = _project(q, env)
            if r is not UNDEFINED:
                results.append(r)
    if q.distinct:
        seen, unique = set(), []
        for r in results:
            k = json.dumps(r, sort_keys=True)
            if k not in seen:
                seen.add(k)
                unique.append(r)
        results = unique
    offset = _resolve_count(q.offset, params, "OFFSET")
    limit = _resolve_count(q.limit, params, "LIMIT")
    if offset is not None:
        results = results[offset: offset + (limit if limit is not None else len(results))]
    top = _resolve_count(q.top, params, "TOP")
    if top is not None:
        results = results[:top]
    return results


def _project(q: Compiled, env: Env):
    if q.kind == "star":
        return env["doc"]
    if q.kind == "value":
        return q.value(env)
    out = {}
    for alias, fn, _ in q.items:
        v = fn(env)
        if v is not UNDEFINED:
            out[alias] = v
    return out


def _aggregate(q: Compiled, rows: list, params: dict) -> list:
    values = []
    for kind, arg in q.aggregates:
        env = {"doc": None, "params": params, "aggs": []}
        vals = []
        for doc in rows:
            env["doc"] = doc
            v = arg(env)
            if v is not UNDEFINED:
                vals.append(v)
        if kind == "count":
            values.append(len(vals))
        elif kind == "sum":
            nums = [v for v in vals if _num(v)]
            values.append(sum(nums) if len(nums) == len(vals) else UNDEFINED)
        elif kind == "avg":
            nums = [v for v in vals if _num(v)]
            values.append(sum(nums) / len(nums) if nums and len(nums) == len(vals) else UNDEFINED)
        else:
            comparable = [v for v in vals if _type_rank(v) in (1, 2, 3, 4)]
            if not comparable:
                values.append(UNDEFINED)
            else:
                pick = min if kind == "min" else max
                values.append(pick(comparable, key=sort_key))
    return values


# -- the query plan ------------------------------------------------------------------------------
FULL_RANGE = {"min": "", "max": "FF", "isMinInclusive": True, "isMaxInclusive": False}


def query_plan(q: Compiled, params: dict) -> dict:
    """The gateway's answer to a query-plan request (``x-ms-cosmos-is-query-plan-request``)."""
    alias = q.alias or "r"
    src = q.from_text or alias
    where = f" WHERE {q.where_text}" if q.where_text else ""
    info: dict[str, Any] = {
        "distinctType": ("Ordered" if q.order else "Unordered") if q.distinct else "None",
        "top": _resolve_count(q.top, params, "TOP"),
        "offset": _resolve_count(q.offset, params, "OFFSET"),
        "limit": _resolve_count(q.limit, params, "LIMIT"),
        "orderBy": ["Descending" if desc else "Ascending" for _, desc, _ in q.order],
        "orderByExpressions": [text for _, _, text in q.order],
        "groupByExpressions": [], "groupByAliases": [], "aggregates": [], "groupByAliasToAggregateType": {},
        "rewrittenQuery": "", "hasSelectValue": q.has_select_value, "dCountInfo": None,
        "hasNonStreamingOrderBy": False,
    }
    top = f"TOP {info['top']} " if info["top"] is not None else ""
    distinct = "DISTINCT " if q.distinct else ""
    limit = ""
    if info["offset"] is not None:
        limit = f" OFFSET 0 LIMIT {info['offset'] + (info['limit'] or 0)}"
    if q.aggregates:
        info["aggregates"] = [kind for kind, _, _ in q.agg_texts]
        if q.kind == "value" and len(q.agg_texts) == 1 and q.value_text.strip() == q.agg_texts[0][1].strip():
            kind, call_text, arg_text = q.agg_texts[0]
            item = (f'{{"sum": SUM({arg_text}), "count": COUNT({arg_text})}}' if kind == "Average" else call_text)
            info["rewrittenQuery"] = f'SELECT VALUE [{{"item": {item}}}] FROM {src}{where}'
        else:  # the SDK refuses aggregates without VALUE across partitions; keep the text for it
            info["rewrittenQuery"] = f"SELECT {q.select_text} FROM {src}{where}"
    elif q.order:
        items = ", ".join(f'{{"item": {text}}}' for _, _, text in q.order)
        if q.kind == "star":
            payload = alias
        elif q.kind == "value":
            payload = f"({q.value_text})"
        else:
            payload = "{" + ", ".join(f'"{a}": {t}' for a, _, t in q.items) + "}"
        filt = "({documentdb-formattableorderbyquery-filter})" + (f" AND ({q.where_text})" if q.where_text else "")
        info["rewrittenQuery"] = (f"SELECT {distinct}{top}{alias}._rid, [{items}] AS orderByItems, {payload} AS "
                                  f"payload FROM {src} WHERE {filt} ORDER BY {q.order_text}{limit}")
    elif q.distinct or limit:
        info["rewrittenQuery"] = f"SELECT {distinct}{top}{q.select_text} FROM {src}{where}{limit}"
    return {"partitionedQueryExecutionInfoVersion": 2, "queryInfo": info, "queryRanges": [dict(FULL_RANGE)]}


def parameters(body: dict) -> dict:
    """``{"name": value}`` from a query body's ``parameters`` list."""
    out = {}
    raw = body.get("parameters") or []
    if not isinstance(raw, list):
        raise QueryError("The query parameters must be a list of {name, value} objects.", "SC2033")
    for p in raw:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise QueryError("Each query parameter must be an object with a 'name' and a 'value'.", "SC2033")
        out[p["name"]] = p.get("value", UNDEFINED)
    return out
