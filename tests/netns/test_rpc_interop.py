"""gRPC interoperability of src/rpc over mutual TLS, on 127.0.0.1 (no
namespace needed: nothing binds beyond loopback).

    Python grpcio ──┐                         ┌── our C client
    Go grpc-go ─────┼─► rpc-echo-server (C)    │   (rpc-echo-client)
                    │   pharos.test.Echo       └─► echo_server.py (grpcio)

Certificates come from the openssl CLI: a CA, the server (IP 127.0.0.1 and
DNS localhost), the controller client, and a stranger from another CA.
The C tools come from PHAROS_TOOLS (make check-netns sets it); the Go client
(tests/interop/go) is built here with the newest Go found, modules from the
Go module proxy.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures

import pytest

grpc = pytest.importorskip("grpc")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.environ.get("PHAROS_TOOLS", "")
SAY, COUNT = "/pharos.test.Echo/Say", "/pharos.test.Echo/Count"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def tools():
    for t in ("rpc-echo-server", "rpc-echo-client"):
        if not os.access(os.path.join(TOOLS, t), os.X_OK):
            pytest.skip(f"{t} not built (set PHAROS_TOOLS, or run make check-netns)")
    return TOOLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")

    def ca(name, cn):
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d / f"{name}.key"])
        run(["openssl", "req", "-x509", "-new", "-key", d / f"{name}.key", "-subj", f"/CN={cn}", "-days", "2",
             "-out", d / f"{name}.pem", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def leaf(name, cn, eku, issuer, san=None):
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d / f"{name}.key"])
        run(["openssl", "req", "-new", "-key", d / f"{name}.key", "-subj", f"/CN={cn}", "-out", d / f"{name}.csr"])
        ext = d / f"{name}.ext"
        ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       f"extendedKeyUsage={eku}\n" + (f"subjectAltName={san}\n" if san else ""))
        run(["openssl", "x509", "-req", "-in", d / f"{name}.csr", "-CA", d / f"{issuer}.pem", "-CAkey",
             d / f"{issuer}.key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", d / f"{name}.pem"])

    ca("ca", "Test CA")
    ca("other", "Other CA")
    leaf("server", "node-a", "serverAuth", "ca", "IP:127.0.0.1,DNS:localhost")
    leaf("client", "coxswain-controller", "clientAuth", "ca")
    leaf("stranger", "coxswain-controller", "clientAuth", "other")
    return {k: str(d / f) for k, f in [("ca", "ca.pem"), ("srv_cert", "server.pem"), ("srv_key", "server.key"),
                                       ("cli_cert", "client.pem"), ("cli_key", "client.key"),
                                       ("stranger_cert", "stranger.pem"), ("stranger_key", "stranger.key")]}


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    if not shutil.which("protoc"):
        pytest.skip("protoc (protobuf-compiler) not installed")
    d = tmp_path_factory.mktemp("pb")
    run(["protoc", f"--proto_path={ROOT}/tests/proto", f"--python_out={d}", f"{ROOT}/tests/proto/echo.proto"])
    sys.path.insert(0, str(d))
    import echo_pb2
    return echo_pb2, str(d)


class Proc:
    """A server process that printed "listening PORT"."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("listening "):
            self.p.kill()
            raise RuntimeError(f"{cmd[0]} did not start: {line!r} {self.p.stderr.read()}")
        self.port = int(line.split()[1])
        self.target = f"127.0.0.1:{self.port}"

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)


@pytest.fixture
def c_server(tools, pki):
    srv = Proc([os.path.join(tools, "rpc-echo-server"), "--listen", "127.0.0.1:0", "--cert", pki["srv_cert"],
                "--key", pki["srv_key"], "--ca", pki["ca"]])
    yield srv
    assert srv.stop() == 0, srv.p.stderr.read()


def channel(pki, target, cert=True):
    read = lambda p: open(p, "rb").read()
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(pki["ca"]),
        private_key=read(pki["cli_key"]) if cert else None,
        certificate_chain=read(pki["cli_cert"]) if cert else None)
    return grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "localhost")])


def stubs(ch, echo_pb2):
    say = ch.unary_unary(SAY, request_serializer=echo_pb2.Msg.SerializeToString,
                         response_deserializer=echo_pb2.Msg.FromString)
    count = ch.unary_stream(COUNT, request_serializer=echo_pb2.CountReq.SerializeToString,
                            response_deserializer=echo_pb2.Msg.FromString)
    return say, count


# ---- Python grpcio client -> our C server ----

def test_python_unary_echo_reaches_our_server_with_its_certificate(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        say, _ = stubs(ch, echo_pb2)
        r = say(echo_pb2.Msg(text="hello", blob=b"\x00\xff" * 100, seq=7), timeout=5)
        assert (r.text, r.blob, r.seq) == ("hello", b"\x00\xff" * 100, 7)
        assert say(echo_pb2.Msg(text="peer"), timeout=5).text == "coxswain-controller"
        assert say(echo_pb2.Msg(), timeout=5) == echo_pb2.Msg()


def test_python_metadata_ascii_and_binary_arrive_decoded(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        say, _ = stubs(ch, echo_pb2)
        md = [("x-token", "abc def"), ("x-key-bin", b"\x00\x01\xfe\xff")]
        assert say(echo_pb2.Msg(text="meta:x-token"), metadata=md, timeout=5).text == "abc def"
        assert say(echo_pb2.Msg(text="meta:x-key-bin"), metadata=md, timeout=5).text == "0001feff"


def test_python_sees_our_status_codes_and_percent_encoded_messages(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        say, _ = stubs(ch, echo_pb2)
        with pytest.raises(grpc.RpcError) as e:
            say(echo_pb2.Msg(text="status:9:revision 7 < 9: 100% refusé ✗"), timeout=5)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert e.value.details() == "revision 7 < 9: 100% refusé ✗"


def test_python_deadline_is_enforced(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        say, _ = stubs(ch, echo_pb2)
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            say(echo_pb2.Msg(text="sleep:2000"), timeout=0.2)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 1.5


def test_python_unknown_method_is_unimplemented(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        nope = ch.unary_unary("/pharos.test.Echo/Nope", request_serializer=echo_pb2.Msg.SerializeToString,
                              response_deserializer=echo_pb2.Msg.FromString)
        with pytest.raises(grpc.RpcError) as e:
            nope(echo_pb2.Msg(), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_python_reads_a_server_stream_of_ten_thousand_messages(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        _, count = stubs(ch, echo_pb2)
        seqs = [m.seq for m in count(echo_pb2.CountReq(n=10000, size=32), timeout=60)]
        assert seqs == list(range(10000))


def test_python_oversized_request_is_resource_exhausted(c_server, pki, pb):
    echo_pb2, _ = pb
    opts = [("grpc.ssl_target_name_override", "localhost"), ("grpc.max_send_message_length", 8 << 20)]
    read = lambda p: open(p, "rb").read()
    creds = grpc.ssl_channel_credentials(read(pki["ca"]), read(pki["cli_key"]), read(pki["cli_cert"]))
    with grpc.secure_channel(c_server.target, creds, options=opts) as ch:
        say, _ = stubs(ch, echo_pb2)
        with pytest.raises(grpc.RpcError) as e:
            say(echo_pb2.Msg(blob=b"x" * (5 << 20)), timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert say(echo_pb2.Msg(text="still here"), timeout=5).text == "still here"


def test_python_without_a_client_certificate_is_refused(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target, cert=False) as ch:
        say, _ = stubs(ch, echo_pb2)
        with pytest.raises(grpc.RpcError) as e:
            say(echo_pb2.Msg(text="x"), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_python_concurrent_calls_on_one_channel(c_server, pki, pb):
    echo_pb2, _ = pb
    with channel(pki, c_server.target) as ch:
        say, _ = stubs(ch, echo_pb2)
        with futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda i: say(echo_pb2.Msg(text=str(i), seq=i), timeout=10).seq, range(400)))
        assert got == list(range(400))


def test_graceful_shutdown_lets_the_python_call_in_flight_finish(tools, pki, pb):
    echo_pb2, _ = pb
    srv = Proc([os.path.join(tools, "rpc-echo-server"), "--listen", "127.0.0.1:0", "--cert", pki["srv_cert"],
                "--key", pki["srv_key"], "--ca", pki["ca"]])
    try:
        with channel(pki, srv.target) as ch:
            say, _ = stubs(ch, echo_pb2)
            assert say(echo_pb2.Msg(text="warm"), timeout=5).text == "warm"
            fut = say.future(echo_pb2.Msg(text="sleep:700", seq=3), timeout=10)
            time.sleep(0.2)
            srv.p.send_signal(signal.SIGTERM)
            assert fut.result().seq == 3
            assert srv.p.wait(10) == 0
    finally:
        srv.stop()


# ---- Go grpc-go client -> our C server ----

def newest_go():
    cands = [p for p in ("/usr/local/go/bin/go", shutil.which("go"), "/usr/lib/go/bin/go") if p and os.access(p, os.X_OK)]
    best, best_v = None, (0, 0)
    for g in cands:
        try:
            out = run([g, "env", "GOVERSION"]).stdout.strip()  # "go1.26.8"
            v = tuple(int(x) for x in out[2:].split(".")[:2])
        except (subprocess.CalledProcessError, ValueError):
            continue
        if v > best_v:
            best, best_v = g, v
    return best


@pytest.fixture(scope="module")
def go_client(tmp_path_factory):
    go = newest_go()
    if not go:
        pytest.skip("no Go toolchain")
    out = str(tmp_path_factory.mktemp("go") / "echo-client")
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod", CGO_ENABLED="0")
    r = subprocess.run([go, "build", "-o", out, "."], cwd=os.path.join(ROOT, "tests/interop/go"), env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        if any(s in r.stderr for s in ("dial tcp", "proxy.golang.org", "i/o timeout", "no such host")):
            pytest.skip("Go modules could not be fetched: " + r.stderr.strip().splitlines()[-1])
        pytest.fail("go build failed:\n" + r.stderr)
    return out


def go_call(go_client, pki, target, *args, cert=True):
    cmd = [go_client, "-target", target, "-ca", pki["ca"], "-name", "localhost"]
    if cert:
        cmd += ["-cert", pki["cli_cert"], "-key", pki["cli_key"]]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)
    return r.stdout.strip()


def test_go_client_calls_our_server(c_server, pki, go_client):
    t = c_server.target
    assert go_call(go_client, pki, t, "say", "hello") == "text=hello seq=7"
    assert go_call(go_client, pki, t, "meta", "x-token", "abc") == "text=abc seq=7"
    assert go_call(go_client, pki, t, "meta", "x-key-bin", "\x01\x02") == "text=0102 seq=7"
    assert go_call(go_client, pki, t, "say", "status:7:denied ✗ 50%") == "status=PermissionDenied message=denied ✗ 50%"
    assert go_call(go_client, pki, t, "say", "sleep:2000", "200").startswith("status=DeadlineExceeded")
    assert go_call(go_client, pki, t, "call", "/pharos.test.Echo/Nope").startswith("status=Unimplemented")
    assert go_call(go_client, pki, t, "count", "10000", "16") == "messages=10000 order=ok status=OK"
    assert go_call(go_client, pki, t, "say", "x", cert=False).startswith("status=Unavailable")


# ---- our C client -> Python grpcio server ----

@pytest.fixture
def py_server(pki, pb):
    _, pb_dir = pb
    srv = Proc([sys.executable, os.path.join(ROOT, "tests/interop/echo_server.py"), "--pb-dir", pb_dir,
                "--cert", pki["srv_cert"], "--key", pki["srv_key"], "--ca", pki["ca"]])
    yield srv
    srv.stop()


def c_call(tools, pki, target, *args, cert="cli"):
    cmd = [os.path.join(tools, "rpc-echo-client"), "--target", target, "--ca", pki["ca"],
           "--cert", pki[f"{cert}_cert"], "--key", pki[f"{cert}_key"], "--server-name", "localhost"]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout.strip()


def test_our_client_calls_a_python_server(py_server, tools, pki):
    t = py_server.target
    assert c_call(tools, pki, t, "say", "hello") == (0, "text=hello seq=42")
    assert c_call(tools, pki, t, "say", "peer") == (0, "text=coxswain-controller seq=42")
    assert c_call(tools, pki, t, "say", "meta:x-token", "--meta", "x-token=abc") == (0, "text=abc seq=42")
    assert c_call(tools, pki, t, "say", "meta:x-k-bin", "--meta", "x-k-bin=hi") == (0, "text=6869 seq=42")
    assert c_call(tools, pki, t, "say", "status:5:no such peer ü 100%") == \
        (1, "status=NOT_FOUND message=no such peer ü 100%")
    rc, out = c_call(tools, pki, t, "say", "x", cert="stranger")
    assert rc == 1 and out.startswith("status=UNAVAILABLE")


def test_our_client_reads_a_python_server_stream(py_server, tools, pki):
    rc, out = c_call(tools, pki, py_server.target, "count", "10000", "32")
    assert (rc, out.split(" message=")[0]) == (0, "messages=10000 status=OK order=ok")
