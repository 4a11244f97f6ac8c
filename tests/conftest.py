"""Fixtures for the project's own tests of the emulator: raw HTTP against the embedded
emulator the root conftest starts, as the operator or with crafted tokens."""
from __future__ import annotations

import os

import pytest
import requests

from milab.targets.emulator import ENV_VAR, Control, load_env
from support import operator_token as get_operator_token
from support import Arm, proxied_session


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


@pytest.fixture(scope="session")
def arm(http, operator_token, emu_env) -> Arm:
    return Arm(http, operator_token, emu_env["AZURE_SUBSCRIPTION_ID"])
