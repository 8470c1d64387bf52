"""pharos-awg against Debian's wireguard-go: plain WireGuard, both directions.

    node-a (198.51.100.10)                      client-1 (203.0.113.101)
    +-------------------+        inet           +----------------------+
    | A: wg0 10.9.0.1   | <-- UDP 51820/51821 -> | B: wg0 10.9.0.2      |
    +-------------------+                       +----------------------+

Each scenario runs with A = pharos-awg and B = wireguard-go and the other way
round, and with either side starting the handshake (only the initiator has
the other's endpoint configured).
"""

import time

import pytest

from awg import Daemon, pair, tcp_transfer

HOSTS = ["node-a", "client-1"]
COMBOS = [("pharos", "wireguard-go"), ("wireguard-go", "pharos")]


def wait_handshake(d, pub, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hs = d.dump().get(pub, {}).get("handshake", 0)
        if hs:
            return hs
        time.sleep(0.1)
    raise AssertionError(f"no handshake on {d.impl}@{d.host}:\n{d.proc.log_text()[-3000:]}")


@pytest.mark.lab(hosts=HOSTS)
@pytest.mark.parametrize("a_impl,b_impl", COMBOS)
@pytest.mark.parametrize("initiator", ["a", "b"])
def test_handshake_ping_and_tcp_transfer(lab, a_impl, b_impl, initiator):
    a, b = pair(lab, a_impl, b_impl, a_endpoint=initiator == "a", b_endpoint=initiator == "b")
    src, dst_ip = (a.host, "10.9.0.2") if initiator == "a" else (b.host, "10.9.0.1")
    assert lab.ping(src, dst_ip, count=3, timeout=3), "first ping through the tunnel failed"
    assert lab.ping(a.host, "fd86::2", count=2, family=6), "IPv6 inside the tunnel failed"
    # Both sides see the handshake and count bytes, as `wg show` reports them.
    assert wait_handshake(a, b.pub) and wait_handshake(b, a.pub)
    # 20 MB each way, hashed end to end.
    sent, got = tcp_transfer(lab, a.host, b.host, "10.9.0.2", 20_000_000)
    assert sent == got
    sent, got = tcp_transfer(lab, b.host, a.host, "10.9.0.1", 20_000_000, port=5002)
    assert sent == got
    da, db = a.dump()[b.pub], b.dump()[a.pub]
    assert da["rx"] > 20_000_000 and da["tx"] > 20_000_000
    assert db["rx"] > 20_000_000 and db["tx"] > 20_000_000


@pytest.mark.lab(hosts=HOSTS)
def test_wg_show_and_showconf_setconf_round_trip(lab):
    a, b = pair(lab, "pharos", "wireguard-go")
    assert lab.ping(a.host, "10.9.0.2", count=2)
    show = lab.run(a.host, ["wg", "show", "wg0"]).stdout
    assert b.pub in show and "latest handshake" in show and "transfer" in show
    conf = lab.run(a.host, ["wg", "showconf", "wg0"]).stdout
    assert f"PublicKey = {b.pub}" in conf and "PresharedKey" in conf
    # Feed it back: nothing changes, the session survives (setconf keeps keys of the same peer set).
    lab.run(a.host, ["sh", "-c", "wg showconf wg0 > /etc/wireguard/round.conf && wg setconf wg0 /etc/wireguard/round.conf"])
    assert lab.run(a.host, ["wg", "showconf", "wg0"]).stdout == conf
    assert lab.ping(a.host, "10.9.0.2", count=2, timeout=3)


@pytest.mark.lab(hosts=HOSTS)
@pytest.mark.parametrize("mover", ["pharos", "wireguard-go"])
def test_roaming_to_a_new_source_port_is_followed(lab, mover):
    """The side that moves changes its listen port; the other side must follow
    the authenticated packets to the new endpoint without reconfiguration."""
    a_impl, b_impl = ("pharos", "wireguard-go") if mover == "wireguard-go" else ("wireguard-go", "pharos")
    a, b = pair(lab, a_impl, b_impl)
    assert lab.ping(b.host, "10.9.0.1", count=2)
    b.wg("set", "wg0", "listen-port", "52999")
    assert lab.ping(b.host, "10.9.0.1", count=3, timeout=3)
    assert a.dump()[b.pub]["endpoint"].endswith(":52999")
    assert lab.ping(a.host, "10.9.0.2", count=2)


@pytest.mark.lab(hosts=HOSTS)
def test_rekey_after_time_keeps_traffic_flowing(lab):
    """With protocol timers scaled by 0.05, REKEY_AFTER_TIME is 6 s: our
    daemon, as initiator, must start a new handshake while data flows and the
    wireguard-go peer must accept it; no ping may be lost across the change."""
    a, b = pair(lab, "pharos", "wireguard-go", a_env={"PHAROS_AWG_TIMER_SCALE": "0.05"}, b_endpoint=False)
    assert lab.ping(a.host, "10.9.0.2", count=1, timeout=3)
    first = a.dump()[b.pub]["handshake"]
    r = lab.run(a.host, ["ping", "-n", "-q", "-c", "45", "-i", "0.2", "-W", "2", "10.9.0.2"], check=False, timeout=60)
    assert " 0% packet loss" in r.stdout, r.stdout
    assert a.dump()[b.pub]["handshake"] > first, "no new handshake within 9 s"


@pytest.mark.lab(hosts=HOSTS)
def test_persistent_keepalive_starts_the_session_without_traffic(lab):
    a, b = pair(lab, "wireguard-go", "pharos", b_endpoint=True, a_endpoint=False)
    b.wg("set", "wg0", "peer", a.pub, "persistent-keepalive", "1")
    wait_handshake(a, b.pub, timeout=8)
    rx0 = a.dump()[b.pub]["rx"]
    time.sleep(2.5)
    assert a.dump()[b.pub]["rx"] > rx0, "keepalives did not arrive"


@pytest.mark.lab(hosts=HOSTS)
def test_wrong_preshared_key_never_completes_a_handshake(lab):
    a, b = pair(lab, "pharos", "wireguard-go")
    b.wg("set", "wg0", "peer", a.pub, "remove")
    b.add_peer(a.pub, "10.9.0.1/32", psk="aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28=",
               endpoint=f"{lab.addr(a.host)}:51820")
    assert not lab.ping(b.host, "10.9.0.1", count=2, timeout=2)
    assert a.dump()[b.pub]["handshake"] == 0
