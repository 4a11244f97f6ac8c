"""Connecting to Azure SQL with Microsoft's ODBC Driver 18 (pyodbc) or mssql-python.

The driver comes from PyPI: the ``mssql-python-odbc`` wheel (a dependency of ``mssql-python``)
ships ``libmsodbcsql-18.*.so`` (``msodbcsql18.dll`` on Windows); pyodbc loads it by path
(Debian's ``libodbc2``, ``libltdl7`` and ``libgssapi-krb5-2`` must be installed). An access token
goes to the driver as ``SQL_COPT_SS_ACCESS_TOKEN`` (1256): a 4-byte little-endian length, then the
token in UTF-16-LE.

Where a server is: ``<server>.database.windows.net:1433``, the name the page uses, unless the
environment says otherwise. The emulator's servers are reached by that name inside its isolated
guests (their own hosts file and network namespace); outside them, ``MILAB_SQL_SERVERS`` names a
JSON file mapping each server's name to its loopback address, and the driver then connects there
with ``HostNameInCertificate`` set to the real name, so TLS still checks the name.
"""
from __future__ import annotations

import glob
import json
import os
import struct
import sys

SQL_COPT_SS_ACCESS_TOKEN = 1256
SQL_SCOPE = "https://database.windows.net/.default"
SERVERS_VAR = "MILAB_SQL_SERVERS"


def endpoint(fqdn: str) -> tuple[str, int]:
    """Host and port a client connects to for ``fqdn``."""
    path = os.environ.get(SERVERS_VAR)
    if path and os.path.isfile(path):
        try:
            with open(path) as f:
                found = json.load(f).get(fqdn.lower())
        except (OSError, ValueError):
            found = None
        if found:
            host, _, port = found.rpartition(":")
            return host, int(port)
    return fqdn, 1433


def odbc_driver() -> str:
    """The ODBC Driver 18 that the mssql-python-odbc wheel installed (its absolute path)."""
    import mssql_python_odbc
    root = os.path.dirname(mssql_python_odbc.__file__)
    pattern = "**/msodbcsql18.dll" if sys.platform == "win32" else "**/libmsodbcsql-18*.so*"
    found = sorted(glob.glob(os.path.join(root, pattern), recursive=True))
    preferred = [f for f in found if "debian" in f or "ubuntu" in f] or found
    if not preferred:
        raise RuntimeError(f"no ODBC Driver 18 under {root}")
    return preferred[0]


def connection_string(fqdn: str, database: str, *, encrypt: str = "yes", driver: str | None = None,
                      extra: str = "") -> str:
    """An ODBC connection string for pyodbc (``driver``: path or name; default the wheel's)."""
    host, port = endpoint(fqdn)
    s = (f"Driver={{{driver or odbc_driver()}}};Server=tcp:{host},{port};Database={database};Encrypt={encrypt};"
         f"TrustServerCertificate=no;Connection Timeout=30;")
    if host != fqdn:
        s += f"HostNameInCertificate={fqdn};"
    return s + extra


def mssql_python_string(fqdn: str, database: str, *, encrypt: str = "yes", extra: str = "") -> str:
    """The same for mssql-python (which bundles the driver)."""
    host, port = endpoint(fqdn)
    s = f"Server=tcp:{host},{port};Database={database};Encrypt={encrypt};TrustServerCertificate=no;"
    if host != fqdn:
        s += f"HostNameInCertificate={fqdn};"
    return s + extra


def token_attrs(token: str) -> dict[int, bytes]:
    """``attrs_before`` for an access token."""
    raw = token.encode("utf-16-le")
    return {SQL_COPT_SS_ACCESS_TOKEN: struct.pack("<I", len(raw)) + raw}


def connect(fqdn: str, database: str, *, token: str | None = None, user: str | None = None,
            password: str | None = None, encrypt: str = "yes", timeout: int = 30):
    """A pyodbc connection with a token or a SQL login."""
    import pyodbc
    extra = f"UID={user};PWD={{{password}}};" if user is not None else ""
    return pyodbc.connect(connection_string(fqdn, database, encrypt=encrypt, extra=extra),
                          attrs_before=token_attrs(token) if token else None, timeout=timeout)
