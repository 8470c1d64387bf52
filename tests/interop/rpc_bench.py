"""gRPC layer benchmark on loopback over mutual TLS (make rpc-bench):
unary calls/s over one connection of one client from 1, 4 and 16 threads,
and a server stream of N messages to 3 concurrent subscribers (messages/s,
loss). Targets (DESIGN.md §5.1 work item): >= 5,000 unary calls/s over one
mTLS connection; 10,000 stream messages/s to 3 subscribers without loss.

    python3 tests/interop/rpc_bench.py --tools DIR [--seconds S] [--messages N]
"""
import argparse
import os
import signal
import subprocess
import tempfile


def sh(*cmd, **kw):
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, **kw)


def make_pki(d):
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/ca.key")
    sh("openssl", "req", "-x509", "-new", "-key", f"{d}/ca.key", "-subj", "/CN=Bench CA", "-days", "1",
       "-out", f"{d}/ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign")
    for name, eku, san in (("server", "serverAuth", "IP:127.0.0.1"), ("client", "clientAuth", None)):
        sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{d}/{name}.key")
        sh("openssl", "req", "-new", "-key", f"{d}/{name}.key", "-subj", f"/CN={name}", "-out", f"{d}/{name}.csr")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(f"extendedKeyUsage={eku}\n" + (f"subjectAltName={san}\n" if san else ""))
        sh("openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
           "-CAcreateserial", "-days", "1", "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--messages", type=int, default=100000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        make_pki(d)
        srv = subprocess.Popen([f"{args.tools}/rpc-echo-server", "--listen", "127.0.0.1:0", "--cert",
                                f"{d}/server.pem", "--key", f"{d}/server.key", "--ca", f"{d}/ca.pem"],
                               stdout=subprocess.PIPE, text=True)
        port = int(srv.stdout.readline().split()[1])
        client = [f"{args.tools}/rpc-echo-client", "--target", f"127.0.0.1:{port}", "--cert",
                  f"{d}/client.pem", "--key", f"{d}/client.key", "--ca", f"{d}/ca.pem"]
        try:
            for threads in (1, 4, 16):
                out = subprocess.run(client + ["bench-unary", str(args.seconds), str(threads)],
                                     capture_output=True, text=True).stdout.strip()
                print(out, flush=True)
            out = subprocess.run(client + ["bench-stream", str(args.messages), "3", "64"],
                                 capture_output=True, text=True).stdout.strip()
            print(out, flush=True)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(10)


if __name__ == "__main__":
    main()
