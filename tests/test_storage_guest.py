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


def test_one_interpreter_start_and_pip_only_for_missing_packages(tmp_path):
    """The step starts Python once: present packages are imported, not checked by a second start;
    a missing one sends the step to ``pip install --user`` first (here with no index, so nothing is
    fetched, and inside a virtual environment pip refuses ``--user`` anyway: pip fails, and the code
    still runs, as it would on a VM where pip cannot help)."""
    import os
    present = render_python(PythonStep("print('ran')", ("azure-identity",)), "linux", prefer=sys.executable)
    assert present.count('"$PY"') == 1 and "pip" in present  # pip only inside the import fallback
    trace = tmp_path / "trace"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace), "bash", "-c", present],
                          capture_output=True, text=True, timeout=120, env=env) \
        if os.path.exists("/usr/bin/strace") else None
    if done is not None:
        import re
        started = re.findall(r'execve\("([^"]+)"', trace.read_text())
        pythons = [path for path in started if os.path.basename(path).startswith("python")]
        assert len(pythons) == 1, pythons
        assert parse_output(done.stdout).body == "ran"
    missing = render_python(PythonStep("print('ran')", ("milab-absent-package",)), "linux", prefer=sys.executable)
    done = subprocess.run(["bash", "-c", missing], capture_output=True, text=True, timeout=120, env=env)
    r = parse_output(done.stdout)
    assert (r.status, r.body) == (0, "ran"), done.stdout + done.stderr
    assert "install" in done.stderr.lower(), done.stderr  # pip's own complaint: it was asked
