"""caravel, the Linux client, against a real pharos-node in the lab.

    client-1 (203.0.113.101)                     ctl (behind home's NAT)
      caravel up: TUN caravel0 10.86.0.2,          | NodeControl (grpcio, mTLS):
      all traffic via policy routing,              | the device's key + PSK
      DNS 10.86.0.1, kill switch `inet caravel`    v
        | AmneziaWG (obfuscated), UDP        node-a 198.51.100.10 and .11,
        +----------------------------------> UDP 51820-51821: pharos-node
        | (node-b 198.51.100.20: nothing        | forwarding + masquerade
        |  runs there, it never answers)        v
        +------------ inet ------------> www 192.0.2.80 (sees node-a)

The device keys are born on client-1 (`caravel init`), the controller
stand-in registers the device's public key on the node, the profile is
sealed to the device's encryption key with tests/tools/pharos-profile and
imported with `caravel import`. Captures run on inet's link to client-1,
so they see everything the client sends to the internet.
"""
import json
import os
import re
import subprocess
import time

import pytest

from awg import genpsk

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("PHAROS_TOOLS", os.path.join(HERE, "..", "..", "build", "asan", "tools"))
BIN = os.environ.get("PHAROS_BIN", os.path.join(HERE, "..", "..", "build", "asan", "bin"))
PKI = os.path.join(TOOLS, "pharos-pki")
PROFILE = os.path.join(TOOLS, "pharos-profile")
NODE = os.path.join(BIN, "pharos-node")
CARAVEL = os.path.join(BIN, "caravel")
HOSTS = ["node-a", "node-b", "client-1", "www", "ctl"]
CONF = "/etc/pharos/node"
MARK = 0xca7a  # caravel's fwmark: a packet carrying it bypasses the tunnel
PORTS = (51820, 51821)


def sh(*cmd, input=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, input=input).stdout


def start_node(lab):
    p = lab.spawn("node-a", [NODE, "run", "--config-dir", CONF, "--ports", f"{PORTS[0]}-{PORTS[1]}"],
                  name="pharos-node", env={"LOG_LEVEL": "debug"})
    lab.wait_tcp("ctl", lab.addr("node-a"), 8444, timeout=20)
    return p


def call(lab, f, method, arg=None):
    t = f["tmp"]
    cmd = ["/usr/bin/python3", os.path.join(HERE, "node_ctl.py"), "--pb", f["pb"], "--addr",
           f"{lab.addr('node-a')}:8444", "--ca", f["ca"], "--cert", str(t / "controller.crt"),
           "--key", str(t / "controller.key"), method, json.dumps(arg or {})]
    r = lab.run("ctl", cmd, check=False, timeout=40)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def caravel(lab, *args, check=True, input=None, timeout=60):
    return lab.run("client-1", [CARAVEL, *args], check=check, input=input, timeout=timeout)


@pytest.fixture
def fleet(lab, tmp_path):
    """node-a serving, the device registered on it, a profile-signing key."""
    ca = str(tmp_path / "ca")
    sh(PKI, "init", ca)
    sh(PKI, "issue", ca, "node", "node-a", str(tmp_path / "node"), "--ip", lab.addr("node-a"))
    sh(PKI, "issue", ca, "controller", "ctl-1", str(tmp_path / "controller"))
    conf = lab.path("node-a", CONF)
    os.makedirs(conf, exist_ok=True)
    sh("cp", str(tmp_path / "node.crt"), os.path.join(conf, "tls.crt"))
    sh("cp", str(tmp_path / "node.key"), os.path.join(conf, "tls.key"))
    sh("cp", os.path.join(ca, "root.crt"), os.path.join(conf, "ca.crt"))
    pb = str(tmp_path / "pb")
    os.makedirs(pb)
    sh("/usr/bin/python3", "-m", "grpc_tools.protoc", f"--proto_path={HERE}/../../proto",
       f"--python_out={pb}", f"--grpc_python_out={pb}", "pharos/node/v1/control.proto")
    f = {"tmp": tmp_path, "ca": os.path.join(ca, "root.crt"), "pb": pb}
    f["node"] = start_node(lab)
    st = call(lab, f, "GetStatus")
    f["node_pub"] = st["amneziawg"]["public_key"]
    f["obf"] = st["amneziawg"].get("obfuscation", {})
    # The device's keys are born on the device; only public keys leave it.
    line = caravel(lab, "init", "--name", "laptop").stdout.strip()
    fields = dict(kv.split("=", 1) for kv in sh(PROFILE, "devreq-parse", line).split())
    f["awg_pub"], f["enc_pub"] = fields["awg"], fields["enc"]
    f["psk"] = genpsk()
    peer = {"id": "dev-1", "protocol": "PROTOCOL_AMNEZIAWG", "public_key": f["awg_pub"],
            "allowed_ips": ["10.86.0.2/32"], "preshared_key": f["psk"]}
    assert call(lab, f, "AddPeer", {"peer": peer}).get("applied")
    assert call(lab, f, "SetNetworkConfig", {"config": {"forwarding": True, "masquerade": True}}).get("applied")
    f["sign_key"] = str(tmp_path / "sign.key")
    f["sign_pub"] = sh(PROFILE, "keygen-signing", f["sign_key"]).strip()
    lab.start_web()
    yield f
    caravel(lab, "down", check=False)


def obfuscation(obf):
    """GetStatus's obfuscation set as the profile's JSON object."""
    out = {}
    for k, v in obf.items():
        if k[0] in "js":
            out[k] = int(v)
        elif k[0] == "h":
            out[k] = int(v) if str(v).isdigit() else v
        elif v:
            out[k] = v
    return out


def node_entry(f, node_id, endpoints, ports=PORTS):
    return {"id": node_id, "name": node_id, "region": "lab", "endpoints": endpoints,
            "port_lo": ports[0], "port_hi": ports[1],
            "protocols": [{"type": "amneziawg", "v": 2, "public_key": f["node_pub"],
                           "preshared_key": f["psk"], "keepalive": 25, "mtu": 1380,
                           "obfuscation": obfuscation(f["obf"])},
                          {"type": "teleport", "v": 1, "coordinates": "unknown to caravel"}]}


def make_profile(f, nodes, rotation=None):
    return {"v": 1, "fleet_id": "lab-fleet", "fleet_name": "Lab fleet", "device_id": "dev-1",
            "device_name": "laptop", "user": "alice@example.com", "address4": "10.86.0.2/32",
            "dns": ["10.86.0.1"], "rotation": rotation or {"enabled": False, "interval": 0, "jitter": 0},
            "revision": 1, "nodes": nodes}


def seal(lab, f, profile, sign_key=None, path="/etc/pharos/lab.pharos"):
    data = subprocess.run([PROFILE, "seal", "--enc", "account", "--recipient", f["enc_pub"],
                           "--signing-key", sign_key or f["sign_key"]],
                          input=json.dumps(profile).encode(), capture_output=True, check=True).stdout
    with open(lab.path("client-1", path), "wb") as fh:
        fh.write(data)
    return path


def import_profile(lab, f, profile, name="lab"):
    r = caravel(lab, "import", seal(lab, f, profile), "--name", name)
    assert f"imported {name}" in r.stdout, r.stdout + r.stderr
    return r


def status(lab):
    return json.loads(caravel(lab, "status", "--json").stdout)


def web(lab, timeout=5):
    return lab.run("client-1", ["curl", "-sS", "--max-time", str(timeout), f"http://{lab.addr('www')}/"],
                   check=False)


def sent_packets(lab, cap, host="client-1"):
    """(proto, src, dst) of each IP packet host sent in a capture, ICMPv6
    neighbour and router discovery aside."""
    out = []
    mine = tuple(lab.addrs(host))
    for line in cap.packets():
        m = re.match(r"\S+ (IP6?) (\S+) > (\S+): (.*)", line)
        if not m or not m.group(2).startswith(mine):
            continue
        if "ICMP6, neighbor" not in m.group(4) and "ICMP6, router" not in m.group(4):
            proto = "udp" if m.group(4).startswith("UDP") else m.group(4).split(",")[0].split()[0]
            out.append((proto, m.group(2), m.group(3).rstrip(":")))
    return out


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_up_sends_everything_through_the_node_with_dns_and_kill_switch_and_down_undoes_all(lab, fleet):
    f = fleet
    r = import_profile(lab, f, make_profile(f, [node_entry(f, "node-a", [lab.addr("node-a")])]))
    assert "pinned the profile-signing key of fleet lab-fleet" in r.stdout
    assert "1 protocol entry of unknown types skipped" in r.stdout
    listed = json.loads(caravel(lab, "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["lab"] and listed[0]["fleet_id"] == "lab-fleet"
    shown = caravel(lab, "inspect", "lab").stdout
    assert "node node-a" in shown and "10.86.0.2/32" in shown and f["psk"] not in shown
    home = lab.path("client-1", "/etc/pharos/caravel")
    for p in ("device.key", "profiles/lab.json"):
        assert os.stat(os.path.join(home, p)).st_mode & 0o777 == 0o600, p

    resolv = lab.path("client-1", "/etc/resolv.conf")
    before = open(resolv, "rb").read()
    www_resolv = open(lab.path("www", "/etc/resolv.conf"), "rb").read()
    www = lab.addr("www")
    with lab.capture("inet", "client-1", "not (ip6 and icmp6)") as cap:
        # Target: `caravel up` to the first packet through the tunnel in under 1 s.
        t0 = time.monotonic()
        r = lab.run("client-1", f"{CARAVEL} up lab && ping -c1 -W1 -n {www}", check=False)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stdout + r.stderr
        assert took < 1.0, f"up to the first packet took {took:.2f} s"
        page = web(lab)
        assert page.returncode == 0 and page.stdout.strip() in lab.addrs("node-a"), page
        human = caravel(lab, "status").stdout
        assert "state:      up" in human and "node:       node-a" in human and "kill switch: on" in human
        st = status(lab)
        assert st["state"] == "up" and st["node"] == "node-a" and st["interface"] == "caravel0"
        assert st["kill_switch"] and st["default_route"] and 0 <= st["handshake_age_ms"] < 10000
        assert st["endpoint"] in (f"{lab.addr('node-a')}:{p}" for p in range(PORTS[0], PORTS[1] + 1))
        # DNS: this host's resolv.conf points into the tunnel; other hosts keep theirs.
        assert open(resolv).read().splitlines()[1:] == ["nameserver 10.86.0.1"]
        assert open(lab.path("www", "/etc/resolv.conf"), "rb").read() == www_resolv
        # Kill switch: a packet that bypasses the tunnel (our mark) goes nowhere.
        assert lab.run("client-1", ["nft", "list", "table", "inet", "caravel"]).returncode == 0
        bypass = lab.run("client-1", ["ping", "-c1", "-W1", "-m", str(MARK), "-n", www], check=False)
        assert bypass.returncode != 0, "a packet outside the tunnel got through the kill switch"
    sent = sent_packets(lab, cap)
    assert sent, "the capture saw nothing"
    pool = {f"{lab.addr('node-a')}.{p}" for p in range(PORTS[0], PORTS[1] + 1)}
    leaks = [p for p in sent if p[0] != "udp" or p[2] not in pool]
    assert not leaks, f"packets left outside the tunnel: {leaks[:5]}"

    assert "down" in caravel(lab, "down").stdout
    assert open(resolv, "rb").read() == before
    assert lab.run("client-1", ["nft", "list", "table", "inet", "caravel"], check=False).returncode != 0
    assert lab.run("client-1", ["nft", "list", "table", "inet", "caravel-route"], check=False).returncode != 0
    assert "caravel0" not in lab.run("client-1", ["ip", "link"]).stdout
    assert f"{0xca7a:#x}" not in lab.run("client-1", ["ip", "rule"]).stdout
    assert lab.run("client-1", ["ping", "-c1", "-W2", "-m", str(MARK), "-n", www], check=False).returncode == 0
    assert web(lab).stdout.strip() == lab.addr("client-1")
    assert json.loads(caravel(lab, "status", "--json").stdout)["state"] == "down"
    # No controller exists anywhere here: the stored profile is all `up` needs.
    caravel(lab, "up", "lab", "--no-kill-switch")
    assert web(lab).stdout.strip() in lab.addrs("node-a")
    assert lab.run("client-1", ["nft", "list", "table", "inet", "caravel"], check=False).returncode != 0
    caravel(lab, "down")


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_import_refuses_tampered_files_and_a_foreign_signing_key_and_stores_nothing(lab, fleet):
    f = fleet
    profile = make_profile(f, [node_entry(f, "node-a", [lab.addr("node-a")])])
    path = seal(lab, f, profile)
    real = lab.path("client-1", path)
    good = open(real, "rb").read()
    home = lab.path("client-1", "/etc/pharos/caravel")
    # One byte changed in the header, the payload or the signature.
    text = good.decode()
    header_at = text.index('"enc"') + 7
    for at in (header_at, len(good) // 2, len(good) - 10):
        bad = bytearray(good)
        bad[at] = ord("A") if bad[at] != ord("A") else ord("B")
        with open(real, "wb") as fh:
            fh.write(bad)
        r = caravel(lab, "import", path, check=False)
        assert r.returncode != 0 and ("refused" in r.stderr or "not a .pharos" in r.stderr), r.stderr
        assert not os.path.exists(os.path.join(home, "profiles", "lab.json"))
        pins = os.path.join(home, "pins")
        assert not os.path.isdir(pins) or not os.listdir(pins)
    with open(real, "wb") as fh:
        fh.write(good)
    # A password-sealed copy: the wrong password stores nothing, the right one works.
    sealed = subprocess.run([PROFILE, "seal", "--enc", "password", "--password-stdin", "--signing-key",
                             f["sign_key"]], input=("s3cret\n" + json.dumps(profile)).encode(),
                            capture_output=True, check=True).stdout
    with open(lab.path("client-1", "/etc/pharos/pw.pharos"), "wb") as fh:
        fh.write(sealed)
    r = caravel(lab, "import", "/etc/pharos/pw.pharos", "--password-stdin", "--name", "pw", input="guess\n",
                check=False)
    assert r.returncode != 0 and "wrong password" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(home, "profiles", "pw.json"))
    r = caravel(lab, "import", "/etc/pharos/pw.pharos", "--password-stdin", "--name", "pw", input="s3cret\n")
    assert "imported pw" in r.stdout and "pinned" in r.stdout
    import_profile(lab, f, profile)
    # Another key for the same fleet: refused, the stored profile untouched.
    other = str(f["tmp"] / "other.key")
    sh(PROFILE, "keygen-signing", other)
    stored = open(os.path.join(home, "profiles", "lab.json"), "rb").read()
    r = caravel(lab, "import", seal(lab, f, profile, sign_key=other), "--name", "lab", check=False)
    assert r.returncode != 0 and "pinned to profile-signing key" in r.stderr, r.stderr
    assert f["sign_pub"] in r.stderr
    assert open(os.path.join(home, "profiles", "lab.json"), "rb").read() == stored
    # Mistakes are quoted back with what is valid.
    r = caravel(lab, "up", "no/such", check=False)
    assert r.returncode == 2 and '"no/such"' in r.stderr and "[A-Za-z0-9._-]" in r.stderr
    r = caravel(lab, "list", "--jsn", check=False)
    assert r.returncode == 2 and '"--jsn"' in r.stderr and "--json" in r.stderr
    assert caravel(lab, "rm", "lab").returncode == 0
    assert caravel(lab, "inspect", "lab", check=False).returncode != 0


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_rotation_across_two_addresses_and_two_ports_keeps_a_transfer_going(lab, fleet):
    f = fleet
    size = 24 << 20
    with open(os.path.join(lab.dir, "www", "big"), "wb") as fh:
        fh.write(os.urandom(size))
    node_a = [lab.addr("node-a", 4, 0), lab.addr("node-a", 4, 1)]
    import_profile(lab, f, make_profile(f, [node_entry(f, "node-a", node_a)],
                                        rotation={"enabled": True, "interval": 1, "jitter": 0}))
    caravel(lab, "up", "lab")
    # A paced download (about 3 MB/s) so it spans several rotations; the
    # longest wait for data is the stall.
    reader = f"""
import socket, sys, time
s = socket.create_connection(("{lab.addr('www')}", 80), timeout=10)
s.sendall(b"GET /big HTTP/1.0\\r\\nHost: www\\r\\n\\r\\n")
got, worst, start = 0, 0.0, time.monotonic()
while True:
    t = time.monotonic()
    b = s.recv(65536)
    worst = max(worst, time.monotonic() - t)
    if not b:
        break
    got += len(b)
    time.sleep(max(0.0, got / 3e6 - (time.monotonic() - start)))
print(got, round(worst, 3), round(time.monotonic() - start, 1))
"""
    with lab.capture("inet", "node-a", f"udp and src host {lab.addr('client-1')}") as cap:
        r = lab.run("client-1", ["/usr/bin/python3", "-c", reader], timeout=120)
    got, worst, secs = r.stdout.split()
    assert int(got) > size, r.stdout  # the body and the headers
    assert float(worst) < 1.0, f"the transfer stalled {worst} s"
    st = status(lab)
    assert st["rotations"] >= 3 and st["state"] == "up", st
    pairs = {p[2] for p in sent_packets(lab, cap)}
    assert len(pairs) >= 3, f"the node saw the client on only {pairs}"
    assert pairs <= {f"{a}.{p}" for a in node_a for p in PORTS}, pairs


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_failover_to_the_next_node_when_the_first_does_not_answer(lab, fleet):
    f = fleet
    dead = node_entry(f, "node-b", [lab.addr("node-b")], ports=(51820, 51820))
    import_profile(lab, f, make_profile(f, [dead, node_entry(f, "node-a", [lab.addr("node-a")])]))
    with lab.capture("inet", "client-1", "not (ip6 and icmp6)") as cap:
        r = caravel(lab, "up", "lab")
        assert "node node-a" in r.stdout, r.stdout
        assert web(lab).stdout.strip() in lab.addrs("node-a")
    st = status(lab)
    assert st["node"] == "node-a" and st["failovers"] >= 1, st
    # The kill switch held while node-b did not answer: nothing but the
    # tunnel's own datagrams to the entries left the client.
    sent = sent_packets(lab, cap)
    tried = {p[2] for p in sent}
    assert f"{lab.addr('node-b')}.51820" in tried
    entries = {f"{lab.addr('node-b')}.51820"} | {f"{lab.addr('node-a')}.{p}" for p in PORTS}
    assert all(p[0] == "udp" and p[2] in entries for p in sent), sent[:10]


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_the_tunnel_resumes_by_itself_after_the_node_is_killed_and_restarted(lab, fleet):
    f = fleet
    import_profile(lab, f, make_profile(f, [node_entry(f, "node-a", [lab.addr("node-a")])]))
    caravel(lab, "up", "lab")
    www = lab.addr("www")
    assert web(lab).stdout.strip() in lab.addrs("node-a")
    f["node"].kill()
    # While the node is gone, nothing leaves the client except to its entry.
    with lab.capture("inet", "client-1", "not (ip6 and icmp6)") as cap:
        for _ in range(3):
            lab.run("client-1", ["ping", "-c2", "-i", "0.2", "-W1", "-n", www], check=False)
            web(lab, timeout=1)
    entries = {f"{lab.addr('node-a')}.{p}" for p in PORTS}
    sent = sent_packets(lab, cap)
    assert sent and all(p[0] == "udp" and p[2] in entries for p in sent), sent[:10]
    start_node(lab)
    t0 = time.monotonic()
    ok = False
    while time.monotonic() - t0 < 30:
        if lab.run("client-1", ["ping", "-c5", "-i", "0.2", "-W1", "-n", www], check=False).returncode == 0 \
                and web(lab, timeout=2).stdout.strip() in lab.addrs("node-a"):
            ok = True
            break
    assert ok, f"no traffic {time.monotonic() - t0:.0f} s after the node came back"
    assert status(lab)["state"] == "up"


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_an_ipv6_entry_works_and_no_default_route_leaves_other_traffic_alone(lab, fleet):
    f = fleet
    v6 = lab.addr("node-a", 6)
    import_profile(lab, f, make_profile(f, [node_entry(f, "node-a", [v6])]))
    with lab.capture("inet", "client-1", "not (ip6 and icmp6)") as cap:
        r = caravel(lab, "up", "lab")
        assert f"[{v6}]:" in r.stdout, r.stdout
        assert web(lab).stdout.strip() in lab.addrs("node-a")
    sent = sent_packets(lab, cap)
    entries = {f"{v6}.{p}" for p in PORTS}
    assert sent and all(p[0] == "udp" and p[2] in entries for p in sent), sent[:10]
    caravel(lab, "down")
    # Only the fleet's subnet through the tunnel; the rest goes as before.
    caravel(lab, "up", "lab", "--no-default-route", "--no-kill-switch")
    assert "10.86.0.0/16 dev caravel0" in lab.run("client-1", ["ip", "route"]).stdout
    assert f"{MARK:#x}" not in lab.run("client-1", ["ip", "rule"]).stdout
    assert web(lab).stdout.strip() == lab.addr("client-1")
    st = status(lab)
    assert st["state"] == "up" and not st["default_route"] and not st["kill_switch"], st
    caravel(lab, "down")


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_strict_reverse_path_filtering_on_the_client_does_not_break_the_tunnel(lab, fleet):
    f = fleet
    lab.run("client-1", ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
                         "net.ipv4.conf.eth0.rp_filter=1"])
    import_profile(lab, f, make_profile(f, [node_entry(f, "node-a", [lab.addr("node-a")])]))
    caravel(lab, "up", "lab")
    for _ in range(3):
        assert web(lab).stdout.strip() in lab.addrs("node-a")
    caravel(lab, "down")
