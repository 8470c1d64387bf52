"""pharos-node in the lab, driven by a controller stand-in written with
Python grpcio over mutual TLS; a wireguard-go client uses it as its VPN.

    ctl (192.168.77.10, behind home's NAT)          client-1 (203.0.113.101)
        | NodeControl, mTLS, outbound only               | wireguard-go, 10.86.0.2
        v                                                v
    node-a (198.51.100.10): pharos-node, control TCP 8444, AmneziaWG UDP 51820
        | forwarding + masquerade
        v
    www (192.0.2.80): sees node-a's address

Certificates come from `pharos-pki` (our CA tool): controller, relay,
device, self-signed, expired and other-CA identities.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from awg import Daemon, genkey, genpsk

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("PHAROS_TOOLS", os.path.join(HERE, "..", "..", "build", "asan", "tools"))
PKI = os.path.join(TOOLS, "pharos-pki")
BIN = os.environ.get("PHAROS_BIN", os.path.join(HERE, "..", "..", "build", "asan", "bin"))
NODE = os.path.join(BIN, "pharos-node")
HOSTS = ["node-a", "client-1", "www", "ctl"]
CONF = "/etc/pharos/node"


def sh(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def fleet(lab, tmp_path):
    """CA material, a running node with its certificate, protobuf stubs."""
    ca, other = str(tmp_path / "ca"), str(tmp_path / "other")
    sh(PKI, "init", ca)
    sh(PKI, "init", other)
    node_ip = lab.addr("node-a")
    sh(PKI, "issue", ca, "node", "node-a", str(tmp_path / "node"), "--ip", node_ip)
    for role in ("controller", "relay", "device"):
        sh(PKI, "issue", ca, role, f"{role}-1", str(tmp_path / role))
    sh(PKI, "issue", ca, "controller", "ctl-expired", str(tmp_path / "expired"), "--days", "1",
       "--not-before-days", "10")
    sh(PKI, "issue", other, "controller", "ctl-other", str(tmp_path / "otherca"))
    sh(PKI, "self-signed", "controller", "ctl-self", str(tmp_path / "selfsigned"))
    conf = lab.path("node-a", CONF)
    os.makedirs(conf, exist_ok=True)
    sh("cp", str(tmp_path / "node.crt"), os.path.join(conf, "tls.crt"))
    sh("cp", str(tmp_path / "node.key"), os.path.join(conf, "tls.key"))
    sh("cp", os.path.join(ca, "root.crt"), os.path.join(conf, "ca.crt"))
    pb = str(tmp_path / "pb")
    os.makedirs(pb)
    sh("/usr/bin/python3", "-m", "grpc_tools.protoc", f"--proto_path={HERE}/../../proto",
       f"--python_out={pb}", f"--grpc_python_out={pb}", "pharos/node/v1/control.proto")
    f = {"tmp": tmp_path, "ca": os.path.join(ca, "root.crt"), "pb": pb, "node_ip": node_ip}
    f["node"] = start_node(lab)
    return f


def start_node(lab, env=None, port=51820):
    e = {"LOG_LEVEL": "debug", "PHAROS_TIMER_SCALE": "0.05"}
    e.update(env or {})
    p = lab.spawn("node-a", [NODE, "run", "--config-dir", CONF, "--port", str(port), "--obfuscation", "off"],
                  name="pharos-node", env=e)
    lab.wait_tcp("ctl", lab.addr("node-a"), 8444, timeout=20)
    return p


def call(lab, f, method, arg=None, who="controller", timeout=10):
    t = f["tmp"]
    cmd = ["/usr/bin/python3", os.path.join(HERE, "node_ctl.py"), "--pb", f["pb"], "--addr",
           f"{f['node_ip']}:8444", "--ca", f["ca"], "--timeout", str(timeout)]
    if who:
        cmd += ["--cert", str(t / f"{who}.crt"), "--key", str(t / f"{who}.key")]
    cmd += [method, json.dumps(arg or {})]
    r = lab.run("ctl", cmd, check=False, timeout=timeout + 20)
    if r.returncode == 3:
        return ("error", r.stdout.split()[1], r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def client_config(lab, f, status, host="client-1", addr="10.86.0.2", dev_id="dev-1", port=51820):
    """wireguard-go on a client host as a device of the node: returns (daemon, push request)."""
    c = Daemon(lab, host, "wireguard-go")
    psk = genpsk()
    node_pub = status["amneziawg"]["public_key"]
    c.setup(f"{addr}/16", 40000, [dict(pub=node_pub, allowed=f"10.86.0.0/16,{lab.addr('www')}/32", psk=psk,
                                       endpoint=f"{f['node_ip']}:{port}", keepalive=1)])
    lab.run(host, ["ip", "route", "replace", f"{lab.addr('www')}/32", "dev", "wg0"])
    peer = {"id": dev_id, "protocol": "PROTOCOL_AMNEZIAWG", "public_key": c.pub,
            "allowed_ips": [f"{addr}/32"], "preshared_key": psk}
    return c, peer


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_only_the_controller_certificate_may_call(lab, fleet):
    st = call(lab, fleet, "GetStatus")
    assert st["amneziawg"]["public_key"] and st["agent_version"]
    svcs = {s["protocol"]: s for s in st["services"]}
    assert svcs["PROTOCOL_AMNEZIAWG"]["running"]
    assert "not built" in svcs["PROTOCOL_XRAY_REALITY"]["detail"]
    for who in ("relay", "device", "selfsigned", "expired", "otherca", None):
        r = call(lab, fleet, "GetStatus", who=who, timeout=5)
        assert r[0] == "error" and r[1] == "UNAVAILABLE", f"{who}: {r}"
    assert call(lab, fleet, "ConfigureInnerLink")[1] == "UNIMPLEMENTED"
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_XRAY_REALITY", "revision": 1})
    assert r[1] == "UNIMPLEMENTED"


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_a_pushed_client_reaches_the_web_through_the_node_and_survives_a_restart(lab, fleet):
    lab.start_web()
    st = call(lab, fleet, "GetStatus")
    c, peer = client_config(lab, fleet, st)
    watch = lab.spawn("ctl", ["/usr/bin/python3", os.path.join(HERE, "node_ctl.py"), "--pb", fleet["pb"],
                              "--addr", f"{fleet['node_ip']}:8444", "--ca", fleet["ca"],
                              "--cert", str(fleet["tmp"] / "controller.crt"),
                              "--key", str(fleet["tmp"] / "controller.key"), "watch", "60"], name="watch")
    time.sleep(1)
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 5,
                                         "amneziawg": {"peers": [peer]}})
    assert r.get("applied_revision") == "5", r
    # Policy: forwarding and masquerade (the node's defaults, set explicitly).
    r = call(lab, fleet, "SetNetworkConfig", {"config": {"forwarding": True, "masquerade": True}})
    assert r.get("applied"), r
    page = lab.run("client-1", ["curl", "-sS", "--max-time", "10", f"http://{lab.addr('www')}/"]).stdout.strip()
    assert page == fleet["node_ip"], f"the web server saw {page}, not the node"
    # Revisions: older refused, equal is a no-op.
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 4,
                                         "amneziawg": {"peers": []}})
    assert r[1] == "FAILED_PRECONDITION"
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 5,
                                         "amneziawg": {"peers": []}})
    assert r.get("applied_revision") == "5" and not r.get("reloaded")
    lp = call(lab, fleet, "ListPeers", {"protocol": "PROTOCOL_AMNEZIAWG"})
    assert [p["public_key"] for p in lp["peers"]] == [c.pub]
    assert not lp["peers"][0].get("preshared_key")
    # AddPeer and RemovePeer are live and idempotent; the first peer is untouched.
    _, other = genkey()
    extra = {"id": "dev-2", "protocol": "PROTOCOL_AMNEZIAWG", "public_key": other, "allowed_ips": ["10.86.0.3/32"]}
    for _ in range(2):
        assert call(lab, fleet, "AddPeer", {"peer": extra}).get("applied")
    keys = sorted(p["public_key"] for p in call(lab, fleet, "ListPeers", {"protocol": "PROTOCOL_AMNEZIAWG"})["peers"])
    assert keys == sorted([c.pub, other])
    for _ in range(2):
        assert call(lab, fleet, "RemovePeer", {"protocol": "PROTOCOL_AMNEZIAWG", "public_key": other}).get("applied")
    lp = call(lab, fleet, "ListPeers", {"protocol": "PROTOCOL_AMNEZIAWG"})
    assert [p["public_key"] for p in lp["peers"]] == [c.pub]
    m = call(lab, fleet, "GetMetrics")
    assert m["peers"][0]["peer_id"] == "dev-1" and int(m["peers"][0]["rx_bytes"]) > 0
    # WatchEvents saw the client connect, with its source endpoint.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "PEER_CONNECTED" not in watch.log_text():
        time.sleep(0.2)
    events = [json.loads(l) for l in watch.log_text().splitlines() if l.startswith("{")]
    conn = [e for e in events if e.get("type") == "EVENT_TYPE_PEER_CONNECTED"]
    assert conn and conn[0]["source_endpoint"] == f"{lab.addr('client-1')}:40000", events
    assert conn[0]["peer_id"] == "dev-1"
    # SIGKILL, then start again with no controller anywhere: traffic resumes from disk.
    fleet["node"].kill()
    time.sleep(0.5)
    start_node(lab)
    ok = False
    for _ in range(30):
        r = lab.run("client-1", ["curl", "-sS", "--max-time", "2", f"http://{lab.addr('www')}/"], check=False)
        if r.returncode == 0 and r.stdout.strip() == fleet["node_ip"]:
            ok = True
            break
        time.sleep(0.5)
    assert ok, "traffic did not resume after the node restarted from disk"


@pytest.mark.lab(hosts=HOSTS + ["client-2"], default_route=True)
def test_isolation_decides_whether_two_clients_reach_each_other(lab, fleet):
    st = call(lab, fleet, "GetStatus")
    _, p1 = client_config(lab, fleet, st, "client-1", "10.86.0.2", "dev-1")
    _, p2 = client_config(lab, fleet, st, "client-2", "10.86.0.3", "dev-2")
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 1,
                                         "amneziawg": {"peers": [p1, p2]}})
    assert r.get("applied_revision") == "1", r
    assert call(lab, fleet, "SetNetworkConfig",
                {"config": {"forwarding": True, "masquerade": True, "isolation": True}}).get("applied")
    # Let both sessions come up (persistent keepalive 1 s) before judging reachability.
    time.sleep(2)
    assert not lab.ping("client-1", "10.86.0.3", count=3, timeout=2), "isolation on, yet client-1 reached client-2"
    assert call(lab, fleet, "SetNetworkConfig",
                {"config": {"forwarding": True, "masquerade": True, "isolation": False}}).get("applied")
    assert lab.ping("client-1", "10.86.0.3", count=3, timeout=3), "isolation off, yet client-1 cannot reach client-2"
    # Masquerade or isolation without forwarding is refused with a reason.
    r = call(lab, fleet, "SetNetworkConfig", {"config": {"forwarding": False, "masquerade": True}})
    assert r[0] == "error" and r[1] == "INVALID_ARGUMENT" and "needs forwarding" in r[2]


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_watch_events_report_roam_and_disconnect(lab, fleet):
    """Timers run at 0.05 scale on the node, so a peer silent for
    REJECT_AFTER_TIME (180 s x 0.05 = 9 s) is reported disconnected."""
    st = call(lab, fleet, "GetStatus")
    c, peer = client_config(lab, fleet, st)
    watch = lab.spawn("ctl", ["/usr/bin/python3", os.path.join(HERE, "node_ctl.py"), "--pb", fleet["pb"],
                              "--addr", f"{fleet['node_ip']}:8444", "--ca", fleet["ca"],
                              "--cert", str(fleet["tmp"] / "controller.crt"),
                              "--key", str(fleet["tmp"] / "controller.key"), "watch", "60"], name="watch")
    time.sleep(1)
    assert call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 1,
                                            "amneziawg": {"peers": [peer]}}).get("applied_revision") == "1"

    def events(kind, timeout):
        deadline = time.monotonic() + timeout
        while True:
            evs = [json.loads(l) for l in watch.log_text().splitlines() if l.startswith("{")]
            found = [e for e in evs if e.get("type") == kind]
            if found or time.monotonic() > deadline:
                return found, evs
            time.sleep(0.2)

    conn, evs = events("EVENT_TYPE_PEER_CONNECTED", 10)
    assert conn, evs
    # The client moves to another source port: the node follows and says so.
    lab.start_web()
    c.wg("set", "wg0", "listen-port", "40001")
    lab.run("client-1", ["curl", "-sS", "--max-time", "10", f"http://{lab.addr('www')}/"])
    roam, evs = events("EVENT_TYPE_ROAM", 10)
    assert roam and roam[0]["source_endpoint"] == f"{lab.addr('client-1')}:40001", evs
    # The client goes away: a disconnect with cumulative byte counters.
    c.stop()
    gone, evs = events("EVENT_TYPE_PEER_DISCONNECTED", 30)
    assert gone and gone[0]["peer_id"] == "dev-1" and int(gone[0].get("rx_bytes", 0)) > 0, evs


CAP_NET_BIND_SERVICE, CAP_NET_ADMIN = 10, 12


def proc_status(pid):
    """/proc/PID/status as a dict, with every thread's CapEff (capabilities are per thread)."""
    with open(f"/proc/{pid}/status") as f:
        st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    st["thread_capeff"] = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            st["thread_capeff"] |= {int(l.split()[1], 16) for l in f if l.startswith("CapEff:")}
    return st


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def check_unprivileged(node_pid):
    """The network-facing process: no root uid, no capability in any thread or
    set, no_new_privs, a seccomp filter; the helper (forked before it): same uid, exactly the two capabilities the
    request table needs. Returns (uid, helper pid)."""
    assert os.readlink(f"/proc/{node_pid}/exe").endswith("pharos-node")
    main = proc_status(node_pid)
    uids = [int(x) for x in main["Uid"].split()]
    gids = [int(x) for x in main["Gid"].split()]
    assert all(u != 0 for u in uids) and all(g != 0 for g in gids), main["Uid"] + " / " + main["Gid"]
    assert main["Groups"].strip() == "", main["Groups"]
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(main[k], 16) == 0, f"{k} {main[k]}"
    assert main["thread_capeff"] == {0}, main["thread_capeff"]
    assert main["NoNewPrivs"].strip() == "1"
    # A seccomp filter (mode 2) on the network-facing process only.
    assert main["Seccomp"].strip() == "2", main["Seccomp"]
    helpers = [c for c in children(node_pid) if open(f"/proc/{c}/comm").read().strip() == "pharos-node-pri"]
    assert len(helpers) == 1, children(node_pid)
    h = proc_status(helpers[0])
    assert [int(x) for x in h["Uid"].split()] == uids
    want = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_BIND_SERVICE)
    for k in ("CapPrm", "CapEff", "CapBnd"):
        assert int(h[k], 16) == want, f"helper {k} {h[k]}"
    assert int(h["CapInh"], 16) == 0 and int(h["CapAmb"], 16) == 0
    assert h["NoNewPrivs"].strip() == "1"
    assert h["Seccomp"].strip() == "0", h["Seccomp"]
    return uids[0], helpers[0]


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_the_control_service_runs_without_privileges_and_the_helper_binds_port_443(lab, fleet):
    """Started as root, pharos-node serves NodeControl as nobody with no
    capabilities; a helper keeps CAP_NET_ADMIN and CAP_NET_BIND_SERVICE for
    the request table (DESIGN.md §11.6). Port 443 (below 1024), policy,
    RestartService and a cold restart all go through it."""
    fleet["node"].stop()
    fleet["node"] = start_node(lab, port=443)
    uid, helper = check_unprivileged(fleet["node"].pid)
    conf = lab.path("node-a", CONF)
    for name in ("tls.key", "awg.key", "tls.crt", "ca.crt"):
        st = os.stat(os.path.join(conf, name))
        assert st.st_uid == uid, name
        if name.endswith(".key"):
            assert st.st_mode & 0o777 == 0o600, name
    assert os.stat(conf).st_uid == uid
    lab.start_web()
    st = call(lab, fleet, "GetStatus")
    assert st["amneziawg"]["listen_port"] == 443
    c, peer = client_config(lab, fleet, st, port=443)
    r = call(lab, fleet, "PushConfig", {"protocol": "PROTOCOL_AMNEZIAWG", "revision": 1,
                                         "amneziawg": {"peers": [peer]}})
    assert r.get("applied_revision") == "1", r
    assert call(lab, fleet, "SetNetworkConfig", {"config": {"forwarding": True, "masquerade": True,
                                                            "isolation": True}}).get("applied")
    assert "oifname \"awg0\" drop" in lab.run("node-a", ["nft", "list", "table", "inet", "pharos"]).stdout
    web = f"http://{lab.addr('www')}/"
    assert lab.run("client-1", ["curl", "-sS", "--max-time", "10", web]).stdout.strip() == fleet["node_ip"]
    # RestartService: a new engine on the kept TUN device, port 443 bound again by the helper.
    assert call(lab, fleet, "RestartService", {"protocol": "PROTOCOL_AMNEZIAWG"}).get("restarted")
    ok = any(lab.run("client-1", ["curl", "-sS", "--max-time", "2", web], check=False).stdout.strip()
             == fleet["node_ip"] or time.sleep(0.5) for _ in range(30))
    assert ok, "no traffic after RestartService"
    socks = lab.run("node-a", ["ss", "-Hulpn", "sport", "=", ":443"]).stdout
    assert "0.0.0.0:443" in socks and f"pid={fleet['node'].pid}," in socks, socks
    # `wg show` as root finds the UAPI socket through the link in /var/run/wireguard.
    dump = lab.run("node-a", ["wg", "show", "awg0", "dump"]).stdout
    assert c.pub in dump and "443" in dump.splitlines()[0]
    # The helper is still the same one, still with only its two capabilities.
    assert check_unprivileged(fleet["node"].pid) == (uid, helper)
    # SIGKILL: the helper notices the closed socket and exits; a cold start works the same way.
    fleet["node"].kill()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{helper}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{helper}"), "the helper outlived its main process"
    fleet["node"] = start_node(lab, port=443)
    check_unprivileged(fleet["node"].pid)
    ok = any(lab.run("client-1", ["curl", "-sS", "--max-time", "2", web], check=False).stdout.strip()
             == fleet["node_ip"] or time.sleep(0.5) for _ in range(30))
    assert ok, "no traffic after a cold restart"


GRPCURL_VERSION = "v1.9.4"


@pytest.fixture(scope="module")
def grpcurl():
    """grpcurl, a standard gRPC command-line client (grpc-go), built with the
    Go toolchain into build/interop/ when missing (PHAROS_GRPCURL overrides)."""
    if os.environ.get("PHAROS_GRPCURL"):
        return os.environ["PHAROS_GRPCURL"]
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    gobin = os.path.join(root, "build", "interop", f"grpcurl-{GRPCURL_VERSION}")
    exe = os.path.join(gobin, "grpcurl")
    if os.access(exe, os.X_OK):
        return exe
    go = next((g for g in ("/usr/local/go/bin/go", shutil.which("go")) if g and os.access(g, os.X_OK)), None)
    if not go:
        pytest.skip("no Go toolchain to build grpcurl")
    env = dict(os.environ, GOBIN=gobin, GOFLAGS="-mod=mod", CGO_ENABLED="0")
    r = subprocess.run([go, "install", f"github.com/fullstorydev/grpcurl/cmd/grpcurl@{GRPCURL_VERSION}"],
                       cwd="/", env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        if any(m in r.stderr for m in ("dial tcp", "proxy.golang.org", "i/o timeout", "no such host")):
            pytest.skip("Go modules could not be fetched: " + r.stderr.strip().splitlines()[-1])
        pytest.fail("building grpcurl failed:\n" + r.stderr)
    return exe


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_grpcurl_calls_get_status_from_the_proto_file_with_a_controller_certificate(lab, fleet, grpcurl):
    """No reflection service: grpcurl reads proto/ itself, as an operator would."""
    t = fleet["tmp"]
    proto = os.path.abspath(os.path.join(HERE, "..", "..", "proto"))

    def run(who):
        cmd = [grpcurl, "-import-path", proto, "-proto", "pharos/node/v1/control.proto",
               "-cacert", fleet["ca"], "-max-time", "10", "-d", "{}"]
        if who:
            cmd += ["-cert", str(t / f"{who}.crt"), "-key", str(t / f"{who}.key")]
        return lab.run("ctl", cmd + [f"{fleet['node_ip']}:8444", "pharos.node.v1.NodeControl/GetStatus"],
                       check=False, timeout=30)

    r = run("controller")
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(r.stdout)
    ours = call(lab, fleet, "GetStatus")
    assert st["agentVersion"] == ours["agent_version"]
    assert st["amneziawg"]["publicKey"] == ours["amneziawg"]["public_key"]
    assert st["amneziawg"]["listenPort"] == 51820
    svcs = {s["protocol"]: s for s in st["services"]}
    assert svcs["PROTOCOL_AMNEZIAWG"]["running"] is True
    # The same client with a relay certificate is refused at the handshake.
    r = run("relay")
    assert r.returncode != 0 and "agentVersion" not in r.stdout
