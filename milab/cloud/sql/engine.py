"""T-SQL on an embedded SQLite database per Azure SQL database.

Each batch is parsed with sqlglot's T-SQL dialect (``Azure`` below keeps ``SUSER_SNAME()``
apart from ``CURRENT_USER``, which sqlglot folds together). Per statement:

* queries and DML (``SELECT`` with ``WHERE``, ``TOP``, joins ...; ``INSERT``, ``UPDATE``,
  ``DELETE``) and DDL (``CREATE TABLE``, ``DROP TABLE``) are authorized from the statement's
  tree (the tables it reads and writes, the permission each needs, :mod:`.security`), then
  rewritten (``dbo.`` dropped, ``SUSER_SNAME()``, ``USER_NAME()``, ``DB_NAME()``,
  ``@@VERSION`` ... as values, ``sys.database_principals`` as a view of the catalog) and run
  by SQLite in the SQLite dialect sqlglot writes;
* the security statements sqlglot keeps as commands (``CREATE USER [name] FROM EXTERNAL
  PROVIDER [WITH OBJECT_ID = '...']``, ``ALTER ROLE r ADD|DROP MEMBER m``, ``DROP USER``) are
  read from sqlglot's T-SQL tokens;
* ``SET`` options are accepted, transactions are SQLite's (``BEGIN TRAN``, ``COMMIT``,
  ``ROLLBACK`` and the transaction-manager requests of ODBC's manual-commit mode).

A failing statement ends the batch with its error (number, state, class as SQL Server's).
"""
from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.parsers.tsql import TSQLParser
from sqlglot.tokens import TokenType

from . import tds
from .errors import SqlError, database_permission_denied, invalid_object, permission_denied, syntax
from .security import FIXED_ROLES, DbPrincipal, now, sid_hex, sid_of

if TYPE_CHECKING:  # pragma: no cover
    from .service import Session

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to parsing as a 'Command'" is expected

VERSION = ("Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tOct  2 2026 00:00:00 \n\tCopyright (C) 2022 Microsoft "
           "Corporation\n")  # the shape of Azure SQL's @@VERSION
MAX_BATCH_CHARS = 1_000_000
MAX_ROWS = 100_000  # rows one SELECT returns (the emulator's own bound)


def _anonymous(name: str):
    return lambda args: exp.Anonymous(this=name, expressions=args)


class AzureParser(TSQLParser):
    FUNCTIONS = {**TSQLParser.FUNCTIONS, "SUSER_SNAME": _anonymous("SUSER_SNAME"),
                 "SUSER_NAME": _anonymous("SUSER_SNAME"), "ORIGINAL_LOGIN": _anonymous("SUSER_SNAME")}


class Azure(TSQL):
    Parser = AzureParser


DIALECT = Azure()
SYS_VIEWS = {"database_principals": "milab_sys_database_principals",
             "database_role_members": "milab_sys_database_role_members",
             "tables": "milab_sys_tables"}


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]


class Batch:
    """Runs one batch for a session, writing its tokens."""

    def __init__(self, session: "Session", params: dict[str, Any] | None = None):
        self.s = session
        self.params = {k.lower(): v for k, v in (params or {}).items()}  # an RPC's parameters, by name
        self.out = tds.Tokens()

    # -- entry -----------------------------------------------------------------------------------------
    def run(self, text: str) -> bytes:
        try:
            if len(text) > MAX_BATCH_CHARS:
                raise SqlError(40544, "The batch is larger than the emulator accepts.", severity=16)
            self._statements(text)
        except SqlError as e:
            self.out.error(e.number, e.state, e.severity, e.message, self.s.server_name)
            self.out.done(tds.DONE_ERROR)
            return self.out.bytes()
        self.out.done(tds.DONE_FINAL)
        return self.out.bytes()

    def _statements(self, text: str) -> None:
        if not text.strip():
            return
        try:
            statements = sqlglot.parse(text, read=DIALECT)
        except ParseError as e:
            err = (e.errors or [{}])[0]
            raise syntax(err.get("highlight") or text.strip().split()[0][:128]) from None
        except (SqlglotError, RecursionError) as e:
            raise syntax(str(e)[:64]) from None
        for st in statements:
            if st is None:
                continue
            self._statement(st)

    def _done_more(self, status: int = 0, cmd: int = 0, count: int = 0) -> None:
        self.out.done(tds.DONE_MORE | status, cmd, count)

    # -- one statement ----------------------------------------------------------------------------------
    def _statement(self, st: exp.Expression) -> None:
        if isinstance(st, exp.Command):
            self._command(st)
        elif isinstance(st, exp.Set):
            self._done_more()
        elif isinstance(st, exp.Use):
            name = st.this.name if st.this is not None else ""
            if name.lower() != self.s.database.lower():
                # Azure SQL: "USE statement is not supported to switch between databases. Use a new
                # connection to connect to a different database." (Msg 40508)
                raise SqlError(40508, "USE statement is not supported to switch between databases. Use a new "
                                      "connection to connect to a different database.")
            self._done_more()
        elif isinstance(st, exp.Transaction):
            self.s.begin()
            self._done_more()
        elif isinstance(st, exp.Commit):
            self.s.commit()
            self._done_more()
        elif isinstance(st, exp.Rollback):
            self.s.rollback()
            self._done_more()
        elif isinstance(st, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
            self._query(st)
        elif isinstance(st, (exp.Insert, exp.Update, exp.Delete)):
            self._dml(st)
        elif isinstance(st, exp.Create):
            self._create(st)
        elif isinstance(st, exp.Drop):
            self._drop(st)
        elif isinstance(st, exp.Execute):
            proc = st.this.name if st.this is not None else ""
            raise SqlError(2812, f"Could not find stored procedure '{proc}'.", state=62)
        else:
            keyword = st.key.upper()
            raise SqlError(40517, f"Keyword or statement option '{keyword}' is not supported in this version of "
                                  f"SQL Server.")

    # -- tables and permissions ---------------------------------------------------------------------------
    def _tables(self, st: exp.Expression) -> list[exp.Table]:
        ctes = {c.alias_or_name.lower() for c in st.find_all(exp.CTE)}
        return [t for t in st.find_all(exp.Table) if t.name and t.name.lower() not in ctes]

    def _check_table(self, t: exp.Table) -> str:
        """Validate a table reference; the name SQLite knows it by. System views are rewritten."""
        catalog, schema, name = t.catalog, t.db, t.name
        full = ".".join(p for p in (catalog, schema, name) if p)
        if catalog and catalog.lower() != self.s.database.lower():
            raise SqlError(40515, f"Reference to database and/or server name in '{full}' is not supported in this "
                                  f"version of SQL Server.", severity=15)
        if (schema or "").lower() == "sys" or (schema or "").lower() == "information_schema":
            view = SYS_VIEWS.get(name.lower()) if (schema or "").lower() == "sys" else None
            if view is None:
                raise invalid_object(full)
            self.s.db.refresh_views(self.s)
            t.set("db", None)
            t.set("catalog", None)
            t.set("this", exp.to_identifier(view))
            return ""
        if schema and schema.lower() != "dbo":
            raise invalid_object(full)
        if name.lower().startswith(("milab_sys_", "sqlite_")):
            raise invalid_object(full)
        t.set("db", None)
        t.set("catalog", None)
        return name

    def _require(self, permission: str, table: str) -> None:
        if not self.s.principal.has(permission):
            raise permission_denied(permission, table, self.s.database)

    def _rewrite(self, st: exp.Expression) -> exp.Expression:
        s = self.s

        def fix(node: exp.Expression):
            if isinstance(node, exp.National):  # N'...': every SQLite string is Unicode
                return exp.Literal.string(node.this)
            if isinstance(node, exp.Anonymous) and node.name.upper() == "SUSER_SNAME":
                return exp.Literal.string(s.identity.login)
            if isinstance(node, exp.CurrentUser) or (isinstance(node, exp.Anonymous)
                                                     and node.name.upper() == "USER_NAME"):
                return exp.Literal.string(s.principal.name)
            if isinstance(node, exp.Anonymous) and node.name.upper() == "DB_NAME":
                return exp.Literal.string(s.database)
            if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Parameter):
                var = node.this.name.upper()
                values = {"VERSION": VERSION, "SERVERNAME": s.server_name, "SPID": s.spid,
                          "TRANCOUNT": 1 if s.in_transaction else 0, "ROWCOUNT": s.last_rowcount,
                          "LANGUAGE": "us_english"}
                if var in values:
                    v = values[var]
                    return exp.Literal.number(v) if isinstance(v, int) else exp.Literal.string(v)
                raise SqlError(137, f'Must declare the scalar variable "@@{var}".', severity=15, state=2)
            if isinstance(node, exp.Parameter) and node.name.lower() in self.params:
                return _literal(self.params[node.name.lower()])
            if isinstance(node, exp.Parameter):
                raise SqlError(137, f'Must declare the scalar variable "@{node.name}".', severity=15, state=2)
            return node

        return st.transform(fix)

    def _sqlite(self, st: exp.Expression) -> str:
        try:
            return st.sql(dialect="sqlite")
        except SqlglotError as e:
            raise SqlError(40517, f"Keyword or statement option '{str(e)[:100]}' is not supported in this version of "
                                  f"SQL Server.") from None

    # -- statements --------------------------------------------------------------------------------------
    def _query(self, st: exp.Expression) -> None:
        for t in self._tables(st):
            name = self._check_table(t)
            if name:
                self._require("SELECT", name)
        res = self.s.db.query(self._sqlite(self._rewrite(st)), self.s)
        self._result(res)
        self.s.last_rowcount = len(res.rows)
        self._done_more(tds.DONE_COUNT, tds.CMD_SELECT, len(res.rows))

    def _dml(self, st: exp.Expression) -> None:
        target = st.find(exp.Table) if not isinstance(st, exp.Insert) else st.this.find(exp.Table)
        permission = {exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE"}[type(st)]
        cmd = {exp.Insert: tds.CMD_INSERT, exp.Update: tds.CMD_UPDATE, exp.Delete: tds.CMD_DELETE}[type(st)]
        for t in self._tables(st):
            name = self._check_table(t)
            if not name:
                raise SqlError(259, "Ad hoc updates to system catalogs are not allowed.")
            self._require(permission if t is target else "SELECT", name)
        count = self.s.db.execute(self._sqlite(self._rewrite(st)), self.s)
        self.s.last_rowcount = count
        self._done_more(tds.DONE_COUNT, cmd, count)

    def _create(self, st: exp.Create) -> None:
        kind = (st.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW", "INDEX"):
            raise SqlError(40517, f"Keyword or statement option 'CREATE {kind}' is not supported in this version of "
                                  f"SQL Server.")
        target = st.this.find(exp.Table) if st.this is not None else None
        if target is None:
            raise syntax("CREATE")
        if not self.s.principal.has("CREATE"):
            raise database_permission_denied(f"CREATE {kind}", self.s.database)
        for t in self._tables(st):
            self._check_table(t)
        if kind == "TABLE":  # text compares case-insensitively, as the database's collation does
            for col in st.find_all(exp.ColumnDef):
                dtype = col.args.get("kind")
                if isinstance(dtype, exp.DataType) and dtype.is_type(*exp.DataType.TEXT_TYPES):
                    col.append("constraints", exp.ColumnConstraint(kind=exp.CollateColumnConstraint(
                        this=exp.var("NOCASE"))))
        self.s.db.execute(self._sqlite(self._rewrite(st)), self.s)
        self._done_more()

    def _drop(self, st: exp.Drop) -> None:
        kind = (st.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW", "INDEX"):
            raise SqlError(40517, f"Keyword or statement option 'DROP {kind}' is not supported in this version of "
                                  f"SQL Server.")
        for t in self._tables(st):
            name = self._check_table(t)
            if not self.s.principal.has("ALTER"):
                # "Cannot drop the table '%.*ls', because it does not exist or you do not have permission."
                raise SqlError(3701, f"Cannot drop the {kind.lower()} '{name}', because it does not exist or you do "
                                     f"not have permission.", severity=11, state=5)
        self.s.db.execute(self._sqlite(st), self.s)
        self._done_more()

    def _result(self, res: Result) -> None:
        columns = [tds.Column(name or "", tds.column_kind(r[i] for r in res.rows)) for i, name in
                   enumerate(res.columns)]
        self.out.colmetadata(columns)
        for row in res.rows:
            self.out.row(columns, row)

    # -- security statements (sqlglot keeps them as commands) ----------------------------------------
    def _command(self, st: exp.Command) -> None:
        text = f"{st.this} {st.expression or ''}" if isinstance(st.expression, str) else st.sql(dialect=DIALECT)
        try:
            toks = DIALECT.tokenize(text)
        except SqlglotError:
            raise syntax(text.split()[0]) from None
        words = [t for t in toks if t.token_type != TokenType.SEMICOLON]
        upper = [t.text.upper() if t.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) else None
                 for t in words]
        if upper[:2] == ["CREATE", "USER"]:
            self._create_user(words, upper)
        elif upper[:2] == ["ALTER", "ROLE"]:
            self._alter_role(words, upper)
        elif upper[:2] == ["DROP", "USER"]:
            self._drop_user(words, upper)
        else:
            head = " ".join(t.text for t in words[:2]) or text[:30]
            raise SqlError(40517, f"Keyword or statement option '{head}' is not supported in this version of SQL "
                                  f"Server.")

    @staticmethod
    def _name(tok) -> str:
        if tok.token_type not in (TokenType.IDENTIFIER, TokenType.VAR, TokenType.STRING) and not tok.text.isidentifier():
            raise syntax(tok.text)
        return tok.text

    def _create_user(self, words, upper) -> None:
        if len(words) < 3:
            raise syntax("USER")
        name = self._name(words[2])
        rest = upper[3:]
        if rest[:3] != ["FROM", "EXTERNAL", "PROVIDER"]:
            raise SqlError(40517, f"Keyword or statement option '{' '.join(t.text for t in words[3:5]) or 'USER'}' "
                                  f"is not supported in this version of SQL Server.")
        object_id = None
        tail = words[6:]
        if tail:
            if [t.text.upper() for t in tail[:3]] == ["WITH", "OBJECT_ID", "="] and len(tail) == 4 \
                    and tail[3].token_type == TokenType.STRING:
                object_id = tail[3].text
            else:
                raise syntax(tail[0].text)
        self.s.create_external_user(name, object_id)
        self._done_more()

    def _alter_role(self, words, upper) -> None:
        if len(words) != 6 or upper[3] not in ("ADD", "DROP") or upper[4] != "MEMBER":
            raise syntax(words[min(len(words) - 1, 3)].text if len(words) > 2 else "ROLE")
        self.s.alter_role(self._name(words[2]), upper[3], self._name(words[5]))
        self._done_more()

    def _drop_user(self, words, upper) -> None:
        if_exists = upper[2:4] == ["IF", "EXISTS"]
        rest = words[4:] if if_exists else words[2:]
        if len(rest) != 1:
            raise syntax(rest[1].text if len(rest) > 1 else "USER")
        self.s.drop_user(self._name(rest[0]), if_exists)
        self._done_more()


class Database:
    """One Azure SQL database: a SQLite file, and a connection per session."""

    def __init__(self, path):
        self.path = path

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    # the system views a session sees, as temporary tables of its own connection
    def refresh_views(self, session: "Session") -> None:
        c = session.conn
        catalog = session.catalog()
        c.execute("DROP TABLE IF EXISTS temp.milab_sys_database_principals")
        c.execute("CREATE TEMP TABLE milab_sys_database_principals (name TEXT COLLATE NOCASE, principal_id INTEGER, "
                  "type TEXT, type_desc TEXT, default_schema_name TEXT, create_date TEXT, modify_date TEXT, "
                  "owning_principal_id INTEGER, sid TEXT, is_fixed_role INTEGER, authentication_type INTEGER, "
                  "authentication_type_desc TEXT)")
        rows = [("public", 0, "R", "DATABASE_ROLE", None, "2003-04-08 09:10:42.287", "2003-04-08 09:10:42.287", 1,
                 None, 0, 0, "NONE"),
                ("dbo", 1, "S", "SQL_USER", "dbo", "2003-04-08 09:10:42.287", "2003-04-08 09:10:42.287", None,
                 "0x01", 0, 1, "INSTANCE"),
                ("guest", 2, "S", "SQL_USER", "guest", "2003-04-08 09:10:42.317", "2003-04-08 09:10:42.317", None,
                 "0x00", 0, 0, "NONE"),
                ("INFORMATION_SCHEMA", 3, "S", "SQL_USER", None, "2009-04-13 12:59:11.093",
                 "2009-04-13 12:59:11.093", None, None, 0, 0, "NONE"),
                ("sys", 4, "S", "SQL_USER", None, "2009-04-13 12:59:11.093", "2009-04-13 12:59:11.093", None, None,
                 0, 0, "NONE")]
        for u in catalog["users"].values():
            rows.append((u["name"], u["principal_id"], u["type"],
                         "EXTERNAL_GROUP" if u["type"] == "X" else "EXTERNAL_USER", "dbo", u["created"],
                         u["created"], None, sid_hex(u["sid"]), 0, 4, "EXTERNAL"))
        rows += [(role, pid, "R", "DATABASE_ROLE", None, "2003-04-08 09:10:42.287", "2003-04-08 09:10:42.287", 1,
                  None, 1, 0, "NONE") for role, pid in FIXED_ROLES.items()]
        c.executemany("INSERT INTO milab_sys_database_principals VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        c.execute("DROP TABLE IF EXISTS temp.milab_sys_database_role_members")
        c.execute("CREATE TEMP TABLE milab_sys_database_role_members (role_principal_id INTEGER, "
                  "member_principal_id INTEGER)")
        ids = {u["name"].lower(): u["principal_id"] for u in catalog["users"].values()}
        c.executemany("INSERT INTO milab_sys_database_role_members VALUES (?, ?)",
                      [(FIXED_ROLES[role], ids[m]) for role, members in catalog["members"].items()
                       for m in members if m in ids and role in FIXED_ROLES] + [(FIXED_ROLES["db_owner"], 1)])
        c.execute("DROP TABLE IF EXISTS temp.milab_sys_tables")
        c.execute("CREATE TEMP TABLE milab_sys_tables AS SELECT name, 1 AS schema_id, 'U' AS type, "
                  "'USER_TABLE' AS type_desc FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE "
                  "'sqlite_%'")

    def query(self, sql: str, session: "Session") -> Result:
        cur = self._run(sql, session)
        rows = cur.fetchmany(MAX_ROWS + 1)
        if len(rows) > MAX_ROWS:
            raise SqlError(40197, f"The emulator returns at most {MAX_ROWS} rows from one query.", severity=17)
        return Result([d[0] for d in cur.description or []], [tuple(r) for r in rows])

    def execute(self, sql: str, session: "Session") -> int:
        cur = self._run(sql, session)
        return max(cur.rowcount, 0)

    def _run(self, sql: str, session: "Session"):
        try:
            return session.conn.execute(sql)
        except sqlite3.Error as e:
            raise _sqlite_error(e) from None


def _literal(v: Any) -> exp.Expression:
    if v is None:
        return exp.Null()
    if isinstance(v, bool):
        return exp.Literal.number(int(v))
    if isinstance(v, (int, float)):
        return exp.Literal.number(v)
    if isinstance(v, (bytes, bytearray)):
        return exp.HexString(this=bytes(v).hex())
    return exp.Literal.string(str(v))


_NO_TABLE = re.compile(r"no such table: (?:main\.)?(\S+)")
_NO_COLUMN = re.compile(r"no such column: (\S+)")
_EXISTS = re.compile(r"table (\S+) already exists")
_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)")
_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")


def _sqlite_error(e: sqlite3.Error) -> SqlError:
    text = str(e)
    if m := _NO_TABLE.search(text):
        return invalid_object(m.group(1).strip('"'))
    if m := _NO_COLUMN.search(text):
        return SqlError(207, f"Invalid column name '{m.group(1).split('.')[-1].strip(chr(34))}'.")
    if m := _EXISTS.search(text):
        return SqlError(2714, f"There is already an object named '{m.group(1).strip(chr(34))}' in the database.")
    if m := _UNIQUE.search(text):
        return SqlError(2627, f"Violation of PRIMARY KEY constraint 'PK_{m.group(1)}'. Cannot insert duplicate key "
                              f"in object 'dbo.{m.group(1)}'.", severity=14)
    if m := _NOT_NULL.search(text):
        return SqlError(515, f"Cannot insert the value NULL into column '{m.group(2)}', table '{m.group(1)}'; column "
                             f"does not allow nulls. INSERT fails.", state=2)
    if "database is locked" in text or "database table is locked" in text:
        return SqlError(1222, "Lock request time out period exceeded.", state=51)
    if "values for" in text and "columns" in text:
        return SqlError(213, "Column name or number of supplied values does not match table definition.")
    if "syntax error" in text:
        near = re.search(r'near "([^"]*)"', text)
        return syntax(near.group(1) if near else "")
    return SqlError(8180, f"Statement(s) could not be prepared. ({text[:200]})")


def lower_members(catalog: dict, user: str) -> list[str]:
    return [r for r, members in catalog["members"].items() if user.lower() in members]


def external_user(obj, name: str, principal_id: int) -> dict[str, Any]:
    return {"name": name, "object_id": obj.id.lower(), "sid": sid_of(obj), "type": "X" if obj.type == "group" else "E",
            "principal_id": principal_id, "created": now(), "kind": obj.type}


__all__ = ["Azure", "Batch", "Database", "DbPrincipal", "Result", "external_user", "lower_members"]
