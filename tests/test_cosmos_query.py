"""The Cosmos DB query language: the grammar, Cosmos's value semantics and the query plan."""
from __future__ import annotations

import pytest

from milab.cloud.cosmos import query as Q

DOCS = [{"id": "a", "n": 3, "pk": "x", "tags": ["t"], "o": {"k": 1}}, {"id": "b", "n": 1, "pk": "y"},
        {"id": "c", "n": 2, "pk": "x"}, {"id": "d", "n": "2"}, {"id": "e", "n": None}]


def run(text, params=None, docs=DOCS):
    return Q.execute(Q.parse(text), docs, params or {})


def ids(rows):
    return [r["id"] for r in rows]


def test_filters_with_parameters_and_cosmos_types():
    assert ids(run("SELECT * FROM c WHERE c.id = @id", {"@id": "b"})) == ["b"]
    # a comparison between different types is undefined: "2" (a string) is not > 1
    assert ids(run("SELECT * FROM c WHERE c.n > 1")) == ["a", "c"]
    assert ids(run("SELECT * FROM c WHERE c.n = null")) == ["e"]
    assert ids(run("SELECT * FROM c WHERE NOT IS_DEFINED(c.pk)")) == ["d", "e"]
    assert ids(run("SELECT * FROM root r WHERE r.pk IN ('x', 'z') AND r.n BETWEEN 2 AND 3")) == ["a", "c"]
    assert ids(run("SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, 't') OR c.o.k = 1")) == ["a"]
    assert ids(run("SELECT * FROM c WHERE STARTSWITH(c.id, 'A', true) OR c['id'] = 'b'")) == ["a", "b"]


def test_projections_values_and_aliases():
    assert run("SELECT c.id, c.n * 2 AS twice FROM c WHERE c.pk = 'x'") == [{"id": "a", "twice": 6},
                                                                          {"id": "c", "twice": 4}]
    assert run("SELECT VALUE c.o.k FROM c") == [1]  # undefined values are left out
    assert run("SELECT VALUE {'id': c.id, 'list': [c.n, 1]} FROM c WHERE c.id = 'b'") == [{"id": "b", "list": [1, 1]}]
    assert run("SELECT VALUE 1 + 2") == [3]


def test_order_top_offset_distinct_and_aggregates():
    assert ids(run("SELECT TOP 2 * FROM c WHERE IS_NUMBER(c.n) ORDER BY c.n DESC")) == ["a", "c"]
    # ORDER BY sorts undefined < null < numbers < strings
    assert ids(run("SELECT * FROM c ORDER BY c.n")) == ["e", "b", "c", "a", "d"]
    assert ids(run("SELECT * FROM c ORDER BY c.pk, c.n DESC")) == ["d", "e", "a", "c", "b"]
    assert ids(run("SELECT * FROM c ORDER BY c.id OFFSET 1 LIMIT 2")) == ["b", "c"]
    assert run("SELECT DISTINCT VALUE c.pk FROM c") == ["x", "y"]
    assert run("SELECT VALUE COUNT(1) FROM c") == [5]
    assert run("SELECT VALUE SUM(c.n) FROM c WHERE c.pk = 'x'") == [5]
    assert run("SELECT VALUE MAX(c.n) FROM c") == ["2"]
    assert run("SELECT VALUE AVG(c.n) FROM c WHERE IS_NUMBER(c.n)") == [2]
    assert run("SELECT COUNT(1) AS n FROM c") == [{"n": 5}]
    assert run("SELECT VALUE MIN(c.n) FROM c WHERE c.id = 'zzz'") == []


def test_the_gateway_needs_a_plan_for_what_it_cannot_merge():
    assert not Q.parse("SELECT * FROM c WHERE c.id = 'a'").needs_plan
    for text in ("SELECT * FROM c ORDER BY c.n", "SELECT VALUE COUNT(1) FROM c", "SELECT TOP 1 * FROM c",
                 "SELECT DISTINCT c.pk FROM c", "SELECT * FROM c OFFSET 0 LIMIT 1"):
        assert Q.parse(text).needs_plan, text


def test_query_plan_rewrites_as_the_gateway_does_and_the_rewrite_runs():
    plan = Q.query_plan(Q.parse("SELECT TOP 2 c.id FROM c WHERE c.n > 0 ORDER BY c.n DESC"), {})
    info = plan["queryInfo"]
    assert info["top"] == 2 and info["orderBy"] == ["Descending"] and info["orderByExpressions"] == ["c.n"]
    assert plan["queryRanges"] == [{"min": "", "max": "FF", "isMinInclusive": True, "isMaxInclusive": False}]
    rewritten = info["rewrittenQuery"].replace("{documentdb-formattableorderbyquery-filter}", "true")
    rows = run(rewritten)
    assert [r["payload"] for r in rows] == [{"id": "a"}, {"id": "c"}]
    assert rows[0]["orderByItems"] == [{"item": 3}]
    agg = Q.query_plan(Q.parse("SELECT VALUE COUNT(1) FROM c WHERE c.pk = @p"), {"@p": "x"})["queryInfo"]
    assert agg["aggregates"] == ["Count"] and agg["hasSelectValue"]
    assert run(agg["rewrittenQuery"], {"@p": "x"}) == [[{"item": 2}]]
    avg = Q.query_plan(Q.parse("SELECT VALUE AVG(c.n) FROM c"), {})["queryInfo"]
    assert run(avg["rewrittenQuery"], docs=DOCS[:3]) == [[{"item": {"sum": 6, "count": 3}}]]
    page = Q.query_plan(Q.parse("SELECT * FROM c OFFSET @o LIMIT 2"), {"@o": 1})["queryInfo"]
    assert (page["offset"], page["limit"]) == (1, 2) and page["rewrittenQuery"].endswith("OFFSET 0 LIMIT 3")


@pytest.mark.parametrize("text,code", [
    ("SELECT FROM c", "SC1001"), ("SELECT * FROM c WHERE", "SC1001"), ("SELECT * FROM c WHERE x.id = 1", "SC2001"),
    ("SELECT * FROM c WHERE NOSUCH(c.id)", "SC2005"), ("SELECT *", "SC2001"), ("", "SC1001"),
    ("SELECT * FROM c WHERE c.id = 'unterminated", "SC1001"), ("DROP TABLE c", "SC1001"),
    ("SELECT * FROM c; DELETE", "SC1001"), ("SELECT COUNT(1, 2) FROM c", "SC2050"),
    ("SELECT * FROM c WHERE " + "NOT " * 3000 + "true", "SC1001"),
    ("SELECT * FROM c WHERE c.id = '" + "x" * 300000 + "'", "SC1001"),
])
def test_malformed_queries_are_query_errors(text, code):
    with pytest.raises(Q.QueryError) as e:
        Q.execute(Q.parse(text), DOCS, {})
    assert e.value.code == code and '"severity": "Error"' in e.value.errors_json()


def test_parameters_and_counts_are_checked():
    with pytest.raises(Q.QueryError):
        run("SELECT * FROM c WHERE c.id = @missing")
    with pytest.raises(Q.QueryError):
        run("SELECT TOP @n * FROM c", {"@n": -1})
    assert len(run("SELECT TOP @n * FROM c", {"@n": 2})) == 2
    for bad in ({"query": "SELECT * FROM c", "parameters": 5}, {"query": "SELECT * FROM c", "parameters": [1]}):
        with pytest.raises(Q.QueryError):
            Q.parameters(bad)
