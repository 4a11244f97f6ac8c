"""The ``az`` on the page steps' PATH: sends the command to the worker's warm Azure CLI
(``azserver.py``) and prints what the CLI printed, with its exit status. Falls back to the
real ``az`` (``MILAB_AZ_REAL``) when no server is named (``MILAB_AZ_SOCKET``), the server is not
reachable, or the command would need another configuration directory than the server's.
Standard library only; run as ``python -S`` so it starts in a few milliseconds."""
import json
import os
import socket
import sys

from azserver import recv_frame, send_frame  # beside this file: the protocol's one definition


def _real(argv):
    real = os.environ.get("MILAB_AZ_REAL")
    if not real:
        sys.stderr.write("milab az client: MILAB_AZ_REAL is not set\n")
        sys.exit(127)
    os.execv(real, [real, *argv])


def main(argv):
    path = os.environ.get("MILAB_AZ_SOCKET")
    if not path or os.environ.get("AZURE_CONFIG_DIR") != os.environ.get("MILAB_AZ_SERVER_CONFIG_DIR"):
        _real(argv)
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILAB_AZ_")}
    req = {"argv": argv, "cwd": os.getcwd(), "env": env, "stdin": stdin}
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        _real(argv)
    try:
        send_frame(conn, req)
        raw = recv_frame(conn)
        if raw is None:
            raise OSError("server closed the connection")
        answer = json.loads(raw)
    except OSError as e:
        sys.stderr.write(f"milab az client: the warm Azure CLI did not answer: {e}\n")
        return 1
    finally:
        conn.close()
    sys.stdout.write(answer.get("stdout", ""))
    sys.stdout.flush()
    sys.stderr.write(answer.get("stderr", ""))
    sys.stderr.flush()
    return int(answer.get("rc", 1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
