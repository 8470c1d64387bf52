"""pharos-awg's control subcommands driving Debian's wireguard-go, with
Debian's wg as the reference for what a reply means.

Topology: one network namespace per test, holding only a userspace interface.

    test process (root netns)
        |  nsenter --target HOLDER --net --mount
        v
    +- netns pharos-cli-<pid>-<n> -----------------------------------------+
    |  private mount namespace with a tmpfs on /run: the UAPI sockets are  |
    |  invisible to the host and to every other test                       |
    |                                                                      |
    |   wireguard-go -f wgt0 --- /run/wireguard/wgt0.sock ---+- pharos-awg |
    |                                                        +- wg         |
    |   wgt0 stays down: no handshake, so counters cannot change between   |
    |   the two tools' reads                                               |
    +----------------------------------------------------------------------+

wireguard-go answers AmneziaWG keys (jc, s1, h1, ...) with EINVAL; the last
tests run our own daemon (`pharos-awg -f awgt0`, sockets in both
/run/amneziawg and /run/wireguard) in the same kind of namespace instead, to
see the AmneziaWG keys go through set, show, showconf and setconf.
"""

import itertools
import os
import shutil
import subprocess
import time

import pytest

IFNAME = "wgt0"
SOCK = f"/run/wireguard/{IFNAME}.sock"
AWG_IFNAME = "awgt0"
AWG_SOCK = f"/run/amneziawg/{AWG_IFNAME}.sock"
_counter = itertools.count()


def _pharos():
    bindir = os.environ.get("PHAROS_BIN")
    if not bindir:
        pytest.skip("PHAROS_BIN (directory holding pharos-awg) is not set; "
                    "run through `make check-netns`")
    path = os.path.join(bindir, "pharos-awg")
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


@pytest.fixture
def pharos():
    return _pharos()


class Netns:
    """A network namespace plus a private mount namespace, entered with
    nsenter through a holder process that lives as long as the test."""

    def __init__(self):
        self.name = f"pharos-cli-{os.getpid()}-{next(_counter)}"
        self.holder = None
        self.daemon = None
        self.daemon_log = b""

    def up(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        # ip netns exec -> unshare -> sh -> sleep all exec in place, so the
        # holder's pid ends up being the sleeper inside both namespaces.
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "unshare", "--mount",
             "--propagation", "private", "sh", "-c",
             "mount -t tmpfs -o mode=0755 tmpfs /run && "
             "mkdir -p /run/wireguard /run/amneziawg && "
             "echo ready && exec sleep infinity"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.holder.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(
                f"namespace holder failed: {self.holder.stderr.read()!r}")

    def run(self, *cmd, input=None, check=True):
        res = subprocess.run(
            ["nsenter", "--target", str(self.holder.pid), "--net", "--mount",
             "--", *cmd],
            input=input, capture_output=True, text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {res.returncode}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def start_daemon(self, sock, *cmd):
        self.daemon = subprocess.Popen(
            ["nsenter", "--target", str(self.holder.pid), "--net", "--mount",
             "--", *cmd],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.run("test", "-S", sock, check=False).returncode == 0:
                return
            if self.daemon.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{cmd[0]} did not create {sock}: "
                           f"{self.stop_daemon()!r}")

    def stop_daemon(self):
        if self.daemon is None:
            return self.daemon_log
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon_log = self.daemon.stdout.read()
        self.daemon = None
        return self.daemon_log

    def down(self):
        self.stop_daemon()
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            self.holder = None
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def _namespace_with(sock, *daemon):
    for tool in ("wg", "nsenter", "unshare", daemon[0]):
        if shutil.which(tool) is None and not os.access(tool, os.X_OK):
            pytest.skip(f"{tool} is not installed")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing")
    n = Netns()
    try:
        n.up()
        n.start_daemon(sock, *daemon)
        yield n
    finally:
        n.down()


@pytest.fixture
def ns():
    yield from _namespace_with(SOCK, "wireguard-go", "-f", IFNAME)


@pytest.fixture
def awg_ns(pharos):
    yield from _namespace_with(AWG_SOCK, pharos, "-f", AWG_IFNAME)


class Cli:
    def __init__(self, ns, pharos):
        self.ns, self.bin = ns, pharos

    def __call__(self, *args, input=None, check=True):
        return self.ns.run(self.bin, *args, input=input, check=check)

    def wg(self, *args, input=None, check=True):
        return self.ns.run("wg", *args, input=input, check=check)


@pytest.fixture
def cli(ns, pharos):
    return Cli(ns, pharos)


@pytest.fixture
def awg_cli(awg_ns, pharos):
    return Cli(awg_ns, pharos)


def keyfile(tmp_path, name, text):
    path = tmp_path / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return str(path)


def genkey(pharos):
    return subprocess.run([pharos, "genkey"], capture_output=True, text=True,
                          check=True).stdout.strip()


def pubkey(pharos, priv):
    return subprocess.run([pharos, "pubkey"], input=priv + "\n",
                          capture_output=True, text=True,
                          check=True).stdout.strip()


def conf_sections(text):
    """A config file as a sorted list of (section, sorted key/value pairs),
    so the order in which two tools print keys does not matter."""
    sections, cur = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            cur = [line, []]
            sections.append(cur)
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if key.strip().lower() == "allowedips":
            value = ",".join(sorted(v.strip() for v in value.split(",")))
        cur[1].append((key.strip().lower(), value))
    return sorted((s, sorted(kv)) for s, kv in sections)


def pretty_blocks(text):
    """`show` output split into the interface block and a sorted list of
    peer blocks (peers with equal handshake times have no defined order)."""
    blocks = text.strip().split("\n\n")
    return blocks[0], sorted(blocks[1:])


def same(ours, theirs, field="dump"):
    """wireguard-go keeps peers in a Go map, so every get lists them in a
    new order: compare the device line (dump), then the peer lines as a set.
    One-line device fields compare exactly either way."""
    a, b = ours.splitlines(), theirs.splitlines()
    head = 1 if field == "dump" else 0
    return a[:head] == b[:head] and sorted(a[head:]) == sorted(b[head:]) \
        and ours.endswith("\n") == theirs.endswith("\n")


FIELDS = ["public-key", "private-key", "listen-port", "fwmark", "peers",
          "preshared-keys", "endpoints", "allowed-ips", "latest-handshakes",
          "persistent-keepalive", "transfer", "dump"]


def configure(cli, tmp_path, pharos):
    priv = genkey(pharos)
    peer2 = pubkey(pharos, genkey(pharos))
    peer3 = pubkey(pharos, genkey(pharos))
    psk = subprocess.run([pharos, "genpsk"], capture_output=True, text=True,
                         check=True).stdout.strip()
    cli("set", IFNAME,
        "private-key", keyfile(tmp_path, "priv", priv),
        "listen-port", "51820", "fwmark", "0x42",
        "peer", peer2, "preshared-key", keyfile(tmp_path, "psk", psk),
        "endpoint", "192.0.2.1:51820", "persistent-keepalive", "25",
        "allowed-ips", "10.0.0.2/32,fd00::2/128",
        "peer", peer3, "endpoint", "[2001:db8::3]:4500",
        "allowed-ips", "10.0.0.3/32")
    return priv, peer2, peer3, psk


def test_keys_from_genkey_and_pubkey_agree_with_wg(pharos):
    priv = genkey(pharos)
    assert len(priv) == 44 and priv.endswith("=")
    wg_pub = subprocess.run(["wg", "pubkey"], input=priv + "\n",
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    assert pubkey(pharos, priv) == wg_pub
    wg_priv = subprocess.run(["wg", "genkey"], capture_output=True,
                             text=True, check=True).stdout.strip()
    wg_pub = subprocess.run(["wg", "pubkey"], input=wg_priv,
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    assert pubkey(pharos, wg_priv) == wg_pub
    bad = subprocess.run([pharos, "pubkey"], input="not a key\n",
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "44 characters of base64" in bad.stderr


def test_set_is_shown_by_both_tools_alike(cli, tmp_path, pharos):
    priv, peer2, peer3, psk = configure(cli, tmp_path, pharos)
    pub = pubkey(pharos, priv)

    out = cli("show", IFNAME).stdout
    assert f"interface: {IFNAME}\n" in out
    assert f"  public key: {pub}\n" in out
    assert "  private key: (hidden)\n" in out
    assert "  listening port: 51820\n" in out
    assert "  fwmark: 0x42\n" in out
    assert f"peer: {peer2}\n" in out
    assert "  preshared key: (hidden)\n" in out
    assert "  endpoint: 192.0.2.1:51820\n" in out
    assert "  allowed ips: 10.0.0.2/32, fd00::2/128\n" in out
    assert "  persistent keepalive: every 25 seconds\n" in out
    assert "  endpoint: [2001:db8::3]:4500\n" in out
    assert priv not in out and psk not in out
    # No AmneziaWG parameter is set on wireguard-go, so none is shown.
    assert "jc:" not in out and "h1:" not in out
    assert pretty_blocks(out) == pretty_blocks(cli.wg("show", IFNAME).stdout)

    for field in FIELDS:
        ours = cli("show", IFNAME, field).stdout
        assert same(ours, cli.wg("show", IFNAME, field).stdout, field), field
    assert same(cli("show", "all", "dump").stdout,
                cli.wg("show", "all", "dump").stdout)
    assert cli("show", "interfaces").stdout == f"{IFNAME}\n"
    assert cli("show", IFNAME, "private-key").stdout.strip() == priv
    assert cli("show", IFNAME, "awg").stdout == ""


def test_showconf_prints_what_wg_showconf_prints(cli, tmp_path, pharos):
    priv, peer2, peer3, psk = configure(cli, tmp_path, pharos)
    ours = cli("showconf", IFNAME).stdout
    assert ours.startswith("[Interface]\n")
    assert f"PrivateKey = {priv}\n" in ours
    assert "ListenPort = 51820\n" in ours
    assert f"PublicKey = {peer2}\n" in ours
    assert f"PresharedKey = {psk}\n" in ours
    assert "PersistentKeepalive = 25\n" in ours
    assert conf_sections(ours) == \
        conf_sections(cli.wg("showconf", IFNAME).stdout)

    # What showconf prints, setconf takes back unchanged.
    before = cli.wg("show", IFNAME, "dump").stdout
    cli("setconf", IFNAME, keyfile(tmp_path, "round.conf", ours))
    assert same(cli.wg("show", IFNAME, "dump").stdout, before)


def test_setconf_addconf_and_syncconf_manage_peers(cli, tmp_path, pharos):
    configure(cli, tmp_path, pharos)
    priv = genkey(pharos)
    p3, p4, p5 = (pubkey(pharos, genkey(pharos)) for _ in range(3))
    plain = keyfile(tmp_path, "plain.conf", "\n".join([
        "[Interface]", f"PrivateKey = {priv}", "ListenPort = 51821", "",
        "[Peer]", f"PublicKey = {p3}", "AllowedIPs = 10.0.0.3/32, fd00::3",
        "Endpoint = 192.0.2.3:51820", "PersistentKeepalive = 15"]))
    cli("setconf", IFNAME, plain)
    dump = cli.wg("show", IFNAME, "dump").stdout.splitlines()
    assert dump[0].split("\t")[:3] == [priv, pubkey(pharos, priv), "51821"]
    assert [line.split("\t")[0] for line in dump[1:]] == [p3]
    assert dump[1].split("\t")[3] == "10.0.0.3/32,fd00::3/128"
    assert same(cli("show", IFNAME, "dump").stdout,
                cli.wg("show", IFNAME, "dump").stdout)

    extra = keyfile(tmp_path, "extra.conf", "\n".join([
        "[Peer]", f"PublicKey = {p4}", "AllowedIPs = 10.0.0.4/32"]))
    cli("addconf", IFNAME, extra)
    assert sorted(cli.wg("show", IFNAME, "peers").stdout.split()) == \
        sorted([p3, p4])

    sync = keyfile(tmp_path, "sync.conf", "\n".join([
        "[Peer]", f"PublicKey = {p4}", "AllowedIPs = 10.0.0.44/32", "",
        "[Peer]", f"PublicKey = {p5}", "AllowedIPs = 10.0.0.5/32"]))
    cli("syncconf", IFNAME, sync)
    assert sorted(cli.wg("show", IFNAME, "peers").stdout.split()) == \
        sorted([p4, p5])
    allowed = dict(line.split("\t") for line in
                   cli("show", IFNAME, "allowed-ips").stdout.splitlines())
    assert allowed[p4] == "10.0.0.44/32"
    assert cli.wg("show", IFNAME, "listen-port").stdout == "51821\n"

    cli("set", IFNAME, "peer", p5, "remove")
    assert cli("show", IFNAME, "peers").stdout == f"{p4}\n"


def test_what_wg_sets_pharos_awg_reads(cli, tmp_path, pharos):
    peer = pubkey(pharos, genkey(pharos))
    cli.wg("set", IFNAME, "listen-port", "40000", "fwmark", "7",
           "peer", peer, "allowed-ips", "10.9.0.0/16,fd09::/48",
           "endpoint", "198.51.100.9:1234")
    for field in FIELDS:
        assert same(cli("show", IFNAME, field).stdout,
                    cli.wg("show", IFNAME, field).stdout, field), field


def test_private_key_can_come_from_stdin(cli, pharos):
    priv = genkey(pharos)
    cli("set", IFNAME, "private-key", "/dev/stdin", input=priv + "\n")
    assert cli.wg("show", IFNAME, "public-key").stdout.strip() == \
        pubkey(pharos, priv)


def test_errors_name_the_input_and_change_nothing(cli, tmp_path, pharos):
    cli("set", IFNAME, "listen-port", "51820")
    before = cli.wg("show", IFNAME, "dump").stdout

    res = cli("set", IFNAME, "listen-port", "70000", check=False)
    assert res.returncode == 1 and "'70000'" in res.stderr
    assert "0..65535" in res.stderr
    res = cli("set", IFNAME, "peer", "bogus", check=False)
    assert res.returncode == 1 and "'bogus'" in res.stderr
    res = cli("set", IFNAME, "private-key", str(tmp_path / "missing"),
              check=False)
    assert res.returncode == 1 and "missing" in res.stderr
    res = cli("set", IFNAME, "frobnicate", "1", check=False)
    assert res.returncode == 1 and "Unknown argument 'frobnicate'" in \
        res.stderr
    assert same(cli.wg("show", IFNAME, "dump").stdout, before)

    # Valid for AmneziaWG, refused by wireguard-go: the daemon's errno.
    res = cli("set", IFNAME, "jc", "4", check=False)
    assert res.returncode == 1
    assert f"Unable to modify interface {IFNAME}: Invalid argument" in \
        res.stderr

    res = cli("show", "nosuch0", check=False)
    assert res.returncode == 1
    assert "Unable to access interface nosuch0: No such device" in res.stderr
    res = cli("show", "a/b", check=False)
    assert res.returncode == 1 and "Invalid interface name" in res.stderr

    res = cli("setconf", IFNAME, keyfile(tmp_path, "bad.conf",
                                         "[Interface]\nListenPort = x\n"),
              check=False)
    assert res.returncode == 1 and "line 2" in res.stderr
    assert same(cli.wg("show", IFNAME, "dump").stdout, before)


def test_a_stopped_daemon_disappears_from_the_list(ns, cli):
    assert cli("show", "interfaces").stdout == f"{IFNAME}\n"
    ns.stop_daemon()
    assert cli("show", "interfaces").stdout == ""
    res = cli("show", IFNAME, check=False)
    assert res.returncode == 1


AWG_ARGS = ["jc", "4", "jmin", "40", "jmax", "70", "s1", "15", "s2", "68",
            "s3", "9", "s4", "20", "h1", "100-200", "h2", "300",
            "h3", "400-500", "h4", "600", "i1", "<b 0xc0ff><r 8>"]


def test_awg_parameters_go_through_set_show_and_showconf(awg_cli, tmp_path,
                                                         pharos):
    cli = awg_cli
    priv = genkey(pharos)
    peer = pubkey(pharos, genkey(pharos))
    cli("set", AWG_IFNAME, "private-key", keyfile(tmp_path, "priv", priv),
        "listen-port", "51830", *AWG_ARGS,
        "peer", peer, "allowed-ips", "10.1.0.2/32")

    out = cli("show", AWG_IFNAME).stdout
    for line in ("  jc: 4\n", "  jmin: 40\n", "  jmax: 70\n", "  s1: 15\n",
                 "  s3: 9\n", "  s4: 20\n", "  h1: 100-200\n", "  h2: 300\n",
                 "  h4: 600\n", "  i1: <b 0xc0ff><r 8>\n"):
        assert line in out
    assert "  private key: (hidden)\n" in out and priv not in out
    awg = dict(line.split("\t") for line in
               cli("show", AWG_IFNAME, "awg").stdout.splitlines())
    assert awg == dict(zip(AWG_ARGS[::2], AWG_ARGS[1::2]))
    assert cli("show", AWG_IFNAME, "h3").stdout == "400-500\n"
    assert cli("show", AWG_IFNAME, "i2").stdout == "\n"

    conf = cli("showconf", AWG_IFNAME).stdout
    for line in ("Jc = 4\n", "S4 = 20\n", "H1 = 100-200\n", "H2 = 300\n",
                 "I1 = <b 0xc0ff><r 8>\n", f"PrivateKey = {priv}\n"):
        assert line in conf

    # Debian's wg skips the keys it does not know and agrees on the rest.
    for field in FIELDS:
        assert same(cli("show", AWG_IFNAME, field).stdout,
                    cli.wg("show", AWG_IFNAME, field).stdout, field), field

    # A value the engine refuses across keys comes back as the daemon's
    # errno, and nothing changes.
    res = cli("set", AWG_IFNAME, "h2", "150", check=False)
    assert res.returncode == 1
    assert f"Unable to modify interface {AWG_IFNAME}: Invalid argument" in \
        res.stderr
    assert cli("show", AWG_IFNAME, "h2").stdout == "300\n"

    # showconf's output is a config setconf takes back.
    cli("setconf", AWG_IFNAME, keyfile(tmp_path, "round.conf", conf))
    assert cli("showconf", AWG_IFNAME).stdout == conf


def test_a_genobf_set_can_be_applied_with_setconf(awg_cli, tmp_path, pharos):
    cli = awg_cli
    gen = subprocess.run([pharos, "genobf"], capture_output=True, text=True,
                         check=True).stdout
    params = dict((k.strip().lower(), v.strip()) for k, _, v in
                  (line.partition("=") for line in gen.splitlines()))
    assert set(params) == {"jc", "jmin", "jmax", "s1", "s2", "s3", "s4",
                           "h1", "h2", "h3", "h4"}
    cli("setconf", AWG_IFNAME, keyfile(
        tmp_path, "obf.conf",
        f"[Interface]\nPrivateKey = {genkey(pharos)}\n{gen}"))
    shown = dict(line.split("\t") for line in
                 cli("show", AWG_IFNAME, "awg").stdout.splitlines())
    assert shown == params
