"""Self-test of the network-namespace lab (tests/lab).  The topology under
test is the one drawn at the top of tests/lab/lab.py:

    www, node-a, node-b, node-c, relay, client-1, client-2 --- inet --- home(NAT) --- ctl

Nothing here sends a packet to an address outside the lab: "nothing leaves
the lab" is checked on the routing tables and the wiring, never by trying.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.lab import (PRIVATE_DIRS, CommandError, CommandTimeout, HostSpec,
                       Lab, LabError, TopologyError, gc, leftovers, list_labs)
from tests.lab.lab import NETNS_DIR
from tests.lab.proc import find as find_pids
from tests.lab.proc import start_time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
OUTSIDE_V4 = "1.1.1.1"
OUTSIDE_V6 = "2606:4700::1"
PAIR = ["node-a", "client-1"]


def needs(*tools):
    missing = [t for t in tools if not shutil.which(t, path="/usr/sbin:/usr/bin")]
    return pytest.mark.skipif(bool(missing),
                              reason=f"needs {', '.join(missing)}")


def curl(lab, host, url, *extra):
    return lab.run(host, ["curl", "-sS", "--max-time", "5", *extra, url]).stdout


def route_get(lab, host, *args):
    """`ip route get ARGS` on host: (exit status, output)."""
    r = lab.run(host, ["ip", "route", "get", *args], check=False)
    return r.returncode, (r.stdout + r.stderr).strip()


def assert_unreachable(lab, host, *args):
    rc, out = route_get(lab, host, *args)
    assert rc != 0 and re.search(r"unreachable|No route to host", out), \
        f"ip route get {' '.join(args)} on {host} gave: {out}"


def start_python_child(code):
    """A child python that runs code with the repo importable, its stdout
    a pipe; returns the Popen."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)


@needs("curl")
def test_public_hosts_reach_each_other_over_ipv4_ipv6_and_tcp(lab):
    assert set(lab.hosts) == {"inet", "www", "home", "ctl", "node-a",
                              "node-b", "node-c", "relay", "client-1",
                              "client-2"}
    for src, dst in [("node-a", "client-1"), ("client-2", "relay"),
                     ("node-c", "node-b"), ("home", "www")]:
        assert lab.ping(src, dst), f"{src} cannot ping {dst}"
    assert lab.ping("client-1", "2001:db8:a::11")
    assert lab.ping("node-b", "www", family=6)
    lab.start_web()
    assert curl(lab, "client-1", "http://192.0.2.80/") == "203.0.113.101\n"
    assert curl(lab, "client-1", "http://[2001:db8:80::80]/") == \
        "2001:db8:c1::101\n"
    # A second address is usable as a source at once (no DAD delay).
    assert curl(lab, "node-a", "http://192.0.2.80/", "--interface",
                "198.51.100.11") == "198.51.100.11\n"
    assert curl(lab, "node-a", "http://www/ip", "-4") == "198.51.100.10\n"
    assert lab.web_clients() == ["203.0.113.101", "2001:db8:c1::101",
                                 "198.51.100.11", "198.51.100.10"]


@needs("curl")
@pytest.mark.lab(hosts=["ctl", "www"])
def test_controller_reaches_the_public_side_through_nat_as_home(lab):
    assert lab.hosts == ["inet", "www", "home", "ctl"]
    lab.start_web()
    assert curl(lab, "ctl", "http://192.0.2.80/") == "203.0.113.2\n"
    assert lab.web_clients() == ["203.0.113.2"]
    assert "192.168.77" not in lab.proc("httpd-80").log_text()


@pytest.mark.lab(hosts=["ctl", "node-a"])
def test_public_side_can_neither_route_nor_connect_to_the_controller(lab):
    srv = lab.spawn("ctl", [sys.executable, "-m", "http.server", "--bind",
                            "0.0.0.0", "8080"], name="listener")
    lab.wait_tcp("ctl", "192.168.77.10", 8080)          # it does listen
    assert lab.can_connect("home", "192.168.77.10", 8080)
    assert not lab.can_connect("node-a", "192.168.77.10", 8080, timeout=0.5)
    assert not lab.can_connect("node-a", "203.0.113.2", 8080, timeout=0.5)
    assert_unreachable(lab, "node-a", "192.168.77.10")
    assert_unreachable(lab, "inet", "192.168.77.10")
    assert_unreachable(lab, "inet", "192.168.77.10", "from", "198.51.100.10",
                       "iif", "node-a")
    # Even a packet handed straight to home from its WAN side is not
    # forwarded into the LAN: route it there by hand and try.
    lab.run("inet", "ip route replace 192.168.77.0/24 via 203.0.113.2 "
                    "dev home")
    lab.run("node-a", "ip route replace 192.168.77.0/24 via 192.0.2.1 "
                      "dev eth0 onlink")
    assert not lab.can_connect("node-a", "192.168.77.10", 8080, timeout=0.5)
    assert "GET" not in srv.log_text()


def test_nothing_outside_the_lab_is_reachable(lab):
    for host, spec in lab.specs.items():
        if spec.kind == "private":
            # ctl's default route points at home; home must refuse to
            # forward anything outside the lab.
            via = spec.via
            for dst in (OUTSIDE_V4, "192.168.1.1", "10.0.0.1"):
                assert_unreachable(lab, via, dst, "from", lab.addr(host),
                                   "iif", "lan0")
            rc, out = route_get(lab, host, OUTSIDE_V6)
            assert rc != 0, out
            continue
        dsts = [OUTSIDE_V4, OUTSIDE_V6, "10.0.0.1"]
        if spec.kind != "nat":
            dsts.append("192.168.77.10")
        for dst in dsts:
            assert_unreachable(lab, host, dst)
    for src in ("www", "node-a", "client-1", "home"):
        assert_unreachable(lab, "inet", OUTSIDE_V4, "from", lab.addr(src),
                           "iif", src)
    for src in ("node-a", "client-1"):
        assert_unreachable(lab, "inet", OUTSIDE_V6, "from", lab.addr(src, 6),
                           "iif", src)

    # Wiring: every interface of every lab namespace is lo, the bridge, or
    # a veth whose peer is in another namespace of this lab.
    ours = {lab.ns(h) for h in lab.hosts}
    for host in lab.hosts:
        links = json.loads(lab.run(host, "ip -j -d link show").stdout)
        ids = json.loads(lab.run(host, "ip -j netns list-id").stdout or "[]")
        peers = {i["nsid"]: i.get("name") for i in ids}
        for link in links:
            kind = link.get("linkinfo", {}).get("info_kind")
            name = link["ifname"]
            if name == "lo" or kind == "bridge":
                continue
            assert kind == "veth", f"{host}: unexpected interface {link}"
            assert "link_netnsid" in link, f"{host}/{name} has no peer netns"
            assert peers.get(link["link_netnsid"]) in ours, \
                f"{host}/{name}: peer netns {link['link_netnsid']} " \
                f"({peers.get(link['link_netnsid'])}) is not a lab namespace"
    # ... and the machine's own namespace has no veth into the lab.
    root_ids = json.loads(subprocess.run(
        ["ip", "-j", "netns", "list-id"], stdout=subprocess.PIPE,
        text=True, check=True).stdout or "[]")
    root_peer = {i["nsid"]: i.get("name") for i in root_ids}
    for link in json.loads(subprocess.run(
            ["ip", "-j", "link", "show"], stdout=subprocess.PIPE, text=True,
            check=True).stdout):
        if "link_netnsid" in link:
            assert root_peer.get(link["link_netnsid"]) not in ours, link


@pytest.mark.lab(hosts=["node-a", "node-b"])
def test_each_host_has_its_own_state_directories_and_hostname(lab):
    for d in PRIVATE_DIRS:
        for host in ("node-a", "node-b"):
            lab.run(host, f"echo {host} > {d}/owner")
    for d in PRIVATE_DIRS:
        for host in ("node-a", "node-b"):
            with open(lab.path(host, f"{d}/owner")) as f:
                assert f.read() == f"{host}\n", d
            assert lab.run(host, ["cat", f"{d}/owner"]).stdout == f"{host}\n"
        assert not os.path.exists(f"{d}/owner"), \
            f"{d}/owner leaked onto the machine"
    # /var/run is /run: both spellings are the same private directory.
    assert lab.path("node-a", "/var/run/wireguard/wg0.sock") == \
        lab.path("node-a", "/run/wireguard/wg0.sock")
    assert lab.run("node-a", "cat /var/run/wireguard/owner").stdout == \
        "node-a\n"
    # Written from the test through lab.path, seen by a process on the host.
    with open(lab.path("node-b", "/etc/pharos/node.conf"), "w") as f:
        f.write("listen-port = 51820\n")
    assert lab.run("node-b", "cat /etc/pharos/node.conf").stdout == \
        "listen-port = 51820\n"
    assert lab.run("node-a", "test -e /etc/pharos/node.conf",
                   check=False).returncode == 1
    # The same daemon with the same pid file on two hosts: no collision.
    daemons = [lab.spawn(h, "echo $$ > /run/pharos/daemon.pid; exec sleep 60",
                         name="daemon") for h in ("node-a", "node-b")]
    for p in daemons:
        deadline = time.monotonic() + 5
        pidfile = lab.path(p.host, "/run/pharos/daemon.pid")
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(pidfile) as f:
            assert int(f.read()) == p.pid
    assert lab.run("node-a", "hostname").stdout == "node-a\n"
    assert lab.run("node-b", ["cat", "/proc/sys/kernel/hostname"]).stdout == \
        "node-b\n"
    assert "198.51.100.20\tnode-b" in lab.run("node-a", "cat /etc/hosts").stdout
    # Files outside the private directories are the machine's.
    assert lab.path("node-a", "/usr/bin/env") == "/usr/bin/env"
    # Mount point and stat of /root/.ssh suit sshd's StrictModes.
    assert lab.run("node-a", "stat -c %a /root/.ssh").stdout == "700\n"


@needs("sshd", "ssh", "ssh-keygen")
@pytest.mark.lab(hosts=PAIR)
def test_sshd_accepts_key_login_and_the_session_runs_on_that_host(lab):
    key = lab.ssh_keygen("client-1")
    fingerprint = lab.start_sshd("node-a", key)
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fingerprint)
    with open(lab.path("node-a", "/etc/pharos/marker"), "w") as f:
        f.write("private to node-a\n")
    # Strict host key checking against the key the lab generated; ssh -v
    # names the fingerprint of the key the server actually presented.
    r = lab.ssh("client-1", "node-a",
                "hostname; cat /etc/pharos/marker; ip -o addr show dev eth0",
                options=["-v"])
    out = r.stdout.splitlines()
    assert out[:2] == ["node-a", "private to node-a"]
    assert "198.51.100.10/32" in r.stdout and "2001:db8:a::11/128" in r.stdout
    assert f"Server host key: ssh-ed25519 {fingerprint}" in r.stderr
    # By address, over IPv4 and IPv6.
    r = lab.ssh("client-1", "198.51.100.11", "echo $SSH_CONNECTION")
    assert r.stdout.split()[0::2] == ["203.0.113.101", "198.51.100.11"]
    r = lab.ssh("client-1", "2001:db8:a::10", "echo $SSH_CONNECTION")
    assert r.stdout.split()[0::2] == ["2001:db8:c1::101", "2001:db8:a::10"]
    assert re.search(r"Accepted publickey for root from 203\.0\.113\.101",
                     lab.proc("sshd").log_text())
    # A key that is not authorized is refused; so is a wrong host key.
    lab.ssh_keygen("client-1", "/root/.ssh/other")
    r = lab.ssh("client-1", "node-a", "true", check=False,
                options=["-i", "/root/.ssh/other", "-o", "IdentitiesOnly=yes"])
    assert r.returncode == 255 and "Permission denied" in r.stderr
    with open(lab.path("client-1", "/root/.ssh/known_hosts"), "w") as f:
        f.write("node-a " + " ".join(key.split()[:2]) + "\n")
    r = lab.run("client-1", ["ssh", "-o", "BatchMode=yes", "-o",
                             "StrictHostKeyChecking=yes", "node-a", "true"],
                check=False)
    assert r.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in r.stderr


@needs("tcpdump")
@pytest.mark.lab(hosts=PAIR)
def test_capture_sees_the_packets_on_both_ends_of_a_link(lab):
    with lab.capture("node-a", "eth0", "icmp") as host_side, \
            lab.capture("inet", "client-1", "icmp") as router_side:
        assert lab.ping("client-1", "node-a", count=3)
        pkts = host_side.wait_for(6)
        router_side.wait_for(6)
    assert sum("203.0.113.101 > 198.51.100.10: ICMP echo request" in p
               for p in pkts) == 3
    assert sum("198.51.100.10 > 203.0.113.101: ICMP echo reply" in p
               for p in pkts) == 3
    assert not host_side.running
    assert host_side.count() == 6 and router_side.count() == 6


@needs("curl")
def test_two_labs_run_at_the_same_time_without_interfering(make_lab):
    one, two = make_lab(PAIR), make_lab(PAIR)
    assert one.id != two.id
    assert not set(one._netns_names()) & set(two._netns_names())
    for lab in (one, two):
        with open(os.path.join(lab.dir, "www", "id"), "w") as f:
            f.write(lab.id)
        lab.start_web("node-a")
        with open(lab.path("node-a", "/etc/pharos/id"), "w") as f:
            f.write(lab.id)
    for lab in (one, two):
        assert curl(lab, "client-1", "http://198.51.100.10/id") == lab.id
        assert lab.run("node-a", "cat /etc/pharos/id").stdout == lab.id
    one.down()
    assert leftovers(one.id) == []
    assert curl(two, "client-1", "http://198.51.100.10/id") == two.id


def busy_lab(hosts=PAIR):
    """A lab with something of every kind running: sshd and a session on
    it, the web server, a capture, a shell with children, a process that
    left its process group and session."""
    lab = Lab(hosts).up()
    try:
        lab.start_sshd("node-a", lab.ssh_keygen("client-1"))
        lab.start_web("node-a")
        lab.capture("client-1", "eth0", "tcp")
        lab.spawn("client-1", "sleep 300 & sleep 300 & wait", name="family")
        lab.spawn("node-a", "setsid sleep 300 & exec sleep 300",
                  name="escapee")
        lab.spawn("client-1", ["ssh", "-F", "/dev/null", "-o",
                               "StrictHostKeyChecking=no", "-o",
                               "BatchMode=yes", "node-a", "sleep 300"],
                  name="session")
        lab.proc("sshd").wait_log("Starting session", timeout=10)
    except BaseException:
        lab.down()
        raise
    return lab


@needs("sshd", "ssh", "tcpdump")
def test_teardown_leaves_nothing_behind():
    lab = busy_lab()
    try:
        lab_id, lab_dir = lab.id, lab.dir
        running = find_pids([os.path.join(NETNS_DIR, lab.ns(h))
                             for h in lab.hosts], lab_id)
        names = set()
        for pid in running:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    names.add(f.read().strip())
            except FileNotFoundError:
                pass                            # a short-lived helper
        assert {"sshd", "tcpdump", "sleep", "ssh"} <= names, names
        assert os.path.isdir(lab_dir) and leftovers(lab_id)
    finally:
        lab.down()
    assert leftovers(lab_id) == []
    assert not [p for p in running if start_time(p) is not None]
    assert not os.path.exists(lab_dir)
    assert not [n for n in os.listdir(NETNS_DIR) if n.startswith(lab_id)]
    lab.down()                                          # idempotent


def test_teardown_happens_when_the_test_body_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with Lab(["node-a"]) as lab:
            lab.spawn("node-a", "sleep 300")
            raise RuntimeError("boom")
    assert leftovers(lab.id) == []
    with pytest.raises(LabError, match="not up"):
        lab.run("node-a", "true")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_tears_the_lab_down_then_acts_as_before(sig):
    child = start_python_child("""
        import signal, time
        from tests.lab import Lab
        # As in an interactive run, even if our caller ignores SIGINT.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        lab = Lab(["node-a"]).up()          # no with, no try: handlers must
        lab.spawn("node-a", "sleep 300")    # do it all
        print(lab.id, flush=True)
        time.sleep(60)
    """)
    try:
        lab_id = child.stdout.readline().strip()
        assert lab_id and leftovers(lab_id)
        child.send_signal(sig)
        assert child.wait(20) == -sig        # died of the signal, as before
        assert leftovers(lab_id) == []
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()


def test_gc_removes_a_lab_whose_owner_was_sigkilled(make_lab):
    survivor = make_lab(["node-a"])
    child = start_python_child("""
        import time
        from tests.lab import Lab
        lab = Lab(["node-a", "client-1"]).up()
        lab.spawn("node-a", "sleep 300")
        lab.start_web("node-a")
        print(lab.id, flush=True)
        time.sleep(60)
    """)
    lab_id = child.stdout.readline().strip()
    child.kill()
    child.wait()
    assert lab_id
    assert leftovers(lab_id), "the SIGKILLed owner could not clean up"
    entry = next(e for e in list_labs() if e["id"] == lab_id)
    assert not entry["owner_alive"]
    removed = gc()
    assert lab_id in removed and survivor.id not in removed
    assert leftovers(lab_id) == []
    assert survivor.ping("node-a", "inet")


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "tests.lab", *args], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"tests.lab {' '.join(args)}: {r.returncode}\n"
                             f"{r.stdout}{r.stderr}")
    return r


def test_command_line_builds_uses_and_removes_a_lab():
    lab_id = cli("up", "--hosts", ",".join(PAIR), "--owner",
                 str(os.getpid())).stdout.strip()
    try:
        assert re.fullmatch(r"px[0-9a-f]{6}", lab_id)
        assert lab_id in cli("list").stdout
        r = cli("exec", lab_id, "client-1", "--", "ping", "-c1", "-W2",
                "198.51.100.10")
        assert "1 received" in r.stdout
        r = cli("exec", lab_id, "node-a", "--", "sh", "-c", "exit 7",
                check=False)
        assert r.returncode == 7
        pid = int(cli("spawn", lab_id, "node-a", "sleeper", "--", "sleep",
                      "300").stdout)
        assert cli("addr", lab_id, "node-a", "-6", "--index", "1").stdout == \
            "2001:db8:a::11\n"
        path = cli("path", lab_id, "node-a", "/etc/pharos/x").stdout.strip()
        assert path.startswith(Lab.attach(lab_id).dir)
        assert cli("exec", lab_id, "nowhere", "--", "true",
                   check=False).returncode == 1
        assert "no host 'nowhere'" in cli("exec", lab_id, "nowhere", "--",
                                          "true", check=False).stderr
        assert os.path.exists(f"/proc/{pid}")
    finally:
        cli("down", lab_id)
    assert leftovers(lab_id) == []


def test_host_subsets_and_extra_hosts_are_checked_and_built(make_lab):
    assert Lab(["ctl"]).hosts == ["inet", "home", "ctl"]
    with pytest.raises(TopologyError, match="unknown host 'node-z'.*node-a"):
        Lab(["node-z"])
    with pytest.raises(TopologyError, match="outside the documentation"):
        Lab(["node-a"], extra=[HostSpec("node-d", addrs=("8.8.8.8",))])
    with pytest.raises(TopologyError, match="used by both"):
        Lab(["node-a"], extra=[HostSpec("node-d", addrs=("198.51.100.10",))])
    lab = make_lab(["node-a"], extra=[
        HostSpec("node-d", addrs=("198.51.100.50", "2001:db8:d::50")),
        HostSpec("home2", "nat", ("203.0.113.3",), lan="192.168.78.1/24"),
        HostSpec("laptop", "private", ("192.168.78.20",), via="home2")])
    assert lab.hosts == ["inet", "node-a", "node-d", "home2", "laptop"]
    assert lab.ping("node-a", "node-d") and lab.ping("node-d", "node-a", family=6)
    assert lab.ping("laptop", "node-a")
    assert not lab.ping("node-a", "laptop", timeout=1)


@pytest.mark.lab(hosts=["node-a"])
def test_run_reports_failures_and_timeouts_with_their_output(lab):
    with pytest.raises(CommandError) as e:
        lab.run("node-a", "echo out; echo err >&2; exit 3")
    assert e.value.returncode == 3
    assert "on node-a" in str(e.value) and "err" in str(e.value)
    t = time.monotonic()
    with pytest.raises(CommandTimeout):
        lab.run("node-a", "sleep 100 & sleep 100", timeout=0.5)
    assert time.monotonic() - t < 5
    assert lab.run("node-a", ["cat"], input="hello").stdout == "hello"
    assert lab.run("node-a", "echo $PHAROS_LAB_HOST").stdout == "node-a\n"
