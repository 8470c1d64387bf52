"""cox, the controller, in the lab: init, nodes installed over real SSH,
users, devices, sealed profiles, drift healing, unreachable nodes, the
audit chain and host-key pinning.

    ctl (192.168.77.10, behind home's NAT): cox, no listening socket
        | SSH (install, update) and NodeControl mTLS gRPC, outbound only
        v
    node-a (198.51.100.10)  node-b (198.51.100.20): OpenSSH sshd, then
        pharos-node installed by cox under a supervisor

The device's keys are made on the test's side (tests/tools/pharos-profile
and pharos-awg), as `caravel init` would; the controller only ever sees
the public halves.
"""
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("PHAROS_TOOLS", os.path.join(HERE, "..", "..", "build", "asan", "tools"))
BIN = os.environ.get("PHAROS_BIN", os.path.join(HERE, "..", "..", "build", "asan", "bin"))
COX = os.path.join(BIN, "cox")
NODE = os.path.join(BIN, "pharos-node")
AWG = os.path.join(BIN, "pharos-awg")
PROFILE = os.path.join(TOOLS, "pharos-profile")
STATE = "/var/lib/pharos/cox"
# /usr/local/bin is the machine's own directory; lab hosts get the binary in
# a private one.
REMOTE_BIN = "/var/lib/pharos/bin/pharos-node"
HOSTS = ["ctl", "node-a", "node-b", "www"]


def cox(lab, *args, check=True, input=None, timeout=120):
    r = lab.run("ctl", [COX, "--state-dir", STATE, *args], check=False, input=input, timeout=timeout)
    if check:
        assert r.returncode == 0, f"cox {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def add_node(lab, host, name):
    return cox(lab, "nodes", "add", f"root@{lab.addr(host)}", "--name", name, "--region", "lab",
               "--binary", NODE, "--remote-binary", REMOTE_BIN)


def nodes(lab):
    return {n["name"]: n for n in json.loads(cox(lab, "nodes", "list", "--json").stdout)}


def db(lab):
    return lab.path("ctl", f"{STATE}/cox.db")


@pytest.fixture
def fleet(lab):
    r = cox(lab, "init", "--personal")
    fp = re.search(r"root CA fingerprint \(SHA-256\): ([0-9A-F:]{95})", r.stdout)
    pw = re.search(r"admin password .*: (\S+)", r.stdout)
    assert fp and pw, r.stdout
    key = cox(lab, "ssh-key").stdout.strip()
    assert key.startswith("ssh-ed25519 "), key
    hostkeys = {h: lab.start_sshd(h, authorized_key=key) for h in ("node-a", "node-b")}
    for h, name in (("node-a", "node-a"), ("node-b", "node-b")):
        out = add_node(lab, h, name).stdout
        assert "FAILED" not in out, out
    return {"fingerprint": fp.group(1), "password": pw.group(1), "hostkeys": hostkeys}


def make_device(lab, tmp_path, name="phone"):
    """The device side of `caravel init`: keys stay in tmp_path."""
    awg_priv = subprocess.run([AWG, "genkey"], check=True, capture_output=True, text=True).stdout.strip()
    awg_pub = subprocess.run([AWG, "pubkey"], input=awg_priv, check=True, capture_output=True,
                             text=True).stdout.strip()
    enc_key = str(tmp_path / f"{name}.x25519")
    out = subprocess.run([PROFILE, "keygen-device", enc_key], check=True, capture_output=True, text=True).stdout
    enc_pub = out.strip().split()[-1]
    req = subprocess.run([PROFILE, "devreq-format", "--awg", awg_pub, "--enc", enc_pub, "--name", name], check=True, capture_output=True,
                         text=True).stdout.strip()
    return {"awg_priv": awg_priv, "awg_pub": awg_pub, "enc_key": enc_key, "req": req}


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_init_then_two_nodes_over_ssh_become_active(lab, fleet):
    st = nodes(lab)
    assert set(st) == {"node-a", "node-b"}
    for name, host in (("node-a", "node-a"), ("node-b", "node-b")):
        n = st[name]
        assert n["state"] == "active", n
        assert n["host_key"] == fleet["hostkeys"][host]
        # The recorded AmneziaWG key is the node's own, read from its disk.
        wg = lab.run(host, ["wg", "show", "awg0", "public-key"]).stdout.strip()
        assert n["awg_public_key"] == wg
        assert re.search(r"^jc=\d+$", n["obfuscation"], re.M) and "h1=" in n["obfuscation"]
    # Secrets on disk are 0600; a second init is refused without --force.
    for f in ("cox.conf", "profile-signing.key", "controller.key", "ssh/id_ed25519", "ca/root.key"):
        mode = os.stat(lab.path("ctl", f"{STATE}/{f}")).st_mode & 0o777
        assert mode == 0o600, f"{f}: {oct(mode)}"
    r = cox(lab, "init", "--personal", check=False)
    assert r.returncode != 0 and "--force" in r.stderr
    # The admin password is stored only as an Argon2id hash.
    with sqlite3.connect(db(lab)) as c:
        dump = "\n".join(c.iterdump())
    assert fleet["password"] not in dump and "$argon2id$" in dump
    # Every command documents its options.
    for group, sub in (("nodes", "add"), ("users", "add"), ("devices", "add"), ("profile", "export"),
                       ("audit", "verify"), ("nodes", "policy")):
        h = cox(lab, group, sub, "--help").stdout
        assert h.startswith(f"Usage: cox {group} {sub}"), h
    for cmd in ("init", "serve", "ssh-key"):
        h = cox(lab, cmd, "--help").stdout
        assert h.startswith(f"Usage: cox {cmd}"), h


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_a_device_profile_opens_only_with_the_device_key(lab, fleet, tmp_path):
    cox(lab, "users", "add", "ann@example.org", "--name", "Ann")
    dev = make_device(lab, tmp_path)
    cox(lab, "devices", "add", "ann@example.org", "--name", "phone", "--request", dev["req"])
    # Both nodes now carry the device as a peer with a PSK of its own.
    psks = set()
    for host in ("node-a", "node-b"):
        dump = lab.run(host, ["wg", "show", "awg0", "dump"]).stdout.splitlines()
        peers = [l.split("\t") for l in dump[1:]]
        assert [p[0] for p in peers] == [dev["awg_pub"]], dump
        psks.add(peers[0][1])
    assert len(psks) == 2 and "(none)" not in psks
    out = str(tmp_path / "phone.pharos")
    cox(lab, "profile", "export", "ann@example.org/phone", "--out", "/var/lib/pharos/phone.pharos")
    subprocess.run(["cp", lab.path("ctl", "/var/lib/pharos/phone.pharos"), out], check=True)
    assert os.stat(lab.path("ctl", "/var/lib/pharos/phone.pharos")).st_mode & 0o777 == 0o600
    signer = open(lab.path("ctl", f"{STATE}/profile-signing.pub")).read().strip()
    r = subprocess.run([PROFILE, "open", "--device-key", dev["enc_key"], out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"signer={signer}" in r.stderr and "enc=account" in r.stderr, r.stderr
    text = r.stdout
    prof = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert {n["id"] for n in prof["nodes"]} == {"node-a", "node-b"}
    # Another device's key cannot open it.
    other = make_device(lab, tmp_path, "other")
    r = subprocess.run([PROFILE, "open", "--device-key", other["enc_key"], out], capture_output=True, text=True)
    assert r.returncode != 0
    # The database holds neither the device's private keys nor the profile's plaintext.
    with sqlite3.connect(db(lab)) as c:
        dump = "\n".join(c.iterdump())
    assert dev["awg_priv"] not in dump
    assert open(dev["enc_key"], "rb").read().hex() not in dump.lower()
    assert '"fleet_id"' not in dump and "fleet_id" not in dump
    raw = open(db(lab), "rb").read()
    assert b"fleet_id" not in raw


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_the_sweep_heals_drift_and_tracks_an_unreachable_node(lab, fleet, tmp_path):
    cox(lab, "users", "add", "bob@example.org")
    dev = make_device(lab, tmp_path)
    cox(lab, "devices", "add", "bob@example.org", "--name", "laptop", "--request", dev["req"])
    # Behind the controller's back, through the node's UAPI socket.
    lab.run("node-a", ["wg", "set", "awg0", "peer", dev["awg_pub"], "remove"])
    assert lab.run("node-a", ["wg", "show", "awg0", "peers"]).stdout.strip() == ""
    r = cox(lab, "serve", "--once")
    assert "node-a: peer set drifted" in r.stdout, r.stdout
    assert lab.run("node-a", ["wg", "show", "awg0", "peers"]).stdout.strip() == dev["awg_pub"]
    # node-b's agent stops (supervisor and all) without the controller knowing.
    lab.run("node-b", ["sh", "-c", "kill $(cat /run/pharos/pharos-node.pid) $(cat /run/pharos/pharos-node.child.pid)"])
    for i in range(3):
        r = cox(lab, "serve", "--once")
    assert "node-b: marked unreachable" in r.stdout, r.stdout
    assert nodes(lab)["node-b"]["state"] == "unreachable"
    # Meanwhile the controller changes something node-b must get.
    dev2 = make_device(lab, tmp_path, "tablet")
    cox(lab, "devices", "add", "bob@example.org", "--name", "tablet", "--request", dev2["req"])
    assert nodes(lab)["node-b"]["applied_revision"] < nodes(lab)["node-b"]["intended_revision"]
    # The operator brings the agent back by hand; the next sweep heals it.
    lab.run("node-b", ["sh", "-c", "cd / && setsid nohup /bin/sh /var/lib/pharos/bin/pharos-node-supervise "
                                   "</dev/null >/dev/null 2>&1 &"])
    lab.wait_tcp("ctl", lab.addr("node-b"), 8444, timeout=20)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = cox(lab, "serve", "--once")
        n = nodes(lab)["node-b"]
        if n["state"] == "active" and n["applied_revision"] == n["intended_revision"]:
            break
        time.sleep(1)
    assert n["state"] == "active" and n["applied_revision"] == n["intended_revision"], (n, r.stdout)
    peers = set(lab.run("node-b", ["wg", "show", "awg0", "peers"]).stdout.split())
    assert peers == {dev["awg_pub"], dev2["awg_pub"]}


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_cox_serve_listens_on_no_public_address(lab, fleet):
    p = lab.spawn("ctl", [COX, "--state-dir", STATE, "serve", "--sweep", "1"], name="cox-serve")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "sweep:" not in p.log_text():
        time.sleep(0.2)
    assert "sweep: 2 nodes, 2 reachable" in p.log_text(), p.log_text()
    ss = lab.run("ctl", ["ss", "-Hlntup"]).stdout
    for line in ss.splitlines():
        local = line.split()[4]
        assert local.startswith(("127.", "[::1]", "::1")), f"listening on {local}: {line}"
    assert "cox" not in ss
    p.stop()


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_audit_verify_names_an_edited_deleted_or_reordered_row(lab, fleet):
    cox(lab, "users", "add", "eve@example.org")
    cox(lab, "users", "add", "dan@example.org")
    cox(lab, "users", "rm", "dan@example.org")
    r = cox(lab, "audit", "verify")
    assert "intact" in r.stdout, r.stdout
    listed = json.loads(cox(lab, "audit", "--json").stdout)
    actions = [row["action"] for row in listed]
    assert actions[0] == "init" and "node.add" in actions and "user.add" in actions
    path = db(lab)
    backup = open(path, "rb").read()

    def tamper(sql):
        with open(path, "wb") as f:
            f.write(backup)
        for ext in ("-wal", "-shm"):
            if os.path.exists(path + ext):
                os.unlink(path + ext)
        subprocess.run(["sqlite3", path, sql], check=True)
        return cox(lab, "audit", "verify", check=False)

    rows = {row["action"]: row["seq"] for row in listed}
    seq = rows["user.add"]
    r = tamper(f"UPDATE audit SET actor = 'cli:mallory' WHERE seq = {seq};")
    assert r.returncode != 0 and str(seq) in r.stdout + r.stderr and "edit" in (r.stdout + r.stderr).lower()
    r = tamper(f"DELETE FROM audit WHERE seq = {seq};")
    assert r.returncode != 0 and str(seq) in r.stdout + r.stderr and "delet" in (r.stdout + r.stderr).lower()
    a, b = listed[1]["seq"], listed[2]["seq"]
    r = tamper(f"UPDATE audit SET seq = -1 WHERE seq = {a}; UPDATE audit SET seq = {a} WHERE seq = {b}; "
               f"UPDATE audit SET seq = {b} WHERE seq = -1;")
    assert r.returncode != 0 and "reorder" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_a_changed_host_key_is_refused(lab, fleet):
    # A new host key on node-a (a reinstalled or impersonated machine).
    lab.proc("sshd", "node-a").stop()
    for f in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"):
        os.unlink(os.path.join(lab.dir, "sshd", "node-a", f))
    new_fp = lab.start_sshd("node-a")
    assert new_fp != fleet["hostkeys"]["node-a"]
    r = cox(lab, "nodes", "update", "node-a", "--binary", NODE, check=False)
    assert r.returncode != 0
    assert fleet["hostkeys"]["node-a"] in r.stderr and new_fp in r.stderr, r.stderr


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_an_import_of_fifty_devices_reaches_both_nodes_in_one_push(lab, fleet, tmp_path):
    devs = [make_device(lab, tmp_path, f"d{i}") for i in range(50)]
    lines = ["# EMAIL NAME REQUEST"] + [f"user{i % 5}@example.org dev{i} {d['req']}" for i, d in enumerate(devs)]
    path = "/var/lib/pharos/devices.txt"
    with open(lab.path("ctl", path), "w") as f:
        f.write("\n".join(lines) + "\n")
    before = {n: v["intended_revision"] for n, v in nodes(lab).items()}
    # Unknown users are refused by default: nothing is written.
    r = cox(lab, "devices", "import", path, check=False)
    assert r.returncode == 1 and "line 2: no user user0@example.org" in r.stderr, r.stderr
    assert json.loads(cox(lab, "devices", "list", "--json").stdout) == []
    r = cox(lab, "devices", "import", path, "--create-users")
    assert "imported 50 devices (10.86.0.2 .. 10.86.0.51), 5 new users" in r.stdout, r.stdout
    # One push per node, one revision further.
    assert r.stdout.count("pushed revision") == 2, r.stdout
    after = nodes(lab)
    for name in ("node-a", "node-b"):
        assert after[name]["intended_revision"] == before[name] + 1
        assert after[name]["applied_revision"] == after[name]["intended_revision"]
    want = {d["awg_pub"] for d in devs}
    psks = {}
    for host in ("node-a", "node-b"):
        dump = lab.run(host, ["wg", "show", "awg0", "dump"]).stdout.splitlines()[1:]
        peers = {line.split("\t")[0]: line.split("\t")[1] for line in dump}
        assert set(peers) == want
        psks[host] = peers
    # Every device has its own PSK on each node.
    assert len(set(psks["node-a"].values()) | set(psks["node-b"].values())) == 100
    audit = json.loads(cox(lab, "audit", "--action", "device.add", "--json").stdout)
    assert len(audit) == 50
    assert "intact" in cox(lab, "audit", "verify").stdout
    # A second import of the same file names every clash and changes nothing.
    r = cox(lab, "devices", "import", path, check=False)
    assert r.returncode == 1 and "50 lines refused; nothing was imported" in r.stderr, r.stderr
    assert nodes(lab)["node-a"]["intended_revision"] == before["node-a"] + 1


@pytest.mark.lab(hosts=HOSTS, default_route=True)
def test_two_agents_share_a_host_with_their_own_service_config_and_interface(lab, fleet):
    r = cox(lab, "nodes", "add", f"root@{lab.addr('node-a')}", "--name", "node-a2", "--binary", NODE,
            "--remote-binary", "/var/lib/pharos/bin2/pharos-node", "--service-name", "pharos-node-2",
            "--config-dir", "/etc/pharos/node2", "--interface", "awg2", "--control-port", "8445",
            "--ports", "8443")
    assert "FAILED" not in r.stdout, r.stdout
    st = nodes(lab)
    assert st["node-a2"]["state"] == "active" and st["node-a"]["state"] == "active"
    assert st["node-a2"]["awg_public_key"] != st["node-a"]["awg_public_key"]
    assert lab.run("node-a", ["wg", "show", "awg2", "public-key"]).stdout.strip() == st["node-a2"]["awg_public_key"]
    assert os.path.exists(lab.path("node-a", "/etc/pharos/node2/tls.key"))
    # Later SSH steps find the same install: stop and start only the second agent.
    cox(lab, "nodes", "stop", "node-a2")
    assert not os.path.exists(lab.path("node-a", "/run/pharos/pharos-node-2.pid"))
    assert lab.run("node-a", ["wg", "show", "awg0", "public-key"]).stdout.strip() == st["node-a"]["awg_public_key"]
    cox(lab, "nodes", "start", "node-a2")
    lab.wait_tcp("ctl", lab.addr("node-a"), 8445, timeout=20)
    # Removing it removes its files only; the first agent keeps running.
    cox(lab, "nodes", "rm", "node-a2")
    assert not os.path.exists(lab.path("node-a", "/etc/pharos/node2"))
    assert os.path.exists(lab.path("node-a", "/etc/pharos/node/tls.key"))
    assert "sweep: 2 nodes, 2 reachable" in cox(lab, "serve", "--once").stdout
