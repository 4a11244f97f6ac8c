"""Azure SQL Database for the emulator: the TDS gateway at ``<server>.database.windows.net:1433``.

* ``tds.py`` - the protocol (MS-TDS): packets, PRELOGIN, LOGIN7 and its FEDAUTH feature, requests
  and the server's tokens;
* ``connection.py`` - one client connection: PRELOGIN, TLS inside PRELOGIN (``Encrypt=yes``) or
  from the first byte (``Encrypt=strict``), LOGIN7, requests;
* ``service.py`` - the gateway: routes in, the firewall, logins (tokens through the shared
  validator, the server admin's SQL login), sessions, users created ``FROM EXTERNAL PROVIDER``;
* ``security.py`` - identities, database principals, roles and permissions;
* ``engine.py`` - T-SQL parsed with sqlglot and run on a SQLite file per database;
* ``errors.py`` - SQL Server's errors (number, state, class, message).

The resource provider (``Microsoft.Sql/servers`` ...) is ``milab/cloud/arm/sql.py``.
"""
from .service import PORT, SUFFIX, SqlService

__all__ = ["PORT", "SUFFIX", "SqlService"]
