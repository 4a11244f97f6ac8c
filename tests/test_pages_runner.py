"""The page runner on small synthetic pages: each verdict class (passed; a page defect for an
unbindable placeholder, an output that differs, a command the CLI does not know, a request Azure
refuses; a milab gap; not run here), steps inside the VM, shell variables carried between steps,
and the step log without secrets."""
from __future__ import annotations

import glob
import json
import os
import re
import tempfile
import textwrap

import pytest
from support import run_scenarios

from milab.docs.parser import parse_file
from milab.pages import az as azmod
from milab.pages.catalog import Spec
from milab.pages.derive import derive
from milab.pages.model import MILAB_GAP, NOT_RUN, PAGE_DEFECT, PASSED, VM
from milab.pages.runner import step_log
from milab.targets.emulator import EmbeddedEmulator

pytestmark = pytest.mark.skipif(azmod.unavailable_reason() is not None, reason=azmod.unavailable_reason() or "")

PAGE = textwrap.dedent('''\
    ---
    title: A synthetic page for the page runner
    ---
    # A synthetic page for the page runner

    ## Show a group

    ```azurecli
    az group show --name <RESOURCE GROUP>
    ```

    The output looks like this:

    ```json
    {"name": "<RESOURCE GROUP>", "type": "Microsoft.Resources/resourceGroups",
     "properties": {"provisioningState": "Succeeded"}}
    ```

    ## Show it with the wrong output

    ```azurecli
    az group show --name myResourceGroup
    ```

    The response is similar to:

    ```json
    {"name": "myResourceGroup", "properties": {"provisioningState": "Deleting"}}
    ```

    ## A placeholder nobody explains

    ```azurecli
    az group show --name <NAME OF THE FROBNICATOR>
    ```

    ## A misspelled command

    ```azurecli
    az group shw --name myResourceGroup
    ```

    ## A request Azure refuses

    Retrieve a token with `az account get-access-token`.

    ```bash
    curl 'https://management.azure.com/subscriptions/<SUBSCRIPTION ID>/resourceGroups/<RESOURCE GROUP>?api-version=2031-01-01' -H "Authorization: Bearer <ACCESS TOKEN>"
    ```

    ## A service milab does not emulate

    ```bash
    az account get-access-token --resource https://storage.azure.com/
    ```

    ```bash
    curl https://myaccount.table.core.windows.net/Tables -H "Authorization: Bearer <ACCESS TOKEN>" -H "x-ms-version: 2019-02-02"
    ```

    ## Variables between steps

    ```bash
    name=$(az group show --name myResourceGroup --query name -o tsv)
    ```

    ```bash
    echo "the group is $name"
    ```

    The output:

    ```output
    the group is <RESOURCE GROUP>
    ```

    ## A token inside the VM

    ```bash
    curl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/' -H Metadata:true
    ```

    The response:

    ```json
    {"token_type": "Bearer", "resource": "https://management.azure.com/", "expires_in": "3599"}
    ```

    ## PowerShell only

    ```powershell
    Get-AzResourceGroup -Name myResourceGroup
    ```

    ## Portal only

    Select **Create** and then **Review + create**.

    ## Wrong output, then a misspelled command

    ```azurecli
    az group show --name myResourceGroup
    ```

    The response is similar to:

    ```json
    {"name": "myResourceGroup", "properties": {"provisioningState": "Deleting"}}
    ```

    ```azurecli
    az group shw --name myResourceGroup
    ```

    ## Next steps
    ''')

SECTIONS = ["Show a group", "Show it with the wrong output", "A placeholder nobody explains", "A misspelled command",
            "A request Azure refuses", "A service milab does not emulate", "Variables between steps",
            "A token inside the VM", "PowerShell only", "Portal only", "Wrong output, then a misspelled command"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "synthetic.md"
    path.write_text(PAGE)
    return path


def run(page_runner, page_file, section, given=(), pivot="CLI"):
    spec = Spec(id=f"SYN-{SECTIONS.index(section)}", seed="004", lines="", page="A synthetic page for the page runner",
                sections=(section,), pivot=pivot, family="synthetic", title=section, given=tuple(given),
                boundaries=tuple(s for s in SECTIONS if s != section))
    proc = derive(spec, parse_file(page_file))
    return proc, page_runner.run(proc)


def test_passes_with_the_documented_output(page_runner, page_file):
    proc, result = run(page_runner, page_file, "Show a group", given=("rg",))
    assert result.verdict.verdict == PASSED, step_log(result)
    assert proc.steps[0].expected and result.steps[0].mismatches == []


def test_an_output_that_differs_is_a_page_defect_at_its_step(page_runner, page_file):
    proc, result = run(page_runner, page_file, "Show it with the wrong output", given=("rg",))
    v = result.verdict
    assert (v.verdict, v.step) == (PAGE_DEFECT, 1), step_log(result)
    assert "provisioningState" in v.reason and '"Deleting"' in v.reason and v.line == proc.steps[0].line
    assert v.reason.endswith("the procedure then passed"), v.reason  # what came after is said too


def test_an_old_sample_output_does_not_hide_a_later_failure(page_runner, page_file):
    """The earliest defect is the verdict, and the later step's own failure is in its reason."""
    _, result = run(page_runner, page_file, "Wrong output, then a misspelled command", given=("rg",))
    v = result.verdict
    assert (v.verdict, v.step) == (PAGE_DEFECT, 1), step_log(result)
    assert '"Deleting"' in v.reason and "then page-defect at step 2" in v.reason and "shw" in v.reason, v.reason


def test_an_unbindable_placeholder_is_a_page_defect(page_runner, page_file):
    _, result = run(page_runner, page_file, "A placeholder nobody explains", given=("rg",))
    v = result.verdict
    assert (v.verdict, v.step) == (PAGE_DEFECT, 1)
    assert "<NAME OF THE FROBNICATOR>" in v.reason and "cannot be bound" in v.reason
    assert result.steps[0].exit_code is None  # nothing ran: no guess


def test_a_command_the_cli_does_not_know_is_a_page_defect(page_runner, page_file):
    _, result = run(page_runner, page_file, "A misspelled command", given=("rg",))
    assert result.verdict.verdict == PAGE_DEFECT and "does not recognize" in result.verdict.reason, step_log(result)


def test_a_request_azure_refuses_is_a_page_defect(page_runner, page_file):
    _, result = run(page_runner, page_file, "A request Azure refuses", given=("rg",), pivot="REST")
    v = result.verdict
    assert (v.verdict, v.step) == (PAGE_DEFECT, 1), step_log(result)
    assert "NoRegisteredProviderFound" in v.reason or "InvalidApiVersion" in v.reason
    assert result.steps[0].http_status == 400
    assert "prerequisite 'az account get-access-token'" in (result.steps[0].note or "")


def test_what_the_emulator_does_not_serve_is_a_milab_gap(page_runner, page_file):
    _, result = run(page_runner, page_file, "A service milab does not emulate", pivot="REST")
    v = result.verdict
    assert v.verdict == MILAB_GAP and v.step == 2, step_log(result)
    assert "myaccount.table.core.windows.net" in v.reason and "not emulated" in v.reason  # Table storage


def test_shell_variables_carry_from_step_to_step(page_runner, page_file):
    left = f"{tempfile.gettempdir()}/milab-page-syn-{SECTIONS.index('Variables between steps')}-*"
    before = set(glob.glob(left))
    _, result = run(page_runner, page_file, "Variables between steps", given=("rg",))
    assert result.verdict.verdict == PASSED, step_log(result)
    assert re.search(r"the group is \S+", result.steps[1].stdout)
    # the steps' directory and the variables saved in it (keys and tokens too) go with the procedure
    assert set(glob.glob(left)) == before


def test_imds_steps_run_inside_the_vm(page_runner, page_file):
    proc, result = run(page_runner, page_file, "A token inside the VM", given=("vm:system",), pivot="REST")
    assert proc.steps[0].where == VM
    assert result.verdict.verdict == PASSED, step_log(result)
    log = step_log(result)
    assert "eyJ" not in log, "the access token reached the step log"


def test_powershell_and_portal_are_not_run_here(page_runner, page_file):
    _, ps = run(page_runner, page_file, "PowerShell only", pivot="PowerShell")
    assert ps.verdict.verdict == NOT_RUN and "PowerShell" in ps.verdict.reason
    _, portal = run(page_runner, page_file, "Portal only", pivot="portal")
    assert portal.verdict.verdict == NOT_RUN and "portal" in portal.verdict.reason


def test_a_renamed_section_is_reported_not_guessed(page_runner, page_file):
    spec = Spec(id="SYN-X", seed="004", lines="", page="A synthetic page for the page runner",
                sections=("A section the page no longer has",), pivot="CLI", family="synthetic")
    proc = derive(spec, parse_file(page_file))
    assert proc.reason and "not on the page" in proc.reason
    assert page_runner.run(proc).verdict.verdict == NOT_RUN


def test_the_operator_signs_in_when_the_secret_starts_with_a_dash(tmp_path):
    """A random URL-safe secret starts with '-' one time in 64; given as ``-p SECRET`` argparse takes it
    for an option and every procedure of that worker failed (CI, stop 21). The secret is forced here."""
    state_dir = tmp_path / "emu"
    EmbeddedEmulator(state_dir=state_dir).stop()
    state_file = state_dir / "state.json"
    state = json.loads(state_file.read_text())
    operator = next(p for p in state["principals"].values() if p["kind"] == "operator")
    operator["secret"] = "-" + operator["secret"].lstrip("-")
    state_file.write_text(json.dumps(state))
    emu = EmbeddedEmulator(state_dir=state_dir)
    cli = azmod.AzureCli({**os.environ, **emu.env}, work_dir=tmp_path / "az", warm=False)
    try:
        assert emu.env["AZURE_CLIENT_SECRET"].startswith("-")
        cli.sign_in(emu.env["AZURE_TENANT_ID"], emu.env["AZURE_CLIENT_ID"], emu.env["AZURE_CLIENT_SECRET"])
        shown = cli.run(["account", "show", "-o", "json"])
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["user"] == {"name": emu.env["AZURE_CLIENT_ID"], "type": "servicePrincipal"}
    finally:
        cli.close()
        emu.stop()


def test_in_vm_steps_leave_nothing_in_the_hosts_tmp(tmp_path):
    """Without namespaces a guest shares the host's /tmp: in-VM steps keep their directory on the VM's
    own disk (its TMPDIR), which goes with the VM, not in /tmp, where every procedure left one."""
    before = set(glob.glob("/tmp/milab-vm-*"))
    out = run_scenarios(tmp_path, ["--guest-isolation", "none"],
                        ["tests/test_pages_runner.py::test_imds_steps_run_inside_the_vm"])
    assert [o.outcome for o in out] == ["passed"], out
    assert set(glob.glob("/tmp/milab-vm-*")) == before
