"""pharos.test.Echo (tests/proto/echo.proto) in Python grpcio, over mutual
TLS: the server our C client calls in tests/netns/test_rpc_interop.py.

    python3 echo_server.py --pb-dir DIR --cert F --key F --ca F

DIR holds echo_pb2.py (protoc --python_out). Prints "listening PORT", then
serves until SIGTERM. Say and Count behave like tests/tools/rpc-echo-server.c
("status:CODE:TEXT" and "meta:KEY" included).
"""
import argparse
import signal
import sys
import threading
from concurrent import futures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pb-dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.pb_dir)
    import grpc
    import echo_pb2

    def say(req, ctx):
        if req.text.startswith("status:"):
            _, code, text = req.text.split(":", 2)
            ctx.abort(next(c for c in grpc.StatusCode if c.value[0] == int(code)), text)
        if req.text.startswith("meta:"):
            key = req.text[5:]
            for k, v in ctx.invocation_metadata():
                if k == key:
                    text = v.hex() if isinstance(v, bytes) else v
                    return echo_pb2.Msg(text=text, seq=req.seq)
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no metadata " + key)
        if req.text == "peer":
            cn = ctx.auth_context().get("x509_common_name", [b"(none)"])[0].decode()
            return echo_pb2.Msg(text=cn, seq=req.seq)
        return req

    def count(req, ctx):
        blob = b"\x5a" * req.size
        for i in range(req.n):
            yield echo_pb2.Msg(text="msg %d" % i, blob=blob, seq=i)

    handler = grpc.method_handlers_generic_handler("pharos.test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(
            say, request_deserializer=echo_pb2.Msg.FromString,
            response_serializer=echo_pb2.Msg.SerializeToString),
        "Count": grpc.unary_stream_rpc_method_handler(
            count, request_deserializer=echo_pb2.CountReq.FromString,
            response_serializer=echo_pb2.Msg.SerializeToString),
    })
    read = lambda p: open(p, "rb").read()
    creds = grpc.ssl_server_credentials(
        [(read(args.key), read(args.cert))], root_certificates=read(args.ca),
        require_client_auth=True)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    print("listening %d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stop.wait()
    server.stop(2).wait()


if __name__ == "__main__":
    main()
