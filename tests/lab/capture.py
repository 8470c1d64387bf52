"""Packet capture on a lab host: tcpdump writing a pcap in the lab directory.

    with lab.capture("node-a", "eth0", "udp port 51820") as cap:
        ...                      # traffic
        cap.wait_for(4)          # at least 4 matching packets seen
    assert all("51820" in line for line in cap.packets())

The capture starts when Lab.capture returns (the `with` only stops it), and
only returns once tcpdump is listening, so nothing sent afterwards is missed.
The pcap stays readable after the capture stops, until the lab is torn down.
"""

import signal
import subprocess
import time


class Capture:
    def __init__(self, lab, host, iface, bpf_filter, pcap_path, name):
        self.host = host
        self.iface = iface
        self.filter = bpf_filter
        self.path = pcap_path
        argv = ["tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-Z", "root",
                "-w", pcap_path]
        if bpf_filter:
            argv.append(bpf_filter)
        self._proc = lab.spawn(host, argv, name=name)
        try:
            self._proc.wait_log(r"listening on", timeout=10)
        except BaseException:
            self._proc.kill()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def running(self):
        return self._proc.alive()

    def stop(self):
        """Stop tcpdump; it flushes the pcap on SIGINT.  Idempotent."""
        self._proc.stop(signal.SIGINT, timeout=5)

    def packets(self):
        """One line per captured packet, as printed by `tcpdump -r -nn -tt`
        (e.g. '1700000000.123456 IP 203.0.113.101 > 198.51.100.10: ICMP echo
        request, ...').  May be called while the capture runs."""
        r = subprocess.run(["tcpdump", "-r", self.path, "-nn", "-tt"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, check=False)
        # While tcpdump still writes, the last record may be cut short and
        # tcpdump -r complains ("truncated dump file"); the packets before it
        # are still good.
        if r.returncode != 0 and not r.stdout and "truncated" not in r.stderr:
            raise RuntimeError(f"tcpdump -r {self.path} failed: {r.stderr}")
        return [line for line in r.stdout.splitlines() if line.strip()]

    def count(self):
        return len(self.packets())

    def wait_for(self, n, timeout=10.0):
        """Wait until at least n packets have been captured; returns the
        packet lines, or raises TimeoutError listing what was seen."""
        deadline = time.monotonic() + timeout
        while True:
            pkts = self.packets()
            if len(pkts) >= n:
                return pkts
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"capture on {self.host}:{self.iface} ({self.filter!r}) "
                    f"saw {len(pkts)} packets, wanted {n}:\n" + "\n".join(pkts))
            time.sleep(0.05)
