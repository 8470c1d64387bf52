"""Helpers for AmneziaWG/WireGuard daemons in the lab: start ours
(pharos-awg) or a reference implementation (wireguard-go, amneziawg-go) on a
host, configure it with `wg`/`pharos-awg`, and move data through it."""

import base64
import hashlib
import os
import re
import subprocess
import time

BIN = os.environ.get("PHAROS_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "asan", "bin"))
PHAROS_AWG = os.path.abspath(os.path.join(BIN, "pharos-awg"))


def genkey():
    priv = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
    pub = subprocess.run(["wg", "pubkey"], input=priv, capture_output=True, text=True, check=True).stdout.strip()
    return priv, pub


def genpsk():
    return subprocess.run(["wg", "genpsk"], capture_output=True, text=True, check=True).stdout.strip()


class Daemon:
    """One userspace WireGuard daemon on a lab host, interface `ifname`."""

    def __init__(self, lab, host, impl="pharos", ifname="wg0", env=None):
        self.lab, self.host, self.impl, self.ifname = lab, host, impl, ifname
        self.priv, self.pub = genkey()
        e = {"LOG_LEVEL": "debug"}
        e.update(env or {})
        if impl == "pharos":
            cmd = [PHAROS_AWG, "-f", ifname]
        elif impl == "wireguard-go":
            cmd = ["wireguard-go", "-f", ifname]
        elif impl == "amneziawg-go":
            cmd = [os.environ.get("AMNEZIAWG_GO", "amneziawg-go"), "-f", ifname]
        else:
            raise ValueError(impl)
        self.proc = lab.spawn(host, cmd, name=f"{impl}-{ifname}@{host}", env=e)
        sock_dir = "/run/amneziawg" if impl == "amneziawg-go" else "/run/wireguard"
        sock = lab.path(host, f"{sock_dir}/{ifname}.sock")
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{impl} did not start:\n{self.proc.log_text()}")
            time.sleep(0.05)
        keyfile = lab.path(host, f"/etc/wireguard/{ifname}.key")
        with open(keyfile, "w") as f:
            f.write(self.priv + "\n")
        os.chmod(keyfile, 0o600)

    # `wg` for plain keys; AWG keys need an AWG-aware tool.
    def wg(self, *args, check=True):
        tool = [PHAROS_AWG] if self.impl != "wireguard-go" else ["wg"]
        return self.lab.run(self.host, tool + list(args), check=check)

    def setup(self, address, port, peers=(), awg=None):
        """address: '10.9.0.1/24'. peers: list of dicts(pub, allowed, endpoint, psk, keepalive)."""
        args = ["set", self.ifname, "private-key", f"/etc/wireguard/{self.ifname}.key", "listen-port", str(port)]
        for k, v in (awg or {}).items():
            args += [k, str(v)]
        self.wg(*args)
        for p in peers:
            self.add_peer(**p)
        self.lab.run(self.host, ["ip", "addr", "add", address, "dev", self.ifname])
        self.lab.run(self.host, ["ip", "link", "set", self.ifname, "up"])

    def add_peer(self, pub, allowed, endpoint=None, psk=None, keepalive=None):
        args = ["set", self.ifname, "peer", pub, "allowed-ips", allowed]
        if endpoint:
            args += ["endpoint", endpoint]
        if keepalive is not None:
            args += ["persistent-keepalive", str(keepalive)]
        if psk:
            pskfile = f"/etc/wireguard/{self.ifname}-{hashlib.sha256(pub.encode()).hexdigest()[:8]}.psk"
            with open(self.lab.path(self.host, pskfile), "w") as f:
                f.write(psk + "\n")
            args += ["preshared-key", pskfile]
        self.wg(*args)

    def dump(self):
        """Parses `wg show IF dump` (standard columns) into {pub: dict}."""
        out = self.lab.run(self.host, ["wg", "show", self.ifname, "dump"]).stdout.strip().splitlines()
        peers = {}
        for line in out[1:]:
            f = line.split("\t")
            peers[f[0]] = {"psk": f[1], "endpoint": f[2], "allowed": f[3], "handshake": int(f[4]),
                           "rx": int(f[5]), "tx": int(f[6]), "keepalive": f[7]}
        return peers

    def stop(self):
        self.proc.stop()


def pair(lab, a_impl, b_impl, a_host="node-a", b_host="client-1", psk=True, awg=None, b_awg=None,
         a_env=None, b_env=None, port_a=51820, port_b=51821, b_endpoint=True, a_endpoint=True):
    """Two daemons peered with each other over the lab. Tunnel 10.9.0.1 (a) <-> 10.9.0.2 (b)."""
    a = Daemon(lab, a_host, a_impl, env=a_env)
    b = Daemon(lab, b_host, b_impl, env=b_env)
    key = genpsk() if psk else None
    a_ip, b_ip = lab.addr(a_host), lab.addr(b_host)
    a.setup("10.9.0.1/24", port_a, [dict(pub=b.pub, allowed="10.9.0.2/32,fd86::2/128", psk=key,
                                         endpoint=f"{b_ip}:{port_b}" if a_endpoint else None)], awg=awg)
    b.setup("10.9.0.2/24", port_b, [dict(pub=a.pub, allowed="10.9.0.1/32,fd86::1/128", psk=key,
                                         endpoint=f"{a_ip}:{port_a}" if b_endpoint else None)],
            awg=b_awg if b_awg is not None else awg)
    for d, ip6 in ((a, "fd86::1/64"), (b, "fd86::2/64")):
        lab.run(d.host, ["ip", "-6", "addr", "add", ip6, "dev", d.ifname, "nodad"])
    return a, b


SINK_PY = r"""
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
"""

SOURCE_PY = r"""
import hashlib, os, socket, sys, time
n = int(sys.argv[3]); h = hashlib.sha256(); rnd = os.urandom(1 << 16)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
sent = 0
while sent < n:
    chunk = rnd[: min(len(rnd), n - sent)]
    s.sendall(chunk); h.update(chunk); sent += len(chunk)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(sent, h.hexdigest(), flush=True)
"""


def tcp_transfer(lab, src_host, dst_host, dst_ip, nbytes, port=5001, timeout=60):
    """Sends nbytes over TCP from src_host to dst_ip (on dst_host); returns (sent, received) as (n, sha256)."""
    sink = lab.spawn(dst_host, ["python3", "-c", SINK_PY, dst_ip, str(port)], name=f"sink-{port}")
    sink.wait_log("listening", timeout=10)
    src = lab.run(src_host, ["python3", "-c", SOURCE_PY, dst_ip, str(port), str(nbytes)], timeout=timeout)
    deadline = time.monotonic() + 10
    while sink.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    got = sink.log_text().strip().splitlines()[-1].split()
    sent = src.stdout.strip().split()
    return (int(sent[0]), sent[1]), (int(got[0]), got[1])


def udp_payloads(pcap_path):
    """(src, sport, dst, dport, payload) for every UDP datagram in a pcap
    (Ethernet link type, IPv4 or IPv6), read without any dissector."""
    import ipaddress
    import struct
    out = []
    with open(pcap_path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16: off + 16 + incl]
        off += 16 + incl
        if linktype == 1:
            if len(pkt) < 14:
                continue
            eth = struct.unpack("!H", pkt[12:14])[0]
            pkt = pkt[14:]
        elif linktype == 113:  # Linux cooked
            eth = struct.unpack("!H", pkt[14:16])[0]
            pkt = pkt[16:]
        else:
            continue
        if eth == 0x0800 and len(pkt) >= 20 and pkt[9] == 17:
            ihl = (pkt[0] & 15) * 4
            src, dst = ipaddress.ip_address(pkt[12:16]), ipaddress.ip_address(pkt[16:20])
            udp = pkt[ihl:]
        elif eth == 0x86DD and len(pkt) >= 40 and pkt[6] == 17:
            src, dst = ipaddress.ip_address(pkt[8:24]), ipaddress.ip_address(pkt[24:40])
            udp = pkt[40:]
        else:
            continue
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        out.append((str(src), sport, str(dst), dport, bytes(udp[8:ulen])))
    return out


def looks_like_wireguard(payload):
    """True if a datagram has WireGuard's fixed framing: type 1..4 then three
    zero bytes at offset 0, with the exact size of that message type."""
    if len(payload) < 4 or payload[1:4] != b"\0\0\0":
        return False
    t, n = payload[0], len(payload)
    return (t == 1 and n == 148) or (t == 2 and n == 92) or (t == 3 and n == 64) or \
        (t == 4 and n >= 32 and (n - 32) % 16 == 0)
