"""A lab's state directory and state file.

Every lab owns one directory, <root>/<id>/ (root is /run/pharos-lab unless
PHAROS_LAB_ROOT says otherwise).  Creating that directory is how a lab claims
its id: mkdir is atomic, so two labs never pick the same one.  state.json in
it records what another process needs to find, use or remove the lab: its
hosts, its options, the processes spawned on it, and its owner (pid plus
start time, so a reused pid is not mistaken for the owner).  `gc` removes a
lab whose owner is dead; a lab with no owner is only removed by `down`.

state.json is rewritten whole (write to a temporary file, rename) under an
flock on <dir>/lock, so concurrent `spawn` commands do not lose each other's
records.
"""

import fcntl
import json
import os
import re
import secrets
import time
from contextlib import contextmanager

from . import proc

DEFAULT_ROOT = "/run/pharos-lab"
ID_PREFIX = "px"
GENERATED_ID_RE = re.compile(r"^px[0-9a-f]{6}$")
ID_RE = re.compile(r"^[a-z][a-z0-9]{1,11}$")
STATE = "state.json"
VERSION = 1


def root_dir(root=None):
    return root or os.environ.get("PHAROS_LAB_ROOT") or DEFAULT_ROOT


def new_id():
    return ID_PREFIX + secrets.token_hex(3)


def check_id(lab_id):
    if not isinstance(lab_id, str) or not ID_RE.match(lab_id):
        raise ValueError(f"lab id {lab_id!r} is not valid: use 2-12 "
                         f"characters [a-z0-9] starting with a letter, "
                         f"e.g. 'px1a2b3c'")
    return lab_id


def owner_of(pid):
    """Owner record for pid; pid 0 or None means 'no owner' (never gc'ed)."""
    if not pid:
        return None
    start = proc.start_time(pid)
    if start is None:
        raise ValueError(f"owner pid {pid} is not a running process")
    return {"pid": pid, "start": start}


def owner_alive(owner):
    if owner is None:
        return True
    return proc.start_time(owner["pid"]) == owner["start"]


def claim(root, lab_id):
    """Create <root>/<lab_id>; False if that id is taken."""
    os.makedirs(root, mode=0o755, exist_ok=True)
    try:
        os.mkdir(os.path.join(root, lab_id), 0o755)
    except FileExistsError:
        return False
    return True


@contextmanager
def locked(lab_dir):
    fd = os.open(os.path.join(lab_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read(lab_dir):
    with open(os.path.join(lab_dir, STATE), encoding="utf-8") as f:
        return json.load(f)


def write(lab_dir, state):
    tmp = os.path.join(lab_dir, f".{STATE}.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, os.path.join(lab_dir, STATE))


def update(lab_dir, fn):
    """Read state, let fn change it in place, write it back, under the lock."""
    with locked(lab_dir):
        st = read(lab_dir)
        fn(st)
        write(lab_dir, st)


def entries(root=None):
    """(id, dir, state or None) for every directory under root; state is None
    when state.json is missing or unreadable (a lab killed while starting)."""
    root = root_dir(root)
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        d = os.path.join(root, name)
        if not ID_RE.match(name) or not os.path.isdir(d):
            continue
        try:
            st = read(d)
        except (OSError, ValueError):
            st = None
        out.append((name, d, st))
    return out


def age(path):
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return 0.0
