"""The guest launcher: a small root helper the emulator starts once (standard library only).

``python -I -S guest_init.py FD`` serves spawn requests on FD (a SOCK_SEQPACKET unix socket the
emulator holds the other end of; nothing else can reach it). Each request carries three file
descriptors: the guest's stdout and stderr and a control socket. The helper forks a *worker*
per request (forking a warm, single-threaded process costs a millisecond or two, starting
Python costs a hundred), which reads the request (what to run, as whom, which host paths the
guest may see) from the control socket, and

1. unshares mount, network, PID, IPC, UTS and cgroup namespaces and forks the guest's PID 1;
2. (PID 1) builds a new root on a tmpfs: the system directories (``/usr``, ``/etc``, the
   ``/bin`` and ``/lib`` links) and the requested paths (the interpreter, the virtual
   environment, the milab package) bound read-only at their own paths, a fresh ``/proc``, a
   minimal ``/dev``, writable ``/tmp`` and ``HOME`` from the host's own disk (below), the CA bundle at
   ``/run/milab/ca-bundle.pem``; paths that must stay hidden (the emulator's state and run
   directories) are covered by empty read-only mounts wherever a bound tree contains them;
   ``pivot_root`` into it and detaches the old root, so nothing else of the host's file system
   is reachable;
3. (PID 1) brings up loopback (the namespace's only interface) and listens on
   ``127.0.0.1:<proxy port>`` inside it, and on the addresses of the request's ``listeners``
   (services a client reaches by name and port rather than through a proxy, e.g. Azure SQL's
   ``<server>.database.windows.net:1433``, whose names the request's ``hosts`` adds to the
   guest's own ``/etc/hosts``); the listening sockets go back to the emulator (SCM_RIGHTS),
   which serves the first with its forward proxy and the others with their services, so these
   are the only things a guest can connect to;
4. (PID 1) drops to the unprivileged uid/gid with no supplementary groups, an empty capability
   bounding set, no capabilities and ``no_new_privs``, checks that nothing is left, and executes
   the command;
5. (worker) waits for PID 1 and reports its exit status; when the emulator closes the control
   socket (timeout, shutdown) it kills PID 1, and with it every process of the namespace.

A VM keeps its disk between guest runs: the helper lives in a mount namespace of its own (a slave
of the host's, so nothing it mounts shows on the host) where it keeps, per host resource, two
tmpfs (``home`` 0700 owned by the guest uid, ``tmp`` 1777, 512 MiB each, as a guest's were)
below the emulator's run directory, mounted when a spawn request first names that disk and
unmounted on a ``drop`` request (the host is deleted). A worker binds its host's two at
``HOME`` and ``/tmp``; no other disk is reachable after ``pivot_root``. They go when the helper
does (the emulator stops), with the namespace that holds them.

Messages on the channel are JSON objects: ``{"op": "spawn", "disk": path or null}`` with the three
descriptors, ``{"op": "drop", "disk": path}`` without.

Messages to the emulator are frames (4-byte length, then ``R`` ready with the listening
sockets, ``E`` a setup error, ``X`` the exit status), so the emulator can tell "isolation
unavailable" from the command's own failure.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import resource
import select
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_NEWUSER = 0x10000000
# Per architecture: the seccomp audit arch, and the syscalls the filter refuses (unshare and clone
# with CLONE_NEWUSER, clone3 whose flags a filter cannot read, the keyrings every guest of one uid
# would share).
SECCOMP = {
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435, "add_key": 248, "request_key": 249,
                            "keyctl": 250}),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "clone3": 435, "add_key": 217, "request_key": 218,
                             "keyctl": 219}),
}
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "armv7l": 218}
GUEST_EXIT_SETUP = 125
NPROC_LIMIT = 2048  # processes of the guest uid, all guests together
# What every guest sees of the host, read-only (symbolic links such as /bin -> usr/bin are recreated).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
CA_BUNDLE = "/run/milab/ca-bundle.pem"
DISK_SIZE = "512m"  # each of a host's HOME and /tmp (the kernel refuses writes beyond it: ENOSPC)
MS_SLAVE = 1 << 19

libc = ctypes.CDLL(None, use_errno=True)


def _b(s: str | None):
    return None if s is None else os.fsencode(s)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), f"mount {target}")


def prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0), f"prctl {option}")


def bind(source: str, target: str) -> None:
    """Bind ``source`` read-only at ``target`` (made in the new root)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "wb").close()
    mount(source, target, None, MS_BIND | MS_REC)
    for point in [target] + _mounts_below(target):  # submounts too (e.g. a container's /etc/hosts)
        mount(None, point, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_RDONLY)


def _mounts_below(target: str) -> list[str]:
    prefix = target.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:  # mount points escape space, tab, newline and backslash
        points = [line.split()[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
                  .replace("\\134", "\\") for line in f]
    return [p for p in points if p.startswith(prefix)]


def tmpfs(target: str, mode: str, size: str, extra: str = "", flags: int = MS_NOSUID | MS_NODEV) -> None:
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", flags, f"mode={mode},size={size}{extra}")


def writable_bind(source: str, target: str) -> None:
    """Bind the directory ``source`` writable (no setuid, no devices) at ``target``."""
    os.makedirs(target, exist_ok=True)
    mount(source, target, None, MS_BIND)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)


class Disks:
    """The hosts' disks, below ``top`` in the helper's own mount namespace: ``<top>/<key>/home`` and
    ``/tmp``, each a tmpfs of :data:`DISK_SIZE`."""

    def __init__(self, top: str | None):
        self.top = os.path.realpath(top) if top else None
        self.mounted: set[str] = set()
        if self.top:
            _check(libc.unshare(CLONE_NEWNS), "unshare the helper's mount namespace")
            mount(None, "/", None, MS_REC | MS_SLAVE)  # the host's mounts show here, ours never there
            os.makedirs(self.top, mode=0o700, exist_ok=True)
            mount("tmpfs", self.top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=1m")

    def _path(self, disk) -> str:
        path = os.path.realpath(str(disk))
        if not self.top or os.path.dirname(path) != self.top or not os.path.basename(path).isalnum():
            raise ValueError(f"not a disk of this emulator: {disk!r}")
        return path

    def ensure(self, disk, uid: int, gid: int) -> None:
        path = self._path(disk)
        if path in self.mounted:
            return
        if uid == 0 or gid == 0:
            raise ValueError("a guest never runs as root")
        os.makedirs(path, mode=0o700, exist_ok=True)
        try:
            tmpfs(path + "/home", "0700", DISK_SIZE, f",uid={uid},gid={gid}")
            tmpfs(path + "/tmp", "1777", DISK_SIZE)
        except OSError:
            self.drop(path)
            raise
        self.mounted.add(path)

    def drop(self, disk) -> None:
        path = self._path(disk)
        self.mounted.discard(path)
        for name in ("home", "tmp"):  # a guest still running keeps its own until it ends
            libc.umount2(_b(f"{path}/{name}"), MNT_DETACH)
            with contextlib.suppress(OSError):
                os.rmdir(f"{path}/{name}")
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def build_root(req: dict) -> None:
    root, home = req["root"], req["home"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here propagates to the host
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    bound: list[tuple[str, str]] = []  # (path in the guest, real host path)
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(path, root + path)
            bound.append((path, os.path.realpath(path)))
    private_dirs(root, home, int(req["uid"]), int(req["gid"]), req.get("ca_bundle"), req.get("disk"))
    hidden = sorted({os.path.realpath(h) for h in req.get("hidden", [])})
    for path in req.get("read_only", []):
        real = os.path.realpath(path)
        if (not os.path.exists(real) or _under(real, [r for _, r in bound]) or _under(path, [g for g, _ in bound])
                or _under(real, hidden) or _under(path, ("/dev", "/proc", home, "/run/milab"))):
            continue  # already visible, inside what must stay hidden, or where the guest has its own
        bind(real, root + path)
        bound.append((path, real))
    for h in hidden:  # e.g. a state directory inside an exposed checkout: cover it, wherever it shows
        for guest_path, real in bound:
            if _under(h, [real]):
                cover(root + guest_path + h[len(real):])
    if req.get("hosts"):
        hosts_file(root, req["hosts"])
    os.chdir(root)
    _check(libc.syscall(PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def private_dirs(root: str, home: str, uid: int, gid: int, ca_bundle: str | None, disk: str | None = None) -> None:
    """What each guest has of its own: /dev (harmless devices only), /proc of its PID namespace,
    writable /tmp and HOME (its host's ``disk`` when it has one), and the CA bundle."""
    tmpfs(root + "/dev", "0755", "64k", flags=MS_NOSUID | MS_NOEXEC)
    for name in DEVICES:
        open(f"{root}/dev/{name}", "wb").close()
        mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
    for name, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
        os.symlink(to, f"{root}/dev/{name}")
    tmpfs(root + "/dev/shm", "1777", "64m", flags=MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if disk:  # the host's own disk: what earlier guest runs of this VM left there
        writable_bind(disk + "/tmp", root + "/tmp")
        writable_bind(disk + "/home", root + home)
    else:  # a throwaway guest (the start-up probe): fresh, empty ones
        tmpfs(root + "/tmp", "1777", DISK_SIZE)
        tmpfs(root + home, "0700", DISK_SIZE, f",uid={uid},gid={gid}")
    os.makedirs(root + "/var", exist_ok=True)
    os.symlink("/tmp", root + "/var/tmp")
    if ca_bundle:
        bind(ca_bundle, root + CA_BUNDLE)


def hosts_file(root: str, entries: list) -> None:
    """The guest's own ``/etc/hosts``: the host's, then ``entries`` (``[address, name]`` pairs),
    bound read-only over the shared one inside this mount namespace only."""
    lines = []
    for address, name in entries:
        ipaddress.ip_address(address)  # a malformed request fails the setup, never the hosts file
        if not name or len(name) > 253 or not all(c.isascii() and (c.isalnum() or c in "-.") for c in name):
            raise ValueError(f"not a host name: {name!r}")
        lines.append(f"{address}\t{name}\n")
    try:
        with open("/etc/hosts") as f:
            base = f.read()
    except FileNotFoundError:
        base = "127.0.0.1\tlocalhost\n"
    path = root + "/run/milab/hosts"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(base + ("" if base.endswith("\n") or not base else "\n") + "# milab: the guest's services\n"
                + "".join(lines))
    os.chmod(path, 0o644)
    bind(path, root + "/etc/hosts")


def cover(inside: str) -> None:
    """An empty, read-only mount over a path the guest must not see."""
    if os.path.isdir(inside):
        mount("tmpfs", inside, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0000,size=4k")
    elif os.path.exists(inside):
        mount("/dev/null", inside, None, MS_BIND)
        mount(None, inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def loopback_up() -> None:
    """Bring up ``lo``, the namespace's only interface (all of 127.0.0.0/8 is then local)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def listener(address: str, port: int) -> socket.socket:
    """A listening socket on ``address:port`` inside the namespace (a loopback address)."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"a guest listens on loopback addresses only, not {address}")
    lsock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((address, int(port)))
    lsock.listen(128)
    return lsock


def drop_privileges(uid: int, gid: int) -> None:
    if uid == 0 or gid == 0:
        raise ValueError("a guest never runs as root")
    last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last_cap + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective capabilities
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    status = open("/proc/self/status").read()
    left = [ln for ln in status.splitlines() if ln.startswith("Cap") and int(ln.split()[1], 16)]
    if left or os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"privileges still held after dropping them: {left}")


def send_frame(ctl: socket.socket, kind: bytes, text: str = "", fds: list[int] | None = None) -> None:
    payload = kind + text.encode(errors="replace")
    data = struct.pack(">I", len(payload)) + payload
    if fds:
        socket.send_fds(ctl, [data], fds)
    else:
        ctl.sendall(data)


def read_request(ctl: socket.socket) -> dict:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = ctl.recv(n - len(data))
            if not chunk:
                raise EOFError("the emulator closed the control socket")
            data += chunk
        return data
    return json.loads(exactly(struct.unpack(">I", exactly(4))[0]))


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_filter() -> bool:
    """Refuse new user namespaces (the only namespaces an unprivileged process may create, and
    with them capabilities inside) and the kernel keyrings. False when the architecture is unknown."""
    if os.uname().machine not in SECCOMP:
        return False
    arch, nr = SECCOMP[os.uname().machine]
    ld_w, ja, jeq, jset, jge, ret = 0x20, 0x05, 0x15, 0x45, 0x35, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog = [_bpf(ld_w, 0, 0, 4),  # arch
            _bpf(jeq, 1, 0, arch), _bpf(ret, 0, 0, eperm),
            _bpf(ld_w, 0, 0, 0),  # syscall number
            _bpf(jge, 0, 1, 0x40000000), _bpf(ret, 0, 0, eperm),  # x32 ABI
            _bpf(jeq, 0, 1, nr["clone3"]), _bpf(ret, 0, 0, enosys),  # libc falls back to clone
            _bpf(jeq, 2, 0, nr["unshare"]), _bpf(jeq, 1, 0, nr["clone"]), _bpf(ja, 0, 0, 3),
            _bpf(ld_w, 0, 0, 16),  # args[0], the flags (low word)
            _bpf(jset, 0, 1, CLONE_NEWUSER), _bpf(ret, 0, 0, eperm)]
    prog += [_bpf(ld_w, 0, 0, 0)]
    for name in ("add_key", "request_key", "keyctl"):
        prog += [_bpf(jeq, 0, 1, nr[name]), _bpf(ret, 0, 0, eperm)]
    prog += [_bpf(ret, 0, 0, allow)]
    code = b"".join(prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(buf))
    _check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0), "seccomp")
    return True


def guest(req: dict, ctl: socket.socket) -> None:
    """PID 1 of the new PID namespace: build the guest's world, then become the guest."""
    build_root(req)
    name = "".join(c for c in req.get("hostname") or "" if c.isascii() and (c.isalnum() or c in "-.")).encode()[:63]
    if name:
        _check(libc.sethostname(name, len(name)), "sethostname")
    loopback_up()
    socks = [listener("127.0.0.1", int(req["proxy_port"]))]
    socks += [listener(address, port) for address, port in req.get("listeners") or []]
    resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_LIMIT, NPROC_LIMIT))  # per uid: a fork bomb stays small
    drop_privileges(int(req["uid"]), int(req["gid"]))
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
    seccomp_filter()
    os.chdir(req["home"])
    send_frame(ctl, b"R", fds=[sock.fileno() for sock in socks])
    for sock in socks:
        sock.close()
    ctl.close()
    os.umask(0o022)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; a shell's children must not
        signal.signal(sig, signal.SIG_DFL)
    os.execvpe(req["argv"][0], req["argv"], req["env"])


def worker(out_fd: int, err_fd: int, ctl: socket.socket) -> int:
    """One guest run: namespaces, PID 1, then wait for it (or kill it when the emulator says so)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the helper ignores it; the guest must not inherit that
    try:
        req = read_request(ctl)
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
                            | CLONE_NEWCGROUP), "unshare")
        pid = os.fork()
    except Exception as e:  # noqa: BLE001 - reported to the emulator
        send_frame(ctl, b"E", f"{type(e).__name__}: {e}")
        return GUEST_EXIT_SETUP
    if pid == 0:
        try:
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            for fd in (devnull, out_fd, err_fd):
                os.close(fd)
            guest(req, ctl)
        except BaseException as e:  # noqa: BLE001 - reported to the emulator, then exit without cleanup
            try:
                send_frame(ctl, b"E", f"{type(e).__name__}: {e}")
            finally:
                os._exit(GUEST_EXIT_SETUP)
    os.close(out_fd)
    os.close(err_fd)
    poller = select.poll()
    poller.register(ctl.fileno(), select.POLLIN)
    pidfd = os.pidfd_open(pid)
    poller.register(pidfd, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if pidfd in ready:
            break
        if ctl.fileno() in ready:  # the emulator closed its end (timeout, shutdown): end the guest
            os.kill(pid, signal.SIGKILL)
            poller.unregister(ctl.fileno())
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    code = code if code >= 0 else 128 - code
    with contextlib.suppress(OSError):
        send_frame(ctl, b"X", str(code))
    return code


def main() -> int:
    channel = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the helper never outlives the emulator
    disks = Disks(sys.argv[2] if len(sys.argv) > 2 else None)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(channel, 8192, 3)
        except InterruptedError:
            continue
        if not msg and not fds:
            return 0  # the emulator closed the channel
        try:
            order = json.loads(msg)
            if order.get("op") == "drop" and not fds:
                disks.drop(order["disk"])
                continue
            if order.get("op") != "spawn" or len(fds) != 3:
                raise ValueError("not a request")
            if order.get("disk"):
                disks.ensure(order["disk"], int(order["uid"]), int(order["gid"]))
        except Exception as e:  # noqa: BLE001 - told the emulator on the control socket (a drop: nobody waits)
            if len(fds) == 3:
                with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fds[2])) as ctl:
                    send_frame(ctl, b"E", f"{type(e).__name__}: {e}")
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            channel.close()
            code = GUEST_EXIT_SETUP
            try:
                code = worker(fds[0], fds[1], socket.socket(fileno=fds[2]))
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
