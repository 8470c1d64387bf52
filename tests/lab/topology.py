"""The lab's topology as data, and the ip(8)/nft(8) input that builds it.

The drawing and the address table are at the top of lab.py.  This module runs
no command: it describes hosts (HostSpec), checks a topology for mistakes, and
turns it into lines for `ip -batch` and an nft ruleset, which lab.py feeds to
the tools.  Keeping the plan apart from the doing means a newcomer can read the
whole network in one place, and a mistake in an extra host is reported with
the offending value before any namespace exists.

Host kinds:
  router   the "public internet" router; exactly one, named `inet`.  It
           answers as 192.0.2.1 / fe80::1 on every link and has an
           `unreachable` default route, so nothing it forwards leaves the lab.
  public   a host on its own point-to-point veth to `inet`, with /32 and /128
           addresses inside the documentation ranges.
  nat      a home router: a public WAN address like a public host, plus a LAN
           bridge (`lan0`) with a private subnet, masquerade out and no new
           connections in.
  private  a host on a nat router's LAN bridge, default route via that router.
"""

import ipaddress
import re
from dataclasses import dataclass

ROUTER = "inet"
PUBLIC_V4 = tuple(ipaddress.ip_network(n) for n in
                  ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
PUBLIC_V6 = (ipaddress.ip_network("2001:db8::/32"),)
GATEWAY_V4 = "192.0.2.1"          # on the router's lo, answered on every link
GATEWAY_V6 = "2001:db8::1"        # router's global v6 source for ICMP errors
GATEWAY_LL = "fe80::1"            # on every router link; hosts' v6 next hop
HOST_IF = "eth0"                  # every host's uplink, whatever its kind
LAN_BRIDGE = "lan0"               # the LAN side of a nat router
KINDS = ("router", "public", "nat", "private")

# Interface names on the router (and on a nat router's bridge) are host names,
# so a host name must be a valid interface name (IFNAMSIZ 16) and must not
# clash with the names the lab itself uses.
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
_RESERVED = {"lo", HOST_IF, LAN_BRIDGE}


class TopologyError(ValueError):
    """A host list or HostSpec that cannot be built; the message quotes it."""


@dataclass(frozen=True)
class HostSpec:
    """One host of the lab.

    name   host name, also its hostname inside the lab and the name of its
           interface on the router it hangs off.
    kind   one of KINDS.
    addrs  addresses without prefix length; public and nat hosts get them as
           /32 or /128, private hosts with the prefix of their router's LAN.
    lan    nat only: the router's LAN interface address, e.g. "192.168.77.1/24".
    via    private only: the name of the nat router whose LAN the host is on.
    """
    name: str
    kind: str = "public"
    addrs: tuple = ()
    lan: str | None = None
    via: str | None = None

    def addresses(self, family=None):
        """Addresses of this host, optionally only IPv4 (4) or IPv6 (6)."""
        out = []
        for a in self.addrs:
            ip = ipaddress.ip_address(a)
            if family is None or ip.version == family:
                out.append(str(ip))
        return out

    def to_json(self):
        return {"name": self.name, "kind": self.kind, "addrs": list(self.addrs),
                "lan": self.lan, "via": self.via}

    @classmethod
    def from_json(cls, d):
        return cls(d["name"], d["kind"], tuple(d["addrs"]), d.get("lan"),
                   d.get("via"))


DEFAULT_HOSTS = (
    HostSpec("inet", "router", (GATEWAY_V4, GATEWAY_V6)),
    HostSpec("www", "public", ("192.0.2.80", "2001:db8:80::80")),
    HostSpec("home", "nat", ("203.0.113.2",), lan="192.168.77.1/24"),
    HostSpec("ctl", "private", ("192.168.77.10",), via="home"),
    HostSpec("node-a", "public", ("198.51.100.10", "198.51.100.11",
                                  "2001:db8:a::10", "2001:db8:a::11")),
    HostSpec("node-b", "public", ("198.51.100.20", "2001:db8:b::20")),
    HostSpec("node-c", "public", ("198.51.100.30",)),
    HostSpec("relay", "public", ("198.51.100.40",)),
    HostSpec("client-1", "public", ("203.0.113.101", "2001:db8:c1::101")),
    HostSpec("client-2", "public", ("203.0.113.102",)),
)

_KIND_ORDER = {k: i for i, k in enumerate(KINDS)}


def resolve(hosts=None, extra=()):
    """Return {name: HostSpec} for a lab, routers first.

    hosts  None for the whole default topology, or names from DEFAULT_HOSTS;
           the routers a host needs (inet, its nat router) are added.
    extra  further HostSpec objects, always included.
    Raises TopologyError naming the bad input and what would be valid.
    """
    table = {h.name: h for h in DEFAULT_HOSTS}
    for h in extra:
        if not isinstance(h, HostSpec):
            raise TopologyError(f"extra host {h!r} is not a HostSpec")
        if h.name in table:
            raise TopologyError(f"extra host {h.name!r} is already a host of "
                                f"the default topology")
        table[h.name] = h
    if hosts is None:
        wanted = list(table)
    else:
        if isinstance(hosts, str):
            raise TopologyError(f"hosts must be a list of names, not the "
                                f"string {hosts!r}")
        wanted = list(hosts) + [h.name for h in extra]
    chosen = {}
    pending = list(wanted)
    while pending:
        name = pending.pop(0)
        if name in chosen:
            continue
        if name not in table:
            raise TopologyError(f"unknown host {name!r}; valid hosts: "
                                f"{', '.join(sorted(table))}")
        spec = table[name]
        chosen[name] = spec
        if spec.kind in ("public", "nat"):
            pending.append(ROUTER)
        elif spec.kind == "private" and spec.via:
            pending.append(spec.via)
    specs = dict(sorted(chosen.items(),
                        key=lambda kv: (_KIND_ORDER.get(kv[1].kind, 9),
                                        wanted.index(kv[0])
                                        if kv[0] in wanted else -1)))
    validate(specs)
    return specs


def _in(ip, nets):
    return any(ip in n for n in nets)


def validate(specs):
    """Check a resolved topology; raise TopologyError on the first mistake."""
    seen = {}
    routers = [s.name for s in specs.values() if s.kind == "router"]
    if routers not in ([], [ROUTER]):
        raise TopologyError(f"the only router must be named {ROUTER!r}, "
                            f"got {routers}")
    for s in specs.values():
        if not _NAME_RE.match(s.name) or s.name in _RESERVED:
            raise TopologyError(
                f"host name {s.name!r} is not valid: use 1-15 characters "
                f"[a-z0-9-] starting with a letter, not one of "
                f"{sorted(_RESERVED)}")
        if s.kind not in KINDS:
            raise TopologyError(f"host {s.name!r} has kind {s.kind!r}; valid "
                                f"kinds: {', '.join(KINDS)}")
        if not s.addrs:
            raise TopologyError(f"host {s.name!r} has no address")
        lan_net = None
        if s.kind == "nat":
            try:
                lan = ipaddress.ip_interface(s.lan or "")
            except ValueError:
                raise TopologyError(f"nat host {s.name!r} needs lan= like "
                                    f"'192.168.77.1/24', got {s.lan!r}")
            if lan.version != 4 or not lan.network.is_private:
                raise TopologyError(f"nat host {s.name!r}: lan {s.lan!r} must "
                                    f"be a private IPv4 subnet")
        if s.kind == "private":
            via = specs.get(s.via)
            if via is None or via.kind != "nat":
                raise TopologyError(f"private host {s.name!r}: via={s.via!r} "
                                    f"must name a nat host")
            lan_net = ipaddress.ip_interface(via.lan).network
        for a in s.addrs:
            try:
                ip = ipaddress.ip_address(a)
            except ValueError:
                raise TopologyError(f"host {s.name!r}: {a!r} is not an IP "
                                    f"address (give it without /prefix)")
            if s.kind == "private":
                if ip not in lan_net:
                    raise TopologyError(f"private host {s.name!r}: {a} is not "
                                        f"inside its LAN {lan_net}")
            elif s.kind != "router":
                nets = PUBLIC_V4 if ip.version == 4 else PUBLIC_V6
                if not _in(ip, nets):
                    raise TopologyError(
                        f"host {s.name!r}: {a} is outside the documentation "
                        f"ranges {', '.join(str(n) for n in nets)}")
                if str(ip) in (GATEWAY_V4, GATEWAY_V6):
                    raise TopologyError(f"host {s.name!r}: {a} is the "
                                        f"router's address")
            if str(ip) in seen:
                raise TopologyError(f"address {a} is used by both "
                                    f"{seen[str(ip)]!r} and {s.name!r}")
            seen[str(ip)] = s.name
        if s.kind == "nat":
            lan_ip = str(ipaddress.ip_interface(s.lan).ip)
            if lan_ip in seen:
                raise TopologyError(f"address {lan_ip} is used by both "
                                    f"{seen[lan_ip]!r} and {s.name!r}")
            seen[lan_ip] = s.name


# --- build plan -------------------------------------------------------------
# Every function below returns text for a tool; `ns` maps a host name to its
# network namespace name.

def sysctls(spec):
    """sysctl settings for a host's namespace, applied before its links exist
    so that `default.*` values reach the veth created next."""
    out = [
        # Addresses must work at once: no duplicate address detection, no
        # router advertisements taken from anyone.
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.all.accept_ra=0",
        "net.ipv6.conf.default.accept_ra=0",
    ]
    if spec.kind in ("router", "nat"):
        out += ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
    if spec.kind == "router":
        # Strict reverse-path filtering, as a careful ISP would do (BCP 38):
        # a host can only send from the addresses the router routes to it.
        out += ["net.ipv4.conf.all.rp_filter=1",
                "net.ipv4.conf.default.rp_filter=1"]
    return out


def netns_lines(specs, ns):
    return [f"netns add {ns(name)}" for name in specs]


def link_lines(specs, ns):
    """veth pairs, each end created directly in its namespace: no interface
    ever exists in the machine's own namespace, even for a moment."""
    out = []
    for s in specs.values():
        if s.kind in ("public", "nat"):
            up = ROUTER
        elif s.kind == "private":
            up = s.via
        else:
            continue
        out.append(f"link add {s.name} netns {ns(up)} type veth "
                   f"peer name {HOST_IF} netns {ns(s.name)}")
    return out


def _uplink_routes(spec, default_route):
    """Routes of a public or nat host towards the router."""
    v4, v6 = spec.addresses(4), spec.addresses(6)
    out = []
    if v4:
        if default_route:
            out.append(f"route add default via {GATEWAY_V4} dev {HOST_IF} "
                       f"onlink")
        else:
            out += [f"route add {n} via {GATEWAY_V4} dev {HOST_IF} onlink"
                    for n in PUBLIC_V4]
    if v6:
        if default_route:
            out.append(f"route add ::/0 via {GATEWAY_LL} dev {HOST_IF}")
        else:
            out += [f"route add {n} via {GATEWAY_LL} dev {HOST_IF}"
                    for n in PUBLIC_V6]
    if not default_route:
        out += ["route add unreachable 0.0.0.0/0", "route add unreachable ::/0"]
    return out


def config_lines(spec, specs, default_route=False):
    """`ip -batch` lines run inside the host's own namespace."""
    out = ["link set lo up"]
    if spec.kind == "router":
        for a in spec.addresses(4):
            out.append(f"addr add {a}/32 dev lo")
        for a in spec.addresses(6):
            out.append(f"addr add {a}/128 dev lo")
        for h in specs.values():
            if h.kind not in ("public", "nat"):
                continue
            out += [f"link set {h.name} up",
                    f"addr add {GATEWAY_LL}/64 dev {h.name} nodad"]
            for a in h.addresses(4):
                out.append(f"route add {a}/32 dev {h.name}")
            for a in h.addresses(6):
                out.append(f"route add {a}/128 dev {h.name}")
        # Everything that is not a lab host ends here, with an ICMP error
        # back to the sender; no packet is ever sent onwards.
        out += ["route add unreachable 0.0.0.0/0", "route add unreachable ::/0"]
        return out
    out.append(f"link set {HOST_IF} up")
    if spec.kind in ("public", "nat"):
        for a in spec.addresses(4):
            out.append(f"addr add {a}/32 dev {HOST_IF}")
        for a in spec.addresses(6):
            out.append(f"addr add {a}/128 dev {HOST_IF} nodad")
        out += _uplink_routes(spec, default_route)
    if spec.kind == "nat":
        out += [f"link add {LAN_BRIDGE} type bridge",
                f"link set {LAN_BRIDGE} up",
                f"addr add {spec.lan} dev {LAN_BRIDGE}"]
        for h in specs.values():
            if h.kind == "private" and h.via == spec.name:
                out += [f"link set {h.name} master {LAN_BRIDGE}",
                        f"link set {h.name} up"]
    if spec.kind == "private":
        via = specs[spec.via]
        plen = ipaddress.ip_interface(via.lan).network.prefixlen
        gw = ipaddress.ip_interface(via.lan).ip
        for a in spec.addresses(4):
            out.append(f"addr add {a}/{plen} dev {HOST_IF}")
        out += [f"route add default via {gw} dev {HOST_IF}",
                "route add unreachable ::/0"]
    return out


def nft_ruleset(spec):
    """nftables for a nat router: masquerade LAN traffic leaving by the WAN,
    forward only LAN-originated connections, accept nothing new from the WAN
    but ICMP.  None for hosts that are not nat routers."""
    if spec.kind != "nat":
        return None
    return f"""\
table inet pharos_lab {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{HOST_IF}" meta nfproto ipv4 masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "{LAN_BRIDGE}" oifname "{HOST_IF}" accept
        iifname "{LAN_BRIDGE}" oifname "{LAN_BRIDGE}" accept
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname != "{HOST_IF}" accept
        ct state established,related accept
        meta l4proto {{ icmp, ipv6-icmp }} accept
        drop
    }}
}}
"""


def hosts_file(specs):
    """/etc/hosts for every host of the lab: each host name maps to its first
    IPv4 and first IPv6 address, so `ssh root@node-a` works inside the lab."""
    lines = ["# /etc/hosts of a PharosVPN test lab (tests/lab)",
             "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost"]
    for s in specs.values():
        for fam in (4, 6):
            a = s.addresses(fam)
            if a:
                lines.append(f"{a[0]}\t{s.name}")
    return "\n".join(lines) + "\n"
