"""ARM's ``$filter`` on the generic listings: resource groups and resources.

What the REST specs document (Microsoft.Resources ``resources.json``, ``ResourceGroups_List`` and
``Resources_List`` / ``Resources_ListByResourceGroup``):

* resource groups: "You can filter by tag names and values ... ``$filter=tagName eq 'tag1' and
  tagValue eq 'Value1'``" and nothing else;
* resources: ``eq`` and ``ne`` on ``location``, ``resourceType``, ``name``, ``resourceGroup``;
  ``substringof(value, property)`` on ``name`` and ``resourceGroup``, combined with ``and``/``or``;
  ``tagName eq 'tag1' and tagValue eq 'Value1'`` (and then "the original tags for each resource
  will not be returned in the results"); ``startswith(tagName, 'depart')``.

Anything else is refused as ARM refuses it, 400 ``InvalidFilterInQueryString`` with "Invalid
$filter '<filter>' specified in the query string." (recorded in Azure/azure-sdk-for-go#2480 for
``name eq 'foo'`` on resource groups, Azure/azure-sdk-for-net#18748 on resources): a filter that
is silently ignored would hand a cleanup script every resource.
Properties the emulator does not evaluate (``identity``, ``plan``) are refused the same way.
Names, types, groups and tag names compare case-insensitively; tag values are case-sensitive
("Tag names are case-insensitive for operations. Tag values are case-sensitive", Learn, "Use
tags to organize your Azure resources").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .errors import ArmError

Predicate = Callable[[dict], bool]

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))")

RESOURCE_PROPERTIES = ("name", "resourcetype", "resourcegroup", "location")


def invalid_filter(flt: str) -> ArmError:
    return ArmError(400, "InvalidFilterInQueryString", f"Invalid $filter '{flt}' specified in the query string.")


@dataclass
class Filter:
    predicate: Predicate
    by_tag_value: bool  # ARM leaves the tags out of results filtered by tag name and value


def resource_group_of(res: dict) -> str:
    parts = res["id"].split("/")
    return parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""


def _field(res: dict, prop: str) -> str:
    if prop == "name":
        return res.get("name", "")
    if prop == "resourcetype":
        return res.get("type", "")
    if prop == "resourcegroup":
        return resource_group_of(res)
    return str(res.get("location", "")).replace(" ", "")


def _tags(res: dict) -> dict:
    return {str(k).lower(): v for k, v in (res.get("tags") or {}).items()}


class _Parser:
    def __init__(self, text: str, properties: tuple[str, ...], functions: bool):
        self.text = text
        self.properties = properties
        self.functions = functions
        self.tokens = self._lex(text)
        self.pos = 0
        self.by_tag_value = False

    def _lex(self, text: str) -> list[tuple[str, str]]:
        out, i = [], 0
        while i < len(text):
            if text[i:].strip() == "":
                break
            m = _TOKEN.match(text, i)
            if not m:
                raise invalid_filter(text)
            kind = m.lastgroup
            value = m.group(kind)
            out.append((kind, value[1:-1].replace("''", "'") if kind == "str" else value))
            i = m.end()
        return out

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str, value: str | None = None) -> str:
        tok = self._peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1].lower() != value):
            raise invalid_filter(self.text)
        self.pos += 1
        return tok[1]

    def _is_word(self, word: str) -> bool:
        tok = self._peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == word

    def parse(self) -> Filter:
        if not self.tokens:
            raise invalid_filter(self.text)
        pred = self._or()
        if self._peek() is not None:
            raise invalid_filter(self.text)
        return Filter(pred, self.by_tag_value)

    def _joined(self, word: str, part: Callable[[], Predicate], combine) -> Predicate:
        """``part (word part)*`` with ``combine`` (any / all) over the parts' results."""
        parts = [part()]
        while self._is_word(word):
            self.pos += 1
            parts.append(part())
        return parts[0] if len(parts) == 1 else (lambda r: combine(p(r) for p in parts))

    def _or(self) -> Predicate:
        return self._joined("or", self._and, any)  # "and" binds tighter than "or", as in OData

    def _and(self) -> Predicate:
        return self._joined("and", self._factor, all)

    def _factor(self) -> Predicate:
        tok = self._peek()
        if tok == ("punct", "("):
            self.pos += 1
            inner = self._or()
            self._take("punct", ")")
            return inner
        name = self._take("word").lower()
        if name in ("substringof", "startswith") and self.functions:
            return self._function(name)
        if name == "tagname":
            return self._tag()
        if name not in self.properties:
            raise invalid_filter(self.text)
        op = self._take("word").lower()
        if op not in ("eq", "ne"):
            raise invalid_filter(self.text)
        value = self._take("str")
        want = value.replace(" ", "").lower() if name == "location" else value.lower()
        if op == "eq":
            return lambda r: _field(r, name).lower() == want
        return lambda r: _field(r, name).lower() != want

    def _function(self, name: str) -> Predicate:
        self._take("punct", "(")
        if name == "substringof":
            value = self._take("str").lower()
            self._take("punct", ",")
            prop = self._take("word").lower()
            self._take("punct", ")")
            if prop not in ("name", "resourcegroup"):
                raise invalid_filter(self.text)
            return lambda r: value in _field(r, prop).lower()
        prop = self._take("word").lower()
        self._take("punct", ",")
        prefix = self._take("str").lower()
        self._take("punct", ")")
        if prop != "tagname":
            raise invalid_filter(self.text)
        return lambda r: any(k.startswith(prefix) for k in _tags(r))

    def _tag(self) -> Predicate:
        """``tagName eq 'n'`` alone, or with ``and tagValue eq 'v'`` as one condition on one tag."""
        self._take("word", "eq")
        tag = self._take("str").lower()
        save = self.pos
        if self._is_word("and"):
            self.pos += 1
            if self._is_word("tagvalue"):
                self.pos += 1
                self._take("word", "eq")
                value = self._take("str")
                self.by_tag_value = True
                return lambda r: _tags(r).get(tag) == value
            self.pos = save
        return lambda r: tag in _tags(r)


def resources_filter(flt: str) -> Filter:
    """The filter of ``GET /subscriptions/{s}[/resourceGroups/{rg}]/resources``."""
    return _Parser(flt, RESOURCE_PROPERTIES, functions=True).parse()


def resource_groups_filter(flt: str) -> Filter:
    """The filter of ``GET /subscriptions/{s}/resourcegroups``: tag name (and value) only."""
    return _Parser(flt, (), functions=False).parse()
