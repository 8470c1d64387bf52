"""A controller stand-in: calls pharos-node's NodeControl with Python grpcio.

    python3 node_ctl.py --pb DIR --addr IP:PORT --ca ROOT --cert CRT --key KEY CALL [JSON]
    python3 node_ctl.py ... watch SECONDS           (prints one JSON event per line)

Prints the response as JSON, or `error CODE message` and exits 3.
"""
import argparse
import json
import sys
import time

import grpc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pb", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("call")
    ap.add_argument("arg", nargs="?", default="{}")
    a = ap.parse_args()
    sys.path.insert(0, a.pb)
    from google.protobuf import json_format
    from pharos.node.v1 import control_pb2 as pb, control_pb2_grpc as rpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=open(a.ca, "rb").read(),
        private_key=open(a.key, "rb").read() if a.key else None,
        certificate_chain=open(a.cert, "rb").read() if a.cert else None)
    ch = grpc.secure_channel(a.addr, creds)
    node = rpc.NodeControlStub(ch)
    try:
        if a.call == "watch":
            end = time.monotonic() + float(a.arg)
            stream = node.WatchEvents(pb.WatchEventsRequest(), timeout=float(a.arg))
            try:
                for ev in stream:
                    print(json.dumps(json_format.MessageToDict(ev, preserving_proto_field_name=True)), flush=True)
                    if time.monotonic() > end:
                        break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            return 0
        req_type = {"GetStatus": pb.GetStatusRequest, "GetMetrics": pb.GetMetricsRequest,
                    "PushConfig": pb.PushConfigRequest, "AddPeer": pb.AddPeerRequest,
                    "RemovePeer": pb.RemovePeerRequest, "ListPeers": pb.ListPeersRequest,
                    "RestartService": pb.RestartServiceRequest,
                    "SetNetworkConfig": pb.SetNetworkConfigRequest,
                    "ConfigureInnerLink": pb.ConfigureInnerLinkRequest}[a.call]
        req = json_format.Parse(a.arg, req_type())
        resp = getattr(node, a.call)(req, timeout=a.timeout)
        print(json.dumps(json_format.MessageToDict(resp, preserving_proto_field_name=True)))
        return 0
    except grpc.RpcError as e:
        print("error", e.code().name, e.details())
        return 3


if __name__ == "__main__":
    sys.exit(main())
