"""Azure SQL (seed 004, the Windows SQL tutorial): the VM's system-assigned identity becomes a
contained database user and reads a table with an access token.

As the page: a server with a Microsoft Entra admin (the operator; a service principal, so the
server's own identity holds Microsoft Graph's read permissions) and a database; the admin logs in
with a token (SSMS in the page) and runs ``CREATE USER [<VM name>] FROM EXTERNAL PROVIDER`` and
``ALTER ROLE db_datareader ADD MEMBER [<VM name>]``; inside the VM the identity gets a token for
``https://database.windows.net/`` from IMDS and runs ``SELECT * from <TABLE>;`` with pyodbc and ODBC
Driver 18 (``attrs_before`` with the access token: the Python equivalent of the page's
``SqlConnection.AccessToken``) and with mssql-python.

Denials: the VM before ``CREATE USER`` (18456), after ``DROP USER`` (18456), ``db_datareader``
writing (229), a user without a role reading (229), a token for another audience (18456), an
expired token (18456), a second VM never added (18456), and, for the admin, ``CREATE USER`` on a
server without an identity (33134) or for a name that is not in the directory (33130).
"""
from __future__ import annotations

import pyodbc
import pytest

from fixtures.sql import Sql, assert_sql_denied, error_number, operator_token, run_vm_sql
from milab import registry

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "sql"]
pytestmark = [pytest.mark.tutorial(family="sql"), pytest.mark.parametrize("variant", VARIANTS)]


class SqlPage:
    def __init__(self, facts, target, vm, server, database, operator):
        self.facts, self.target, self.vm, self.server, self.database = facts, target, vm, server, database
        self.operator = operator

    @property
    def query(self) -> str:
        return self.facts["query"].format(table=self.facts["table"])

    def admin(self) -> Sql:
        """The Entra admin's session (the page's SSMS step, "Active Directory - Universal")."""
        return Sql(self.server, self.database, token=operator_token(self.target))

    def statements(self, vm=None) -> list[str]:
        name = (vm or self.vm).name
        return [self.facts["create_user"].format(vm=name), self.facts["alter_role"].format(vm=name)]

    def in_vm(self, statements=None, vm=None, clients=None, token=None) -> dict:
        return run_vm_sql(vm or self.vm, self.facts, self.server, self.database, statements or [self.query],
                          tuple(clients or self.facts["clients"][:1]), token=token)


@pytest.fixture
def sql_page(variant, tutorial_facts, target, operator, resource_group, vm_factory, sql_server, sql_database,
             graph_read_for):
    facts = tutorial_facts
    rg = resource_group()
    vm = vm_factory(rg, os=facts["os"], identity="system")
    server = sql_server(rg, admin=("milab-operator", operator["object_id"]))
    graph_read_for(server.principal_id)  # the admin is a service principal: the server reads the directory
    database = sql_database(server, facts["database"])
    page = SqlPage(facts, target, vm, server, database, operator)
    admin = page.admin()
    admin.run(f"CREATE TABLE {facts['table']} (id INT PRIMARY KEY, name NVARCHAR(50))")
    admin.run(f"INSERT INTO {facts['table']} VALUES (1, N'first'), (2, N'second')")
    admin.close()
    return page


def test_sql(sql_page, target):
    page, f = sql_page, sql_page.facts
    # Before the contained user exists the identity's token opens nothing (the page's order matters).
    before = page.in_vm()
    assert_sql_denied(before["pyodbc"], 18456, "the VM logging in before CREATE USER",
                      "Login failed for user '<token-identified principal>'.")

    # The page's two statements, as the Entra admin, then the VM's query with both clients.
    admin = page.admin()
    for statement in page.statements():
        admin.run(statement)
    users = admin.run("SELECT name, type_desc, authentication_type_desc FROM sys.database_principals "
                      f"WHERE name = '{page.vm.name}'")
    assert users == [(page.vm.name, "EXTERNAL_USER", "EXTERNAL")], users
    admin.close()
    out = target.wait_for(lambda: page.in_vm(clients=f["clients"]),
                          lambda o: all(o[c]["ok"] for c in f["clients"]), "the contained user to log in")
    for client in f["clients"]:
        assert out[client]["ok"], (client, out[client])
        assert out[client]["rows"] == [["1", "first"], ["2", "second"]], (client, out[client])
    who = page.in_vm(["SELECT SUSER_SNAME(), USER_NAME()"])
    assert who["pyodbc"]["ok"] and who["pyodbc"]["rows"] == [[page.vm.name, page.vm.name]], who


def _with_user(page, role: str | None = "db_datareader") -> None:
    admin = page.admin()
    admin.run(page.facts["create_user"].format(vm=page.vm.name))
    if role:
        admin.run(f"ALTER ROLE {role} ADD MEMBER [{page.vm.name}]")
    admin.close()


def test_sql_denied_datareader_writes(sql_page, target):
    page = sql_page
    _with_user(page)
    out = target.wait_for(lambda: page.in_vm([f"INSERT INTO {page.facts['table']} VALUES (3, N'third')"]),
                          lambda o: "18456" not in o["pyodbc"].get("error", ""), "the contained user to log in")
    assert_sql_denied(out["pyodbc"], 229, "db_datareader inserting",
                      f"The INSERT permission was denied on the object '{page.facts['table']}'")


def test_sql_denied_no_role(sql_page, target):
    page = sql_page
    _with_user(page, role=None)
    out = target.wait_for(lambda: page.in_vm(), lambda o: "18456" not in o["pyodbc"].get("error", ""),
                          "the contained user to log in")
    assert_sql_denied(out["pyodbc"], 229, "a user with no role reading",
                      f"The SELECT permission was denied on the object '{page.facts['table']}'")


def test_sql_denied_after_drop_user(sql_page, target):
    page = sql_page
    _with_user(page)
    ok = target.wait_for(lambda: page.in_vm(), lambda o: o["pyodbc"]["ok"], "the contained user to log in")
    assert ok["pyodbc"]["ok"], ok
    admin = page.admin()
    admin.run(f"DROP USER [{page.vm.name}]")
    admin.close()
    out = target.wait_for(lambda: page.in_vm(), lambda o: not o["pyodbc"]["ok"], "DROP USER to take effect")
    assert_sql_denied(out["pyodbc"], 18456, "the VM after DROP USER")


def test_sql_denied_wrong_audience(sql_page, target):
    page = sql_page
    _with_user(page)
    got = page.vm.imds_token("https://management.azure.com/", page.facts["imds_api_version"])
    assert got.status == 200, got.body[:300]
    out = page.in_vm(token=got.json()["access_token"])
    assert_sql_denied(out["pyodbc"], 18456, "an ARM token presented to Azure SQL")


def test_sql_denied_expired_token(sql_page, target):
    page = sql_page
    _with_user(page)
    expired = target.expired_token(page.vm.principal_id, page.facts["imds_resource"])
    out = page.in_vm(token=expired)
    assert_sql_denied(out["pyodbc"], 18456, "an expired token", "Token is expired.")


def test_sql_denied_second_vm(sql_page, target, vm_factory, resource_group):
    page = sql_page
    _with_user(page)
    other = vm_factory(resource_group(), os=page.facts["os"], identity="system")
    out = page.in_vm(vm=other)
    assert_sql_denied(out["pyodbc"], 18456, "a VM that was never added")


def test_sql_denied_unknown_principal(sql_page, target):
    page = sql_page
    admin = page.admin()
    try:
        admin.run("CREATE USER [milab-no-such-identity] FROM EXTERNAL PROVIDER")
        got = None
    except pyodbc.Error as e:
        got = e
    admin.close()
    assert got is not None and error_number(got) == 33130, f"CREATE USER for an unknown name: expected 33130, got {got}"


def test_sql_denied_server_without_identity(sql_page, target, sql_server, resource_group, sql_database, operator):
    page = sql_page
    bare = sql_server(resource_group(), admin=("milab-operator", operator["object_id"]), identity=False)
    db = sql_database(bare, page.facts["database"])
    admin = Sql(bare, db, token=operator_token(target))
    try:
        admin.run(page.facts["create_user"].format(vm=page.vm.name))
        got = None
    except pyodbc.Error as e:
        got = e
    admin.close()
    assert got is not None and error_number(got) == 33134 and "Server identity is not configured" in str(got), \
        f"CREATE USER by a service-principal admin on a server without an identity: expected 33134, got {got}"
