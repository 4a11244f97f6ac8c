"""Role-assignment conditions (Azure ABAC): the grammar of "Azure role assignment condition format
and syntax", the operators' semantics, and the evaluator's rule that a condition it cannot
evaluate grants nothing."""
from __future__ import annotations

import pytest

from milab.cloud.authorization import Assignment, Evaluator, RequestContext, Unevaluable
from milab.cloud.authorization.conditions import attributes_in, evaluate

C = "Microsoft.Storage/storageAccounts/blobServices/containers"
READ = f"{C}/blobs/read"
WRITE = f"{C}/blobs/write"
NAME = f"@Resource[{C}:name]"
PATH = f"@Resource[{C}/blobs:path]"
TAG = f"@Resource[{C}/blobs/tags:Project<$key_case_sensitive$>]"


def ctx(action=READ, sub_operation=None, tags=None, **attrs):
    values = {NAME: "box-a", PATH: "dir/file.txt", **{k.replace("__", ":"): v for k, v in attrs.items()}}

    def lookup(source, key, case_sensitive):
        if tags is None or source != "Resource":
            raise KeyError(key)
        if case_sensitive:
            return tags.get(key)
        return next((v for k, v in tags.items() if k.lower() == key.lower()), None)
    return RequestContext(action=action, sub_operation=sub_operation, attributes=values, tag_lookup=lookup)


@pytest.mark.parametrize("condition,expected", [
    (f"{NAME} StringEquals 'box-a'", True),
    (f"{NAME} StringEquals 'BOX-A'", False),
    (f"{NAME} StringEqualsIgnoreCase 'BOX-A'", True),
    (f"{NAME} StringNotEquals 'box-a'", False),
    (f"{NAME} StringStartsWith 'box'", True),
    (f"{NAME} StringNotStartsWith 'box'", False),
    (f"{PATH} StringLike 'dir/*.txt'", True),
    (f"{PATH} StringLike 'dir/?ile.txt'", True),
    (f"{PATH} StringLike 'dir/*.csv'", False),
    (f"{PATH} StringLike 'dir/file\\*'", False),  # an escaped asterisk is literal
    (f"{NAME} ForAnyOfAnyValues:StringEquals {{'x', 'box-a'}}", True),
    (f"{NAME} ForAllOfAnyValues:StringEquals {{'x', 'y'}}", False),
    (f"{NAME} StringEquals 'x' OR {NAME} StringEquals 'box-a'", True),
    (f"{NAME} StringEquals 'x' || {NAME} StringEquals 'box-a'", True),
    (f"{NAME} StringEquals 'box-a' AND {PATH} StringStartsWith 'other/'", False),
    (f"{NAME} StringEquals 'box-a' && {PATH} StringStartsWith 'dir/'", True),
    (f"NOT {NAME} StringEquals 'box-a'", False),
    (f"!({NAME} StringEquals 'x')", True),
    (f"(!(ActionMatches{{'{READ}'}}) OR {NAME} StringEquals 'x')", False),
    (f"(!(ActionMatches{{'{WRITE}'}}) OR {NAME} StringEquals 'x')", True),  # another action: not restricted
    (f"ActionMatches{{'{C}/blobs/*'}}", True),
    (f"{TAG} StringEquals 'Cascade'", True),
    (f"@Resource[{C}/blobs/tags:project] StringEquals 'Cascade'", True),  # no marker: key case-insensitive
    (f"@Resource[{C}/blobs/tags:project<$key_case_sensitive$>] StringEquals 'Cascade'", False),  # no such tag
    (f"@Resource[{C}/blobs/tags:Other<$key_case_sensitive$>] StringNotEquals 'x'", True),  # absent: Not is true
    ("{10, 20} ForAllOfAllValues:NumericLessThan {25, 30}", True),
    ("{10, 20} ForAllOfAllValues:NumericLessThan {15, 25, 30}", False),
    ("{'red', 'blue'} ForAllOfAnyValues:StringEquals {'orange', 'red', 'blue'}", True),
])
def test_operators_and_logic(condition, expected):
    assert evaluate(condition, "2.0", ctx(tags={"Project": "Cascade"})) is expected


def test_suboperations_as_the_documented_forms_write_them():
    listing = ctx(sub_operation="Blob.List", **{f"@Resource[{C}/blobs__path]": None})
    documented = (f"((!(ActionMatches{{'{READ}'}} AND NOT SubOperationMatches{{'Blob.List'}})) OR "
                  f"({PATH} StringLike 'dir/*'))")
    assert evaluate(documented, "2.0", listing) is True  # List Blobs is excluded: no path needed
    assert evaluate(documented, "2.0", ctx()) is True
    assert evaluate(documented, "2.0", ctx(**{f"@Resource[{C}/blobs__path]": "x/y"})) is False
    v2 = "@Request[subOperation] ForAnyOfAnyValues:StringEqualsIgnoreCase {'blob.list'}"
    assert evaluate(v2, "2.0", listing) is True and evaluate(v2, "2.0", ctx()) is False


@pytest.mark.parametrize("condition", [
    f"{NAME} StringEquals 'a' AND {NAME} StringEquals 'b' OR {NAME} StringEquals 'c'",  # needs parentheses
    f"{NAME} StringEquals",
    f"{NAME} stringequals 'box-a'",
    "((",
    "",
    f"{NAME} DateTimeEquals '2024-01-01T00:00:00.0Z'",
    "@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Engineering_Project] StringEquals 'x'",
    "@Environment[isPrivateLink] BoolEquals true",
    f"@Resource[{C}/blobs:versionId] StringEquals 'x'",
    f"{TAG} StringEquals 'Cascade'",  # the service provides no tags for this request
])
def test_what_cannot_be_evaluated(condition):
    with pytest.raises(Unevaluable):
        evaluate(condition, "2.0", ctx(tags=None))


def test_condition_versions():
    cond = f"{NAME} StringEquals 'box-a'"
    assert evaluate(cond, "1.0", ctx()) and evaluate(cond, "2.0", ctx())
    with pytest.raises(Unevaluable):
        evaluate(cond, "3.0", ctx())


def test_attributes_in():
    cond = f"(!(ActionMatches{{'{READ}'}}) OR ({TAG} StringEquals 'x' AND {NAME} StringEquals 'y'))"
    assert attributes_in(cond) == {TAG, NAME}
    assert attributes_in("not a condition") == set()


READER_DATA = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
SCOPE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"


def _assignment(condition, version="2.0"):
    return Assignment(id="ra", scope=SCOPE, role_definition_id=READER_DATA, principal_id="p",
                      condition=condition, condition_version=version)


def test_evaluator_applies_conditions_to_data_actions_only():
    ev = Evaluator()
    cond = [_assignment(f"{NAME} StringEquals 'box-a'")]
    scope = f"{SCOPE}/blobServices/default/containers/box-a"
    assert ev.check({"p"}, READ, scope, cond, data_action=True, request=ctx())
    denied = ev.check({"p"}, READ, scope, cond, data_action=True, request=ctx(**{NAME: "box-b"}))
    assert not denied and "condition" in denied.reason
    # without request attributes a conditional assignment grants no data action ...
    assert not ev.check({"p"}, READ, scope, cond, data_action=True)
    # ... and conditions do not restrict the role's control-plane actions
    assert ev.check({"p"}, f"{C}/read", scope, cond)
    # an unconditional assignment next to a failing conditional one still grants
    both = cond + [Assignment(id="ra2", scope=SCOPE, role_definition_id=READER_DATA, principal_id="p")]
    assert ev.check({"p"}, READ, scope, both, data_action=True, request=ctx(**{NAME: "box-b"}))


@pytest.mark.parametrize("condition,version", [("garbage ((", "2.0"), (f"{NAME} StringEquals 'box-a'", "9.9")])
def test_evaluator_denies_what_it_cannot_evaluate(condition, version):
    decision = Evaluator().check({"p"}, READ, SCOPE, [_assignment(condition, version)], data_action=True,
                                 request=ctx())
    assert not decision and "cannot be evaluated" in decision.reason
