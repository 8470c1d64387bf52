"""Services the lab runs on its hosts for tests: OpenSSH's sshd (and an ssh
client that checks host keys strictly), and the web server standing in for
the internet (httpd.py).  A mix-in of Lab: the methods use its run, spawn,
path and addresses, and are called as lab.start_sshd(...) and so on.

Files live in the lab directory, not in a host's private directories, so
tests cannot trip over them: <lab>/sshd/<host>/ holds the host key, the
generated sshd_config and known_hosts files; <lab>/www/ is the web root.
"""

import ipaddress
import os
import re
import shlex
import subprocess
import sys

_HTTPD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "httpd.py")


class Services:
    def start_web(self, host="www", port=80):
        """Start the lab web server (tests/lab/httpd.py) on host; returns its
        Proc once it listens on all of host's addresses.  It logs every
        client address (web_clients()); GET / answers with the address the
        server saw; other paths are served from <lab>/www/."""
        p = self.spawn(host, [sys.executable, _HTTPD, str(port),
                              os.path.join(self.dir, "www")],
                       name=f"httpd-{port}")
        p.wait_log(r"^listening ", timeout=10)
        return p

    def web_clients(self, host="www", port=80):
        """Client addresses the web server on host:port has seen, in order."""
        p = self.proc(f"httpd-{port}", host)
        return re.findall(r"^client=(\S+) port=\d+ method=", p.log_text(),
                          re.M)

    def site_cert(self, name, d):
        """A lab CA and a P-256 server certificate for name (serverAuth, the
        name as its DNS SAN), made with openssl into directory d. Returns
        (ca_cert_path, cert_path, key_path)."""
        os.makedirs(d, exist_ok=True)
        ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
        key, csr = os.path.join(d, "site.key"), os.path.join(d, "site.csr")
        cert, ext = os.path.join(d, "site.pem"), os.path.join(d, "site.ext")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        quiet = {"check": True, "stdout": subprocess.DEVNULL,
                 "stderr": subprocess.DEVNULL}
        subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", ca_key,
                        "-out", ca, "-days", "2", "-subj",
                        f"/CN=Pharos lab CA {self.id}"], **quiet)
        subprocess.run(["openssl", "req", *ec, "-keyout", key, "-out", csr,
                        "-subj", f"/CN={name}"], **quiet)
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:{name}\n"
                    "extendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca,
                        "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                        "-extfile", ext, "-out", cert], **quiet)
        return ca, cert, key

    def start_decoy(self, host="www", name="www.decoy.test", port=443,
                    page=None):
        """Start a real TLS 1.3 HTTPS site (nginx, HTTP/2 and 1.1) on host:port
        for name, with a P-256 certificate from a lab CA made here with
        openssl; it stands in for the popular site a REALITY server imitates.
        Every path answers with the same fixed page (page, or a default that
        names the site).  Files live in <lab>/decoy/<host>-<port>/.  Returns
        (Proc, ca_cert_path, page_bytes) once the site accepts connections."""
        self._check_usable(host)
        d = os.path.join(self.dir, "decoy", f"{host}-{port}")
        for sub in ("html", "tmp", "logs"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        ca, cert, key = self.site_cert(name, d)
        body = page if page is not None else (
            f"<!doctype html><title>{name}</title><p>Welcome to {name}, "
            "the lab's popular site.</p>\n").encode()
        with open(os.path.join(d, "html", "index.html"), "wb") as f:
            f.write(body)
        listen = [f"listen {a}:{port} ssl http2;" if ":" not in a else
                  f"listen [{a}]:{port} ssl http2;" for a in self.addrs(host)]
        conf = os.path.join(d, "nginx.conf")
        tmp = os.path.join(d, "tmp")
        with open(conf, "w") as f:
            f.write(f"""\
# decoy site {name} for lab host {host} (tests/lab)
user root root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {d}/logs/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/html;
    server {{
        {" ".join(listen)}
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ root {d}/html; try_files /index.html =404; }}
    }}
}}
""")
        p = self.spawn(host, ["nginx", "-p", d, "-c", conf, "-e", "stderr"],
                       name=f"decoy-{port}")
        self.wait_tcp(host, self.addrs(host)[0], port, timeout=10)
        return p, ca, body

    def _sshd_dir(self, host):
        return os.path.join(self.dir, "sshd", host)

    def start_sshd(self, host, authorized_key=None, port=22, timeout=10.0):
        """Start OpenSSH's sshd on host (root login by key only, password
        and keyboard-interactive off, no PAM) with a host key of its own.
        authorized_key (a line or a list of lines) is added to root's
        authorized_keys in host's private /root/.ssh.  Returns the host key
        fingerprint ('SHA256:...') once sshd accepts connections."""
        self._check_usable(host)
        d = self._sshd_dir(host)
        os.makedirs(d, exist_ok=True)
        key = os.path.join(d, "ssh_host_ed25519_key")
        if not os.path.exists(key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", f"{host}.{self.id}", "-f", key],
                           check=True, stdout=subprocess.DEVNULL)
        if authorized_key:
            keys = ([authorized_key] if isinstance(authorized_key, str)
                    else list(authorized_key))
            ak = self.path(host, "/root/.ssh/authorized_keys")
            fd = os.open(ak, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as f:
                for k in keys:
                    f.write(k.strip() + "\n")
        config = os.path.join(d, f"sshd_config.{port}")
        with open(config, "w") as f:
            f.write(f"""\
# sshd for lab host {host} (tests/lab)
Port {port}
HostKey {key}
PidFile {os.path.join(d, f"sshd.{port}.pid")}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
MaxStartups 64
Subsystem sftp internal-sftp
""")
        # Debian's sshd insists on its privilege separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        p = self.spawn(host, ["/usr/sbin/sshd", "-D", "-e", "-f", config],
                       name="sshd" if port == 22 else f"sshd-{port}")
        p.wait_log(r"Server listening on", timeout=timeout)
        self.wait_tcp(host, self.addrs(host)[0], port, timeout=timeout)
        return self.ssh_fingerprint(host)

    def ssh_host_key(self, host):
        """host's sshd public host key line ('ssh-ed25519 AAAA... comment')."""
        with open(os.path.join(self._sshd_dir(host),
                               "ssh_host_ed25519_key.pub")) as f:
            return f.read().strip()

    def ssh_fingerprint(self, host):
        r = subprocess.run(["ssh-keygen", "-l", "-f",
                            os.path.join(self._sshd_dir(host),
                                         "ssh_host_ed25519_key.pub")],
                           check=True, stdout=subprocess.PIPE, text=True)
        return r.stdout.split()[1]

    def known_hosts_line(self, host, port=22):
        """A known_hosts line for host's sshd under its name and all its
        addresses."""
        names = [host] + self.addrs(host)
        if port != 22:
            names = [f"[{n}]:{port}" for n in names]
        keytype, blob = self.ssh_host_key(host).split()[:2]
        return f"{','.join(names)} {keytype} {blob}"

    def ssh_keygen(self, host, path="/root/.ssh/id_ed25519"):
        """Create (once) an ed25519 key pair at path on host; returns the
        public key line."""
        real = self.path(host, path)
        if not os.path.exists(real):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", f"root@{host}.{self.id}", "-f", real],
                           check=True, stdout=subprocess.DEVNULL)
        with open(real + ".pub") as f:
            return f.read().strip()

    def ssh(self, src, dst, command, *, user="root", port=22, check=True,
            timeout=30.0, input=None, options=()):
        """Run command over ssh from host src to host dst's sshd, checking
        dst's host key strictly against the key start_sshd generated.  dst
        is a host name or one of its addresses; src's default identity is
        its /root/.ssh/id_* (see ssh_keygen)."""
        try:
            ipaddress.ip_address(dst)
            target_host = next(h for h in self.specs
                               if dst in self.specs[h].addresses())
            target = dst
        except ValueError:
            target_host = target = dst
        except StopIteration:
            raise ValueError(f"{dst} is not an address of any lab host") from None
        kh = os.path.join(self._sshd_dir(target_host), f"known_hosts.{port}")
        with open(kh, "w") as f:
            f.write(self.known_hosts_line(target_host, port) + "\n")
        if not isinstance(command, str):
            command = shlex.join(command)
        argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={kh}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=5", "-p", str(port), *options,
                f"{user}@{target}", command]
        return self.run(src, argv, check=check, timeout=timeout, input=input)
