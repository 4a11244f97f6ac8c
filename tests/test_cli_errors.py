"""milab's commands end in one line and exit status 2 on every bad path, start and stop only what
they should, and leave no run directory behind."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from milab import __version__

ROOT = Path(__file__).resolve().parents[1]
MILAB = [sys.executable, "-m", "milab"]
pytestmark = pytest.mark.xdist_group("cli-run-dirs")  # one TMPDIR per worker process anyway


TMP = Path(tempfile.mkdtemp(prefix="clitests-"))  # this module's TMPDIR: run directories are counted here
atexit.register(shutil.rmtree, TMP, True)  # every worker imports the module, one runs its tests


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "MILAB_", "PYTEST_")) and k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(TMP)
    env.update(extra)
    return env


def run(*args, env=None, timeout=90):
    return subprocess.run([*MILAB, *args], capture_output=True, text=True, timeout=timeout, env=env or _env(),
                          cwd=ROOT)


def _one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _run_dirs():
    return {p for p in TMP.glob("milab-*") if p.name != f"milab-{os.getuid()}"}  # the registry of runs stays


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"milab {__version__}"


@pytest.mark.parametrize("args,words", [
    (["--port", "70000"], ["--port 70000", "out of range"]),
    (["--port", "-1"], ["--port -1", "out of range"]),
    (["--host", "0.0.0.0"], ["--host 0.0.0.0", "not a loopback"]),
    (["--host", "192.168.1.1", "--detach"], ["not a loopback"]),
])
def test_serve_refuses_bad_arguments(args, words):
    _one_line_error(run("serve", *args), *words)


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detach"])
def test_serve_on_a_port_in_use_names_the_port_and_leaves_nothing(detach):
    before = _run_dirs()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("serve", "--port", str(port), *(["--detach"] if detach else []))
    _one_line_error(r, f"port {port}", "already in use")
    assert _run_dirs() <= before, f"a failed start left {_run_dirs() - before}"


def test_detached_emulator_status_and_stop():
    before = _run_dirs()
    r = run("serve", "--detach")
    assert r.returncode == 0, r.stderr
    env = dict(line[len("export "):].split("=", 1) for line in r.stdout.splitlines())
    pid, state = int(env["MILAB_EMULATOR_PID"]), Path(env["MILAB_EMULATOR_DIR"].strip("'"))
    try:
        assert state.stat().st_mode & 0o777 == 0o700, "the run directory is private"
        st = run("status", "--json")
        [rec] = [x for x in json.loads(st.stdout) if x["pid"] == pid]
        assert rec["state_dir"] == str(state) and rec["temporary"] and "management.azure.com" in rec["hosts"]
        assert rec["proxy"].startswith("http://127.0.0.1:")
        text = run("status").stdout
        assert f"pid {pid}" in text and str(state) in text
    finally:
        stopped = run("stop", "--pid", str(pid))
    assert stopped.returncode == 0 and f"stopped milab emulator {pid}" in stopped.stdout, stopped.stderr
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not state.exists(), "stop removes the temporary run directory"
    assert _run_dirs() <= before
    assert all(x["pid"] != pid for x in json.loads(run("status", "--json").stdout or "[]"))


def test_stop_never_touches_an_unrelated_process():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        _one_line_error(run("stop", "--pid", str(sleeper.pid)), "not a milab emulator")
        assert sleeper.poll() is None, "an unrelated process was signalled"
    finally:
        sleeper.kill()
        sleeper.wait()
    _one_line_error(run("stop", "--pid", "999999999"), "no process")
    r = run("stop", env=_env(TMPDIR=tempfile.mkdtemp(dir=TMP)))
    _one_line_error(r, "no milab emulator is running")


def test_foreground_serve_removes_its_run_directory_on_sigterm():
    before = _run_dirs()
    proc = subprocess.Popen([*MILAB, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=ROOT)
    try:
        banner = [proc.stdout.readline() for _ in range(9)]
    finally:
        proc.terminate()
        proc.wait(20)
    text = "".join(banner)
    assert "milab emulator ready" in text and "emulates:" in text and "169.254.169.254" in text
    assert "milab stop --pid" in text and "milab serve --detach" in text
    state = Path(next(ln.split(":", 1)[1].strip() for ln in banner if ln.strip().startswith("state:")))
    assert not state.exists() and _run_dirs() <= before


def test_janitor_without_credentials():
    if not shutil.which("unshare"):
        pytest.skip("unshare is needed to keep the credential chain off the network")
    r = subprocess.run(["unshare", "-rn", *MILAB, "janitor", "--dry-run"], capture_output=True, text=True,
                       timeout=120, env=_env(AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000",
                                             AZURE_CONFIG_DIR=tempfile.mkdtemp(dir=TMP)), cwd=ROOT)
    _one_line_error(r, "no credential")
    _one_line_error(run("janitor"), "AZURE_SUBSCRIPTION_ID")


def _pytest(*args, env):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-reports", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


def _pytest_one_line(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-2000:]
    lines = [ln for ln in out.splitlines() if ln.startswith(("Exit:", "milab:"))]
    assert len(lines) == 1, out[-2000:]
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_target_azure_without_subscription_or_credential(workers):
    _pytest_one_line(_pytest("scenarios/test_arm_read.py", "--target", "azure", *workers, env=_env()),
                     "AZURE_SUBSCRIPTION_ID")
    if not shutil.which("unshare"):
        pytest.skip("unshare is needed to keep the credential chain off the network")
    env = _env(AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000", AZURE_CONFIG_DIR=tempfile.mkdtemp(dir=TMP))
    r = subprocess.run(["unshare", "-rn", sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-reports",
                        "scenarios/test_arm_read.py", "--target", "azure", *workers],
                       capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    _pytest_one_line(r, "no operator credential")


@pytest.mark.parametrize("content,words", [(None, []), ("{not json", []), ("[1, 2]", [])])
def test_doc_facts_missing_or_malformed(tmp_path, content, words):
    path = tmp_path / "facts.json"
    if content is not None:
        path.write_text(content)
    _pytest_one_line(_pytest("scenarios/test_arm_read.py", "--doc-facts", str(path), "--collect-only",
                             env=_env()), "--doc-facts", *words)


def test_calling_main_from_python_leaves_the_callers_sigpipe_alone():
    """Only the ``milab`` process's own short commands take SIGPIPE's default (`milab docs map | head`
    ends quietly); a pytest worker that calls main() keeps Python's SIG_IGN, or it would die at its
    next write to a reset socket."""
    import signal
    from milab.cli import main
    before = signal.getsignal(signal.SIGPIPE)
    assert before != signal.SIG_DFL
    main(["status"])
    assert signal.getsignal(signal.SIGPIPE) == before
