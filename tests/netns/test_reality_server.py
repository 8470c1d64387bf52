"""Our REALITY server (`pharos-reality server`) in the lab, against Xray-core
as the client and against active probers.

    client-1 (203.0.113.101)                 node-a (198.51.100.10)          www (192.0.2.80)
    xray client: socks 127.0.0.1:1080 ──▶    pharos-reality :443  ──dest──▶  nginx :443  www.decoy.test
                                             (VLESS target ────────────▶  lab httpd :80)
    prober (openssl, curl, python) ──▶       pharos-reality :444  ──dest──▶  det_decoy.py :8443

Xray-core is v1.260327.0 (= Xray v26.3.27), built by tests/interop/build-xray
with `go install` from the Go module proxy; the test is skipped when Go is
missing.  The decoy on :443 is a real TLS 1.3 HTTPS site (nginx with a
certificate from a lab CA, Lab.start_decoy).  The decoy on :8443 answers
deterministically (tests/interop/det_decoy.py), so a probe's reply through
our server can be compared byte for byte with the decoy's reply to the same
bytes sent directly.
"""
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_XRAY = os.path.join(ROOT, "tests", "interop", "build-xray")
DET_DECOY = os.path.join(ROOT, "tests", "interop", "det_decoy.py")

XRAY_VERSION = "v1.260327.0"  # Xray-core v26.3.27 (vendors XTLS/REALITY 9234c772)
# Xray's own test key pair (specs/reality.md §7.1).
PRIV = "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
PUB = "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
UUID_VISION = "b831381d-6324-4d53-ad4f-8cda48b30811"
UUID_PLAIN = "27848739-7e62-4138-9fd3-098a63964b6b"
SNI = "www.decoy.test"
SHORT_ID = "0123abcd"
MAX_TIME_DIFF_MS = 60000

pytestmark = pytest.mark.lab(hosts=["www", "node-a", "client-1"])


def _bin():
    b = os.environ.get("PHAROS_BIN")
    if not b:
        pytest.skip("PHAROS_BIN is not set (make check-netns sets it)")
    p = os.path.join(b, "pharos-reality")
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} is not built")
    return p


def _xray():
    if not (os.path.exists("/usr/local/go/bin/go") or subprocess.run(
            ["sh", "-c", "command -v go"], capture_output=True).returncode == 0):
        pytest.skip("Go is needed to build Xray-core")
    r = subprocess.run([BUILD_XRAY], capture_output=True, text=True,
                       env={**os.environ, "XRAY_VERSION": XRAY_VERSION}, timeout=900)
    if r.returncode != 0:
        pytest.skip(f"building Xray-core failed: {r.stderr[-2000:]}")
    return r.stdout.strip().splitlines()[-1]


def start_server(lab, port, dest, name, log_level="info"):
    cfg = {
        "listen": f"{lab.addr('node-a')}:{port}",
        "dest": dest,
        "private_key": PRIV,
        "server_names": [SNI],
        "short_ids": ["", SHORT_ID],
        "min_client_ver": "26.3.27",
        "max_time_diff_ms": MAX_TIME_DIFF_MS,
        "users": [{"uuid": UUID_VISION, "flow": "xtls-rprx-vision", "name": "vision"},
                  {"uuid": UUID_PLAIN, "flow": "", "name": "plain"}],
        "log_level": log_level,
    }
    path = os.path.join(lab.dir, f"reality-{name}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = lab.spawn("node-a", [_bin(), "server", "--config", path], name=name)
    p.wait_log(r"listening on", timeout=10)
    lab.wait_tcp("client-1", lab.addr("node-a"), port)
    return p


def start_xray_client(lab, xray, server_port, socks_port, uuid, flow, name, udp=False):
    cfg = {
        "log": {"loglevel": "debug"},
        "inbounds": [{"listen": "127.0.0.1", "port": socks_port, "protocol": "socks",
                      "settings": {"udp": udp, "ip": "127.0.0.1"}}],
        "outbounds": [{
            "protocol": "vless",
            "settings": {"address": lab.addr("node-a"), "port": server_port, "id": uuid,
                         "flow": flow, "encryption": "none"},
            "streamSettings": {"network": "raw", "security": "reality",
                               "realitySettings": {"serverName": SNI, "fingerprint": "chrome",
                                                   "password": PUB, "shortId": SHORT_ID,
                                                   "spiderX": "/"}},
        }],
    }
    path = os.path.join(lab.dir, f"xray-{name}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = lab.spawn("client-1", [xray, "run", "-c", path], name=name)
    p.wait_log(r"started", timeout=20)
    lab.wait_tcp("client-1", "127.0.0.1", socks_port)
    return p


def sha(b):
    return hashlib.sha256(b).hexdigest()


def curl(lab, host, args, timeout=60):
    r = lab.run(host, ["curl", "-sS", "--max-time", "30", *args], check=False,
                timeout=timeout, text=False)
    return r


@pytest.mark.parametrize("flow", ["xtls-rprx-vision", ""])
def test_xray_client_fetches_through_our_server(lab, flow):
    xray = _xray()
    lab.start_web("www", 80)
    _, ca, page = lab.start_decoy("www", SNI, 443)
    server = start_server(lab, 443, f"{lab.addr('www')}:443", "reality")
    uuid = UUID_VISION if flow else UUID_PLAIN
    start_xray_client(lab, xray, 443, 1080, uuid, flow, "xray")
    www = lab.addr("www")
    n = 3 * 1024 * 1024 + 17
    direct = curl(lab, "client-1", [f"http://{www}/bytes/{n}"])
    assert direct.returncode == 0 and len(direct.stdout) == n
    tunnel = curl(lab, "client-1", ["--socks5-hostname", "127.0.0.1:1080", f"http://{www}/bytes/{n}"])
    assert tunnel.returncode == 0, tunnel.stderr
    assert len(tunnel.stdout) == n and sha(tunnel.stdout) == sha(direct.stdout)
    # the site saw the server's address: the bytes went through the tunnel
    assert lab.addr("node-a") in lab.web_clients("www", 80)
    # an inner TLS 1.3 stream: with Vision the client pads its handshake,
    # then switches its uplink to raw TCP (command 2) after the first
    # application-data record
    inner = curl(lab, "client-1", ["--socks5", "127.0.0.1:1080", "--cacert", ca,
                                   "--resolve", f"{SNI}:443:{www}", f"https://{SNI}/"])
    assert inner.returncode == 0, inner.stderr
    assert inner.stdout == page
    # several requests, one connection each, keep working
    for _ in range(3):
        r = curl(lab, "client-1", ["--socks5-hostname", "127.0.0.1:1080", f"http://{www}/ip"])
        assert r.returncode == 0 and r.stdout.strip() == lab.addr("node-a").encode()
    log = server.log_text()
    assert "not ours" not in log, log
    assert ("(tcp, vision, X25519)" in log) == bool(flow)
    # the start-up measurement saw nginx's post-handshake tickets
    assert re.search(r'dest sends [1-9]\d* post-handshake record\(s\) for "www.decoy.test" \(h2\)', log), log


def test_probers_get_the_decoy_certificate_and_page(lab):
    _, ca, page = lab.start_decoy("www", SNI, 443)
    # dest by name, resolved at start-up (the lab's /etc/hosts knows "www")
    server = start_server(lab, 443, "www:443", "reality")
    node = lab.addr("node-a")
    # curl with the decoy's name: the decoy's certificate verifies, its page comes back
    r = curl(lab, "client-1", ["--cacert", ca, "--resolve", f"{SNI}:443:{node}", f"https://{SNI}/"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == page
    r = curl(lab, "client-1", ["--http1.1", "--cacert", ca, "--resolve", f"{SNI}:443:{node}",
                               f"https://{SNI}/anything"])
    assert r.returncode == 0 and r.stdout == page
    # openssl s_client: TLS 1.3, the decoy's certificate, verification OK
    for extra in ([], ["-tls1_3"], ["-tls1_2"]):
        r = lab.run("client-1", ["openssl", "s_client", "-connect", f"{node}:443", "-servername", SNI,
                                 "-CAfile", ca, "-verify_return_error", *extra],
                    input="", check=False, timeout=30)
        assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
        assert f"CN = {SNI}" in r.stdout
    with open(os.path.join(os.path.dirname(ca), "site.pem")) as f:
        site_pem = f.read()
    r = lab.run("client-1", f"openssl s_client -connect {node}:443 -servername {SNI} -showcerts </dev/null",
                check=False, timeout=30)
    got = r.stdout[r.stdout.index("-----BEGIN CERTIFICATE-----"):]
    got = got[:got.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    assert got.strip() == site_pem.strip()
    # another server name, no SNI: still the decoy
    r = lab.run("client-1", ["openssl", "s_client", "-connect", f"{node}:443", "-noservername"],
                input="", check=False, timeout=30)
    assert "BEGIN CERTIFICATE" in r.stdout or "Cipher is" in r.stdout
    log = server.log_text()
    assert "not ours" in log and "user " not in log


# ---- probes with crafted ClientHellos (Python `cryptography`) ----

PROBE_PY = r'''
import os, socket, struct, sys, time
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import base64

def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def vec(n, b):
    return len(b).to_bytes(n, "big") + b

def ext(t, body):
    return struct.pack(">H", t) + vec(2, body)

def client_hello(server_pub, sni, short_id, ver, t, sid_mode):
    eph = X25519PrivateKey.generate()
    pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    rnd = os.urandom(32)
    exts = b"".join([
        ext(0, vec(2, b"\0" + vec(2, sni.encode()))),
        ext(10, vec(2, b"\x00\x1d")),
        ext(13, vec(2, b"\x04\x03\x08\x04\x08\x07")),
        ext(51, vec(2, b"\x00\x1d" + vec(2, pub))),
        ext(43, vec(1, b"\x03\x04")),
        ext(16, vec(2, vec(1, b"h2") + vec(1, b"http/1.1"))),
    ])
    body = b"\x03\x03" + rnd + b"\x20" + bytes(32) + vec(2, b"\x13\x01\x13\x02\x13\x03") + b"\x01\x00" + vec(2, exts)
    msg = b"\x01" + vec(3, body)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(server_pub))
    key = HKDF(SHA256(), 32, rnd[:20], b"REALITY").derive(shared)
    plain = bytes(ver) + b"\0" + struct.pack(">I", t) + short_id
    sid = AESGCM(key).encrypt(rnd[20:], plain, msg) if sid_mode == "sealed" else os.urandom(32)
    msg = msg[:39] + sid + msg[71:]
    return b"\x16\x03\x01" + vec(2, msg)

pub = b64url(sys.argv[1]); sni = sys.argv[2]; sid = bytes.fromhex(sys.argv[3]).ljust(8, b"\0")
ver = tuple(int(x) for x in sys.argv[4].split(".")); t = int(time.time()) + int(sys.argv[5])
sys.stdout.buffer.write(client_hello(pub, sni, sid, ver, t, sys.argv[6]))
'''

EXCHANGE_PY = r'''
import socket, sys
data = sys.stdin.buffer.read()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    try:
        b = s.recv(65536)
    except (ConnectionResetError, socket.timeout):
        break
    if not b:
        break
    got += b
sys.stdout.buffer.write(bytes(got))
'''


def exchange(lab, ip, port, data):
    r = lab.run("client-1", [sys.executable, "-c", EXCHANGE_PY, ip, str(port)], input=data,
                text=False, timeout=60)
    return r.stdout


def craft(lab, sni=SNI, short_id=SHORT_ID, ver="26.3.27", dt=0, sid_mode="sealed"):
    r = lab.run("client-1", [sys.executable, "-c", PROBE_PY, PUB, sni, short_id, ver, str(dt), sid_mode],
                text=False, timeout=30)
    return r.stdout


def test_probes_are_piped_to_the_decoy_byte_for_byte(lab):
    xray = _xray()
    rec = os.path.join(lab.dir, "det-decoy")
    www, node = lab.addr("www"), lab.addr("node-a")
    d = lab.spawn("www", [sys.executable, DET_DECOY, www, "8443", rec], name="det-decoy")
    d.wait_log("listening", timeout=10)
    lab.wait_tcp("node-a", www, 8443)
    server = start_server(lab, 444, f"{www}:8443", "reality-det", log_level="debug")

    # a real client's ClientHello, as our server mirrored it to the decoy
    start_xray_client(lab, xray, 444, 1081, UUID_VISION, "xtls-rprx-vision", "xray-det")
    r = curl(lab, "client-1", ["--socks5-hostname", "127.0.0.1:1081", f"http://{www}/ip"])
    assert r.returncode != 0  # the decoy is not TLS: the client sees no REALITY server
    server.wait_log(r"not ours \(dest reply\)", timeout=10)
    hellos = []
    for _ in range(50):
        hellos = [open(os.path.join(rec, f), "rb").read() for f in sorted(os.listdir(rec))]
        hellos = [h for h in hellos if h[:3] == b"\x16\x03\x01"]
        if hellos:
            break
        time.sleep(0.2)
    assert hellos, "the decoy never saw the client's ClientHello"
    # the largest: our server's own start-up measurements of the decoy
    # (OpenSSL ClientHellos) are there too
    h = max(hellos, key=len)
    real = h[:5 + struct.unpack(">H", h[3:5])[0]]
    assert len(real) > 1200  # Chrome shape with the X25519MLKEM768 share

    probes = {
        "replayed ClientHello of a real client": (real, "replayed"),
        "wrong short id": (craft(lab, short_id="ffff"), "short id"),
        "expired timestamp": (craft(lab, dt=-3600), "timestamp"),
        "random session id": (craft(lab, sid_mode="random"), "session id"),
        "client version too old": (craft(lab, ver="1.8.1"), "client version"),
        "server name not ours": (craft(lab, sni="www.other.test"), "server name"),
        "plain HTTP": (b"GET / HTTP/1.1\r\nHost: www.decoy.test\r\n\r\n", "not TLS"),
        "random bytes": (os.urandom(3000), None),
        "a TLS-looking record that is not a ClientHello": (b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", None),
    }
    for what, (data, verdict) in probes.items():
        want = exchange(lab, www, 8443, data)
        got = exchange(lab, node, 444, data)
        assert got == want, f"{what}: the prober's bytes differ from the decoy's ({len(got)} vs {len(want)})"
        assert want.startswith(b"DECOY-BANNER") and len(want) >= len(data) + 32
        if verdict:
            assert f"not ours ({verdict})" in server.log_text(), what
    # control: a correct crafted ClientHello is accepted (then dest's
    # non-TLS reply makes the server fall back), so each probe above failed
    # on the one field it changed
    before = server.log_text().count("not ours (dest reply)")
    got = exchange(lab, node, 444, craft(lab))
    assert got.startswith(b"DECOY-BANNER")
    server.wait_log(r"(?s)" + r"not ours \(dest reply\).*" * (before + 1), timeout=10)


UDP_ECHO_PY = r'''
import socket, sys, threading
def echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d[::-1], a)
for p in sys.argv[2:]:
    threading.Thread(target=echo, args=(int(p),), daemon=True).start()
print("listening", flush=True)
threading.Event().wait()
'''

SOCKS_UDP_PY = r'''
import os, socket, struct, sys
proxy, host, port, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = socket.create_connection(("127.0.0.1", proxy), timeout=10)
t.sendall(b"\x05\x01\x00"); assert t.recv(2) == b"\x05\x00"
t.sendall(b"\x05\x03\x00\x01" + bytes(6))
r = t.recv(10); assert r[1] == 0, r
relay = (socket.inet_ntoa(r[4:8]), struct.unpack(">H", r[8:10])[0])
if relay[0] == "0.0.0.0":
    relay = ("127.0.0.1", relay[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
hdr = b"\x00\x00\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port)
for i in range(n):
    payload = os.urandom(1 + (i * 389) % 1400)
    u.sendto(hdr + payload, relay)
    got = u.recv(65536)
    assert got[10:] == payload[::-1], (i, len(got), len(payload))
print("ok", n)
'''


@pytest.mark.parametrize("flow,port,kind", [("xtls-rprx-vision", 53, "xudp"), ("", 53, "udp"),
                                            ("", 5353, "xudp")])
def test_xray_client_sends_udp_through_our_server(lab, flow, port, kind):
    xray = _xray()
    lab.start_decoy("www", SNI, 443)
    www = lab.addr("www")
    e = lab.spawn("www", [sys.executable, "-c", UDP_ECHO_PY, www, "53", "5353"], name="udp-echo")
    e.wait_log("listening", timeout=10)
    server = start_server(lab, 443, f"{www}:443", "reality")
    uuid = UUID_VISION if flow else UUID_PLAIN
    cfg = start_xray_client(lab, xray, 443, 1080, uuid, flow, "xray", udp=True)
    r = lab.run("client-1", [sys.executable, "-c", SOCKS_UDP_PY, "1080", www, str(port), "20"], check=False,
                timeout=120)
    assert r.returncode == 0 and "ok 20" in r.stdout, (r.stdout, r.stderr, cfg.log_text()[-3000:])
    assert f"({kind}" in server.log_text()


GO_DECOY = os.path.join(ROOT, "tests", "interop", "go-decoy")


@pytest.mark.parametrize("flow", ["xtls-rprx-vision", ""])
def test_a_dest_that_picks_the_hybrid_group_works_too(lab, flow):
    """Go's crypto/tls as the decoy chooses X25519MLKEM768 from Xray's
    Chrome-shaped ClientHello: our server then encapsulates to the client's
    ML-KEM-768 key and Xray decapsulates."""
    xray = _xray()
    go = "/usr/local/go/bin/go"
    binary = os.path.join(lab.dir, "go-decoy")
    r = subprocess.run([go, "build", "-o", binary, "."], cwd=GO_DECOY, capture_output=True, text=True,
                       env={**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}, timeout=600)
    assert r.returncode == 0, r.stderr
    d = os.path.join(lab.dir, "go-decoy-site")
    ca, cert, key = lab.site_cert(SNI, d)
    page = os.path.join(d, "index.html")
    with open(page, "wb") as f:
        f.write(b"<p>the Go decoy</p>\n")
    www = lab.addr("www")
    dec = lab.spawn("www", [binary, "-listen", f"{www}:443", "-cert", cert, "-key", key, "-page", page],
                    name="go-decoy")
    dec.wait_log("listening", timeout=10)
    lab.wait_tcp("node-a", www, 443)
    lab.start_web("www", 80)
    server = start_server(lab, 443, f"{www}:443", "reality")
    # the decoy really prefers the hybrid group
    r = curl(lab, "client-1", ["--cacert", ca, "--resolve", f"{SNI}:443:{lab.addr('node-a')}", f"https://{SNI}/"])
    assert r.returncode == 0 and r.stdout == b"<p>the Go decoy</p>\n", r.stderr
    uuid = UUID_VISION if flow else UUID_PLAIN
    start_xray_client(lab, xray, 443, 1080, uuid, flow, "xray")
    n = 1024 * 1024 + 3
    direct = curl(lab, "client-1", [f"http://{www}/bytes/{n}"])
    tunnel = curl(lab, "client-1", ["--socks5-hostname", "127.0.0.1:1080", f"http://{www}/bytes/{n}"])
    assert tunnel.returncode == 0, tunnel.stderr
    assert sha(tunnel.stdout) == sha(direct.stdout) and len(tunnel.stdout) == n
    log = server.log_text()
    assert log.count("not ours") == 1, log  # curl, the prober above
    assert ", X25519MLKEM768)" in log and ", X25519)" not in log, log
