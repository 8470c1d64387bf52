"""A deterministic decoy for byte-for-byte probing tests of the REALITY
server (tests/netns/test_reality_server.py).

    python3 det_decoy.py ADDR PORT RECORD_DIR

Per connection it sends a fixed banner at once, then, for every byte it
receives, that byte XOR 0x5a; when the client half-closes it sends
SHA-256 of everything received and closes.  So what a prober gets back is
a pure function of what it sent, however TCP cuts the stream: a prober can
compare, byte for byte, what the decoy says to a direct connection with what
it receives through the REALITY server.  Everything a connection sent is
also written, as it arrives, to RECORD_DIR/conn-N.bin (the test takes a real client's
ClientHello from there to replay it).  Prints "listening" when ready.
"""
import hashlib
import os
import socket
import sys
import threading

BANNER = b"DECOY-BANNER deterministic lab site v1\r\n" + bytes(range(256)) * 4


def serve(conn, path):
    got = bytearray()
    with open(path, "wb") as rec:
        try:
            conn.sendall(BANNER)
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                got += b
                rec.write(b)
                rec.flush()
                conn.sendall(bytes(x ^ 0x5A for x in b))
            conn.sendall(hashlib.sha256(bytes(got)).digest())
        except OSError:
            pass
        finally:
            conn.close()


def main():
    addr, port, rec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(rec, exist_ok=True)
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    print("listening", flush=True)
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        threading.Thread(target=serve, args=(c, os.path.join(rec, f"conn-{n}.bin")),
                         daemon=True).start()


if __name__ == "__main__":
    main()
