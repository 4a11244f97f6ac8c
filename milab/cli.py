"""The ``milab`` command: ``serve`` the emulated Azure, ``janitor`` a sandbox, ``docs`` gate."""
from __future__ import annotations

import argparse
import asyncio
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


def cmd_serve(args: argparse.Namespace) -> int:
    from .cloud.server import Config, serve

    if args.detach:
        return _serve_detached(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from .redact import RedactingFilter
    for handler in logging.getLogger().handlers:  # the emulator's log never holds a token, key or SAS
        handler.addFilter(RedactingFilter())
    config = Config(host=args.host, port=args.port, state_dir=Path(args.state_dir) if args.state_dir else None,
                    enforce_rbac=not args.no_rbac, validate_tokens=not args.no_token_checks,
                    imds_checks=not args.no_imds_checks, permissive_storage=args.permissive_storage,
                    permissive_cosmos=args.permissive_cosmos,
                    guest_isolation=args.guest_isolation)

    def ready(emu):
        if args.print_env:
            sys.stdout.write(_export_lines(emu.operator_env()))
        else:
            sys.stdout.write(f"milab emulator ready\n  proxy:      {emu.proxy_url}\n"
                             f"  CA bundle:  {emu.pki.bundle}\n  tenant:     {emu.state.tenant_id}\n"
                             f"  subscription: {emu.state.subscription_id}\n"
                             f"{_isolation_banner(emu.guests.isolation)}"
                             f"Run 'milab serve --detach' (or --print-env) for the environment to eval.\n")
        sys.stdout.flush()

        if not emu.guests.isolation.isolated:  # loud, even with --print-env (stdout is for eval)
            sys.stderr.write(_isolation_banner(emu.guests.isolation))
            sys.stderr.flush()

    from .cloud.guests import GuestSetupError
    try:
        asyncio.run(serve(config, Path(args.env_file) if args.env_file else None, ready))
    except GuestSetupError as e:
        print(f"milab serve: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"milab serve: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    return 0


def _isolation_banner(isolation) -> str:
    if isolation.isolated:
        return f"  guest isolation: namespaces ({isolation.detail})\n"
    return (f"  WARNING guest isolation: NONE ({isolation.detail}).\n"
            f"  Guests (Run Command, in-VM steps) run as this user on the host: they can read the emulator's "
            f"state, keys and every VM's credential, and reach the network directly.\n")


def _serve_detached(args: argparse.Namespace) -> int:
    """Start the emulator in the background and print ``export`` lines for ``eval``."""
    state_dir = Path(args.state_dir or os.environ.get("TMPDIR", "/tmp")) / f"milab-{os.getpid()}-{int(time.time())}" \
        if not args.state_dir else Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    env_file = state_dir / "env.json"
    env_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "milab", "serve", "--host", args.host, "--port", str(args.port),
           "--env-file", str(env_file), "--state-dir", str(state_dir)]
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
    log = open(state_dir / "emulator.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while not env_file.exists():
        if proc.poll() is not None:
            print(f"milab serve: the emulator exited with {proc.returncode}; see {state_dir / 'emulator.log'}",
                  file=sys.stderr)
            return 1
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
    import signal
    pid = args.pid or os.environ.get("MILAB_EMULATOR_PID")
    if not pid:
        print("milab stop: no MILAB_EMULATOR_PID in the environment and no --pid given", file=sys.stderr)
        return 2
    try:
        os.kill(int(pid), signal.SIGTERM)
    except (ProcessLookupError, ValueError) as e:
        print(f"milab stop: no emulator with pid {pid}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_janitor(args: argparse.Namespace) -> int:
    from .targets.janitor import run_janitor
    return run_janitor(dry_run=args.dry_run, prefix=args.prefix, include_unexpired=args.all)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="milab", description="Azure managed-identity tutorials as tests: an emulated "
                                                          "Azure, a sandbox janitor and a docs gate.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the emulated Azure on loopback",
                       description="Run the emulated Azure (Entra, IMDS, ARM, data planes) behind a forward proxy "
                                   "on loopback. With --detach (or --print-env), print 'export' lines for: "
                                   "eval \"$(milab serve --detach)\"; then the Azure SDKs, curl and "
                                   "'pytest --target azure' talk to the emulator.")
    s.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=0, help="proxy port (default: any free port)")
    s.add_argument("--state-dir", help="keep state, keys and certificates here across restarts")
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
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_serve)
    st = sub.add_parser("stop", help="stop an emulator started with --detach")
    st.add_argument("--pid", help="its pid (default: $MILAB_EMULATOR_PID)")
    st.set_defaults(func=cmd_stop)
    j = sub.add_parser("janitor", help="delete expired milab resource groups from the sandbox subscription",
                       description="Delete resource groups tagged by milab whose 'milab-expires' tag has passed "
                                   "(uses AZURE_SUBSCRIPTION_ID and DefaultAzureCredential).")
    j.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    j.add_argument("--prefix", default=None, help="only groups whose name starts with this prefix")
    j.add_argument("--all", action="store_true", help="also delete milab groups that have not expired yet")
    j.set_defaults(func=cmd_janitor)
    try:
        from .docs.cli import add_parser as add_docs
    except ImportError:  # pragma: no cover - the docs gate is optional at import time
        add_docs = None
    if add_docs:
        add_docs(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    import signal
    if hasattr(signal, "SIGPIPE"):  # `milab docs map | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
