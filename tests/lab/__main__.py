"""Command line for the test lab, for bash scripts (demo, benchmarks):

    id=$(python3 -m tests.lab up --hosts node-a,client-1 --owner $$)
    python3 -m tests.lab exec "$id" client-1 -- ping -c1 198.51.100.10
    python3 -m tests.lab down "$id"

Run from the repository root.  The table COMMANDS is the whole interface;
`python3 -m tests.lab help` prints it.
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable

from .cleanup import gc, list_labs
from .lab import Lab, LabError
from .topology import TopologyError

PROG = "python3 -m tests.lab"


def _split(argv):
    """Options before '--', command after it."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _need_cmd(cmd, name):
    if not cmd:
        raise SystemExit(f"{PROG} {name}: give the command after '--', e.g. "
                         f"{PROG} {name} ... -- ip addr")
    return cmd


# --- commands: each takes parsed args (and the argv after '--') ----------

def _args_up(p):
    p.add_argument("--hosts", help="comma-separated hosts (default: all); "
                   "routers are added as needed")
    p.add_argument("--id", help="lab id to use instead of a random px......")
    p.add_argument("--owner", type=int, default=None,
                   help="pid whose death lets `gc` remove the lab (default: "
                   "the calling process, i.e. the script; 0: nobody)")
    p.add_argument("--default-route", action="store_true",
                   help="hosts get a default route via the router")


def cmd_up(a, _):
    hosts = [h for h in a.hosts.split(",") if h] if a.hosts else None
    lab = Lab(hosts, lab_id=a.id, default_route=a.default_route)
    owner = os.getppid() if a.owner is None else a.owner
    lab.up(owner_pid=owner)
    # The lab must outlive this short command; its owner is the caller.
    lab.release(owner)
    print(lab.id)


def _args_ids(p):
    p.add_argument("id", nargs="+")


def cmd_down(a, _):
    for lab_id in a.id:
        Lab.attach(lab_id).down()


def _args_gc(p):
    p.add_argument("--all", action="store_true",
                   help="also labs with no owner, and lab-named namespaces "
                   "with no lab directory")


def cmd_gc(a, _):
    for lab_id in gc(unowned=a.all):
        print(lab_id)


def _args_list(p):
    p.add_argument("--json", action="store_true")


def cmd_list(a, _):
    labs = list_labs()
    if a.json:
        print(json.dumps(labs, indent=1))
        return
    for lab in labs:
        owner = "-" if lab["owner"] is None else str(lab["owner"])
        state = "broken" if lab["broken"] else (
            "live" if lab["owner_alive"] else "orphan")
        print(f"{lab['id']}\towner={owner}\t{state}\t{','.join(lab['hosts'])}")


def _args_id(p):
    p.add_argument("id")


def cmd_show(a, _):
    lab = Lab.attach(a.id)
    print(f"lab {lab.id}  dir {lab.dir}")
    for host, spec in lab.specs.items():
        print(f"  {host:<10} {spec.kind:<8} {lab.ns(host):<20} "
              f"{' '.join(spec.addrs)}")
    for p in lab.processes():
        print(f"  process {p.name} on {p.host}: pid {p.pid} "
              f"{'alive' if p.alive() else 'exited'}  log {p.log_path}")


def _args_host(p):
    p.add_argument("id")
    p.add_argument("host")


def cmd_exec(a, cmd):
    lab = Lab.attach(a.id)
    argv = lab.wrap(a.host, _need_cmd(cmd, "exec"))
    os.execvpe(argv[0], argv, lab.env(a.host))


def _args_spawn(p):
    _args_host(p)
    p.add_argument("name")


def cmd_spawn(a, cmd):
    p = Lab.attach(a.id).spawn(a.host, _need_cmd(cmd, "spawn"), name=a.name)
    print(p.pid)


def _args_named(p):
    p.add_argument("id")
    p.add_argument("name")
    p.add_argument("--host")


def cmd_stop(a, _):
    Lab.attach(a.id).proc(a.name, a.host).stop()


def cmd_log(a, _):
    sys.stdout.write(Lab.attach(a.id).proc(a.name, a.host).log_text())


def _args_path(p):
    _args_host(p)
    p.add_argument("path")


def cmd_path(a, _):
    print(Lab.attach(a.id).path(a.host, a.path))


def _args_addr(p):
    _args_host(p)
    p.add_argument("-6", dest="family", action="store_const", const=6,
                   default=4, help="IPv6 instead of IPv4")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--all", action="store_true", help="every address")


def cmd_addr(a, _):
    lab = Lab.attach(a.id)
    if a.all:
        print("\n".join(lab.addrs(a.host, a.family)))
    else:
        print(lab.addr(a.host, a.family, a.index))


def _args_web(p):
    p.add_argument("id")
    p.add_argument("--host", default="www")
    p.add_argument("--port", type=int, default=80)


def cmd_web(a, _):
    print(Lab.attach(a.id).start_web(a.host, a.port).pid)


def _args_sshd(p):
    _args_host(p)
    p.add_argument("--key", action="append", default=[],
                   help="authorized_keys line for root (repeatable)")
    p.add_argument("--key-file", action="append", default=[],
                   help="file of authorized_keys lines (repeatable)")
    p.add_argument("--port", type=int, default=22)


def cmd_sshd(a, _):
    keys = list(a.key)
    for path in a.key_file:
        with open(path) as f:
            keys += [line for line in f.read().splitlines() if line.strip()]
    print(Lab.attach(a.id).start_sshd(a.host, keys, a.port))


@dataclass(frozen=True)
class Command:
    name: str
    fn: Callable
    args: Callable
    help: str
    takes_cmd: bool = False


COMMANDS = (
    Command("up", cmd_up, _args_up, "build a lab and print its id"),
    Command("down", cmd_down, _args_ids, "remove labs"),
    Command("gc", cmd_gc, _args_gc,
            "remove labs whose owner died; print their ids"),
    Command("list", cmd_list, _args_list, "list labs"),
    Command("show", cmd_show, _args_id, "hosts, namespaces and processes"),
    Command("exec", cmd_exec, _args_host,
            "run a command on a host (ID HOST -- CMD...)", True),
    Command("spawn", cmd_spawn, _args_spawn,
            "start a background command, print its pid "
            "(ID HOST NAME -- CMD...)", True),
    Command("stop", cmd_stop, _args_named, "stop a spawned process"),
    Command("log", cmd_log, _args_named, "print a spawned process's log"),
    Command("path", cmd_path, _args_path,
            "real path of a file as a host sees it"),
    Command("addr", cmd_addr, _args_addr, "address of a host"),
    Command("web", cmd_web, _args_web, "start the web server, print pid"),
    Command("sshd", cmd_sshd, _args_sshd,
            "start sshd on a host, print its host key fingerprint"),
)


def usage(out=sys.stdout):
    width = max(len(c.name) for c in COMMANDS)
    print(f"usage: {PROG} COMMAND [ARGS]\n\ncommands:", file=out)
    for c in COMMANDS:
        print(f"  {c.name:<{width}}  {c.help}", file=out)
    print(f"\n{PROG} COMMAND --help describes a command's arguments.",
          file=out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("help", "-h", "--help"):
        usage()
        return 0
    table = {c.name: c for c in COMMANDS}
    c = table.get(argv[0])
    if c is None:
        print(f"{PROG}: unknown command {argv[0]!r}; valid commands: "
              f"{', '.join(table)}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"{PROG} {c.name}",
                                     description=c.help)
    c.args(parser)
    opts, cmd = _split(argv[1:]) if c.takes_cmd else (argv[1:], [])
    a = parser.parse_args(opts)
    try:
        c.fn(a, cmd)
    except (LabError, TopologyError, ValueError, TimeoutError,
            FileNotFoundError) as e:
        print(f"{PROG} {c.name}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
