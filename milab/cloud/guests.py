"""Emulated guests: processes that run "inside" a host resource with managed identities.

A guest is a process run on behalf of a host resource (a VM today; scale-set instances,
container groups and App Service sites reuse the same mechanism): :meth:`Guests.run_guest`
takes the host's resource id, the command and the identity-specific environment to add.
Every guest gets the proxy (carrying the host's own credential, so IMDS answers for that
host only) and the emulator's CA bundle; nothing of the operator's environment
(``AZURE_CLIENT_SECRET`` ...) reaches it.

How much a guest is isolated is decided once, when the emulator starts
(``--guest-isolation {auto,namespaces,none}``):

* ``namespaces`` (the default whenever the emulator runs as root on Linux): each guest run
  gets private mount, network, PID, IPC, UTS and cgroup namespaces built by
  ``guest_init.py``. It runs as an unprivileged uid with no capabilities and
  ``no_new_privs``, sees only the system directories and the interpreter, virtual
  environment and milab package read-only (never the emulator's state or run directory,
  its keys, env files or other hosts' credentials), has its host's writable ``HOME`` and
  ``/tmp`` (its disk, below), and has only loopback: the emulator serves its forward proxy on a socket
  listening inside the namespace, so the proxy is the only thing a guest can reach, besides
  the endpoints services add with :meth:`Guests.add_endpoints` for clients that cannot use a
  proxy (Azure SQL's ``<server>.database.windows.net:1433``, every Cosmos DB account's
  ``<account>.documents.azure.com:443`` for ``@azure/cosmos``: a listener on an address of the
  namespace's loopback, named in the guest's own ``/etc/hosts``).
* ``none`` (the fallback where namespaces are unavailable, e.g. not root): guests run as
  the emulator's own user on the host's network and file system, as before. The emulator
  logs a warning, ``milab serve`` prints it in its banner and the reports name it. Such a
  guest reaches those services as a host process does (:attr:`Guests.host_route_env`).

A host keeps its disk between guest runs, as a VM does: its ``HOME`` and ``/tmp`` (with
namespaces: two tmpfs of 512 MiB each, ``HOME`` 0700 owned by the guest uid, ``/tmp`` 1777, kept
by the launcher in its own mount namespace below ``<run dir>/guest-disks``; without: two 0700
directories there, named by ``HOME`` and ``TMPDIR``, unbounded, and ``/tmp`` itself is the host's).
A file one guest run writes is there at the next run of the same host and never in another
host's guests. A host's disk goes when the host is deleted (:meth:`Guests.drop_disks`) and when
the emulator stops: it does not outlive the emulator's process, even with a state directory.

Run Command runs a script in a VM's guest in the background and reports like Azure's Run
Command: ``202`` with ``Azure-AsyncOperation`` and ``Location``, then the instance-view
statuses.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from .arm.base import now_iso
from .nodejs import NODE, NODE_MODULES, node_options
from .arm.compute import os_type
from .guest_init import CA_BUNDLE as GUEST_CA_BUNDLE
from .guest_init import GUEST_EXIT_SETUP, SECCOMP

if TYPE_CHECKING:  # pragma: no cover
    from .arm.base import Call
    from .server import Emulator

log = logging.getLogger("milab.guests")

RUN_COMMAND_TIMEOUT = 600
OUTPUT_LIMIT = 4096  # Run Command keeps the last 4 KiB of each stream
ISOLATION_CHOICES = ("auto", "namespaces", "none")
GUEST_UID = GUEST_GID = 65534  # nobody / nogroup: owns nothing on the host
GUEST_HOME = "/home/guest"
LAUNCHER = Path(__file__).with_name("guest_init.py")
SETUP_TIMEOUT = 30
MAX_ENDPOINTS = 240  # listeners besides the proxy's one guest may have (SCM_RIGHTS passes at most 253 descriptors)
# Host variables a namespaced guest inherits (everything else of the emulator's environment stays out).
_PASSED_VARS = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")


def _scrubbed_environ() -> dict[str, str]:
    drop = ("AZURE_", "MILAB_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "IDENTITY_", "MSI_")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}


def _guest_base_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASSED_VARS or k.startswith("LC_")}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update({"HOME": GUEST_HOME, "TMPDIR": "/tmp", "USER": "guest", "LOGNAME": "guest", "SHELL": "/bin/bash"})
    return env


def default_read_only_paths() -> list[str]:
    """What a guest must see of the host beyond the system directories: the interpreter and its
    standard library, the virtual environment, the milab package (``python -m milab.guest``)."""
    import milab
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), str(Path(milab.__file__).resolve().parent)}
    return sorted(paths, key=lambda p: (len(p), p))


@dataclass
class Isolation:
    mode: str  # "namespaces" | "none"
    detail: str

    @property
    def isolated(self) -> bool:
        return self.mode == "namespaces"


@dataclass(frozen=True)
class GuestEndpoint:
    """A service a namespaced guest reaches at ``name:port`` without the proxy: the guest's
    ``/etc/hosts`` maps ``name`` to ``address`` (a loopback address of its own namespace), where a
    listener accepts for ``handler(reader, writer)``, or is served by ``serve(listening socket)``
    (a server of the emulator's own, e.g. its HTTPS for a client that takes no proxy)."""
    name: str
    address: str
    port: int
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]] | None = None
    serve: Callable[[socket.socket], Awaitable[asyncio.AbstractServer]] | None = None

    async def listen(self, sock: socket.socket) -> asyncio.AbstractServer:
        if self.serve is not None:
            return await self.serve(sock)
        return await asyncio.start_server(self.handler, sock=sock, limit=64 * 1024)


def endpoint_address(block: int, index: int) -> str:
    """The ``index``-th loopback address of a service's block inside a guest: ``127.<block>.x.y``
    (250 per third octet; Azure SQL's servers have block 1, Cosmos DB's accounts block 2)."""
    return f"127.{block}.{index // 250}.{index % 250 + 1}"


class GuestSetupError(RuntimeError):
    """The isolated guest could not be set up (namespaces refused, a mount failed ...)."""


class Guests:
    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.isolation = Isolation("none", "not decided yet")
        # Host paths every namespaced guest sees read-only; other hosts' runtimes (Node, the
        # Azure CLI's own virtual environment) are added here by whoever needs them.
        self.read_only_paths: list[str] = default_read_only_paths()
        self.pwsh = shutil.which("pwsh")  # Windows guests run PowerShell when this machine has it
        if self.pwsh:
            self.expose(os.path.dirname(os.path.realpath(self.pwsh)))
        from milab.pages import az as _az  # the pinned Azure CLI a page's in-VM steps run (``az login --identity``)
        if (_az.venv() / "bin").is_dir():
            self.expose(_az.venv())
        if NODE.exists():  # the pinned Node.js and its Azure SDKs (``@azure/cosmos``, ``@azure/identity``)
            self.expose(NODE_MODULES)
        self.root_dir = self.emu.run_dir / "guest-root"  # mount point of each guest's root (own namespace)
        self.disks_dir = self.emu.run_dir / "guest-disks"  # the hosts' disks (see the module's docstring)
        self._disks: dict[str, str] = {}  # disk key -> host resource id (lower case)
        self._launcher: asyncio.subprocess.Process | None = None  # guest_init.py, started on first use
        self._channel: socket.socket | None = None
        self._launcher_lock = asyncio.Lock()
        self._hidden: set[str] = set()
        self._endpoint_sources: list[Callable[[], list[GuestEndpoint]]] = []
        # Variables a guest that shares the host's network (no isolation) gets to find services that
        # cannot be proxied (Azure SQL's loopback listeners); a namespaced guest has endpoints instead.
        self.host_route_env: dict[str, str] = {}

    # -- what guests see of the host ---------------------------------------------------------
    def expose(self, *paths: str | os.PathLike) -> None:
        """Let every namespaced guest see these host paths, read-only, at their own paths (e.g.
        the Azure CLI's virtual environment, a Node installation outside ``/usr``)."""
        self.read_only_paths = sorted({*self.read_only_paths, *(os.path.abspath(p) for p in paths)},
                                      key=lambda p: (len(p), p))

    def hide(self, *paths: str | os.PathLike) -> None:
        """Cover these host paths with an empty read-only mount should an exposed path contain them."""
        self._hidden.update(os.path.abspath(p) for p in paths)

    def add_endpoints(self, source: Callable[[], list[GuestEndpoint]]) -> None:
        """``source()`` names the endpoints each namespaced guest gets, when it starts."""
        self._endpoint_sources.append(source)

    def endpoints(self) -> list[GuestEndpoint]:
        found = [e for source in self._endpoint_sources for e in source()]
        if len(found) > MAX_ENDPOINTS:
            log.warning("a guest gets %d of %d endpoints", MAX_ENDPOINTS, len(found))
        return found[:MAX_ENDPOINTS]

    def hidden_paths(self) -> list[str]:
        """What a guest must never see: the run and state directories, and whatever was hidden."""
        dirs = {str(self.emu.run_dir), str(self.emu.pki.directory), *self._hidden}
        if self.emu.config.state_dir:
            dirs.add(str(self.emu.config.state_dir))
        return sorted({os.path.abspath(d) for d in dirs} | {os.path.realpath(d) for d in dirs})

    # -- isolation, decided once -------------------------------------------------------------
    async def decide_isolation(self, requested: str) -> Isolation:
        """Probe once at start; ``namespaces`` refuses to start without them, ``auto`` falls back."""
        if requested not in ISOLATION_CHOICES:
            raise ValueError(f"--guest-isolation must be one of {ISOLATION_CHOICES}, not {requested!r}")
        if requested == "none":
            self.isolation = Isolation("none", "turned off (--guest-isolation none)")
        else:
            reason = await self._probe()
            if reason is None:
                arch = os.uname().machine
                seccomp = "seccomp" if arch in SECCOMP else f"no seccomp filter on {arch}"
                self.isolation = Isolation("namespaces", f"uid {GUEST_UID}, no capabilities, no_new_privs, {seccomp}; "
                                                         f"private mount, network, PID, IPC, UTS and cgroup "
                                                         f"namespaces; guests see no emulator state and reach only "
                                                         f"the emulator (its proxy, and the emulated hosts that "
                                                         f"clients reach by name)")
            elif requested == "namespaces":
                raise GuestSetupError(f"--guest-isolation namespaces: guest namespaces are unavailable: {reason}")
            else:
                self.isolation = Isolation("none", f"namespaces unavailable ({reason})")
        if self.isolation.isolated:
            log.info("guest isolation: namespaces (%s)", self.isolation.detail)
        else:
            log.warning("guest isolation: NONE (%s): guests run as the emulator's own user (uid %d) on the "
                        "host's network and file system and can read its state, keys and credentials",
                        self.isolation.detail, os.getuid())
        return self.isolation

    async def _probe(self) -> str | None:
        """Run one isolated guest that checks what it can see; the reason it failed, or None."""
        if not sys.platform.startswith("linux"):
            return "not Linux"
        if os.geteuid() != 0:
            return f"the emulator does not run as root (uid {os.geteuid()})"
        check = (f'test "$(id -u)" = {GUEST_UID} && test -z "$(ls -A {_shell_quote(str(self.emu.run_dir))} '
                 f'2>/dev/null)" && test -r {GUEST_CA_BUNDLE} && echo isolated')
        try:
            code, out, err = await self._run_isolated("milab-probe", ["/bin/sh", "-c", check], {}, 20, None)
        except GuestSetupError as e:
            return str(e)
        if code != 0 or out.strip() != "isolated":
            return f"the probe guest failed (exit {code}): {(out + err).strip()[-300:]}"
        return None

    # -- the one mechanism -----------------------------------------------------------------------
    def environment(self, credential: str | None, extra: dict[str, str] | None = None,
                    isolated: bool | None = None) -> dict[str, str]:
        """The variables milab sets for a guest (or a host process acting as one, when
        ``isolated`` is false): the proxy, with ``credential`` (``user:secret``) identifying the
        host resource, the CA bundle, plus ``extra``."""
        isolated = self.isolation.isolated if isolated is None else isolated
        host = "127.0.0.1" if isolated else self.emu.config.host
        proxy = f"http://{credential + '@' if credential else ''}{host}:{self.emu.port}"
        bundle = GUEST_CA_BUNDLE if isolated else str(self.emu.pki.bundle)
        env = {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
               "NO_PROXY": "", "no_proxy": "",
               "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle,
               "NODE_EXTRA_CA_CERTS": bundle, "NODE_OPTIONS": node_options()}
        if not isolated:
            env.update(self.host_route_env)
        env.update(extra or {})
        return env

    # -- the hosts' disks -----------------------------------------------------------------------
    def disk(self, host_id: str) -> Path:
        """The directory of ``host_id``'s disk (``home`` and ``tmp`` in it), known from now on."""
        rid = host_id.rstrip("/").lower()
        key = hashlib.sha256(rid.encode()).hexdigest()[:32]
        self._disks[key] = rid
        return self.disks_dir / key

    def _plain_disk(self, host_id: str) -> dict[str, str]:
        """Without namespaces: the host's disk as two directories, for ``HOME`` and ``TMPDIR``."""
        disk = self.disk(host_id)
        for name in ("", "home", "tmp"):
            (disk / name).mkdir(mode=0o700, parents=True, exist_ok=True)
        return {"HOME": str(disk / "home"), "TMPDIR": str(disk / "tmp")}

    def drop_disks(self, host_id: str) -> None:
        """Delete the disks of ``host_id`` and of the hosts below it (a scale set's instances)."""
        rid = host_id.rstrip("/").lower()
        for key, owner in list(self._disks.items()):
            if owner == rid or owner.startswith(rid + "/"):
                del self._disks[key]
                self._drop(self.disks_dir / key)

    def _drop(self, disk: Path) -> None:
        if self._channel is not None:  # namespaces: the launcher holds the disk's mounts
            with contextlib.suppress(OSError):
                self._channel.send(json.dumps({"op": "drop", "disk": str(disk)}).encode())
        else:
            shutil.rmtree(disk, ignore_errors=True)

    async def run_guest(self, host_id: str, argv: list[str], *, credential: str | None,
                        env: dict[str, str] | None = None, timeout: float = RUN_COMMAND_TIMEOUT,
                        hostname: str | None = None) -> tuple[int, str, str]:
        """Run ``argv`` as a guest of the host resource ``host_id``: exit code, stdout, stderr.
        ``credential`` is the proxy credential that identifies the host to IMDS (and only it);
        ``env`` the host type's own variables (e.g. ``AZURE_POD_IDENTITY_AUTHORITY_HOST``).
        The guest finds in ``HOME`` and ``/tmp`` what the host's earlier guests left there."""
        full_env = self.environment(credential, env)
        if not self.isolation.isolated:
            disk = self._plain_disk(host_id)
            return await self._run_plain(argv, {**_scrubbed_environ(), **full_env, **disk}, timeout, disk["HOME"])
        hostname = hostname or host_id.rstrip("/").rsplit("/", 1)[-1]
        try:
            return await self._run_isolated(host_id, argv, {**_guest_base_environ(), **full_env}, timeout, hostname,
                                            self.endpoints(), self.disk(host_id))
        except GuestSetupError as e:
            log.error("guest of %s could not be isolated: %s", host_id, e)
            return GUEST_EXIT_SETUP, "", f"milab: the guest could not be started in isolation: {e}"

    async def _run_plain(self, argv: list[str], env: dict[str, str], timeout: float,
                         cwd: str | None = None) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    start_new_session=True)
        return await _communicate(proc, timeout)

    async def _run_isolated(self, host_id: str, argv: list[str], env: dict[str, str], timeout: float,
                            hostname: str | None, endpoints: list[GuestEndpoint] = (),
                            disk: Path | None = None) -> tuple[int, str, str]:
        request = {"root": str(self.root_dir), "uid": GUEST_UID, "gid": GUEST_GID, "home": GUEST_HOME,
                   "disk": None if disk is None else str(disk),
                   "ca_bundle": str(self.emu.pki.bundle), "read_only": self.read_only_paths,
                   "hidden": self.hidden_paths(), "proxy_port": self.emu.port, "hostname": hostname,
                   "listeners": [[e.address, e.port] for e in endpoints],
                   "hosts": [[e.address, e.name] for e in endpoints], "argv": argv, "env": env}
        ctl, out, err = await self._spawn(request, request["disk"])
        pipes = [os.fdopen(fd, "rb", buffering=0) for fd in (out, err)]
        readers = [asyncio.ensure_future(_read_pipe(f)) for f in pipes]
        servers: list[asyncio.base_events.Server] = []
        try:
            kind, text, fds = await asyncio.wait_for(_frame(ctl), SETUP_TIMEOUT)
            if kind != b"R" or len(fds) != 1 + len(endpoints):
                for fd in fds:
                    os.close(fd)
                raise GuestSetupError(text or "the guest launcher ended before the guest started")
            socks = [socket.socket(fileno=fd) for fd in fds]
            servers.append(await asyncio.start_server(self.emu.proxy.handle, sock=socks[0], limit=64 * 1024))
            for endpoint, sock in zip(endpoints, socks[1:]):
                servers.append(await endpoint.listen(sock))
            try:
                kind, text, _ = await asyncio.wait_for(_frame(ctl), timeout)
            except asyncio.TimeoutError:
                ctl.close()  # the worker kills the guest's PID 1, and with it the whole namespace
                await asyncio.wait(readers, timeout=10)
                return -1, "", f"Run Command timed out after {timeout:.0f} s"
            code = int(text) if kind == b"X" and text.lstrip("-").isdigit() else GUEST_EXIT_SETUP
            stdout, stderr = await asyncio.gather(*readers)
            return code, stdout, stderr
        finally:
            ctl.close()  # also when cancelled: the guest ends with it
            for task in readers:
                task.cancel()
            for server in servers:
                server.close()
            # Let the readers' transports stop watching the pipes before their descriptors are closed
            # (and reused by the next guest's pipes, which a late transport.close() would unwatch).
            await asyncio.wait(readers)
            for f in pipes:
                f.close()

    async def _spawn(self, request: dict, disk: str | None) -> tuple[socket.socket, int, int]:
        """Ask the launcher for a worker (with the host's ``disk`` mounted): its control socket and
        the read ends of stdout/stderr."""
        async with self._launcher_lock:
            if self._launcher is None or self._launcher.returncode is not None:
                await self._start_launcher()
        self.root_dir.mkdir(mode=0o700, exist_ok=True)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            order = {"op": "spawn", "disk": disk, "uid": GUEST_UID, "gid": GUEST_GID}
            socket.send_fds(self._channel, [json.dumps(order).encode()], [out_w, err_w, theirs.fileno()])
        except OSError as e:
            for fd in (out_r, err_r):
                os.close(fd)
            ours.close()
            raise GuestSetupError(f"the guest launcher is gone: {e}") from None
        finally:
            for fd in (out_w, err_w):
                os.close(fd)
            theirs.close()
        ours.setblocking(False)
        payload = json.dumps(request).encode()
        try:
            await asyncio.get_running_loop().sock_sendall(ours, struct.pack(">I", len(payload)) + payload)
        except OSError:  # the launcher refused the order (its reason is the frame waiting on the socket)
            pass
        return ours, out_r, err_r

    async def _start_launcher(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._launcher = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", str(LAUNCHER), str(theirs.fileno()), str(self.disks_dir),
                pass_fds=(theirs.fileno(),),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True)
        except OSError as e:
            ours.close()
            raise GuestSetupError(f"cannot start the guest launcher: {e}") from None
        finally:
            theirs.close()
        if self._channel is not None:
            self._channel.close()
        self._channel = ours
        if self._disks:
            log.warning("the guest launcher restarted: %d host disk(s) start empty", len(self._disks))

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()  # the launcher exits when its channel closes
            self._channel = None
        if self._launcher is not None and self._launcher.returncode is None:
            try:
                await asyncio.wait_for(self._launcher.wait(), 5)
            except asyncio.TimeoutError:
                self._launcher.kill()
        self._disks.clear()
        shutil.rmtree(self.disks_dir, ignore_errors=True)  # with namespaces, only empty mount points

    # -- VMs and the other hosts that share their guest context (instances, container groups, sites) --
    def secret_for(self, vm_id: str) -> str | None:
        for secret, rid in self.emu.state.vm_secrets.items():
            if rid.lower() == vm_id.lower():
                return secret
        return None

    def vm_environment(self, vm_id: str) -> tuple[str, dict[str, str]] | None:
        """A host's proxy credential and its own variables (the host type's ``guest_env`` included),
        or None when there is no such host."""
        vm = self.emu.state.get(vm_id)
        secret = self.secret_for(vm_id)
        if vm is None or secret is None:
            return None
        # azure-identity's ManagedIdentityCredential (via MSAL) finds IMDS here without probing
        return f"vm:{secret}", {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://169.254.169.254",
                                "MILAB_VM_ID": vm_id, "MILAB_VM_OS": os_type(vm), **_host_env(vm)}

    def context_env(self, vm_id: str) -> dict[str, str] | None:
        """The environment of a host process acting as the VM (the control API's ``vm-context``)."""
        found = self.vm_environment(vm_id)
        return None if found is None else self.environment(found[0], found[1], isolated=False)

    def command_line(self, osname: str, script: str) -> list[str]:
        if osname == "Windows":
            if self.pwsh:
                return [self.pwsh, "-NoProfile", "-NonInteractive", "-Command", script]
            # No PowerShell on this machine: the stand-in runs the steps the script declares.
            return [sys.executable, "-m", "milab.guest", "--run-declared-steps", script]
        return ["bash", "-c", script]

    async def run(self, vm_id: str, script: str, timeout: float = RUN_COMMAND_TIMEOUT) -> tuple[int, str, str]:
        """Run a script in the VM's guest, with the VM's identities only."""
        vm = self.emu.state.get(vm_id)
        credential, env = self.vm_environment(vm_id) or (None, {})
        computer = ((vm or {}).get("properties", {}).get("osProfile") or {}).get("computerName")
        return await self.run_guest(vm_id, self.command_line(os_type(vm), script), credential=credential, env=env,
                                    timeout=timeout, hostname=computer)

    def start_run_command(self, call: "Call", vm: dict, script: str, parameters: list):
        op_id = str(uuid.uuid4())
        loc = vm.get("location", "westus")
        sub = call.state.subscription_id
        base = f"{call.base_url}/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{op_id}"
        op = {"status": "InProgress", "startTime": now_iso(), "result": None, "caller": call.caller_oid,
              "location": f"{base}?monitor=true&api-version={call.api_version}"}
        self.emu.operations[op_id] = op
        env_params = "".join(f"{p.get('name')}={_shell_quote(str(p.get('value', '')))}\n"
                             for p in parameters if isinstance(p, dict) and p.get("name"))
        osname = os_type(vm)
        full = (env_params + script) if osname == "Linux" else script

        async def runner():
            code, out, err = await self.run(vm["id"], full)
            op["result"] = {"value": _statuses(osname, code, out[-OUTPUT_LIMIT:], err[-OUTPUT_LIMIT:])}
            op["status"] = "Succeeded"
            op["endTime"] = now_iso()

        self.emu.spawn(runner())
        call.headers.update({"Azure-AsyncOperation": f"{base}?api-version={call.api_version}",
                             "Location": op["location"], "Retry-After": "1"})
        return 202, None


async def _communicate(proc: asyncio.subprocess.Process, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        _kill(proc)
        # Without namespaces a process that left the session may keep the pipes open: do not wait for it.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        return -1, "", f"Run Command timed out after {timeout:.0f} s"
    except BaseException:
        _kill(proc)
        raise
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill a guest and everything it started (its own session; namespaced guests die with PID 1)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def _recv(sock: socket.socket, n: int) -> tuple[bytes, list[int]]:
    """Up to ``n`` bytes and any file descriptors passed with them (b"" at end of stream)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, n, 2 + MAX_ENDPOINTS)
            return data, fds
        except BlockingIOError:
            pass
        except OSError:  # the worker or the launcher died: the end of the stream
            return b"", []
        readable = loop.create_future()
        loop.add_reader(sock.fileno(), lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(sock.fileno())


async def _frame(sock: socket.socket) -> tuple[bytes, str, list[int]]:
    """One frame from a guest worker (see guest_init.py): kind, text, passed descriptors.
    The end of the stream reads as kind b"" (the worker died)."""
    buf, fds = b"", []
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        want = 4 - len(buf) if len(buf) < 4 else 4 + struct.unpack(">I", buf[:4])[0] - len(buf)
        data, got = await _recv(sock, want)
        fds += got
        if not data:
            return b"", "", fds
        buf += data
    payload = buf[4:]
    return payload[:1], payload[1:].decode(errors="replace"), fds


async def _read_pipe(pipe) -> str:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 30)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return (await reader.read()).decode(errors="replace")
    finally:
        transport.close()


def _shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def _statuses(osname: str, code: int, out: str, err: str) -> list[dict]:
    if osname == "Windows":
        return [{"code": "ComponentStatus/StdOut/succeeded", "level": "Info",
                 "displayStatus": "Provisioning succeeded", "message": out},
                {"code": "ComponentStatus/StdErr/succeeded", "level": "Info",
                 "displayStatus": "Provisioning succeeded", "message": err}]
    if code == 0:
        return [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                 "message": f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}\n"}]
    return [{"code": "ProvisioningState/failed", "level": "Error", "displayStatus": "Provisioning failed",
             "message": f"Enable failed: failed to execute command: command terminated with exit status={code}"
                        f"\n[stdout]\n{out}\n[stderr]\n{err}\n"}]


def _host_env(host: dict) -> dict[str, str]:
    """What the host type adds to its guests' environment (a site's IDENTITY_ENDPOINT, app settings)."""
    from .arm.catalog import resource_type
    extra = getattr(resource_type(host["type"]), "guest_env", None)
    return extra(host) if extra else {}
