"""Our REALITY client (`pharos-reality client`) against Xray-core as the
server, and our client's refusal to carry proxy data over a connection whose
server shows a real certificate.

    client-1 (203.0.113.101)             node-a (198.51.100.10)            www (192.0.2.80)
    curl --socks5 / -x 127.0.0.1:1080    Xray-core vless+reality :443      decoy www.decoy.test :443
      -> pharos-reality client  ==REALITY==>  freedom outbound  ------->     (Lab.start_decoy, nginx)
                                                                           lab web server :80, UDP echo
                                                                  node-b (198.51.100.20)
                                                                  HTTPS site secure.example.test :443
                                                                  or recording forwarder :443 -> www:443

Xray-core is tests/interop/build-xray's pinned release (v1.260327.0 = Xray
v26.3.27, REALITY 9234c772), built from the Go module proxy or cache.

- Vision on and off: a /bytes/N download from the lab web server through
  SOCKS5 and through HTTP CONNECT arrives intact (SHA-256 of the pattern),
  and UDP datagrams of 1..1400 bytes through SOCKS5 UDP ASSOCIATE (XUDP)
  come back from an echo server on www, sent from the Xray server's address.
  The plain case reads its settings from a JSON config file.
- Vision on: HTTPS downloads from a site on node-b through the tunnel
  (inner TLS 1.3, so the Xray server switches the downlink to direct TCP,
  §5.3) arrive intact.
- Pointed at the decoy itself (through a forwarder on node-b that records
  what the client sends), the client completes the TLS handshake with the
  real certificate and sends only ClientHello, CCS, Finished and
  close_notify: no VLESS, no proxy data; the local SOCKS5 client gets a
  failure reply.
"""

import hashlib
import json
import os
import subprocess
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BIN = os.environ.get("PHAROS_BIN", os.path.join(ROOT, "build", "asan", "bin"))
SNI = "www.decoy.test"          # the lab decoy's name (Lab.start_decoy)
SITE = "secure.example.test"   # an HTTPS site visited through the tunnel
SHORT_ID = "0123456789abcdef"
WEB_N = 3 * 1024 * 1024 + 123

HOSTS = ["www", "node-a", "node-b", "client-1"]


def _xray():
    try:
        r = subprocess.run([os.path.join(ROOT, "tests", "interop", "build-xray")],
                           capture_output=True, text=True, timeout=900, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot build Xray-core: {e}")
    return r.stdout.strip().splitlines()[-1]


def _pharos():
    path = os.path.join(BIN, "pharos-reality")
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


def _pattern_sha(n):
    chunk = bytes(range(256)) * 256
    h = hashlib.sha256()
    while n > 0:
        h.update(chunk[:min(n, len(chunk))])
        n -= len(chunk)
    return h.hexdigest()


def _start_https_site(lab, host):
    """An HTTPS site (nginx, TLS 1.3 only) on host:443 for SITE with distinct
    small and large files, certificate from a CA of its own: the inner TLS
    the Vision test carries. Returns (directory, CA path)."""
    d = os.path.join(lab.dir, "site")
    os.makedirs(os.path.join(d, "html"), exist_ok=True)
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)

    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=Pharos lab site CA")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={SITE}")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{SITE}\n")
    ossl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "leaf.crt", "-days", "30", "-extfile", "san.ext")
    with open(os.path.join(d, "html", "index.html"), "w") as f:
        f.write("<html><body>the popular site</body></html>\n")
    with open(os.path.join(d, "html", "big"), "wb") as f:
        f.write(os.urandom(2 * 1024 * 1024 + 17))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen {lab.addr(host)}:443 ssl http2;
        server_name {SITE};
        ssl_certificate {d}/leaf.crt;
        ssl_certificate_key {d}/leaf.key;
        ssl_protocols TLSv1.3;
        root {d}/html;
    }}
}}
""")
    lab.spawn(host, ["nginx", "-e", f"{d}/error.log", "-c", conf, "-g", "daemon off;"], name="site")
    lab.wait_tcp("client-1", lab.addr(host), 443)
    return d, os.path.join(d, "ca.crt")


def _start_xray(lab, xray, vision, user):
    keys = subprocess.run([xray, "x25519"], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in keys.splitlines() if ": " in line)
    priv = fields["PrivateKey"]
    pub = next(v for k, v in fields.items() if "PublicKey" in k)
    cfg = {
        "log": {"loglevel": "debug"},
        "inbounds": [{
            "listen": lab.addr("node-a"), "port": 443, "protocol": "vless",
            "settings": {"clients": [{"id": user, "flow": "xtls-rprx-vision" if vision else ""}],
                         "decryption": "none"},
            "streamSettings": {"network": "raw", "security": "reality", "realitySettings": {
                "target": f"{lab.addr('www')}:443", "serverNames": [SNI],
                "privateKey": priv, "shortIds": ["", SHORT_ID]}},
        }],
        "outbounds": [{"protocol": "freedom"}],
    }
    path = os.path.join(lab.dir, "xray-server.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = lab.spawn("node-a", [xray, "run", "-c", path], name="xray-server")
    p.wait_log(r"started", timeout=30)
    lab.wait_tcp("client-1", lab.addr("node-a"), 443)
    return pub


def _link(user, host, pub, vision):
    flow = "&flow=xtls-rprx-vision" if vision else ""
    return (f"vless://{user}@{host}:443?encryption=none&type=tcp&security=reality&sni={SNI}"
            f"&fp=chrome&pbk={pub}&sid={SHORT_ID}{flow}&headerType=none#lab")


def _start_client(lab, link=None, config=None):
    source = ["--link", link] if link else ["--config", config]
    p = lab.spawn("client-1", [_pharos(), "client", *source, "--listen", "127.0.0.1:1080"],
                  name="pharos-client")
    p.wait_log(r"listening on", timeout=10)
    return p


def _curl_sha(lab, proxy_args, url, extra=()):
    out = os.path.join(lab.dir, "download")
    if os.path.exists(out):
        os.unlink(out)
    # REALITY's first handshake waits for Xray's start-up measurement of the
    # decoy (a few seconds), hence the generous limit.
    r = lab.run("client-1", ["curl", "-sS", "--max-time", "60", *proxy_args, *extra, "-o", out,
                             "-w", "%{http_code}", url], check=False, timeout=90)
    assert r.returncode == 0 and r.stdout == "200", f"curl failed: rc={r.returncode} {r.stdout} {r.stderr}"
    with open(out, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.lab(hosts=HOSTS)
@pytest.mark.parametrize("vision", [True, False], ids=["vision", "plain"])
def test_fetch_through_xray_server_is_intact(lab, vision):
    xray = _xray()
    lab.start_decoy("www", SNI)
    lab.start_web()
    user = str(uuid.uuid4())
    pub = _start_xray(lab, xray, vision, user)
    if vision:
        _start_client(lab, _link(user, lab.addr("node-a"), pub, vision))
    else:
        # The same settings as a JSON config file instead of a link.
        config = os.path.join(lab.dir, "client.json")
        with open(config, "w") as f:
            json.dump({"server": f"{lab.addr('node-a')}:443", "id": user, "public_key": pub,
                       "server_name": SNI, "short_id": SHORT_ID, "listen": "127.0.0.1:1081"}, f)
        _start_client(lab, config=config)
    url = f"http://{lab.addr('www')}/bytes/{WEB_N}"
    want = _pattern_sha(WEB_N)
    assert _curl_sha(lab, ["--socks5-hostname", "127.0.0.1:1080"], url) == want
    assert _curl_sha(lab, ["-p", "-x", "http://127.0.0.1:1080"], url) == want
    # The web server saw the Xray server's address, not the client's.
    assert lab.web_clients()[-1] == lab.addr("node-a")
    # UDP through SOCKS5 UDP ASSOCIATE (XUDP over the VLESS Mux command).
    _udp_echo_through_socks(lab)


UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5353))
print("listening", flush=True)
while True:
    d, a = s.recvfrom(65535)
    print("from", a[0], len(d), flush=True)
    s.sendto(d, a)
"""

SOCKS_UDP_CLIENT = r"""
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", 1080), timeout=30)
s.sendall(b"\x05\x01\x00")
assert s.recv(2) == b"\x05\x00"
s.sendall(b"\x05\x03\x00\x01" + bytes(6))
r = s.recv(10)
assert r[:2] == b"\x05\x00", r
relay = (socket.inet_ntoa(r[4:8]), struct.unpack(">H", r[8:10])[0])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(15)
head = b"\x00\x00\x00\x01" + socket.inet_aton(sys.argv[1]) + struct.pack(">H", 5353)
for i in range(30):
    payload = bytes([i]) * (1 + i * 47)
    u.sendto(head + payload, relay)
    data, _ = u.recvfrom(65535)
    assert data == head + payload, (i, data[:16])
print("echoed", i + 1, flush=True)
"""


def _udp_echo_through_socks(lab):
    for name, text in (("udp_echo.py", UDP_ECHO), ("socks_udp.py", SOCKS_UDP_CLIENT)):
        with open(os.path.join(lab.dir, name), "w") as f:
            f.write(text)
    echo = lab.spawn("www", ["python3", os.path.join(lab.dir, "udp_echo.py"), lab.addr("www")], name="udp-echo")
    echo.wait_log(r"listening", timeout=10)
    r = lab.run("client-1", ["python3", os.path.join(lab.dir, "socks_udp.py"), lab.addr("www")], check=False,
                timeout=60)
    assert r.returncode == 0 and "echoed 30" in r.stdout, r.stdout + r.stderr
    # The datagrams left from the Xray server.
    assert f"from {lab.addr('node-a')} " in echo.log_text()


def _start_our_server(lab, users):
    keys = subprocess.run([_pharos(), "genkey"], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in keys.splitlines() if ": " in line)
    cfg = {
        "listen": f"{lab.addr('node-a')}:443", "dest": f"{lab.addr('www')}:443",
        "private_key": fields["PrivateKey"], "server_names": [SNI], "short_ids": [SHORT_ID],
        "users": [{"uuid": u, "flow": f, "name": f"user{i}"} for i, (u, f) in enumerate(users)],
    }
    path = os.path.join(lab.dir, "pharos-server.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = lab.spawn("node-a", [_pharos(), "server", "--config", path], name="pharos-server")
    p.wait_log(r"listening on", timeout=10)
    lab.wait_tcp("client-1", lab.addr("node-a"), 443)
    return next(v for k, v in fields.items() if "PublicKey" in k)


@pytest.mark.lab(hosts=HOSTS)
@pytest.mark.parametrize("vision", [True, False], ids=["vision", "plain"])
def test_fetch_through_our_own_server_is_intact(lab, vision):
    """Both ends ours (the server is h6's pharos-reality server)."""
    lab.start_decoy("www", SNI)
    lab.start_web()
    user = str(uuid.uuid4())
    pub = _start_our_server(lab, [(user, "xtls-rprx-vision" if vision else "")])
    _start_client(lab, _link(user, lab.addr("node-a"), pub, vision))
    url = f"http://{lab.addr('www')}/bytes/{WEB_N}"
    assert _curl_sha(lab, ["--socks5-hostname", "127.0.0.1:1080"], url) == _pattern_sha(WEB_N)
    assert lab.web_clients()[-1] == lab.addr("node-a")
    _udp_echo_through_socks(lab)


@pytest.mark.lab(hosts=HOSTS)
def test_inner_tls_through_vision_arrives_intact(lab):
    """Inner TLS 1.3: Xray's Vision ends padding with "direct" once a write
    is made of whole application-data records, and its downlink becomes raw
    TCP. A small page first (one whole record) makes that moment certain;
    the large file then comes over the raw downlink, on the same inner
    connection."""
    xray = _xray()
    lab.start_decoy("www", SNI)
    d, ca = _start_https_site(lab, "node-b")
    user = str(uuid.uuid4())
    pub = _start_xray(lab, xray, True, user)
    client = _start_client(lab, _link(user, lab.addr("node-a"), pub, True))
    want = {}
    for name in ("index.html", "big"):
        with open(os.path.join(d, "html", name), "rb") as f:
            want[name] = hashlib.sha256(f.read()).hexdigest()
    outs = [os.path.join(lab.dir, f"inner-{n}") for n in want]
    # --socks5 (not -hostname): curl resolves the name itself (--resolve)
    # and the tunnel carries the address, as the lab has no DNS.
    r = lab.run("client-1", ["curl", "-sS", "--max-time", "60", "--socks5", "127.0.0.1:1080",
                             "--cacert", ca, "--resolve", f"{SITE}:443:{lab.addr('node-b')}",
                             "-o", outs[0], f"https://{SITE}/index.html",
                             "-o", outs[1], f"https://{SITE}/big"], check=False, timeout=90)
    assert r.returncode == 0, r.stderr
    for name, out in zip(want, outs):
        with open(out, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == want[name], name
    client.wait_log(r"switched the downlink to direct TCP", timeout=5)


FORWARDER = r"""
import socket, sys, threading
listen, target, record = sys.argv[1], sys.argv[2], sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((listen, 443)); ls.listen(8)
print("listening", flush=True)
def pipe(a, b, rec):
    while True:
        d = a.recv(65536)
        if not d:
            break
        if rec is not None:
            rec.write(d); rec.flush()
        b.sendall(d)
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
n = 0
while True:
    c, _ = ls.accept()
    s = socket.create_connection((target, 443))
    rec = open(f"{record}.{n}", "wb"); n += 1
    threading.Thread(target=pipe, args=(c, s, rec), daemon=True).start()
    threading.Thread(target=pipe, args=(s, c, None), daemon=True).start()
"""


def _records(data):
    out, i = [], 0
    while i + 5 <= len(data):
        n = int.from_bytes(data[i + 3:i + 5], "big")
        out.append((data[i], n))
        i += 5 + n
    assert i == len(data), "the stream does not end on a record boundary"
    return out


@pytest.mark.lab(hosts=HOSTS)
def test_real_certificate_gets_no_proxy_data(lab):
    lab.start_decoy("www", SNI)
    lab.start_web()
    script = os.path.join(lab.dir, "forwarder.py")
    with open(script, "w") as f:
        f.write(FORWARDER)
    record = os.path.join(lab.dir, "sent")
    fwd = lab.spawn("node-b", ["python3", script, lab.addr("node-b"), lab.addr("www"), record],
                    name="forwarder")
    fwd.wait_log(r"listening", timeout=10)
    # Any key: the decoy cannot know it, and shows its real certificate.
    pub = "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
    client = _start_client(lab, _link(str(uuid.uuid4()), lab.addr("node-b"), pub, True))
    r = lab.run("client-1", ["curl", "-sS", "--max-time", "20", "--socks5-hostname", "127.0.0.1:1080",
                             f"http://{lab.addr('www')}/bytes/100"], check=False, timeout=30)
    assert r.returncode != 0, "curl got an answer through a server that is not ours"
    client.wait_log(r"not its REALITY one", timeout=10)
    r = lab.run("client-1", ["curl", "-sS", "--max-time", "20", "-p", "-x", "http://127.0.0.1:1080",
                             f"http://{lab.addr('www')}/bytes/100"], check=False, timeout=30)
    assert r.returncode != 0 and "502" in r.stderr, r.stderr
    for n in range(2):
        with open(f"{record}.{n}", "rb") as f:
            recs = _records(f.read())
        # ClientHello, CCS, then exactly two protected records: Finished
        # (4 + 32 or 48 bytes of verify data, inner type, 16-byte tag) and
        # close_notify (2 + 1 + 16). Nothing else: no VLESS, no payload.
        assert [t for t, _ in recs] == [22, 20, 23, 23], recs
        assert recs[1][1] == 1
        assert recs[2][1] in (4 + 32 + 1 + 16, 4 + 48 + 1 + 16), recs
        assert recs[3][1] == 2 + 1 + 16, recs
    # The web server behind the tunnel was never asked for anything.
    assert lab.web_clients() == []


def test_bad_links_and_options_are_refused_with_the_reason():
    pharos = _pharos()
    cases = [
        (["client"], "exactly one of --config FILE and --link LINK"),
        (["client", "--link", "vless://x@h.test:443?security=tls"], "security=\"tls\": only \"reality\""),
        (["client", "--link", "vless://x@h.test:443?security=reality"], "pbk"),
        (["client", "--link", "vless://x@h.test:443?security=reality&pbk=E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM",
          "--listen", "0.0.0.0:1080"], "must be a loopback address"),
        (["client", "--bogus"], "unknown option \"--bogus\""),
        (["client", "--config", "/nonexistent/client.json"], "/nonexistent/client.json"),
    ]
    for args, says in cases:
        r = subprocess.run([pharos, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode != 0, args
        assert says in r.stderr, (args, r.stderr)
