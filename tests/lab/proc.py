"""Processes of a lab: the handle returned by Lab.spawn, and the /proc
scanning that finds every process belonging to a lab at teardown.

A process belongs to a lab if it lives in one of the lab's network namespaces
or carries PHAROS_LAB=<id> in its environment (every command the lab starts
does).  The first catches what sshd sessions and double-forking daemons start,
the second catches anything that left the namespace.
"""

import os
import re
import signal
import subprocess
import time

MARKER = "PHAROS_LAB"


def start_time(pid):
    """Start time of pid in clock ticks since boot (field 22 of
    /proc/PID/stat), or None if there is no such process.  A pid together
    with its start time names a process even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; the
    # fields after it start behind the last ')'.
    rest = data[data.rindex(b")") + 2:].split()
    if rest[0] == b"Z":
        return None                 # a zombie has already let go of everything
    return int(rest[19])


def _all_pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def find(netns_paths=(), lab_id=None):
    """Pids of processes inside any of the given network namespaces (paths of
    namespace files such as /run/netns/NAME) or whose environment marks them
    as belonging to lab_id.  Never includes the calling process."""
    inodes = set()
    for p in netns_paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        inodes.add((st.st_dev, st.st_ino))
    marker = f"{MARKER}={lab_id}".encode() if lab_id else None
    me = os.getpid()
    out = set()
    for pid in _all_pids():
        if pid == me:
            continue
        if inodes:
            try:
                st = os.stat(f"/proc/{pid}/ns/net")
                if (st.st_dev, st.st_ino) in inodes:
                    out.add(pid)
                    continue
            except OSError:
                pass
        if marker:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if marker in env.split(b"\0"):
                out.add(pid)
    return out


def kill_all(find_pids, timeout=5.0):
    """SIGKILL whatever find_pids() returns until it returns nothing or
    timeout passes; returns the pids still found at the end.  Killed
    processes may fork in between, hence the loop."""
    deadline = time.monotonic() + timeout
    while True:
        pids = find_pids()
        pids = {p for p in pids if start_time(p) is not None}
        if not pids or time.monotonic() > deadline:
            return pids
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


class Proc:
    """A long-running process started on a lab host by Lab.spawn.

    Signals go to the process group (each spawned process leads its own
    session), so a shell and its children stop together.  A Proc built from
    the lab's state file (another process spawned it) has no Popen: it is
    followed by pid and start time, and its exit status is unknown (None).
    """

    def __init__(self, name, host, pid, start, log_path, argv, popen=None):
        self.name = name
        self.host = host
        self.pid = pid
        self.start = start
        self.log_path = log_path
        self.argv = list(argv)
        self._popen = popen

    def __repr__(self):
        return (f"<Proc {self.name} on {self.host} pid {self.pid} "
                f"{'alive' if self.alive() else 'exited'}>")

    @property
    def returncode(self):
        """Exit status (negative signal number if killed), None while running
        or when unknown."""
        if self._popen is not None:
            return self._popen.poll()
        return None

    def alive(self):
        if self._popen is not None:
            return self._popen.poll() is None
        return start_time(self.pid) == self.start

    def wait(self, timeout=None):
        """Wait for the process to exit; returns returncode, or raises
        TimeoutError if it is still running after timeout seconds."""
        if self._popen is not None:
            try:
                return self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"{self.name} on {self.host} (pid "
                                   f"{self.pid}) still running after "
                                   f"{timeout}s") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.alive():
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} on {self.host} (pid "
                                   f"{self.pid}) still running after "
                                   f"{timeout}s")
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, sig):
        """Send sig to the process group; False if the process is gone."""
        if not self.alive():
            return False
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return False
        return True

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig, wait up to timeout seconds, then SIGKILL.  Returns the
        exit status (None if unknown)."""
        if self.send_signal(sig):
            try:
                return self.wait(timeout)
            except TimeoutError:
                self.send_signal(signal.SIGKILL)
                return self.wait(5.0)
        return self.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log_text(self):
        """Everything the process wrote to stdout and stderr so far."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0):
        """Wait until the regular expression pattern matches the log; returns
        the match.  Raises TimeoutError (with the log) if it does not appear,
        or RuntimeError if the process exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            m = rx.search(text)
            if m:
                return m
            if not self.alive():
                raise RuntimeError(f"{self.name} on {self.host} exited "
                                   f"({self.returncode}) before logging "
                                   f"{pattern!r}; log:\n{text}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name} on {self.host} did not log "
                                   f"{pattern!r} within {timeout}s; log:\n"
                                   f"{text}")
            time.sleep(0.02)

    def to_json(self):
        return {"name": self.name, "host": self.host, "pid": self.pid,
                "start": self.start, "log": self.log_path, "argv": self.argv}

    @classmethod
    def from_json(cls, d):
        return cls(d["name"], d["host"], d["pid"], d["start"], d["log"],
                   d["argv"])
