"""WireGuard initiators for bench/node-bench, run on a lab client host: many
peers handshake with the node (Noise_IKpsk2, plain WireGuard framing) and
then send keepalives on their sessions. Only lab addresses are accepted.

    nodebench_wg.py handshake STATE NODE_IP PORT     every peer in STATE: handshake + keepalive
    nodebench_wg.py keepalive STATE NODE_IP PORT     one keepalive per established session
    nodebench_wg.py roam STATE NODE_IP PORT SECONDS RATE [PART PARTS]
        keepalives at RATE/s, each peer alternating between two source
        ports, so every packet is a roam (an engine event) on the node;
        PART of PARTS: only peers i with i % PARTS == PART (parallel senders)

STATE is JSON written by node-bench: {"node_pub": b64, "peers": [{"priv": b64,
"psk": b64}, ...]}; handshake adds each session ("idx", "key", "ctr") and
keepalive/roam keep the counters in it.
"""
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LAB_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
WINDOW = int(os.environ.get("NODEBENCH_WINDOW", "4"))  # in flight (a few: the fastest here, far below the under-load threshold)
RETRY_S = 1.0


def h(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def hm(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def kdf(c, data, n):
    t0 = hm(c, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hm(t0, prev + bytes([i]))
        out.append(prev)
    return out


def aead(key, counter, plain, ad):
    return ChaCha20Poly1305(key).encrypt(b"\0\0\0\0" + struct.pack("<Q", counter), plain, ad)


def aead_open(key, counter, ct, ad):
    return ChaCha20Poly1305(key).decrypt(b"\0\0\0\0" + struct.pack("<Q", counter), ct, ad)


def pub_bytes(k):
    return k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def tai64n():
    t = time.time()
    return struct.pack(">QI", 0x400000000000000A + int(t), int((t % 1) * 1e9))


class Initiator:
    """One peer's handshake state (whitepaper §5.4.2 and §5.4.3)."""

    def __init__(self, priv, psk, node_pub, index):
        self.s = X25519PrivateKey.from_private_bytes(priv)
        self.s_pub = pub_bytes(self.s)
        self.psk, self.node_pub, self.index = psk, node_pub, index
        self.ss = self.s.exchange(X25519PublicKey.from_public_bytes(node_pub))  # static-static, fixed
        self.mac1_key = h(b"mac1----", node_pub)

    def initiation(self):
        c = h(CONSTRUCTION)
        hh = h(h(c, IDENTIFIER), self.node_pub)
        self.e = X25519PrivateKey.generate()
        e_pub = pub_bytes(self.e)
        (c,) = kdf(c, e_pub, 1)
        hh = h(hh, e_pub)
        c, k = kdf(c, self.e.exchange(X25519PublicKey.from_public_bytes(self.node_pub)), 2)
        static = aead(k, 0, self.s_pub, hh)
        hh = h(hh, static)
        c, k = kdf(c, self.ss, 2)
        ts = aead(k, 0, tai64n(), hh)
        hh = h(hh, ts)
        self.c, self.h = c, hh
        body = struct.pack("<I", 1) + struct.pack("<I", self.index) + e_pub + static + ts
        mac1 = hashlib.blake2s(body, key=self.mac1_key, digest_size=16).digest()
        return body + mac1 + bytes(16)

    def response(self, msg):
        """Consumes a handshake response; returns (node index, send key)."""
        their_idx, = struct.unpack_from("<I", msg, 4)
        e_r, empty = msg[12:44], msg[44:60]
        c, hh = self.c, self.h
        (c,) = kdf(c, e_r, 1)
        hh = h(hh, e_r)
        er = X25519PublicKey.from_public_bytes(e_r)
        (c,) = kdf(c, self.e.exchange(er), 1)
        (c,) = kdf(c, self.s.exchange(er), 1)
        c, tau, k = kdf(c, self.psk, 3)
        hh = h(hh, tau)
        aead_open(k, 0, empty, hh)  # raises on a wrong response
        send, _recv = kdf(c, b"", 2)
        return their_idx, send


_ciphers = {}


def keepalive(sess):
    """A keepalive (empty data packet) on an established session, next counter."""
    ctr = sess["ctr"]
    sess["ctr"] = ctr + 1
    c = _ciphers.get(sess["key"])
    if c is None:
        c = _ciphers[sess["key"]] = ChaCha20Poly1305(bytes.fromhex(sess["key"]))
    hdr = struct.pack("<IIQ", 4, sess["idx"], ctr)
    return hdr + c.encrypt(b"\0\0\0\0" + hdr[8:], b"", b"")


def check_lab(ip):
    a = ipaddress.ip_address(ip)
    if not any(a in n for n in LAB_NETS):
        sys.exit(f"refusing {ip}: not a lab address")


def do_handshakes(state, dst):
    node_pub = base64.b64decode(state["node_pub"])
    peers = state["peers"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    inits, tries = {}, {}
    pending = {}   # index -> deadline
    todo = list(range(len(peers)))
    done = retries = 0
    t0 = time.monotonic()
    while todo or pending:
        now = time.monotonic()
        while todo and len(pending) < WINDOW:
            i = todo.pop()
            ini = inits.setdefault(i, Initiator(base64.b64decode(peers[i]["priv"]),
                                                base64.b64decode(peers[i]["psk"]), node_pub, i + 1))
            sock.sendto(ini.initiation(), dst)
            pending[i] = now + RETRY_S
            tries[i] = tries.get(i, 0) + 1
        for i, dl in list(pending.items()):
            if dl < now:
                if tries[i] >= 5:
                    sys.exit(f"peer {i}: no handshake response after {tries[i]} tries")
                del pending[i]
                todo.append(i)
                retries += 1
        r, _, _ = select.select([sock], [], [], 0.05)
        while r:
            try:
                msg = sock.recv(2048, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if len(msg) != 92 or msg[0] != 2:
                continue
            i = struct.unpack_from("<I", msg, 8)[0] - 1
            if i not in pending:
                continue
            try:
                idx, key = inits[i].response(msg)
            except Exception:  # a late answer to an earlier try: wait for the current one
                continue
            sess = {"idx": idx, "key": key.hex(), "ctr": 0}
            peers[i]["session"] = sess
            sock.sendto(keepalive(sess), dst)   # confirms the session on the responder
            del pending[i]
            done += 1
    el = time.monotonic() - t0
    print(json.dumps({"handshakes": done, "retries": retries, "seconds": round(el, 3),
                      "per_s": round(done / el) if el else 0}), flush=True)


def do_keepalives(state, dst):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for p in state["peers"]:
        if "session" in p:
            sock.sendto(keepalive(p["session"]), dst)
            n += 1
            if n % 256 == 0:
                time.sleep(0.002)  # paced: no socket buffer overflow anywhere
    print(json.dumps({"keepalives": n}), flush=True)


def do_roam(state, dst, seconds, rate, part, parts):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for s in socks:
        s.bind(("0.0.0.0", 0))
    sess = [p["session"] for i, p in enumerate(state["peers"]) if "session" in p and i % parts == part]
    # Sealed before the clock starts (in the order they will be sent, so
    # each session's counters still rise): the figure is the node's, not
    # Python's ChaCha20-Poly1305.
    total = int(rate * seconds) + 16
    pkts = [keepalive(sess[n % len(sess)]) for n in range(total)]
    sent = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while sent < total:
        now = time.monotonic()
        if now >= end:
            break
        if sent > (now - t0) * rate:
            time.sleep(0.0005)
            continue
        for _ in range(min(16, total - sent)):
            socks[(sent // len(sess)) % 2].sendto(pkts[sent], dst)
            sent += 1
    el = time.monotonic() - t0
    print(json.dumps({"roam_packets": sent, "seconds": round(el, 3), "per_s": round(sent / el)}), flush=True)


def main():
    cmd, path, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    check_lab(ip)
    with open(path) as f:
        state = json.load(f)
    dst = (ip, port)
    if cmd == "handshake":
        do_handshakes(state, dst)
    elif cmd == "keepalive":
        do_keepalives(state, dst)
    elif cmd == "roam":
        seconds, rate = float(sys.argv[5]), float(sys.argv[6])
        part, parts = (int(sys.argv[7]), int(sys.argv[8])) if len(sys.argv) > 8 else (0, 1)
        if seconds > 60:
            sys.exit("refusing: at most 60 s")
        do_roam(state, dst, seconds, rate, part, parts)
        return  # the last phase; parallel parts share STATE, which stays as it was
    else:
        sys.exit(f"unknown command {cmd!r} (handshake, keepalive, roam)")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
