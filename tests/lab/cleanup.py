"""Labs of other processes: listing them, removing those whose owner died
(gc), and checking that nothing of a removed lab is left (leftovers)."""

import os
import re
import sys

from . import proc as _proc
from . import state as _state
from .lab import _LIVE, NETNS_DIR, Lab, LabError
from .proc import Proc


def list_labs(root=None):
    """Every lab under root: dicts with id, dir, owner (pid or None),
    owner_alive, hosts, and processes (name, host, pid, alive)."""
    out = []
    for lab_id, d, st in _state.entries(root):
        if st is None:
            out.append({"id": lab_id, "dir": d, "owner": None,
                        "owner_alive": False, "hosts": [], "processes": [],
                        "broken": True})
            continue
        procs = [Proc.from_json(p) for p in st.get("procs", [])]
        out.append({
            "id": lab_id, "dir": d,
            "owner": st["owner"]["pid"] if st["owner"] else None,
            "owner_alive": _state.owner_alive(st["owner"]),
            "hosts": [h["name"] for h in st["hosts"]],
            "processes": [{"name": p.name, "host": p.host, "pid": p.pid,
                           "alive": p.alive()} for p in procs],
            "broken": False})
    return out


def gc(root=None, *, unowned=False):
    """Remove labs whose owner process is dead (left by a SIGKILLed test or
    script) and half-built labs with no state file.  Labs of live owners are
    never touched.  unowned=True also removes labs created with no owner,
    and namespaces named like a generated lab id (px + 6 hex) that have no
    directory under root -- careful: a lab under another PHAROS_LAB_ROOT
    looks like that too.  Returns the ids removed."""
    root = _state.root_dir(root)
    removed = []
    known = set()
    for lab_id, d, st in _state.entries(root):
        known.add(lab_id)
        if lab_id in _LIVE:
            continue
        if st is None:
            if _state.age(d) < 60:
                continue                # maybe being created right now
            lab = Lab._remnant(lab_id, root)
        else:
            if st["owner"] is None and not unowned:
                continue
            if st["owner"] is not None and _state.owner_alive(st["owner"]):
                continue
            lab = Lab.attach(lab_id, root)
        _remove(lab, removed)
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        names = []
    stray = sorted({m.group(1) for m in
                    (re.match(r"^(px[0-9a-f]{6})-", n) for n in names) if m})
    for lab_id in stray if unowned else ():
        if lab_id not in known and lab_id not in _LIVE:
            _remove(Lab._remnant(lab_id, root), removed)
    return removed


def leftovers(lab_id, root=None):
    """What is left of lab lab_id on the machine, one description per item:
    namespaces, the lab directory, processes carrying the id in their
    environment or command line, and mounts (in any mount namespace)
    referring to the lab directory or the lab's namespace files.  An empty
    list means the lab is completely gone."""
    lab_dir = os.path.join(_state.root_dir(root), lab_id)
    out = []
    try:
        out += [f"namespace {n}" for n in os.listdir(NETNS_DIR)
                if n.startswith(lab_id + "-")]
    except FileNotFoundError:
        pass
    if os.path.lexists(lab_dir):
        out.append(f"directory {lab_dir}")
    marker = f"{_proc.MARKER}={lab_id}".encode()
    me = os.getpid()
    seen_mnt = set()
    needles = (lab_dir.encode(), f"{NETNS_DIR}/{lab_id}-".encode())
    for pid in _proc._all_pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            mnt = os.stat(f"/proc/{pid}/ns/mnt").st_ino
        except OSError:
            continue
        if marker in env or lab_id.encode() in cmdline:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            out.append(f"process {pid}: {shown}")
        if mnt in seen_mnt:
            continue
        seen_mnt.add(mnt)
        try:
            with open(f"/proc/{pid}/mountinfo", "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            if any(n in line for n in needles):
                out.append(f"mount in the mount namespace of pid {pid}: "
                           f"{line.decode(errors='replace')}")
    return out


def _remove(lab, removed):
    try:
        lab.down()
    except LabError as e:
        print(f"pharos-lab: gc: {e}", file=sys.stderr)
    removed.append(lab.id)
