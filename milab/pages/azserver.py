"""A warm Azure CLI: one long-lived ``python -m azure.cli``-equivalent process per worker.

Starting ``az`` costs about a second per command (imports and the command table); the pages'
procedures run hundreds of commands. This script, run with the Azure CLI's own interpreter
(``.venv-az/bin/python``, never the project's: it imports only the standard library and the CLI),
listens on a Unix socket and runs each command it is sent the way ``azure/cli/__main__.py``
does: a fresh ``get_default_cli()`` per command, ``cli.invoke(argv)``, ``SystemExit`` as the
exit status, the command's own working directory, environment and standard input, its
standard output and error captured. It is how the Azure CLI's own test framework runs
commands in one process. The client (``azclient.py``, installed as ``az`` on the steps' PATH)
falls back to the real ``az`` when this server is not there or the command needs another
configuration directory.

The server's configuration directory (``AZURE_CONFIG_DIR``) is fixed when it starts, as the CLI
reads it at import. The network guard (``netguard/sitecustomize.py``) is installed first, so no
command can reach anything but loopback.

Protocol: a 4-byte big-endian length and a UTF-8 JSON object each way; request
``{"argv": [...], "cwd": str, "env": {...}, "stdin": str}``, answer
``{"rc": int, "stdout": str, "stderr": str}``.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import struct
import sys
import time


def recv_frame(conn: socket.socket) -> bytes | None:
    """One frame of the protocol (the client uses it too); None when the peer closed first."""
    head = b""
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (size,) = struct.unpack(">I", head)
    buf = bytearray()
    while len(buf) < size:
        chunk = conn.recv(min(1 << 20, size - len(buf)))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def send_frame(conn: socket.socket, payload: dict) -> None:
    data = json.dumps(payload).encode()
    conn.sendall(struct.pack(">I", len(data)) + data)


class _Capture(io.StringIO):
    """Standard output/error of one command; not a terminal (as when the CLI's output is piped)."""

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):  # knack asks for it
        return "utf-8"


def run_command(argv: list[str], cwd: str, env: dict[str, str], stdin: str) -> dict:
    from azure.cli.core import get_default_cli

    old_cwd = os.getcwd()
    old_env = dict(os.environ)
    out, err = _Capture(), _Capture()
    old_stdin = sys.stdin
    rc = 0
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli = get_default_cli()
                rc = cli.invoke(argv, out_file=out)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except KeyboardInterrupt:  # pragma: no cover
                rc = 1
            except Exception as e:  # the CLI reports its own errors; this is the server's
                print(f"milab az server: {type(e).__name__}: {e}", file=err)
                rc = 1
            finally:
                import logging
                for logger in [logging.getLogger(), *[logging.getLogger(n) for n in ("cli", "az_command_data_logger")]]:
                    for h in list(logger.handlers):
                        logger.removeHandler(h)  # knack adds its console handlers again on the next command
    finally:
        sys.stdin = old_stdin
        os.environ.clear()
        os.environ.update(old_env)
        with contextlib.suppress(OSError):
            os.chdir(old_cwd)
    return {"rc": int(rc or 0), "stdout": out.getvalue(), "stderr": err.getvalue()}


def serve(path: str, warm: list[list[str]]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "netguard"))
    import sitecustomize  # noqa: F401  (the network guard)
    sitecustomize.install()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o600)
    srv.listen(8)
    import importlib
    for module in warm:  # import the command modules the pages use before the first step needs them
        try:
            importlib.import_module(module)
        except Exception:  # a module another CLI version lays out differently: it loads on first use
            pass
    ready = path + ".ready"
    with open(ready, "w") as f:
        f.write(str(os.getpid()))
    while True:
        conn, _ = srv.accept()
        with conn:
            try:
                raw = recv_frame(conn)
                if raw is None:
                    continue
                req = json.loads(raw)
                if req.get("stop"):
                    send_frame(conn, {"rc": 0, "stdout": "", "stderr": ""})
                    break
                started = time.monotonic()
                answer = run_command(list(req["argv"]), req.get("cwd") or os.getcwd(), dict(req.get("env") or {}),
                                     req.get("stdin") or "")
                answer["seconds"] = round(time.monotonic() - started, 3)
                send_frame(conn, answer)
            except (OSError, ValueError) as e:  # a client that went away or sent garbage
                with contextlib.suppress(OSError):
                    send_frame(conn, {"rc": 1, "stdout": "", "stderr": f"milab az server: bad request: {e}"})
    srv.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        os.unlink(ready)


if __name__ == "__main__":
    args = sys.argv[1:]
    socket_path = args[0]
    serve(socket_path, args[1:])
