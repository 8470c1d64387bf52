"""pharos-awg under a handshake flood from spoofed sources (specs/awg.md
§1.4, §1.9): the established tunnel keeps carrying data, the flood is
answered with cookie replies instead of Diffie-Hellman work, no garbage
completes a handshake, a new client gets in by using its cookie (mac2), and
the control thread keeps serving timers and UAPI requests.

    attacker 203.0.113.129                 node-a 198.51.100.10
    sends from 203.0.113.130-254           +-------------------------+
    (the router routes that /25 to the     | pharos-awg wg0 10.9.0.1 |
     attacker's link)                      | UDP 51820               |
              \\                            +-------------------------+
               +------------- inet --------------/
                                |
                    client-1 203.0.113.101: wireguard-go or pharos-awg,
                    wg0 10.9.0.2, UDP 51821

The attacker knows the server's public key, as every client does, so its
initiations carry a valid mac1 = MAC(HASH("mac1----" || server_pub),
msg[0:116]); the rest is random, so without the cookie mechanism the server
could not tell them from real ones short of a Diffie-Hellman each. The
router's strict rp_filter lets a host send only from addresses routed to its
link: the test routes 203.0.113.128/25 to the attacker, so the spoofed flood
passes and the server's cookie replies come back down the attacker's link,
where a capture counts them (the attacker owns none of those addresses and
silently drops them).

The flooder is one Python process with a raw socket (IP_HDRINCL), bounded
in time, that refuses any address outside the lab. Each spoofed
initiation's sender index encodes its source (last octet << 16 | port), so
every cookie reply can be matched to the initiation it answers.

Rates seen (2 cores, ASan build): the flooder reaches 15-60k initiations/s;
the server answers 5-15k/s when it does a Diffie-Hellman for each and
10-60k/s with cookie replies, depending on what else runs on the machine.
"""

import struct
import time
from collections import Counter

import pytest

from awg import pair, tcp_transfer, udp_payloads
from tests.lab import HostSpec

ATTACKER = HostSpec("attacker", addrs=("203.0.113.129",))
SPOOF_NET = "203.0.113.128/25"          # routed to the attacker's link
SERVER_PORT = 51820
# The paced flood: beyond what the server answers with Diffie-Hellman (so
# it stays "under load": 128 queued), within what it answers with cookie
# replies, so that a real client's packets are not dropped with the surplus
# of a full queue. Where the server is "beyond" depends on the machine: a
# garbage initiation costs it one X25519 before it fails, ~5k/s on a busy
# 2-core machine under ASan, more than 10k/s on a quiet one. So the rate
# starts low and rises until cookie replies flow.
PACED_RATES = (10000, 20000, 40000)

FLOOD_PY = r"""
import base64, hashlib, ipaddress, os, socket, struct, sys, time
dst, dport, pub, net = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seconds, rate = float(sys.argv[5]), float(sys.argv[6])    # rate 0: as fast as we can
lab = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
d, snet = ipaddress.ip_address(dst), ipaddress.ip_network(net)
if not (any(d in n for n in lab) and any(snet.subnet_of(n) for n in lab)) or seconds > 60:
    sys.exit("refusing: outside the lab or unbounded")
srcs = [a.packed for a in list(snet.hosts())[1:]]       # the first is our own
key = hashlib.blake2s(b"mac1----" + base64.b64decode(pub)).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
# IPv4 header (the kernel fills in the checksum and the id), UDP without checksum.
ip_pre = struct.pack("!BBHHHBBH", 0x45, 0, 20 + 8 + 148, 0, 0, 64, 17, 0)
udp_len = struct.pack("!HH", 8 + 148, 0)
zero_mac2 = bytes(16)
dpk, addr, nsrc, blake2s, pack = d.packed, (dst, 0), len(srcs), hashlib.blake2s, struct.pack
print("flooding", flush=True)
sent = errors = 0
t0 = time.monotonic()
end = t0 + seconds
while True:
    now = time.monotonic()
    if now >= end:
        break
    if rate and sent > (now - t0) * rate:
        time.sleep(0.002)
        continue
    rnd = os.urandom(64 * 128)
    for i in range(0, 64 * 128, 128):
        src = srcs[rnd[i] % nsrc]
        sport = 1024 + (rnd[i + 1] << 8 | rnd[i + 2]) % 64000
        # type 1, sender index = (last octet << 16 | port), 108 random bytes
        # (ephemeral, encrypted static, encrypted timestamp), mac1, mac2 = 0.
        body = b"\x01\0\0\0" + pack("<I", src[3] << 16 | sport) + rnd[i + 8:i + 116]
        pkt = b"".join((ip_pre, src, dpk, pack("!HH", sport, dport), udp_len, body,
                        blake2s(body, key=key, digest_size=16).digest(), zero_mac2))
        try:
            s.sendto(pkt, addr)
            sent += 1
        except OSError:
            errors += 1
el = time.monotonic() - t0
print(f"sent {sent} errors {errors} seconds {el:.2f} rate {sent / el:.0f}", flush=True)
"""


def start_flood(lab, server, seconds, rate=0):
    """Routes the spoofed /25 to the attacker and starts the flood against
    server (a Daemon) for `seconds` at `rate` initiations per second (0: as
    fast as one Python process can); returns the flooder's Proc."""
    lab.run("inet", ["ip", "route", "replace", SPOOF_NET, "via", ATTACKER.addrs[0], "dev", ATTACKER.name])
    f = lab.spawn(ATTACKER.name, ["python3", "-c", FLOOD_PY, lab.addr(server.host), str(SERVER_PORT),
                                  server.pub, SPOOF_NET, str(seconds), str(rate)], name="flood")
    f.wait_log("flooding", timeout=10)
    return f


def start_paced_flood(lab, server, seconds):
    """A flood at the first of PACED_RATES that puts the server under load
    (100 cookie replies seen within 8 s); returns (flooder Proc, rate)."""
    for rate in PACED_RATES:
        f = start_flood(lab, server, seconds, rate=rate)
        with lab.capture(ATTACKER.name, "eth0", f"udp and src host {lab.addr(server.host)}") as ca:
            try:
                ca.wait_for(100, timeout=8)
                return f, rate
            except TimeoutError:
                print(f"\nflood of {rate}/s: the server keeps up without cookies, faster")
        f.stop()
    raise AssertionError(f"no cookie reply at any of {PACED_RATES} initiations/s")


def flood_stats(f):
    """(sent, seconds, rate) once the flooder has finished."""
    f.wait(timeout=30)
    line = f.log_text().strip().splitlines()[-1].split()
    assert line[0] == "sent", f.log_text()
    return int(line[1]), float(line[5]), float(line[7])


def server_replies(cap, server_ip):
    """What the server sent into the spoofed range: Counter of (type, len),
    number of distinct destinations, and the number of cookie replies whose
    receiver index is not the sender index of an initiation from their
    destination."""
    kinds, dsts, mismatched = Counter(), set(), 0
    for src, sport, dst, dport, payload in udp_payloads(cap.path):
        if src != server_ip or sport != SERVER_PORT:
            continue
        kinds[(payload[0], len(payload))] += 1
        dsts.add((dst, dport))
        if payload[0] == 3 and len(payload) == 64:
            idx = struct.unpack("<I", payload[4:8])[0]
            if idx != (int(dst.split(".")[3]) << 16 | dport):
                mismatched += 1
    return kinds, len(dsts), mismatched


def handshake_messages(cap, client_ip):
    """The client's handshake traffic in a capture, in order:
    ("init", sender index, has mac2), ("cookie", receiver index),
    ("response", receiver index)."""
    seq = []
    for src, _, _, _, p in udp_payloads(cap.path):
        if src == client_ip and p[0] == 1 and len(p) == 148:
            seq.append(("init", struct.unpack("<I", p[4:8])[0], p[132:148] != bytes(16)))
        elif src != client_ip and p[0] == 3 and len(p) == 64:
            seq.append(("cookie", struct.unpack("<I", p[4:8])[0]))
        elif src != client_ip and p[0] == 2 and len(p) == 92:
            seq.append(("response", struct.unpack("<I", p[8:12])[0]))
    return seq


def wait_handshake(d, pub, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hs = d.dump().get(pub, {}).get("handshake", 0)
        if hs:
            return hs
        time.sleep(0.1)
    return 0


def ping_counts(stdout):
    """(transmitted, received) from ping's summary."""
    for line in stdout.splitlines():
        if "packets transmitted" in line:
            f = line.split()
            return int(f[0]), int(f[3])
    raise AssertionError(f"no ping summary in:\n{stdout}")


@pytest.mark.lab(hosts=["node-a", "client-1"], extra=[ATTACKER])
def test_saturating_flood_keeps_the_tunnel_up_and_is_answered_with_cookies(lab):
    """The flood runs as fast as the attacker can send, more than the
    server's handshake path can answer: the queue overflows and the surplus
    is dropped. The established tunnel must not notice."""
    a, b = pair(lab, "pharos", "wireguard-go", b_env={"LOG_LEVEL": "error"})
    assert lab.ping(b.host, "10.9.0.1", count=2, timeout=3), "tunnel did not come up"
    hs_before = a.dump()[b.pub]["handshake"]

    flood_s = 10
    cap = lab.capture(ATTACKER.name, "eth0", f"udp and src host {lab.addr(a.host)} and src port {SERVER_PORT}")
    flood = start_flood(lab, a, flood_s)
    # A ping every 50 ms through the tunnel for (nearly) the whole flood...
    pinger = lab.spawn(b.host, ["ping", "-n", "-q", "-i", "0.05", "-W", "1", "-c", str((flood_s - 1) * 20),
                                "10.9.0.1"], name="ping-during-flood")
    cap.wait_for(100, timeout=20)   # the server answers with cookies: it is under load
    # ...and 10 MB each way over TCP, hashed end to end.
    sent_b, got_b = tcp_transfer(lab, b.host, a.host, "10.9.0.1", 10_000_000, timeout=flood_s)
    sent_a, got_a = tcp_transfer(lab, a.host, b.host, "10.9.0.2", 10_000_000, port=5002, timeout=flood_s)
    transfers_done = flood.alive()
    pinger.wait(timeout=flood_s + 5)
    sent, secs, rate = flood_stats(flood)
    time.sleep(1.5)     # tcpdump hands packets over in blocks, up to 1 s late
    cap.stop()

    tx, rx = ping_counts(pinger.log_text())
    kinds, ndst, mismatched = server_replies(cap, lab.addr(a.host))
    cookies = kinds[(3, 64)]
    print(f"\nsaturating flood: {sent} initiations in {secs:.1f} s ({rate:.0f}/s); {cookies} cookie replies "
          f"to {ndst} source endpoints; tunnel pings {rx}/{tx}")

    # The established tunnel kept carrying data: the transfers completed
    # intact while the flood ran, and at most 5 % of the pings were lost
    # (without a flood the same transfers cost 0-1 of the 180 pings; with
    # it, on 2 busy cores, 0-4).
    assert sent_b == got_b and sent_a == got_a
    assert transfers_done, "the flood ended before the transfers did: inconclusive"
    assert rx >= tx * 0.95, pinger.log_text()
    # The flood was answered with cookie replies, not handshake responses, each
    # addressed to the spoofed source and naming the initiation's sender index.
    assert set(kinds) == {(3, 64)}, f"server sent other things than cookie replies: {kinds}"
    assert cookies >= sent // 5, f"only {cookies} cookie replies for {sent} initiations"
    assert ndst >= cookies * 0.9 and mismatched == 0
    # No garbage completed a handshake: still just the real peer, whose
    # session was not renegotiated.
    peers = a.dump()
    assert set(peers) == {b.pub} and peers[b.pub]["handshake"] == hs_before
    assert a.proc.alive(), a.proc.log_text()[-3000:]


def _join(lab, a, b, timeout=20):
    """Gives the client b the server's endpoint and pings through: returns
    (seconds until b's handshake, b's handshake messages on its link)."""
    cap = lab.capture(b.host, "eth0", f"udp and host {lab.addr(a.host)}")
    t0 = time.monotonic()
    b.wg("set", "wg0", "peer", a.pub, "endpoint", f"{lab.addr(a.host)}:{SERVER_PORT}")
    pinger = lab.spawn(b.host, ["ping", "-n", "-q", "-i", "0.2", "-W", "1", "-w", str(timeout), "10.9.0.1"],
                       name="ping-join")
    hs = wait_handshake(b, a.pub, timeout=timeout)
    took = time.monotonic() - t0
    pinger.stop()
    assert hs, f"no handshake within {timeout} s under load:\n{b.proc.log_text()[-3000:]}"
    # tcpdump hands packets over in blocks (up to 1 s late): wait for the response.
    deadline = time.monotonic() + 5
    while not any(m[0] == "response" for m in handshake_messages(cap, lab.addr(b.host))) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    cap.stop()
    return took, handshake_messages(cap, lab.addr(b.host))


@pytest.mark.lab(hosts=["node-a", "client-1"], extra=[ATTACKER])
@pytest.mark.parametrize("client_impl", ["wireguard-go", "pharos"])
def test_new_client_under_load_gets_a_cookie_then_handshakes_with_mac2(lab, client_impl):
    """While a paced flood keeps the server under load, a new client's
    initiation (mac2 = 0) is answered with a cookie reply naming its sender
    index, not with a response; the client's retransmission 5 s later
    carries mac2 = MAC(cookie, msg[0:132]) and is answered with a response."""
    a, b = pair(lab, "pharos", client_impl, psk=False, a_endpoint=False, b_endpoint=False,
                b_env={"LOG_LEVEL": "error"} if client_impl == "wireguard-go" else None)
    flood, rate = start_paced_flood(lab, a, 50)
    time.sleep(0.5)

    took, seq = _join(lab, a, b)
    inits = [m for m in seq if m[0] == "init"]
    answered = [m for m in inits if ("response", m[1]) in seq]
    if any(not m[2] for m in answered):
        # Under load lapses for a few ms when the queue stays short for a
        # whole second; an initiation that arrives then is answered directly.
        # Inconclusive: start the client over once.
        print(f"\nserver was not under load for {seq}: once more")
        b.wg("set", "wg0", "peer", a.pub, "remove")
        b.add_peer(a.pub, "10.9.0.1/32,fd86::1/128")
        took, seq = _join(lab, a, b)
        inits = [m for m in seq if m[0] == "init"]
        answered = [m for m in inits if ("response", m[1]) in seq]
    still_flooding = flood.alive()
    flood.stop()
    assert still_flooding, "the flood ended before the handshake: inconclusive"
    print(f"\n{client_impl} under a flood of {rate}/s: in after {took:.1f} s; client link: {seq}")

    # Some initiation without mac2 drew a cookie reply naming it...
    cookied = [m for m in inits if not m[2] and ("cookie", m[1]) in seq]
    assert cookied, f"no initiation drew a cookie reply: {seq}"
    first_cookie = seq.index(("cookie", cookied[0][1]))
    # ...every initiation after it carried mac2, none before it did...
    assert all(m[2] == (seq.index(m) > first_cookie) for m in inits), seq
    # ...and only initiations with (a valid) mac2 were answered with a response.
    assert answered and all(m[2] for m in answered), f"an initiation without mac2 was answered: {seq}"
    assert lab.ping(b.host, "10.9.0.1", count=2, timeout=3)
    assert a.dump()[b.pub]["handshake"]


@pytest.mark.lab(hosts=["node-a", "client-1"], extra=[ATTACKER])
def test_timers_and_uapi_keep_running_during_a_saturating_flood(lab):
    """The control thread that answers handshakes also runs the timers and
    serves `wg`: a flood it cannot keep up with must not starve them. With
    protocol timers scaled by 0.05 the server, initiator of the session,
    must rekey (REKEY_AFTER_TIME = 6 s) during a 12 s flood, and `wg show`
    must answer promptly throughout."""
    a, b = pair(lab, "pharos", "wireguard-go", a_env={"PHAROS_AWG_TIMER_SCALE": "0.05"},
                b_env={"LOG_LEVEL": "error"}, b_endpoint=False)
    assert lab.ping(a.host, "10.9.0.2", count=2, timeout=3), "tunnel did not come up"
    hs0 = a.dump()[b.pub]["handshake"]
    flood_s = 12
    flood = start_flood(lab, a, flood_s)
    pinger = lab.spawn(a.host, ["ping", "-n", "-q", "-i", "0.1", "-W", "1", "-c", str((flood_s - 1) * 10),
                                "10.9.0.2"], name="ping-during-flood")
    slowest, rekeyed_during_flood, polls = 0.0, False, 0
    while flood.alive():
        t = time.monotonic()
        out = lab.run(a.host, ["wg", "show", "wg0", "latest-handshakes"], timeout=30).stdout
        slowest = max(slowest, time.monotonic() - t)
        polls += 1
        if flood.alive() and int(out.split()[1]) > hs0:
            rekeyed_during_flood = True
        time.sleep(0.5)
    sent, secs, rate = flood_stats(flood)
    pinger.wait(timeout=10)
    tx, rx = ping_counts(pinger.log_text())
    print(f"\nflood {rate:.0f}/s for {secs:.1f} s: slowest of {polls} `wg show` {slowest:.2f} s; "
          f"rekeyed during the flood: {rekeyed_during_flood}; pings {rx}/{tx}")
    assert slowest < 2, f"`wg show` took {slowest:.1f} s during the flood"
    assert rekeyed_during_flood, "no rekey during the flood: the timers did not run"
    assert rx >= tx * 0.95, pinger.log_text()
