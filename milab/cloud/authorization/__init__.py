"""Azure RBAC for the emulated cloud: built-in role definitions and an access evaluator."""

from .conditions import RequestContext, Unevaluable
from .rbac import (
    Assignment,
    Decision,
    Evaluator,
    action_matches,
    normalize_scope,
    permits,
    required_action,
    scope_contains,
)
from .roles import (
    BUILTIN_ROLES,
    ROLE_DEFINITION_PREFIX,
    by_id,
    by_name,
    role_definition_id,
    to_arm,
)

__all__ = [
    "Assignment",
    "RequestContext",
    "Unevaluable",
    "BUILTIN_ROLES",
    "Decision",
    "Evaluator",
    "ROLE_DEFINITION_PREFIX",
    "action_matches",
    "by_id",
    "by_name",
    "normalize_scope",
    "permits",
    "required_action",
    "role_definition_id",
    "scope_contains",
    "to_arm",
]
