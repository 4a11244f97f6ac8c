"""The ``milab`` command: ``serve`` the emulated Azure, ``janitor`` a sandbox, ``docs`` gate."""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path


def _export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items()) + "\n"


def _check_serve_args(args: argparse.Namespace) -> str | None:
    """A one-line reason the arguments cannot work, or None."""
    import ipaddress
    if not 0 <= args.port <= 65535:
        return f"--port {args.port} is out of range (0-65535; 0 picks a free port)"
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return f"--host {args.host} is not a loopback address (the emulator listens on 127.0.0.1, ::1 or localhost only)"
    return None


def _banner(emu) -> str:
    from .runs import emulated_hosts
    hosts = ", ".join(emulated_hosts())
    return (f"milab emulator ready (pid {os.getpid()})\n"
            f"  proxy:        {emu.proxy_url}\n"
            f"  CA bundle:    {emu.pki.bundle}\n"
            f"  tenant:       {emu.state.tenant_id}\n"
            f"  subscription: {emu.state.subscription_id}\n"
            f"  state:        {emu.run_dir}\n"
            f"  emulates:     {hosts}\n"
            f"Environment for clients: eval \"$(milab serve --detach)\" (or --print-env in the foreground).\n"
            f"Stop: Ctrl-C here, or 'milab stop --pid {os.getpid()}'; 'milab status' lists running emulators.\n")


def cmd_serve(args: argparse.Namespace) -> int:
    from .cloud.files import DirInUse, new_private_dir
    from .cloud.server import Config, run_loop, serve

    problem = _check_serve_args(args)
    if problem:
        print(f"milab serve: {problem}", file=sys.stderr)
        return 2
    # (no process-wide umask: every file is created with its mode, and guests need their own umask)
    if args.detach:
        return _serve_detached(args)
    from . import runs
    temporary = not args.state_dir or args.temporary_state_dir
    state_dir = Path(args.state_dir) if args.state_dir else new_private_dir("milab-emulator-")
    from .cloud import logs
    logs.configure(args.verbose)  # redacted, client faults in one line, repeats once per interval
    config = Config(host=args.host, port=args.port, state_dir=state_dir,
                    enforce_rbac=not args.no_rbac, validate_tokens=not args.no_token_checks,
                    imds_checks=not args.no_imds_checks, permissive_storage=args.permissive_storage,
                    permissive_cosmos=args.permissive_cosmos,
                    guest_isolation=args.guest_isolation,
                    idle_timeout=args.idle_timeout, max_connections=args.max_connections)
    config.imds_token_cache = not args.no_imds_token_cache
    config.permissive_graph = args.permissive_graph
    config.permissive_datalake = args.permissive_datalake
    config.permissive_sql = args.permissive_sql

    became_ready = []

    def ready(emu):
        became_ready.append(True)
        runs.register(emu, temporary=temporary)
        try:
            if args.print_env:
                sys.stdout.write(_export_lines(emu.operator_env()))
            else:
                sys.stdout.write(_banner(emu) + _isolation_banner(emu.guests.isolation))
            sys.stdout.flush()
            if not emu.guests.isolation.isolated:  # loud, even with --print-env (stdout is for eval)
                sys.stderr.write(_isolation_banner(emu.guests.isolation))
                sys.stderr.flush()
        except (BrokenPipeError, OSError) as e:  # whoever read our output left: the emulator serves on
            logging.getLogger("milab.emulator").warning("could not print the ready banner: %s", e)

    from .cloud.guests import GuestSetupError
    import signal

    def _interrupt(signum, frame):  # until the emulator's own handlers are installed
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_loop(serve(config, Path(args.env_file) if args.env_file else None, ready))
    except (GuestSetupError, DirInUse) as e:
        print(f"milab serve: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        what = f"port {args.port} is already in use" if e.errno == 98 else str(e.strerror or e)
        print(f"milab serve: cannot listen on {args.host}:{args.port}: {what}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        runs.unregister(os.getpid())
        # a run directory of our own: nothing of it outlives the emulator (a detached start that failed
        # leaves it to the parent, which reads the log first)
        if temporary and (became_ready or not args.temporary_state_dir):
            import shutil
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _isolation_banner(isolation) -> str:
    if isolation.isolated:
        return f"  guest isolation: namespaces ({isolation.detail})\n"
    return (f"  WARNING guest isolation: NONE ({isolation.detail}).\n"
            f"  Guests (Run Command, in-VM steps) run as this user on the host: they can read the emulator's "
            f"state, keys and every VM's credential, and reach the network directly.\n")


def _serve_detached(args: argparse.Namespace) -> int:
    """Start the emulator in the background and print ``export`` lines for ``eval``."""
    from . import runs
    from .cloud.files import DirInUse, DirLock, new_private_dir, open_private_log, private_dir
    state_dir = private_dir(args.state_dir) if args.state_dir else new_private_dir("milab-")
    try:  # refuse before touching the directory of a running emulator (its child checks again, for good)
        DirLock(state_dir).acquire().release()
    except DirInUse as e:
        print(f"milab serve: {e}", file=sys.stderr)
        return 2
    env_file = state_dir / "env.json"
    env_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "milab", "serve", "--host", args.host, "--port", str(args.port),
           "--env-file", str(env_file), "--state-dir", str(state_dir),
           "--idle-timeout", str(args.idle_timeout), "--max-connections", str(args.max_connections)]
    if not args.state_dir:
        cmd.append("--temporary-state-dir")  # the emulator removes it when it stops
    if args.no_rbac:
        cmd.append("--no-rbac")
    if args.no_token_checks:
        cmd.append("--no-token-checks")
    if args.permissive_storage:
        cmd.append("--permissive-storage")
    if args.no_imds_checks:
        cmd.append("--no-imds-checks")
    if args.permissive_cosmos:
        cmd.append("--permissive-cosmos")
    cmd += ["--guest-isolation", args.guest_isolation]
    for flag in ("no_imds_token_cache", "permissive_graph", "permissive_datalake", "permissive_sql"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    log_path = state_dir / "emulator.log"
    with open_private_log(log_path) as log:  # 0600 from creation
        start = log.tell()  # a reused --state-dir keeps earlier runs' lines: only this start's count
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while not env_file.exists():
        if proc.poll() is not None:
            try:
                with open(log_path, "rb") as f:
                    f.seek(start)
                    lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
            except OSError:
                lines = []
            last = lines[-1] if lines else f"the emulator exited with {proc.returncode}; see {log_path}"
            if not args.state_dir:
                import shutil
                shutil.rmtree(state_dir, ignore_errors=True)
            print(last if last.startswith("milab serve:") else f"milab serve: {last}", file=sys.stderr)
            return 2 if proc.returncode == 2 else 1
        if time.time() > deadline:
            proc.kill()
            print("milab serve: the emulator did not become ready within 60 s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    env = json.loads(env_file.read_text())
    if env.get("MILAB_GUEST_ISOLATION") != "namespaces":
        print(f"milab serve: WARNING guest isolation is {env.get('MILAB_GUEST_ISOLATION')}: guests run as this "
              f"user on the host (see {state_dir / 'emulator.log'})", file=sys.stderr)
    sys.stdout.write(_export_lines(env))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from . import runs
    pid = args.pid or os.environ.get("MILAB_EMULATOR_PID")
    if not pid:
        running = runs.running()
        if len(running) != 1:
            print("milab stop: " + ("no milab emulator is running" if not running else
                                    f"{len(running)} emulators are running; say which with --pid "
                                    f"({', '.join(str(r['pid']) for r in running)})"), file=sys.stderr)
            return 2
        pid = running[0]["pid"]
    try:
        pid = int(pid)
    except ValueError:
        print(f"milab stop: --pid {pid} is not a process id", file=sys.stderr)
        return 2
    ok, why = runs.stop(pid)
    if not ok:
        print(f"milab stop: {why}", file=sys.stderr)
        return 2 if "not a milab emulator" in why or "no process" in why else 1
    print(why)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import runs
    running = runs.running()
    if args.json:
        print(json.dumps(running, indent=2))
        return 0 if running else 1
    if not running:
        print("no milab emulator is running")
        return 1
    for r in running:
        print(f"milab emulator pid {r['pid']}: {r.get('proxy')} since {r.get('started')}\n"
              f"  state directory: {r.get('state_dir')}{' (temporary)' if r.get('temporary') else ''}\n"
              f"  emulates: {', '.join(r.get('hosts') or [])}")
    return 0


def cmd_janitor(args: argparse.Namespace) -> int:
    from .targets.janitor import run_janitor
    return run_janitor(dry_run=args.dry_run, prefix=args.prefix, include_unexpired=args.all)


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds between 0 and 86400")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if not 0 < value <= 100000:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number from 1 to 100000")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .cloud.proxy import IDLE_TIMEOUT, MAX_CONNECTIONS
    p = argparse.ArgumentParser(prog="milab", description="Azure managed-identity tutorials as tests: an emulated "
                                                          "Azure, a sandbox janitor and a docs gate.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"milab {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the emulated Azure on loopback",
                       description="Run the emulated Azure (Entra, IMDS, ARM, data planes) behind a forward proxy "
                                   "on loopback. With --detach (or --print-env), print 'export' lines for: "
                                   "eval \"$(milab serve --detach)\"; then the Azure SDKs, curl and "
                                   "'pytest --target azure' talk to the emulator.")
    s.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=0, help="proxy port (default: any free port)")
    s.add_argument("--state-dir",
                   help="keep state, keys and certificates here across restarts (created 0700, its files 0600; "
                        "each acknowledged ARM write is on disk before the answer; one emulator per directory: "
                        "a second one exits with status 2)")
    s.add_argument("--env-file", help="write the client environment as JSON here once ready")
    s.add_argument("--print-env", action="store_true", help="print 'export' lines once ready (stays in foreground)")
    s.add_argument("--detach", action="store_true", help="start in the background and print 'export' lines")
    s.add_argument("--no-rbac", action="store_true", help="permit every request (only to prove denials can fail)")
    s.add_argument("--no-token-checks", action="store_true",
                   help="accept any well-formed token (only to prove denials can fail)")
    s.add_argument("--no-imds-checks", action="store_true",
                   help="answer every IMDS request with a token (only to prove denials can fail)")
    s.add_argument("--permissive-storage", action="store_true",
                   help="the Blob gateway authorizes every request (only to prove denials can fail)")
    s.add_argument("--permissive-cosmos", action="store_true",
                   help="the Cosmos DB data plane authorizes every request (only to prove denials can fail)")
    s.add_argument("--guest-isolation", choices=("auto", "namespaces", "none"), default="auto",
                   help="how guests (Run Command, in-VM steps) are isolated: 'namespaces' (an unprivileged uid in "
                        "private mount, network and PID namespaces; needs root on Linux; refuse to start without "
                        "it), 'none' (as the emulator's own user on the host), or 'auto' (default: namespaces "
                        "when available, else none, with a warning)")
    s.add_argument("--temporary-state-dir", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--idle-timeout", type=_positive_float, default=IDLE_TIMEOUT, metavar="SECONDS",
                   help=f"close a connection idle this long between requests, and one that takes longer than this "
                        f"to send a request head, a TLS handshake or a stalled request body, or stops reading an "
                        f"answer (default {IDLE_TIMEOUT:.0f})")
    s.add_argument("--max-connections", type=_positive_int, default=MAX_CONNECTIONS, metavar="N",
                   help=f"client connections served at once on the proxy port; more are answered 503 with "
                        f"Retry-After (default {MAX_CONNECTIONS}; lowered to what the open-files limit allows)")
    s.add_argument("--no-imds-token-cache", action="store_true",
                   help="IMDS issues a fresh token on every request instead of handing back its cached one "
                        "(Azure caches a managed identity's token, roles and groups included, ~24 h per resource)")
    s.add_argument("--permissive-graph", action="store_true",
                   help="Microsoft Graph and Azure AD Graph authorize every request (only to prove denials can fail)")
    s.add_argument("--permissive-datalake", action="store_true",
                   help="Data Lake Gen1 and Gen2 skip POSIX ACL checks (only to prove denials can fail)")
    s.add_argument("--permissive-sql", action="store_true",
                   help="Azure SQL lets every login in as dbo, past its firewall (only to prove denials can fail)")
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_serve)
    st = sub.add_parser("stop", help="stop a milab emulator (verified to be one), wait, clean up its run directory")
    st.add_argument("--pid", help="its pid (default: $MILAB_EMULATOR_PID, else the only one running)")
    st.set_defaults(func=cmd_stop)
    stat = sub.add_parser("status", help="list running milab emulators: where, since when, which hosts, state")
    stat.add_argument("--json", action="store_true", help="print JSON")
    stat.set_defaults(func=cmd_status)
    j = sub.add_parser("janitor", help="delete expired milab resource groups from the sandbox subscription",
                       description="Delete resource groups tagged by milab whose 'milab-expires' tag has passed "
                                   "(uses AZURE_SUBSCRIPTION_ID and DefaultAzureCredential).")
    j.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    j.add_argument("--prefix", default=None, help="only groups whose name starts with this prefix")
    j.add_argument("--all", action="store_true", help="also delete milab groups that have not expired yet")
    j.set_defaults(func=cmd_janitor)
    from . import parity
    par = sub.add_parser("parity", help="compare recorded Azure responses with the emulator's (status, code, shape)",
                         description=parity.__doc__.split("\n\n")[0])
    parity.add_arguments(par)
    par.set_defaults(func=parity.run)
    try:
        from .docs.cli import add_parser as add_docs
    except ImportError:  # pragma: no cover - the docs gate is optional at import time
        add_docs = None
    if add_docs:
        add_docs(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """The ``milab`` command (``argv`` None: the process's own arguments), or a call of it from
    Python with ``argv`` (tests, tools), which leaves the caller's signal handling alone."""
    import signal
    args = build_parser().parse_args(argv)
    # `milab docs map | head` ends quietly; only for the process's own short commands: never for
    # `serve`, whose clients may go away at any time (a write to a closed socket must be an EPIPE the
    # emulator handles, not a signal that ends it), and never inside a caller's process (a pytest
    # worker that called main() would die at its next write to a reset socket)
    if hasattr(signal, "SIGPIPE") and argv is None and args.command != "serve":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
