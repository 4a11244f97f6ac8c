"""Azurite as the blob engine: one ``azurite-blob`` process serving every emulated account.

The process listens on a free loopback port with HTTPS (the emulator's leaf certificate), as a
client would reach it, and on a second loopback port with plain HTTP for the gateway, which has
terminated the client's TLS already (see ``azurite_launcher.js``); it keeps its data under the
emulator's run directory and skips Azurite's api-version check. It
knows exactly the emulated accounts and their keys (Azurite's ``AZURITE_ACCOUNTS``), so Shared
Key and SAS signatures are checked by Azurite itself with the keys ARM hands out.

Starting Node and Azurite takes ~1.5 s, the largest cost of a storage scenario, so the process
starts once, in the background, when ARM creates the first account; later accounts and key
regenerations are pushed to it through ``azurite_launcher.js`` (which sets
``AZURITE_ACCOUNTS`` and refreshes Azurite's account store at once): no restart, blobs stay,
an old key stops working immediately. Work for an account (registration, key change,
container creation) is queued per account, and a request waits for its account's queue.

Acknowledged writes survive a crash of the emulator (``kill -9``): Azurite keeps its metadata in
LokiJS databases it saves only every 5 s, so the gateway calls :meth:`AzuriteManager.flush`
after every write Azurite acknowledged and answers the client once the databases are saved
(concurrent writes share one save). The data directory is private (0700, files 0600: Azurite
runs with umask 077).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from ..nodejs import NODE_MODULES, node_binary

log = logging.getLogger("milab.storage.azurite")

LAUNCHER = Path(__file__).with_name("azurite_launcher.js")
START_TIMEOUT = 60.0
ACK_TIMEOUT = 15.0
_LISTENING = re.compile(rb"listens on https?://([0-9.]+):(\d+)")
_ACK = re.compile(rb"^milab-ack (\d+)")
_PLAIN = re.compile(rb"^milab-plain-port (\d+)")


class AzuriteUnavailable(RuntimeError):
    """Azurite is not installed or did not start."""


def azurite_root() -> Path:
    """The installed azurite package (``infra/node_modules/azurite`` unless ``MILAB_AZURITE_ROOT``)."""
    explicit = os.environ.get("MILAB_AZURITE_ROOT")
    root = Path(explicit) if explicit else NODE_MODULES / "azurite"
    if not (root / "dist" / "src" / "blob" / "main.js").exists():
        raise AzuriteUnavailable(f"Azurite is not installed at {root}: run 'make deps' (npm ci --prefix infra) to "
                                 f"install the pinned version.")
    return root


def _die_with_parent() -> None:
    """In the child before exec: private files, and ask Linux to SIGTERM it when the emulator dies,
    even by SIGKILL."""
    os.umask(0o077)
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: close() still stops the process
        pass


@dataclass
class _Account:
    name: str
    keys: tuple[str, str]
    chain: asyncio.Future | None = None  # the last queued piece of work


class AzuriteManager:
    def __init__(self, run_dir: Path, cert: Path, key: Path, ca: Path, udk_seed: str = ""):
        self.directory = Path(run_dir) / "azurite"
        self.udk_seed = udk_seed
        self.cert, self.key, self.ca = Path(cert), Path(key), Path(ca)
        self.accounts: dict[str, _Account] = {}
        self.start_times: list[float] = []  # seconds per process start (the bench prints them)
        self.on_remove: Callable[[str, int, str], Awaitable[None]] | None = None  # purge an account's data
        self.proc: asyncio.subprocess.Process | None = None
        self.listening_port: int | None = None  # HTTPS, as a client would reach Azurite
        self.plain_port: int | None = None  # the gateway's loopback listener (see azurite_launcher.js)
        self._started: asyncio.Future | None = None
        self._reader: asyncio.Task | None = None
        self._acks: dict[int, asyncio.Future] = {}
        self._seq = 0
        self._tail: list[bytes] = []
        self._flush_waiting: asyncio.Future | None = None  # a save not started yet: later writes join it
        self._flush_running: asyncio.Future | None = None

    # -- the queue of work per account --------------------------------------------------------------
    def _enqueue(self, acct: _Account, job: Callable[[], Awaitable[None]]) -> asyncio.Future:
        prev = acct.chain

        async def run():
            if prev is not None:
                with contextlib.suppress(Exception):
                    await prev
            await job()

        fut = asyncio.ensure_future(run())
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "exception never retrieved"
        acct.chain = fut
        return fut

    def add(self, name: str, key1: str, key2: str) -> asyncio.Future:
        """Register (or re-key) an account; starts Azurite in the background if needed."""
        acct = self.accounts.get(name)
        if acct is None:
            acct = self.accounts[name] = _Account(name, (key1, key2))
        acct.keys = (key1, key2)
        return self._enqueue(acct, self._push)

    def rekey(self, name: str, key1: str, key2: str) -> asyncio.Future:
        """New keys for an account: Azurite checks signatures with them from now on; data stays."""
        return self.add(name, key1, key2)

    def after_ready(self, name: str, job: Callable[[int], Awaitable[None]]) -> asyncio.Future | None:
        """Queue ``job(port)`` for when the account is known to Azurite (container create/delete)."""
        acct = self.accounts.get(name)
        if acct is None:
            return None

        async def run():
            await job(await self._ensure_started())
        return self._enqueue(acct, run)

    def remove(self, name: str) -> asyncio.Future | None:
        """Forget an account: its containers are deleted from Azurite, then its keys are dropped."""
        acct = self.accounts.get(name)
        if acct is None:
            return None

        async def run():
            if self.on_remove is not None and self.plain_port is not None:
                with contextlib.suppress(Exception):
                    await self.on_remove(name, self.plain_port, acct.keys[0])
            if self.accounts.get(name) is acct:
                del self.accounts[name]
            if self.proc is not None:
                await self._push()
        return self._enqueue(acct, run)

    async def port(self, name: str) -> int | None:
        """Azurite's plain loopback port for the gateway once the account's queued work is done; None
        for an unknown account."""
        acct = self.accounts.get(name)
        if acct is None:
            return None
        while acct.chain is not None and not acct.chain.done():
            await asyncio.shield(acct.chain)
        if acct.chain is not None and acct.chain.exception() is not None:
            error = acct.chain.exception()
            acct.chain = None
            raise AzuriteUnavailable(str(error))
        if self.proc is None or self.proc.returncode is not None:  # died since: start again, re-register
            await self._enqueue(acct, self._push)
        return self.plain_port

    # -- the process --------------------------------------------------------------------------------
    async def _ensure_started(self) -> int:
        if self.proc is not None and self.proc.returncode is not None:
            self._started = None  # it died: start a new one
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
            self._started.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            return await asyncio.shield(self._started)
        except Exception:
            self._started = None
            raise

    async def _start(self) -> int:
        root = azurite_root()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        env = {k: v for k, v in os.environ.items()
               if not k.upper().startswith(("AZURE_", "MILAB_", "HTTP_PROXY", "HTTPS_PROXY", "NODE_OPTIONS"))}
        env.update({"MILAB_AZURITE_ROOT": str(root), "AZURITE_ACCOUNTS": self._accounts_string(),
                    "MILAB_AZURITE_CA": str(self.ca), "MILAB_UDK_SEED": self.udk_seed})
        # Azurite 3.37 declares node >= 22: the Node pinned in infra/package.json, else PATH's
        cmd = [node_binary(), str(LAUNCHER), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(self.directory),
               "--cert", str(self.cert), "--key", str(self.key), "--skipApiVersionCheck", "--disableTelemetry",
               "--silent"]
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                                                    preexec_fn=_die_with_parent)
        self.proc = proc
        self._tail = []
        try:
            port = await asyncio.wait_for(self._wait_listening(proc), START_TIMEOUT)
        except (asyncio.TimeoutError, AzuriteUnavailable):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            self.proc = None
            raise AzuriteUnavailable(f"Azurite did not start: "
                                     f"{b''.join(self._tail)[-800:].decode(errors='replace')}") from None
        self.listening_port, self.plain_port = port
        self._reader = asyncio.ensure_future(self._read(proc))
        self.start_times.append(loop.time() - t0)
        log.info("Azurite listens on 127.0.0.1:%s, for the gateway on :%s (started in %.2f s)", *port,
                 self.start_times[-1])
        return self.plain_port

    async def _wait_listening(self, proc) -> tuple[int, int]:
        secure = plain = None
        while secure is None or plain is None:
            line = await proc.stdout.readline()
            if not line:
                raise AzuriteUnavailable(f"exited with {await proc.wait()}")
            self._tail = (self._tail + [line])[-20:]
            m = _LISTENING.search(line)
            if m:
                secure = int(m.group(2))
            m = _PLAIN.match(line)
            if m:
                plain = int(m.group(1))
        return secure, plain

    async def _read(self, proc) -> None:
        with contextlib.suppress(Exception):
            while line := await proc.stdout.readline():
                m = _ACK.match(line)
                if m:
                    fut = self._acks.pop(int(m.group(1)), None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
                else:
                    self._tail = (self._tail + [line])[-20:]
        for fut in self._acks.values():  # the process is gone: nobody will answer
            if not fut.done():
                fut.set_exception(AzuriteUnavailable("Azurite exited"))
        self._acks.clear()

    def _accounts_string(self) -> str:
        return ";".join(f"{a.name}:{a.keys[0]}:{a.keys[1]}" for a in self.accounts.values())

    async def _send(self, message: dict) -> None:
        """One message to the launcher; returns when it is acknowledged."""
        self._seq += 1
        seq = self._seq
        fut = asyncio.get_running_loop().create_future()
        self._acks[seq] = fut
        self.proc.stdin.write((json.dumps({"seq": seq, **message}) + "\n").encode())
        await self.proc.stdin.drain()
        await asyncio.wait_for(fut, ACK_TIMEOUT)

    async def _push(self) -> None:
        """Make Azurite know exactly the current accounts and keys."""
        await self._ensure_started()
        await self._send({"accounts": self._accounts_string()})

    async def flush(self) -> None:
        """Save Azurite's databases now: every write acknowledged before this call is durable when it
        returns. A save that has not started yet is shared by every caller that joins it."""
        if self.proc is None or self.proc.returncode is not None:
            return
        if self._flush_waiting is not None:
            await asyncio.shield(self._flush_waiting)
            return
        fut = self._flush_waiting = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        while self._flush_running is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flush_running)
        self._flush_waiting, self._flush_running = None, fut
        try:
            if self.proc is not None and self.proc.returncode is None:
                await self._send({"flush": True})
            fut.set_result(None)
        except Exception as e:  # Azurite went away: nothing more can be saved
            log.warning("saving Azurite's databases failed: %s", e)
            fut.set_result(None)
        finally:
            self._flush_running = None

    async def close(self) -> None:
        proc, self.proc, self.listening_port, self.plain_port = self.proc, None, None, None
        self.accounts.clear()
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            proc.stdin.close()  # the launcher's stdin reader would keep Node alive after Azurite closed
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader:
            self._reader.cancel()

    def client_ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))
