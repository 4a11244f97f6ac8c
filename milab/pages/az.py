"""The Azure CLI the pages' steps run: its own virtual environment, one configuration directory
and one sign-in per worker, a warm CLI process, and a network guard.

``make deps`` installs the pinned CLI (:data:`PIN`) into ``.venv-az`` (its dependency pins clash
with the project's); ``MILAB_AZ_VENV`` names another. Each pytest worker gets an
:class:`AzureCli`: a private ``AZURE_CONFIG_DIR`` with telemetry, surveys and dynamic extension
installs turned off, the operator signed in once (``az login --service-principal``, what a
reader's ``az login`` stands for), and ``bin/az`` on the steps' PATH, which sends each command to
the worker's warm CLI (``azserver.py``; starting ``az`` costs about a second per command) and
falls back to the real ``az``. Every CLI process loads ``netguard/sitecustomize.py`` and can reach
nothing but loopback: on the emulator target, the emulator's proxy, which refuses any host it
does not emulate.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIN = "2.91.0"  # the Makefile's AZ_CLI_PIN
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NETGUARD = HERE / "netguard"

QUIET = {
    "AZURE_CORE_COLLECT_TELEMETRY": "no",
    "AZURE_CORE_SURVEY_MESSAGE": "no",
    "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
    "AZURE_CORE_NO_COLOR": "true",
    "AZURE_CORE_DISABLE_PROGRESS_BAR": "true",
    "AZURE_CORE_LOGIN_EXPERIENCE_V2": "off",
}
# Variables of the harness that a page's step must not see (secrets, the control key).
HIDDEN = ("AZURE_CLIENT_SECRET", "MILAB_CONTROL_KEY", "PYTEST_", "MILAB_EMULATOR_ENV")
# Modules of the commands the pages use: imported by the warm CLI before the first step needs them.
WARM = ["azure.cli.core.commands", "azure.cli.command_modules.resource.custom",
        "azure.cli.command_modules.vm.custom", "azure.cli.command_modules.role.custom",
        "azure.cli.command_modules.identity.custom", "azure.cli.command_modules.storage",
        "azure.cli.command_modules.network.custom", "azure.cli.command_modules.profile.custom",
        "azure.mgmt.compute", "azure.mgmt.msi", "azure.mgmt.authorization",
        "azure.cli.command_modules.storage.operations.blob", "azure.multiapi.storagev2.blob"]


def venv() -> Path:
    return Path(os.environ.get("MILAB_AZ_VENV") or REPO / ".venv-az")


def az_binary() -> Path | None:
    path = venv() / "bin" / "az"
    return path if path.exists() else None


def python() -> Path:
    return venv() / "bin" / "python"


def unavailable_reason() -> str | None:
    if az_binary() is None:
        return (f"the Azure CLI is not installed in {venv()} (make deps installs azure-cli=={PIN} there; "
                f"MILAB_AZ_VENV names another)")
    return None


def installed_version() -> str | None:
    for dist in (venv() / "lib").glob("python3*/site-packages/azure_cli-*.dist-info"):
        return dist.name[len("azure_cli-"):-len(".dist-info")]
    return None


class AzureCli:
    """One worker's Azure CLI: configuration directory, warm process, operator sign-in."""

    def __init__(self, base_env: dict[str, str], work_dir: Path | None = None, warm: bool = True):
        self.base_env = dict(base_env)
        self.dir = Path(work_dir or tempfile.mkdtemp(prefix="milab-az-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_dir = self.dir / "config"
        self.config_dir.mkdir(exist_ok=True)
        self.bin = self.dir / "bin"
        self.bin.mkdir(exist_ok=True)
        self.home = self.dir / "home"
        self.home.mkdir(exist_ok=True)
        self.socket = str(self.dir / "az.sock")
        self.warm = warm and os.environ.get("MILAB_AZ_SUBPROCESS") != "1"
        self.server: subprocess.Popen | None = None
        self.signed_in = False
        self.sign_in_seconds = 0.0
        self._write_client()

    # -- the environment steps run in ---------------------------------------------------------------
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in self.base_env.items() if not k.startswith(HIDDEN)}
        env.update(QUIET)
        env["AZURE_CONFIG_DIR"] = str(self.config_dir)
        env["HOME"] = str(self.home)  # the reader's home: ssh keys 'az vm create --generate-ssh-keys' writes
        env["MILAB_AZ_SERVER_CONFIG_DIR"] = str(self.config_dir)
        env["MILAB_AZ_REAL"] = str(az_binary() or "az")
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["PYTHONPATH"] = str(NETGUARD)
        ca = Path(env.get("MILAB_EMULATOR_DIR", "/nonexistent")) / "pki" / "ca.pem"
        if ca.is_file():  # on the emulator only its CA can be met; loading the system bundle costs 0.2 s a command
            env["REQUESTS_CA_BUNDLE"] = str(ca)
        if self.warm:
            env["MILAB_AZ_SOCKET"] = self.socket
        env.update(extra or {})
        return env

    def _write_client(self) -> None:
        client = (HERE / "azclient.py").read_text()
        path = self.bin / "az"
        path.write_text(f"#!{python()} -S\n{client}")
        path.chmod(0o755)
        (self.bin / "azserver.py").write_text((HERE / "azserver.py").read_text())  # the protocol it imports

    # -- the warm CLI --------------------------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        """Start the warm CLI (once); ``wait=False`` returns at once, the first command waits."""
        if not self.warm:
            return
        if self.server is not None:
            if wait:
                self._wait_ready()
            return
        env = self.env()
        env.pop("MILAB_AZ_SOCKET", None)
        ready = Path(self.socket + ".ready")
        ready.unlink(missing_ok=True)
        log = open(self.dir / "azserver.log", "ab")
        self.server = subprocess.Popen([str(python()), str(HERE / "azserver.py"), self.socket, *WARM],
                                       env=env, cwd=str(self.dir), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self._wait_ready()

    def _wait_ready(self) -> None:
        ready = Path(self.socket + ".ready")
        deadline = time.monotonic() + 180
        while self.server is not None and not ready.exists():
            if self.server.poll() is not None:
                self.server = None
                self.warm = False  # the client falls back to the real az
                return
            if time.monotonic() > deadline:
                self.stop()
                self.warm = False
                return
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is None:
            return
        try:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(5)
            conn.connect(self.socket)
            data = json.dumps({"stop": True}).encode()
            conn.sendall(struct.pack(">I", len(data)) + data)
            conn.recv(16)
            conn.close()
        except OSError:
            pass
        try:
            self.server.wait(10)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.server = None

    # -- running commands ------------------------------------------------------------------------------
    def run(self, args: list[str], timeout: float = 300, extra_env: dict[str, str] | None = None,
            cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``az ARGS`` as a step would (through bin/az)."""
        self.start()
        return subprocess.run([str(self.bin / "az"), *args], env=self.env(extra_env), capture_output=True, text=True,
                              timeout=timeout, cwd=cwd or str(self.dir), stdin=subprocess.DEVNULL)

    def sign_in_later(self, tenant: str, client_id: str, secret: str) -> None:
        """Sign in (as :meth:`sign_in`) when the first step needs the CLI (:meth:`ready`)."""
        self._pending_sign_in = (tenant, client_id, secret)

    def ready(self) -> None:
        """The warm CLI is up and the operator signed in (whatever was deferred is done now)."""
        pending = getattr(self, "_pending_sign_in", None)
        if pending and not self.signed_in:
            self.sign_in(*pending)
        self.start()

    def sign_in(self, tenant: str, client_id: str, secret: str) -> None:
        """The operator's sign-in, once per worker: what a page's ``az login`` stands for."""
        if self.signed_in:
            return
        started = time.monotonic()
        self.start()
        for _ in range(2):  # a second try: a loaded machine can time the first one out
            # one argument, "--password=...": argparse takes a secret starting with '-' for an option
            # ("expected one argument"), and a random URL-safe secret starts so one time in 64
            done = self.run(["login", "--service-principal", "-u", client_id, f"--password={secret}",
                             "--tenant", tenant, "-o", "none"])
            if done.returncode == 0:
                break
        self.sign_in_seconds = time.monotonic() - started
        if done.returncode != 0:
            from .. import redact
            raise RuntimeError(f"az login --service-principal failed ({done.returncode}): "
                               f"{redact.redact(done.stderr[-800:])}")
        self.signed_in = True

    def reset(self) -> None:
        """Forget every sign-in (a guest CLI between procedures: each VM signs in for itself)."""
        for child in self.config_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)  # the token cache goes with it

    def guest_exports(self) -> str:
        """Bash lines that make an in-VM step's ``az`` this CLI (a guest CLI: no operator sign-in;
        the step's own environment, the VM's proxy credentials, travels with each command)."""
        env = {k: v for k, v in self.env().items()
               if k in QUIET or k.startswith(("MILAB_AZ_", "AZURE_CONFIG_DIR", "PYTHONPATH", "REQUESTS_CA"))}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
        lines.append(f"export PATH={shlex.quote(str(self.bin))}:$PATH")
        return "\n".join(lines)


def vm_prelude(target_name: str, guest: "AzureCli | None" = None) -> str:
    """Bash lines that give an in-VM step the Azure CLI: on the emulator, the pinned CLI of this
    machine (the VM context shares it: a warm guest CLI when there is one) with its own
    configuration directory and the network guard; on Azure, the VM's own ``az`` (installed from
    Microsoft's package if missing)."""
    if target_name == "emulator":
        if guest is not None:
            return guest.guest_exports()
        exports = " ".join(f"{k}={v}" for k, v in QUIET.items())
        return "\n".join([
            f"export {exports}",
            'export AZURE_CONFIG_DIR="${MILAB_STATE_DIR:-$HOME}/.azure-milab"',
            f"export PATH={venv() / 'bin'}:$PATH",
            f"export PYTHONPATH={NETGUARD}",
        ])
    return "command -v az >/dev/null 2>&1 || (curl -sL https://aka.ms/InstallAzureCLIDeb | sudo bash) >/dev/null 2>&1"


__all__ = ["AzureCli", "PIN", "az_binary", "installed_version", "unavailable_reason", "vm_prelude", "venv"]
if __name__ == "__main__":  # pragma: no cover
    print(installed_version() or "not installed", file=sys.stderr)
