"""What a scenario may ask of a target. Both targets share this code path: control-plane
steps go through the real Azure SDKs as the operator, in-VM steps through
:meth:`Target.run_in_vm`. The emulator and Azure differ only in how an in-VM script
runs, how long role assignments take to propagate, and what can be minted for tests."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import string
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from .. import redact
from ..guest import HttpResult, HttpStep, PythonStep, parse_output, render, render_python

log = logging.getLogger("milab.target")

RUN_TAG = "milab-run"
EXPIRES_TAG = "milab-expires"
OWNER_TAG = "milab"


@dataclass
class WaitReport:
    what: str
    attempts: int = 0
    waited: float = 0.0
    ok: bool = False


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 5.0,
               reports: list | None = None) -> Any:
    """Call ``check`` until it returns a truthy value or ``timeout`` passes; the last value is
    returned either way (so the caller's assertion shows what was seen). Bounded and reported."""
    start = time.monotonic()
    rep = WaitReport(what)
    while True:
        rep.attempts += 1
        value = check()
        rep.waited = time.monotonic() - start
        if value or rep.waited >= timeout:
            rep.ok = bool(value)
            if reports is not None:
                reports.append(rep)
            if rep.attempts > 1:
                log.info("waited %.1f s (%d attempts) for %s: %s", rep.waited, rep.attempts, what,
                         "ok" if rep.ok else "gave up")
            return value
        time.sleep(min(interval, max(0.0, timeout - rep.waited)))


@dataclass
class Vm:
    target: "Target"
    resource_group: str
    name: str
    id: str
    os: str  # linux | windows
    principal_id: str | None = None  # system-assigned
    user_identities: list = field(default_factory=list)
    scale_set: str | None = None  # for a scale-set instance: the set's name (``id`` is the instance's)
    instance_id: str | None = None

    def http(self, method: str, url: str, headers: dict | None = None, body: str | None = None, *,
             max_redirects: int | None = None, show_headers: tuple[str, ...] = ()) -> HttpResult:
        """Send one HTTP request from inside the VM, with the guest's own tool (``max_redirects``
        and ``show_headers``: see :class:`~milab.guest.HttpStep`)."""
        step = HttpStep(method, url, dict(headers or {}), body, max_redirects, tuple(show_headers))
        code, out, err = self.target.run_in_vm(self, render(step, self.os))
        result = parse_output(out, step, err)
        from .. import parity
        parity.note(step, result)  # with --record-responses: status, code and body shape, redacted
        return result

    def python(self, code: str, packages: tuple[str, ...] = ("azure-storage-blob", "azure-identity")) -> HttpResult:
        """Run a small Python program inside the VM (an SDK step). The result's ``status`` is the
        program's exit code and ``body`` its standard output."""
        step = PythonStep(code, tuple(packages))
        code_, out, err = self.target.run_in_vm(self, render_python(step, self.os, prefer=sys.executable))
        return parse_output(out, HttpStep("PYTHON", "python -c", {}, None), err)

    def imds_token(self, resource: str, api_version: str = "2018-02-01", headers: dict | None = None,
                   url: str = "http://169.254.169.254/metadata/identity/oauth2/token", **params: str) -> HttpResult:
        query = f"api-version={api_version}&resource={resource}"
        for k, v in params.items():
            query += f"&{k}={v}"
        return self.http("GET", f"{url}?{query}", {"Metadata": "true"} if headers is None else headers)


class Target:
    """Operator-side access to a subscription (SDK clients) plus in-VM execution."""

    name = "base"
    propagation_timeout = 0.0  # seconds to wait for a role assignment to take effect
    poll_interval = 5.0
    lro_polling_interval: float | None = None

    def __init__(self, subscription_id: str, location: str, prefix: str, credential):
        self.subscription_id = subscription_id
        self.location = location
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"{prefix}{self.run_id}"
        self.credential = credential
        self.waits: list[WaitReport] = []
        self.notes: list[str] = []  # what a scenario did that its report must say (e.g. forcing a fresh token)

    # -- SDK clients ------------------------------------------------------------------------------
    def _kw(self) -> dict:
        return {}

    @cached_property
    def resources(self):
        from azure.mgmt.resource.resources import ResourceManagementClient
        return ResourceManagementClient(self.credential, self.subscription_id, **self._kw())

    @cached_property
    def deployments(self):
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient
        return DeploymentsMgmtClient(self.credential, self.subscription_id, **self._kw())

    @cached_property
    def compute(self):
        from azure.mgmt.compute import ComputeManagementClient
        return ComputeManagementClient(self.credential, self.subscription_id, **self._kw())

    @cached_property
    def network(self):
        from azure.mgmt.network import NetworkManagementClient
        return NetworkManagementClient(self.credential, self.subscription_id, **self._kw())

    @cached_property
    def msi(self):
        from azure.mgmt.msi import ManagedServiceIdentityClient
        return ManagedServiceIdentityClient(self.credential, self.subscription_id, **self._kw())

    @cached_property
    def authorization(self):
        from azure.mgmt.authorization import AuthorizationManagementClient
        return AuthorizationManagementClient(self.credential, self.subscription_id, **self._kw())

    wait_for_deletes = True  # the emulator deletes at once; on Azure the janitor sweeps stragglers

    def lro(self, poller):
        return poller.result()

    def delete_group(self, name: str) -> None:
        poller = self.resources.resource_groups.begin_delete(name)
        if self.wait_for_deletes:
            poller.result()

    # -- naming and tags ------------------------------------------------------------------------------
    def unique_name(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-{secrets.token_hex(3)}"

    def tags(self, hours: float = 6) -> dict[str, str]:
        expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
        return {OWNER_TAG: "true", RUN_TAG: self.run_id, EXPIRES_TAG: expires.strftime("%Y-%m-%dT%H:%M:%SZ")}

    @staticmethod
    def password() -> str:
        alphabet = string.ascii_letters + string.digits
        pw = "Mi1!" + "".join(secrets.choice(alphabet) for _ in range(20))
        redact.register_secret(pw)
        return pw

    # -- what differs between targets ----------------------------------------------------------------
    def run_in_vm(self, vm: Vm, script: str) -> tuple[int, str, str]:
        raise NotImplementedError

    def expired_token(self, principal_id: str, audience: str) -> str:
        """A correctly signed token for the principal that expired an hour ago."""
        raise NotImplementedError

    def identity_token(self, principal_id: str, audience: str) -> str | None:
        """A token for a managed identity of a resource other than a VM (a Cosmos DB account's own
        identity), as that resource's host would get it; None when the principal no longer exists."""
        raise NotImplementedError

    def inject_imds_faults(self, vm: Vm, statuses: list[int]) -> None:
        """Make the VM's IMDS answer its next token requests with these statuses."""
        raise NotImplementedError

    def imds_request_count(self, vm: Vm) -> int:
        """How many token requests the VM's IMDS has seen."""
        raise NotImplementedError

    def obsolete(self, facts: dict) -> None:
        """A tutorial of a retired service (``facts["retired"]``) runs where the service is still
        emulated; a target without it reports the tutorial obsolete, naming its successor."""

    def note(self, text: str) -> None:
        log.info("%s", text)
        self.notes.append(text)

    def refresh_identity_token(self, vm: Vm, resource: str) -> str:
        """Make the VM's next IMDS token for ``resource`` reflect the directory as it is now (app
        roles and groups granted since its cached token was issued), as a user must: IMDS caches a
        managed identity's token per resource URI for about 24 h and cannot be told to refresh it.
        Returns the resource URI to request the fresh token with; what was done goes into the
        report (:attr:`notes`)."""
        raise NotImplementedError

    def wait_for(self, fetch: Callable[[], Any], until: Callable[[Any], bool], what: str) -> Any:
        """Fetch until ``until(result)`` holds or the propagation timeout passes (role assignments
        and key changes take minutes on Azure); return the last result for the caller to assert on."""
        last = None

        def check():
            nonlocal last
            last = fetch()
            return until(last)

        wait_until(check, timeout=self.propagation_timeout, what=what, interval=self.poll_interval,
                   reports=self.waits)
        return last

    def close(self) -> None:
        pass
