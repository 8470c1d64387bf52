"""The controller side of bench/node-bench: grpcio over mutual TLS to
pharos-node, run on the lab's controller host.

    nodebench_ctl.py COMMON push PEERS_JSON REVISION   one PushConfig, timed
    nodebench_ctl.py COMMON metrics OUT_JSON           GetMetrics: per peer handshake time, rx bytes
    nodebench_ctl.py COMMON watch SECONDS              one WatchEvents subscriber: counts per type
    COMMON = --pb DIR --addr IP:PORT --ca ROOT --cert CRT --key KEY

Prints one JSON line.
"""
import argparse
import json
import sys
import time

import grpc

OPTS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


def main():
    ap = argparse.ArgumentParser()
    for a in ("--pb", "--addr", "--ca", "--cert", "--key"):
        ap.add_argument(a, required=True)
    ap.add_argument("cmd")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    sys.path.insert(0, a.pb)
    from pharos.node.v1 import control_pb2 as pb, control_pb2_grpc as rpc

    creds = grpc.ssl_channel_credentials(open(a.ca, "rb").read(), open(a.key, "rb").read(),
                                         open(a.cert, "rb").read())
    node = rpc.NodeControlStub(grpc.secure_channel(a.addr, creds, options=OPTS))
    node.GetStatus(pb.GetStatusRequest(), timeout=10)  # connection and TLS up before timing
    if a.cmd == "push":
        with open(a.args[0]) as f:
            peers = json.load(f)
        req = pb.PushConfigRequest(protocol=pb.PROTOCOL_AMNEZIAWG, revision=int(a.args[1]))
        for p in peers:
            req.amneziawg.peers.add(id=p["id"], protocol=pb.PROTOCOL_AMNEZIAWG, public_key=p["pub"],
                                    preshared_key=p["psk"], allowed_ips=[p["ip"]])
        raw = req.SerializeToString()
        t0 = time.monotonic()
        r = node.PushConfig(req, timeout=60)
        el = time.monotonic() - t0
        print(json.dumps({"seconds": el, "applied_revision": r.applied_revision, "reloaded": r.reloaded,
                          "request_bytes": len(raw)}))
    elif a.cmd == "metrics":
        t0 = time.monotonic()
        m = node.GetMetrics(pb.GetMetricsRequest(), timeout=60)
        el = time.monotonic() - t0
        out = {p.public_key: [p.last_handshake_unix_ms, p.rx_bytes] for p in m.peers}
        with open(a.args[0], "w") as f:
            json.dump(out, f)
        print(json.dumps({"peers": len(out), "seconds": el}))
    elif a.cmd == "watch":
        counts, dropped, first, last = {}, 0, None, None
        end = time.monotonic() + float(a.args[0])
        print(json.dumps({"subscribed": True}), flush=True)
        try:
            for ev in node.WatchEvents(pb.WatchEventsRequest(), timeout=float(a.args[0])):
                name = pb.EventType.Name(ev.type)
                counts[name] = counts.get(name, 0) + 1
                dropped += ev.dropped_before
                now = time.monotonic()
                first = first or now
                last = now
                if now > end:
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        span = (last - first) if first and last and last > first else 0
        print(json.dumps({"counts": counts, "dropped_before": dropped, "span_s": span}), flush=True)
    else:
        sys.exit(f"unknown command {a.cmd!r}")


if __name__ == "__main__":
    main()
