"""Fixtures for the project's own tests of the emulator: raw HTTP against the embedded
emulator the root conftest starts, as the operator or with crafted tokens."""
from __future__ import annotations

import os
import uuid

import pytest
import requests

from milab.targets.emulator import ENV_VAR, Control, load_env
from support import operator_token as get_operator_token
from support import proxied_session


@pytest.fixture(scope="session")
def emu_env() -> dict:
    path = os.environ.get(ENV_VAR)
    if not path:
        pytest.skip("no embedded emulator in this run (--target azure?)")
    return load_env(path)


@pytest.fixture(scope="session")
def control(emu_env) -> Control:
    return Control(emu_env)


@pytest.fixture(scope="session")
def http(emu_env) -> requests.Session:
    """A session that goes through the emulator's proxy and trusts its CA, like any client."""
    return proxied_session(emu_env)


@pytest.fixture(scope="session")
def operator_token(emu_env, http) -> str:
    return get_operator_token(http, emu_env)


class Arm:
    def __init__(self, http: requests.Session, token: str, sub: str):
        self.http, self.token, self.sub = http, token, sub

    def call(self, method: str, path: str, api_version: str | None = "2021-04-01", body=None, token=None,
             headers=None) -> requests.Response:
        url = f"https://management.azure.com{path}"
        if api_version:
            url += ("&" if "?" in url else "?") + f"api-version={api_version}"
        h = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        h.update(headers or {})
        return self.http.request(method, url, json=body, headers=h, timeout=60)

    def group(self, name: str | None = None) -> str:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        r = self.call("PUT", f"/subscriptions/{self.sub}/resourceGroups/{name}", body={"location": "westus"})
        assert r.status_code in (200, 201), r.text
        return name


@pytest.fixture(scope="session")
def arm(http, operator_token, emu_env) -> Arm:
    return Arm(http, operator_token, emu_env["AZURE_SUBSCRIPTION_ID"])
