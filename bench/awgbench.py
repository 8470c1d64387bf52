"""Shared helpers of the AmneziaWG benchmarks (awg-throughput, awg-peers):
start a userspace WireGuard daemon on a lab host, configure it by writing
UAPI text straight to its unix socket (the same bytes for every
implementation, so no tool differs between them), and read its memory and
CPU use from /proc.

Implementations: "pharos" (our pharos-awg from $PHAROS_BIN), "wireguard-go"
(Debian's, on PATH) and "amneziawg-go" ($AMNEZIAWG_GO or PATH; it cannot be
fetched here, so it is optional)."""

import base64
import os
import platform
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.lab import Lab  # noqa: E402  (after the path fix above)

__all__ = ["Lab", "Daemon", "ROOT", "pharos_bin", "amneziawg_go", "machine", "keypair", "hexkey",
           "uapi", "proc_status_kib", "proc_cpu_seconds", "fmt_ratio"]

UNAVAILABLE_AWG_GO = "unavailable: amneziawg-go cannot be fetched"


def pharos_bin():
    """pharos-awg from $PHAROS_BIN (the Makefile sets it), else the bench build."""
    d = os.environ.get("PHAROS_BIN") or os.path.join(ROOT, "build", "bench", "bin")
    return os.path.join(os.path.abspath(d), "pharos-awg")


def amneziawg_go():
    """Path of an amneziawg-go binary, or None."""
    p = os.environ.get("AMNEZIAWG_GO")
    if p:
        return p if os.access(p, os.X_OK) else None
    return shutil.which("amneziawg-go")


def machine():
    """One line describing where the numbers come from."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, CPU {model}, kernel {platform.release()}"


def hexkey(b64):
    return base64.b64decode(b64).hex()


def keypair():
    """(private hex, public hex) from wg(8)."""
    priv = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv, capture_output=True, text=True, check=True).stdout.strip()
    return hexkey(priv), hexkey(pub)


def uapi(path, request, timeout=120.0):
    """Sends one UAPI request (text ending in an empty line) to the socket at
    path and returns (reply text, seconds from first byte sent to the end of
    the reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        data = request.encode()
        t0 = time.monotonic()
        s.sendall(data)
        buf = bytearray()
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        return buf.decode(), time.monotonic() - t0
    finally:
        s.close()


def proc_status_kib(pid, *fields):
    """Values in KiB of /proc/PID/status fields (VmRSS, VmHWM, ...); None if gone."""
    out = dict.fromkeys(fields)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in out:
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def fmt_ratio(num, den, fmt="{:.2f}"):
    if num is None or den is None or den == 0:
        return "n/a"
    return fmt.format(num / den)


class Daemon:
    """One daemon on a lab host, interface ifname, in the foreground."""

    def __init__(self, lab, host, impl, ifname="wg0"):
        self.lab, self.host, self.impl, self.ifname = lab, host, impl, ifname
        if impl == "pharos":
            exe, sockdir = pharos_bin(), "/run/wireguard"
        elif impl == "wireguard-go":
            exe, sockdir = shutil.which("wireguard-go") or "wireguard-go", "/run/wireguard"
        elif impl == "amneziawg-go":
            exe, sockdir = amneziawg_go(), "/run/amneziawg"
            if not exe:
                raise RuntimeError(UNAVAILABLE_AWG_GO)
        else:
            raise ValueError(impl)
        self.exe = os.path.realpath(exe)
        # Same log level for everyone: errors only.
        self.proc = lab.spawn(host, [exe, "-f", ifname], name=f"{impl}-{ifname}",
                              env={"LOG_LEVEL": "error", "GOTRACEBACK": "none"})
        self.sock = lab.path(host, f"{sockdir}/{ifname}.sock")
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{impl} did not start on {host}:\n{self.proc.log_text()}")
            time.sleep(0.02)
        self.pid = self._daemon_pid()

    def _daemon_pid(self):
        """The daemon's own pid: lab.spawn execs through ip-netns/unshare/sh,
        so it normally is proc.pid; otherwise look for a descendant running
        our executable."""
        def exe_of(pid):
            try:
                return os.path.realpath(f"/proc/{pid}/exe")
            except OSError:
                return None
        if exe_of(self.proc.pid) == self.exe:
            return self.proc.pid
        for entry in os.listdir("/proc"):
            if entry.isdigit() and exe_of(entry) == self.exe:
                try:
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        env = f.read().split(b"\0")
                except OSError:
                    continue
                if f"PHAROS_LAB={self.lab.id}".encode() in env and \
                        f"PHAROS_LAB_HOST={self.host}".encode() in env:
                    return int(entry)
        return self.proc.pid

    def set(self, text):
        """UAPI set; raises on a non-zero errno. Returns the seconds it took."""
        reply, secs = uapi(self.sock, text)
        if "errno=0" not in reply:
            raise RuntimeError(f"{self.impl}: UAPI set failed: {reply.strip()!r}\n{self.proc.log_text()[-2000:]}")
        return secs

    def get(self):
        reply, secs = uapi(self.sock, "get=1\n\n")
        return reply, secs

    def memory_kib(self):
        return proc_status_kib(self.pid, "VmRSS", "VmHWM")

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def threads(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/task"))
        except OSError:
            return 0

    def stop(self):
        self.proc.stop()
        deadline = time.monotonic() + 5
        while os.path.exists(self.sock) and time.monotonic() < deadline:
            time.sleep(0.02)
