"""PharosVPN test lab: a small internet in network namespaces (DESIGN.md s.10).

   +------------------------------ inet ---------------------------------+
   | the "public internet" router: 192.0.2.1 (lo) and fe80::1 answer on  |
   | every link; one host route per lab address; strict rp_filter;       |
   | `unreachable` default for IPv4 and IPv6, so nothing leaves the lab  |
   +---+--------+--------+--------+--------+---------+----------+-------+
       |        |        |        |        |         |          |       |
      www    node-a   node-b   node-c    relay   client-1  client-2   home
                                                                   eth0 203.0.113.2
                                                                  +------------+
                                                                  | NAT router |
                                                                  | nftables   |
                                                                  +------------+
                                                                   lan0 192.168.77.1/24
                                                                        |
                                                                       ctl

    host      kind     addresses (each host's uplink is eth0)
    inet      router   192.0.2.1, 2001:db8::1 on lo; fe80::1/64 on every link
    www       public   192.0.2.80, 2001:db8:80::80
    node-a    public   198.51.100.10, 198.51.100.11, 2001:db8:a::10, 2001:db8:a::11
    node-b    public   198.51.100.20, 2001:db8:b::20
    node-c    public   198.51.100.30
    relay     public   198.51.100.40
    client-1  public   203.0.113.101, 2001:db8:c1::101
    client-2  public   203.0.113.102
    home      nat      WAN 203.0.113.2 on eth0; LAN 192.168.77.1/24 on bridge lan0
    ctl       private  192.168.77.10/24, default via 192.168.77.1 (home)

Every host is a network namespace <id>-<host> with one uplink called eth0;
its peer on the router (or on home's LAN bridge) is named after the host.
Each link is a veth created directly inside the two namespaces it joins, so
no lab interface ever exists in the machine's own namespace.

Addressing.  Public hosts hold /32 and /128 addresses from the documentation
ranges only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
and route exactly those ranges via 192.0.2.1 (onlink) and fe80::1; any other
destination hits an `unreachable` route on the host itself, and again on the
router.  With Lab(default_route=True) hosts get ordinary default routes via
the router instead, and the router still refuses everything outside the lab.
The router holds 192.0.2.1 and 2001:db8::1 on lo and fe80::1/64 on every link,
and one host route per host address.  `home` is a public host on its WAN side
and a NAT router for 192.168.77.0/24; the public side has no route to that
subnet at all.

Private state.  Every command and process run "on a host" runs as
    ip netns exec <id>-<host> unshare --mount --uts --propagation slave -- \\
        sh -c 'mount -a -T <lab>/fstab/<host> &&
               echo <host> > /proc/sys/kernel/hostname && exec "$@"' lab CMD...
(see Lab.wrap) so it has the host's hostname and its own copy of PRIVATE_DIRS
(bind mounts of <lab>/fs/<host>/<path>) and of HOST_FILES (its own
/etc/resolv.conf, with no nameserver), plus the lab's LAB_FILES: its
/etc/hosts and empty shell startup files for root.  Lab.path() maps a path seen on a host to the real file.
Propagation is `slave`: the bind mounts stay inside the command's own mount
namespace, while mounts and unmounts made on the machine (such as other
labs' /run/netns files) still reach it.

Names and ownership.  A lab id is "px" + 6 hex digits; its directory is
/run/pharos-lab/<id>/ (PHAROS_LAB_ROOT overrides) and holds state.json with
the owner's pid, the host list and the spawned processes.  Every process the
lab starts carries PHAROS_LAB=<id> in its environment.  Teardown stops the
spawned processes, kills whatever is left in the namespaces or carries the
marker, deletes the namespaces and removes the directory.  It runs on `with`
exit, on down(), at interpreter exit, and on SIGINT/SIGTERM/SIGHUP (then the
signal is passed on); gc() removes labs whose owner is dead.
"""

import atexit
import ipaddress
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

from . import proc as _proc
from . import state as _state
from . import topology
from .capture import Capture
from .proc import Proc
from .services import Services

NETNS_DIR = "/run/netns"

# Directories every host has its own copy of.  /var/run is a symlink to /run,
# so /var/run/wireguard is covered too.  Missing mount points are created
# (empty) on the machine; nothing is ever written into the machine's copies.
PRIVATE_DIRS = (
    "/etc/pharos",
    "/etc/wireguard",
    "/etc/amnezia",
    "/var/lib/pharos",
    "/var/log/pharos",
    "/run/pharos",
    "/run/wireguard",
    "/run/amneziawg",
    "/root/.ssh",
)

# Files shared by every host of one lab, instead of the machine's (only
# those that exist on the machine are replaced).  root's shell startup files
# are replaced by an empty one: an ssh session on a lab host must not run
# the developer's dotfiles, which are slow, vary from machine to machine,
# and may keep state of their own (pyenv's rehash lock, for one) that a
# teardown's SIGKILL would leave broken.
_DOTFILE = "dotfile"
LAB_FILES = {"/etc/hosts": "hosts",
             "/root/.bashrc": _DOTFILE, "/root/.profile": _DOTFILE,
             "/root/.bash_profile": _DOTFILE, "/root/.bash_login": _DOTFILE,
             "/root/.bash_logout": _DOTFILE}

# Files every host has its own copy of (bind mounts of <lab>/fs/<host>/<path>,
# made from the lab's template <lab>/etc/<name>), for programs that rewrite
# them: `caravel up` points /etc/resolv.conf at its tunnel's DNS, and a test
# must see that on the client without it touching the machine or other hosts.
HOST_FILES = {"/etc/resolv.conf": "resolv.conf"}

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")

# A child of `wait_tcp` and `can_connect`: one TCP connect attempt per try.
_CONNECT_PY = """\
import socket, sys, time
ip, port, total, retry = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
deadline = time.monotonic() + total
while True:
    left = deadline - time.monotonic()
    try:
        socket.create_connection((ip, port), timeout=max(0.05, min(left, 1.0))).close()
        sys.exit(0)
    except OSError as e:
        err = e
    if not retry or time.monotonic() >= deadline:
        print(err, file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
"""


class LabError(RuntimeError):
    """The lab could not be built, used or removed; the message says why."""


class CommandError(subprocess.CalledProcessError):
    """A command run by Lab.run exited non-zero.  str() includes the host,
    the command, and its output, so a failing test shows what went wrong."""

    def __init__(self, host, returncode, cmd, output, stderr):
        super().__init__(returncode, cmd, output, stderr)
        self.host = host

    def __str__(self):
        return (f"command on {self.host} exited with status "
                f"{self.returncode}: {shlex.join(self.cmd)}"
                f"{_tail('stdout', self.output)}{_tail('stderr', self.stderr)}")


class CommandTimeout(subprocess.TimeoutExpired):
    def __init__(self, host, cmd, timeout, output, stderr):
        super().__init__(cmd, timeout, output, stderr)
        self.host = host

    def __str__(self):
        return (f"command on {self.host} timed out after {self.timeout}s: "
                f"{shlex.join(self.cmd)}"
                f"{_tail('stdout', self.output)}{_tail('stderr', self.stderr)}")


def _tail(label, text, limit=4000):
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    if len(text) > limit:
        text = "..." + text[-limit:]
    return f"\n--- {label} ---\n{text.rstrip()}"


def _argv(cmd):
    """A shell string runs under /bin/sh -c; a sequence is an argv."""
    if isinstance(cmd, str):
        return ["/bin/sh", "-c", cmd]
    argv = [os.fspath(a) if isinstance(a, os.PathLike) else str(a)
            for a in cmd]
    if not argv:
        raise ValueError("empty command")
    return argv


def _canon(path):
    """Absolute, normalised path as a process on a host sees it, with the
    /var/run symlink resolved so both spellings map alike."""
    path = os.fspath(path)
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must be absolute")
    p = os.path.normpath(path)
    if p.startswith("//"):
        p = p[1:]
    if p == "/var/run" or p.startswith("/var/run/"):
        p = p[len("/var"):]
    return p


def _killpg(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def _fstab_escape(path):
    return (path.replace("\\", "\\134").replace(" ", "\\040")
            .replace("\t", "\\011").replace("\n", "\\012"))


class Lab(Services):
    """A set of network namespaces wired as drawn above.

        with Lab() as lab:                           # whole topology
            lab.run("node-a", ["ping", "-c1", lab.addr("client-1")])
        lab = Lab(hosts=["node-a", "client-1"]).up() # routers added as needed
        ...
        lab.down()

    hosts          None for every host, or names of DEFAULT_HOSTS; `inet`
                   and a private host's nat router are added automatically.
    extra          further topology.HostSpec objects (always included).
    lab_id         fixed id (2-12 [a-z0-9]); default "px" + 6 random hex.
    root           where lab directories live; default /run/pharos-lab or
                   $PHAROS_LAB_ROOT.
    default_route  give hosts a default route via the router instead of
                   routes for the lab ranges plus `unreachable` default.
    private_dirs   directories private to each host in addition to
                   PRIVATE_DIRS.
    stop_timeout   seconds spawned processes get between SIGTERM and SIGKILL
                   at teardown.
    """

    def __init__(self, hosts=None, *, extra=(), lab_id=None, root=None,
                 default_route=False, private_dirs=(), stop_timeout=3.0):
        self._init(topology.resolve(hosts, extra), root, default_route,
                   private_dirs, stop_timeout)
        self._fixed_id = lab_id is not None
        self.id = _state.check_id(lab_id) if lab_id else _state.new_id()
        self._phase = "new"

    def _init(self, specs, root, default_route, private_dirs, stop_timeout):
        self.specs = specs
        self.root = _state.root_dir(root)
        self.default_route = bool(default_route)
        dirs = {_canon(d) for d in PRIVATE_DIRS + tuple(private_dirs)}
        if "/" in dirs:
            raise LabError("private_dirs must not contain '/'")
        self.private_dirs = tuple(sorted(dirs))
        self.stop_timeout = stop_timeout
        self._procs = []
        self._owner_pid = None
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, lab_id, root=None):
        """The lab lab_id, brought up by another process (the CLI, a test
        paused in a debugger).  The returned object can run, spawn and
        down(), but this process does not own it: it is not torn down when
        this process exits."""
        _state.check_id(lab_id)
        root = _state.root_dir(root)
        d = os.path.join(root, lab_id)
        try:
            st = _state.read(d)
        except FileNotFoundError:
            raise LabError(f"no lab {lab_id!r} under {root}; "
                           f"`python3 -m tests.lab list` shows the labs") from None
        lab = cls.__new__(cls)
        specs = {h["name"]: topology.HostSpec.from_json(h) for h in st["hosts"]}
        opts = st.get("options", {})
        lab._init(specs, root, opts.get("default_route", False),
                  opts.get("private_dirs", ()), opts.get("stop_timeout", 3.0))
        lab.id = lab_id
        lab._fixed_id = True
        lab._phase = "attached"
        return lab

    @classmethod
    def _remnant(cls, lab_id, root):
        """A Lab object for whatever is left of lab_id with no usable state
        file: teardown finds its namespaces and processes by name."""
        lab = cls.__new__(cls)
        lab._init({}, root, False, (), 1.0)
        lab.id = lab_id
        lab._fixed_id = True
        lab._phase = "attached"
        return lab

    # --- lifecycle --------------------------------------------------------

    @property
    def dir(self):
        """The lab directory (state, per-host files, logs, captures)."""
        return os.path.join(self.root, self.id)

    @property
    def hosts(self):
        return list(self.specs)

    def __repr__(self):
        return f"<Lab {self.id} {self._phase} hosts={self.hosts}>"

    def __enter__(self):
        if self._phase == "new":
            self.up()
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def up(self, *, owner_pid=None):
        """Build the lab; returns self.  owner_pid is the process whose death
        lets gc() remove the lab: this process by default, 0 for nobody (only
        `down` removes it).  On any failure, what was built is removed and
        the exception propagates."""
        if self._phase != "new":
            raise LabError(f"lab {self.id} is {self._phase}; up() runs once")
        owner = _state.owner_of(os.getpid() if owner_pid is None
                                else owner_pid)
        _install_signal_handlers()
        for _ in range(50):
            if not self._netns_names() and _state.claim(self.root, self.id):
                break
            if self._fixed_id:
                raise LabError(f"lab id {self.id!r} is already in use "
                               f"(directory {self.dir} or its namespaces "
                               f"exist)")
            self.id = _state.new_id()
        else:
            raise LabError(f"no free lab id under {self.root}")
        self._phase = "up"
        self._owner_pid = os.getpid()
        _LIVE[self.id] = self
        try:
            _state.write(self.dir, {
                "version": _state.VERSION, "id": self.id,
                "created": time.time(), "owner": owner,
                "hosts": [s.to_json() for s in self.specs.values()],
                "options": {"default_route": self.default_route,
                            "private_dirs": list(self.private_dirs),
                            "stop_timeout": self.stop_timeout},
                "procs": []})
            self._build()
        except BaseException:
            try:
                self.down()
            except LabError as e:       # the build error matters more
                print(f"pharos-lab: {e}", file=sys.stderr)
            raise
        return self

    def release(self, owner_pid=0):
        """Stop owning the lab in this process: it survives this process's
        exit.  owner_pid becomes the recorded owner (0: nobody, so only
        `down` removes it; a pid: gc() removes it once that process dies)."""
        self._check_usable()
        owner = _state.owner_of(owner_pid)
        _state.update(self.dir, lambda st: st.__setitem__("owner", owner))
        if _LIVE.get(self.id) is self:
            del _LIVE[self.id]
        self._phase = "attached"

    def down(self):
        """Remove everything of the lab: processes, namespaces, directory.
        Idempotent.  Raises LabError if something could not be removed."""
        global _busy
        if self._phase in ("new", "down"):
            self._phase = "down"
            return
        _busy += 1
        try:
            errors = self._teardown()
        finally:
            self._phase = "down"
            if _LIVE.get(self.id) is self:
                del _LIVE[self.id]
            _busy -= 1
        _deliver_pending()
        if errors:
            raise LabError(f"teardown of lab {self.id}: " + "; ".join(errors))

    def _teardown(self):
        errors = []
        procs = self.processes()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                p.send_signal(signal.SIGKILL)
        # The safety net: whatever still runs in our namespaces (sshd
        # sessions, daemons that forked away) or carries our marker (that
        # includes build commands a signal interrupted).  Namespaces are
        # listed again on every round, as a build command may add one.
        left = _proc.kill_all(lambda: _proc.find(
            [os.path.join(NETNS_DIR, n) for n in self._netns_names()],
            self.id))
        if left:
            errors.append(f"processes {sorted(left)} survived SIGKILL")
        for p in self._procs:
            if p._popen is not None:
                try:
                    p._popen.wait(2)       # reap, so no zombie stays behind
                except subprocess.TimeoutExpired:
                    errors.append(f"{p.name} (pid {p.pid}) not reaped")
        names = self._netns_names()
        if names:
            r = subprocess.run(["ip", "-force", "-batch", "-"],
                               input="".join(f"netns del {n}\n" for n in names),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, check=False)
            if self._netns_names():
                errors.append(f"namespaces {self._netns_names()} remain: "
                              f"{r.stdout.strip()}")
        self.sanitizer_reports = self._scan_sanitizer_reports()
        if os.path.lexists(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.path.lexists(self.dir):
                errors.append(f"could not remove {self.dir}")
        return errors

    # What ASan, LSan, UBSan and TSan print when they find something.
    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                         "WARNING: ThreadSanitizer")

    def _scan_sanitizer_reports(self):
        """Every log under the lab directory (spawned processes, and daemons
        that cox installed with their own log files) that holds a sanitizer
        report, as (path relative to the lab, excerpt). Read once every
        process is gone, so reports printed at exit are in."""
        found = []
        for root, _, files in os.walk(self.dir):
            for name in files:
                if not name.endswith(".log"):
                    continue
                path = os.path.join(root, name)
                try:
                    with open(path, errors="replace") as f:
                        text = f.read(8 << 20)
                except OSError:
                    continue
                hits = [text.find(m) for m in self.SANITIZER_MARKERS if m in text]
                if hits:
                    at = min(hits)
                    found.append((os.path.relpath(path, self.dir), text[max(0, at - 200):at + 3000]))
        return found

    def _netns_names(self):
        try:
            names = os.listdir(NETNS_DIR)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.startswith(self.id + "-"))

    def _build(self):
        d = self.dir
        for sub in ("fs", "fstab", "etc", "logs", "pcap", "sshd", "www"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "etc", "hosts"), "w") as f:
            f.write(topology.hosts_file(self.specs))
        with open(os.path.join(d, "etc", "resolv.conf"), "w") as f:
            # No nameserver: lookups fail at once on 127.0.0.1 instead of
            # trying the machine's resolver, which the lab cannot reach.
            f.write("# PharosVPN test lab: no DNS\noptions timeout:1 attempts:1\n")
        with open(os.path.join(d, "etc", _DOTFILE), "w") as f:
            f.write("# PharosVPN test lab: root's shell startup files are "
                    "empty on lab hosts\n")
        for target in self.private_dirs:
            os.makedirs(target, exist_ok=True)        # mount point
        for host in self.specs:
            lines = []
            for target in self.private_dirs:
                src = self.path(host, target)
                os.makedirs(src, exist_ok=True)
                if target == "/root/.ssh":
                    os.chmod(src, 0o700)
                lines.append(f"{_fstab_escape(src)} {_fstab_escape(target)} "
                             f"none bind 0 0")
            for target, name in LAB_FILES.items():
                if os.path.isfile(target):            # follows symlinks
                    src = os.path.join(d, "etc", name)
                    lines.append(f"{_fstab_escape(src)} "
                                 f"{_fstab_escape(target)} none bind 0 0")
            for target, name in HOST_FILES.items():
                if os.path.isfile(target):            # follows symlinks
                    src = self.path(host, target)
                    os.makedirs(os.path.dirname(src), exist_ok=True)
                    shutil.copyfile(os.path.join(d, "etc", name), src)
                    lines.append(f"{_fstab_escape(src)} "
                                 f"{_fstab_escape(target)} none bind 0 0")
            with open(self._fstab(host), "w") as f:
                f.write("\n".join(lines) + "\n")
        ns = self.ns
        self._ip_batch(topology.netns_lines(self.specs, ns))
        self._parallel([(["ip", "netns", "exec", ns(h), "sysctl", "-q", "-w",
                          *topology.sysctls(s)], None)
                        for h, s in self.specs.items()])
        self._ip_batch(topology.link_lines(self.specs, ns))
        jobs = []
        for h, s in self.specs.items():
            lines = topology.config_lines(s, self.specs, self.default_route)
            jobs.append((["ip", "-n", ns(h), "-batch", "-"],
                         "\n".join(lines) + "\n"))
            rules = topology.nft_ruleset(s)
            if rules:
                jobs.append((["ip", "netns", "exec", ns(h), "nft", "-f", "-"],
                             rules))
        self._parallel(jobs)

    def _fstab(self, host):
        return os.path.join(self.dir, "fstab", host)

    def _ip_batch(self, lines):
        if lines:
            self._parallel([(["ip", "-batch", "-"], "\n".join(lines) + "\n")])

    def _parallel(self, jobs):
        """Run (argv, stdin text) jobs at once; LabError if any fails."""
        # The marker in their environment lets a teardown that interrupts
        # the build (a signal) find and kill these before they add more.
        env = self.env("-")
        running = []
        for argv, data in jobs:
            running.append((argv, data, subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, env=env)))
        failed = []
        for argv, data, p in running:
            out, _ = p.communicate(data, timeout=60)
            if p.returncode != 0:
                failed.append(f"{shlex.join(argv)} exited {p.returncode}: "
                              f"{out.strip()}" +
                              (f"\ninput:\n{data}" if data else ""))
        if failed:
            raise LabError("building the lab failed:\n" + "\n".join(failed))

    def _check_usable(self, host=None):
        if self._phase not in ("up", "attached"):
            raise LabError(f"lab {self.id} is {self._phase}, not up")
        if host is not None and host not in self.specs:
            raise LabError(f"lab {self.id} has no host {host!r}; its hosts: "
                           f"{', '.join(self.specs)}")

    # --- running things on hosts -----------------------------------------

    def ns(self, host):
        """Network namespace name of host, e.g. 'px1a2b3c-node-a'."""
        return f"{self.id}-{host}"

    def env(self, host, extra=None):
        """Environment for commands on host: ours, plus the lab marker
        (PHAROS_LAB, PHAROS_LAB_HOST, PHAROS_LAB_DIR), plus extra."""
        env = dict(os.environ)
        path = env.get("PATH", "/usr/bin:/bin").split(":")
        env["PATH"] = ":".join(path + [d for d in _SBIN if d not in path])
        env["PHAROS_LAB"] = self.id
        env["PHAROS_LAB_HOST"] = host
        env["PHAROS_LAB_DIR"] = self.dir
        if extra:
            env.update(extra)
        return env

    def wrap(self, host, cmd):
        """The argv that runs cmd on host (namespace, private directories,
        hostname), for callers that need their own subprocess call.  Run it
        with env=lab.env(host) so teardown can find what it starts."""
        self._check_usable(host)
        prelude = (f"mount -a -T {shlex.quote(self._fstab(host))} || exit 125; "
                   f"echo {shlex.quote(host)} > /proc/sys/kernel/hostname "
                   f"|| exit 125; "
                   f'exec "$@"')
        return ["ip", "netns", "exec", self.ns(host),
                "unshare", "--mount", "--uts", "--propagation", "slave", "--",
                "/bin/sh", "-c", prelude, f"lab:{host}", *_argv(cmd)]

    def run(self, host, cmd, *, check=True, timeout=60.0, input=None,
            env=None, capture=True, text=True):
        """Run cmd (argv list, or a string for /bin/sh -c) on host and wait.

        Returns subprocess.CompletedProcess (args is cmd, not the wrapper).
        check=True raises CommandError on a non-zero exit; a command still
        running after timeout seconds is killed with its process group and
        CommandTimeout raised.  capture=False lets output through to ours.
        Commands that leave daemons behind holding stdout make run() wait for
        them: start those with spawn()."""
        argv = _argv(cmd)
        full = self.wrap(host, argv)
        out = subprocess.PIPE if capture else None
        p = subprocess.Popen(
            full, stdin=subprocess.PIPE if input is not None
            else subprocess.DEVNULL, stdout=out, stderr=out, text=text,
            env=self.env(host, env), start_new_session=True)
        try:
            stdout, stderr = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(p.pid)
            try:
                stdout, stderr = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                stdout = stderr = None
                p.kill()
                p.wait()
            raise CommandTimeout(host, argv, timeout, stdout, stderr) from None
        except BaseException:
            _killpg(p.pid)
            p.wait()
            raise
        if check and p.returncode != 0:
            raise CommandError(host, p.returncode, argv, stdout, stderr)
        return subprocess.CompletedProcess(argv, p.returncode, stdout, stderr)

    def spawn(self, host, cmd, *, name=None, log=True, env=None):
        """Start a long-running cmd on host; returns a Proc.

        stdout and stderr go to <lab>/logs/<host>.<name>.log (Proc.log_text,
        Proc.wait_log); name defaults to the program name and gets a -2, -3
        suffix if taken.  The process leads its own process group; it is
        stopped (SIGTERM, then SIGKILL) at teardown if still running."""
        self._check_usable(host)
        argv = _argv(cmd)
        # The name is part of a file name: no slashes, spaces or controls.
        base = re.sub(r"[/\s\x00-\x1f]", "_",
                      name or os.path.basename(argv[0]))
        out, log_path, name = subprocess.DEVNULL, None, base
        if log:
            for k in range(1, 1000):
                name = base if k == 1 else f"{base}-{k}"
                log_path = os.path.join(self.dir, "logs", f"{host}.{name}.log")
                try:
                    out = open(log_path, "xb")
                    break
                except FileExistsError:
                    continue
            else:
                raise LabError(f"too many processes named {base!r}")
        try:
            p = subprocess.Popen(self.wrap(host, argv),
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT,
                                 env=self.env(host, env),
                                 start_new_session=True)
        finally:
            if log:
                out.close()
        handle = Proc(name, host, p.pid, _proc.start_time(p.pid), log_path,
                      argv, popen=p)
        with self._lock:
            self._procs.append(handle)
        _state.update(self.dir, lambda st: st["procs"].append(handle.to_json()))
        return handle

    def processes(self):
        """Every process spawned on the lab: by this object (with exit
        status) and, for an attached lab, by others (from the state file)."""
        with self._lock:
            mine = list(self._procs)
        seen = {(p.pid, p.start) for p in mine}
        try:
            recorded = _state.read(self.dir).get("procs", [])
        except (OSError, ValueError):
            recorded = []
        others = [Proc.from_json(r) for r in recorded
                  if (r["pid"], r["start"]) not in seen]
        return mine + others

    def proc(self, name, host=None):
        """The spawned process called name (optionally on host)."""
        for p in reversed(self.processes()):
            if p.name == name and (host is None or p.host == host):
                return p
        raise LabError(f"lab {self.id} has no process {name!r}"
                       f"{'' if host is None else ' on ' + host}")

    # --- addresses and files ---------------------------------------------

    def addrs(self, host, family=None):
        """All addresses of host (no prefix), optionally only family 4 or 6."""
        self._check_usable(host)
        return self.specs[host].addresses(family)

    def addr(self, host, family=4, index=0):
        """One address of host: addr("node-a") is 198.51.100.10,
        addr("node-a", 6, 1) is 2001:db8:a::11."""
        a = self.addrs(host, family)
        if not -len(a) <= index < len(a):
            raise LabError(f"host {host!r} has no IPv{family} address "
                           f"#{index}; it has {a}")
        return a[index]

    def path(self, host, path):
        """The real file behind path as host sees it: a host's private
        directories and HOST_FILES (/etc/resolv.conf) live under
        <lab>/fs/<host>/, /etc/hosts under <lab>/etc/; any other path is
        shared with the machine and returned unchanged."""
        if host not in self.specs:
            raise LabError(f"lab {self.id} has no host {host!r}")
        p = _canon(path)
        for t in self.private_dirs:
            if p == t or p.startswith(t + "/"):
                return os.path.join(self.dir, "fs", host, p.lstrip("/"))
        if p in HOST_FILES:
            return os.path.join(self.dir, "fs", host, p.lstrip("/"))
        if p in LAB_FILES:
            return os.path.join(self.dir, "etc", LAB_FILES[p])
        return p

    # --- network helpers --------------------------------------------------

    def _target(self, dst, family=4):
        try:
            return str(ipaddress.ip_address(dst))
        except ValueError:
            return self.addr(dst, family)

    def can_connect(self, host, ip, port, timeout=2.0):
        """True if a TCP connection from host to ip:port (ip may be a host
        name) succeeds within timeout seconds."""
        r = self.run(host, [sys.executable, "-c", _CONNECT_PY,
                            self._target(ip), str(port), str(timeout), "0"],
                     check=False, timeout=timeout + 10)
        return r.returncode == 0

    def wait_tcp(self, host, ip, port, timeout=10.0):
        """Wait until host can open a TCP connection to ip:port; raises
        TimeoutError with the last error otherwise."""
        target = self._target(ip)
        r = self.run(host, [sys.executable, "-c", _CONNECT_PY, target,
                            str(port), str(timeout), "1"],
                     check=False, timeout=timeout + 10)
        if r.returncode != 0:
            raise TimeoutError(f"{host} could not connect to {target} port "
                               f"{port} within {timeout}s: {r.stderr.strip()}")

    def ping(self, host, dst, count=1, timeout=2, family=4, interval=0.2):
        """True if host gets an answer from dst (an address, or a host name
        whose IPv`family` address is used); count echo requests, interval
        seconds apart, each waiting up to timeout seconds."""
        r = self.run(host, ["ping", "-n", "-q", "-c", str(count), "-i",
                            str(interval), "-W", str(timeout),
                            self._target(dst, family)],
                     check=False, timeout=count * (timeout + interval) + 10)
        return r.returncode == 0

    def capture(self, host, iface, bpf_filter=""):
        """Start tcpdump on host's iface (router side: the host's name) with
        a BPF filter; returns a running Capture (also a context manager)."""
        self._check_usable(host)
        for k in range(1, 1000):
            pcap = os.path.join(self.dir, "pcap", f"{host}.{iface}.{k}.pcap")
            if not os.path.exists(pcap):
                break
        return Capture(self, host, iface, bpf_filter, pcap,
                       name=f"tcpdump-{iface}")


# --- process-wide registry, exit and signal handling ---------------------

_LIVE = {}          # id -> Lab brought up (and owned) by this process
_PREV = {}          # signal -> the handler ours replaced
_installed = False
_busy = 0           # > 0 while a teardown runs: signals wait for it
_pending = []


def _down_all():
    for lab in list(_LIVE.values()):
        if lab._owner_pid != os.getpid():
            continue                    # inherited over fork: not ours
        try:
            lab.down()
        except Exception as e:          # keep going: remove the others too
            print(f"pharos-lab: {e}", file=sys.stderr)


def _on_signal(sig, frame):
    if _busy:
        # A teardown is in progress (perhaps the one this signal asks for):
        # let it finish, down() re-raises the signal afterwards.
        _pending.append(sig)
        return
    _down_all()
    _chain(sig, frame)


def _chain(sig, frame):
    prev = _PREV.get(sig, signal.SIG_DFL)
    if callable(prev):
        prev(sig, frame)            # e.g. SIGINT's KeyboardInterrupt
        return
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)             # in case the signal is blocked


def _deliver_pending():
    if _busy or not _pending:
        return
    sig = _pending[0]
    _pending.clear()
    signal.raise_signal(sig)


def _install_signal_handlers():
    """Tear down this process's labs on SIGINT, SIGTERM and SIGHUP, then let
    the signal do what it did before (KeyboardInterrupt, exit).  Only the
    main thread may set handlers; signals ignored before stay ignored."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        prev = signal.getsignal(sig)
        if prev == signal.SIG_IGN:
            continue
        _PREV[sig] = prev if prev is not None else signal.SIG_DFL
        signal.signal(sig, _on_signal)


atexit.register(_down_all)
