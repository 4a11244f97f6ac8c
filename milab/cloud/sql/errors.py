"""Azure SQL's errors: number, state, class (severity) and message, sent as TDS ERROR tokens.

Numbers, classes and message texts are the Database Engine's (MicrosoftDocs/sql-docs,
``docs/relational-databases/errors-events/includes/database-engine-events-and-errors-*.md``);
the states and the token-login texts are what Azure SQL sends, as recorded where each is used.
"""
from __future__ import annotations


class SqlError(Exception):
    def __init__(self, number: int, message: str, *, state: int = 1, severity: int = 16,
                 fatal: bool = False, also: "list[SqlError] | None" = None):
        super().__init__(f"Msg {number}, Level {severity}, State {state}: {message}")
        self.number = number
        self.message = message
        self.state = state
        self.severity = severity
        self.fatal = fatal  # the connection ends after the error (a failed login)
        self.also = also or []  # errors sent before this one (e.g. 4060 before 18456)


TOKEN_PRINCIPAL = "<token-identified principal>"


def login_failed(user: str = TOKEN_PRINCIPAL, detail: str = "", state: int = 1) -> SqlError:
    """18456 (class 14). Clients see state 1 unless Azure says more: e.g. ``Msg 18456, Level 14,
    State 233 ... Login failed for user '<token-identified principal>'. Token is expired.``
    (microsoft/azuredatastudio#14497, #16970)."""
    return SqlError(18456, f"Login failed for user '{user}'." + (f" {detail}" if detail else ""),
                    state=state, severity=14, fatal=True)


def syntax(near: str) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{near}'.", severity=15)


def invalid_object(name: str) -> SqlError:
    return SqlError(208, f"Invalid object name '{name}'.")


def permission_denied(permission: str, obj: str, database: str, schema: str = "dbo") -> SqlError:
    """229 (class 14): "The %ls permission was denied on the object '%.*ls', database '%.*ls',
    schema '%.*ls'." State 5 is what SQL Server reports for a missing object permission
    (``Msg 229, Level 14, State 5``)."""
    return SqlError(229, f"The {permission} permission was denied on the object '{obj}', database '{database}', "
                         f"schema '{schema}'.", state=5, severity=14)


def database_permission_denied(statement: str, database: str) -> SqlError:
    """262 (class 14): "%ls permission denied in database '%.*ls'." (e.g. CREATE TABLE)."""
    return SqlError(262, f"{statement} permission denied in database '{database}'.", severity=14)
