"""The lab's web server, standing in for "a site on the internet".

Run by Lab.start_web on the `www` host:  python3 httpd.py PORT DOCROOT

It listens on every IPv4 and IPv6 address of its host (two sockets, IPv6 ones
v6-only so IPv4 clients are never shown as ::ffff:a.b.c.d) and writes one
line per request to stdout:

    client=203.0.113.2 port=40112 method=GET path=/ status=200

so a test can assert which source address reached the site (for example the
NAT router's public address, or a VPN exit node's).  GET / and GET /ip answer
with the client address itself, like an "what is my IP" service; any other
path is served from DOCROOT.
"""

import functools
import http.server
import socket
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "pharos-lab-www/1"

    def do_GET(self):
        if self.path in ("/", "/ip"):
            body = f"{self.client_address[0]}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/bytes/") and self.path[7:].isdigit():
            # N bytes (at most 256 MB) of a fixed pattern, for transfers.
            n = min(int(self.path[7:]), 256 << 20)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = bytes(range(256)) * 256
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= len(chunk)
            return
        super().do_GET()

    def log_request(self, code="-", size="-"):
        host, port = self.client_address[:2]
        print(f"client={host} port={port} method={self.command} "
              f"path={self.path} "
              f"status={int(code) if isinstance(code, int) else code}",
              flush=True)

    def log_message(self, fmt, *args):
        print(f"client={self.client_address[0]} note={fmt % args}",
              file=sys.stderr, flush=True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def main(argv):
    if len(argv) != 3:
        print("usage: httpd.py PORT DOCROOT", file=sys.stderr)
        return 2
    port, root = int(argv[1]), argv[2]
    handler = functools.partial(Handler, directory=root)
    v4 = Server(("0.0.0.0", port), handler)
    servers = [v4]
    try:
        servers.append(Server6(("::", port), handler))
    except OSError as e:
        print(f"no IPv6 listener: {e}", file=sys.stderr, flush=True)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"listening port={port} root={root}", flush=True)
    try:
        v4.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
