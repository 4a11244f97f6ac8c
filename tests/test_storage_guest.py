"""The Python in-VM step the storage scenarios use for their SDK path: rendered for bash and
PowerShell, and run by the emulator's Windows stand-in from the declared step."""
from __future__ import annotations

import subprocess
import sys

from milab.guest import (PYTHON_MARK, HttpStep, PythonStep, parse_output, render, render_powershell,
                         render_python)

CODE = 'import sys\nprint("it\'s $HOME and \\"quoted\\"")\nsys.exit(3)'


def test_bash_rendering_runs_the_code_unaltered():
    script = render_python(PythonStep(CODE), "linux", prefer=sys.executable)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    r = parse_output(out.stdout)
    assert (r.status, r.body) == (3, 'it\'s $HOME and "quoted"')


def test_windows_script_declares_the_step_for_the_stand_in():
    script = render_python(PythonStep(CODE), "windows", prefer=sys.executable)
    assert script.splitlines()[0].startswith(PYTHON_MARK)
    assert "& $py -c" in script and "milab-status:$LASTEXITCODE" in script
    out = subprocess.run([sys.executable, "-m", "milab.guest", "--run-declared-steps", script],
                         capture_output=True, text=True, timeout=120)
    r = parse_output(out.stdout)
    assert (r.status, r.body) == (3, 'it\'s $HOME and "quoted"')


def test_http_steps_keep_working_next_to_python_steps():
    http = render_powershell(HttpStep("GET", "http://127.0.0.1:9/none", {}, None))
    assert render(HttpStep("GET", "http://x/", {}, None), "windows").startswith("# milab-step: ")
    both = http + render_python(PythonStep("print('second')"), "windows")
    out = subprocess.run([sys.executable, "-m", "milab.guest", "--run-declared-steps", both],
                         capture_output=True, text=True, timeout=120)
    # the HTTP step fails to connect (nothing listens on port 9), as Invoke-WebRequest would throw
    assert out.returncode == 1 and "Invoke-WebRequest" in out.stderr
