"""The response shapes API009 compares documented responses with are what the emulator
really answers (so they cannot drift from the service milab reproduces)."""
from __future__ import annotations

import requests

from milab.docs.knowledge import RESPONSE_SHAPES, response_kind
from milab.docs.rules import _json_type

M = "https://management.azure.com"


def _matches(doc: dict, shape: dict) -> None:
    keys = shape["keys"]
    assert set(doc) <= set(keys), set(doc) - set(keys)
    assert set(keys) - set(doc) <= shape["optional"], set(keys) - set(doc) - shape["optional"]
    for k, v in doc.items():
        assert _json_type(v) == keys[k], (k, v)


def test_imds_token_and_resource_group_shapes_are_the_emulators(arm, http, control, emu_env):
    group = arm.group()
    rg = f"/subscriptions/{arm.sub}/resourceGroups/{group}"
    got = arm.call("GET", rg)
    assert got.status_code == 200
    assert response_kind("GET", "management.azure.com", rg) == "arm-resource-group"
    _matches(got.json(), RESPONSE_SHAPES["arm-resource-group"])
    vm = arm.call("PUT", f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1", "2024-07-01",
                  body={"location": "westus", "identity": {"type": "SystemAssigned"},
                        "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}})
    assert vm.status_code in (200, 201), vm.text
    ctl = requests.Session()
    ctl.trust_env = False
    ctx = ctl.get(f"{emu_env['MILAB_EMULATOR_URL']}/_milab/vm-context", params={"id": vm.json()["id"]},
                  headers={"X-Milab-Control": emu_env["MILAB_CONTROL_KEY"]}, timeout=10).json()
    url = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
    tok = http.get(url, headers={"Metadata": "true"}, proxies={"http": ctx["HTTP_PROXY"]}, timeout=30)
    assert tok.status_code == 200, tok.text
    assert response_kind("GET", "169.254.169.254", "/metadata/identity/oauth2/token") == "imds-token"
    _matches(tok.json(), RESPONSE_SHAPES["imds-token"])
    arm.call("DELETE", rg)
