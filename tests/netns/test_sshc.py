"""The controller's SSH side (src/sshc) against OpenSSH's real sshd, through
the test tool pharos-sshc (tests/tools/pharos-sshc.c).

    ctl (192.168.77.10, behind home's NAT)
        | pharos-sshc: libssh client, outbound only
        v
    node-a (198.51.100.10): sshd :22 (root, key only, SFTP)
                            sshd :2222 (the same, without an SFTP subsystem)
                            sshd :2200 (password login for a test user that
                                        exists only in that sshd's private
                                        /etc/passwd and /etc/shadow)
                            pharos-node under the sh supervisor, control :8444

Host keys are pinned on first use into a pin file; a new host key is
refused. The node install is the real one: upload, gen-csr on the node,
signing here with pharos-pki's CA, certificates, supervisor, GetStatus over
mTLS from ctl, kill -9 and restart, stop/start/update/remove, rollback.
"""
import os
import re
import secrets
import shutil
import stat
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("PHAROS_TOOLS", os.path.join(HERE, "..", "..", "build", "asan", "tools"))
BIN = os.environ.get("PHAROS_BIN", os.path.join(HERE, "..", "..", "build", "asan", "bin"))
SSHC = os.path.join(TOOLS, "pharos-sshc")
PKI = os.path.join(TOOLS, "pharos-pki")
NODE = os.path.join(BIN, "pharos-node")
# /usr/local/bin is made private to each lab host, so installing the node
# at its default path never touches the machine's /usr/local/bin.
LAB = dict(hosts=["node-a", "ctl"], private_dirs=["/usr/local/bin"], default_route=True)
TEST_USER, TEST_UID = "pharostest", 4242
TEST_HOME = "/var/lib/pharos/home/pharostest"


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


@pytest.fixture
def ctl(lab, tmp_path):
    """The controller's key (pub line), a pin file, and a runner on ctl."""
    key = str(tmp_path / "ctl_key")
    sh(SSHC, "keygen", key)
    pub = sh(SSHC, "pubkey", key, "--comment", "pharos-cox@ctl").strip()
    os.chmod(tmp_path, 0o755)

    def run(cmd, *args, target="root@198.51.100.10", pins=None, check=True, input=None, timeout=120):
        argv = [SSHC, cmd, target, "--key", key, "--pin-file", pins or str(tmp_path / "pins"), *args]
        r = lab.run("ctl", argv, check=False, input=input, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{cmd} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    return dict(key=key, pub=pub, run=run, tmp=tmp_path, pins=str(tmp_path / "pins"))


def sshd_variant(lab, port, *, sftp=True, extra="", wrapper=None):
    """Another sshd on node-a from the lab's generated config: another port,
    optionally without SFTP, with extra lines; wrapper is sh text run before
    exec (e.g. private bind mounts for this sshd only)."""
    d = os.path.join(lab.dir, "sshd", "node-a")
    base = open(os.path.join(d, "sshd_config.22")).read()
    base = re.sub(r"(?m)^Port .*$", f"Port {port}", base)
    base = re.sub(r"(?m)^PidFile .*$", f"PidFile {d}/sshd.{port}.pid", base)
    if not sftp:
        base = re.sub(r"(?m)^Subsystem .*\n", "", base)
    for line in extra.splitlines():
        key = line.split()[0]
        base = re.sub(rf"(?m)^{key} .*\n", "", base)
    conf = os.path.join(d, f"sshd_config.{port}")
    with open(conf, "w") as f:
        f.write(base + extra)
    cmd = f"exec /usr/sbin/sshd -D -e -f {conf}"
    p = lab.spawn("node-a", ["/bin/sh", "-c", (wrapper or "") + cmd], name=f"sshd-{port}")
    p.wait_log(r"Server listening on", timeout=10)
    lab.wait_tcp("ctl", lab.addr("node-a"), port)
    return p


@pytest.mark.lab(**LAB)
def test_host_key_is_pinned_on_first_use_and_a_new_one_is_refused(lab, ctl):
    # Our key file is OpenSSH's format: ssh-keygen derives the same public key.
    derived = sh("ssh-keygen", "-y", "-f", ctl["key"]).split()[:2]
    assert derived == ctl["pub"].split()[:2]
    assert stat.S_IMODE(os.stat(ctl["key"]).st_mode) == 0o600
    fp = lab.start_sshd("node-a", authorized_key=ctl["pub"])

    r = ctl["run"]("connect")
    assert f"fingerprint={fp}" in r.stdout and "first use" in r.stderr
    assert open(ctl["pins"]).read().strip() == fp
    r = ctl["run"]("connect")
    assert "first use" not in r.stderr

    # Commands: arguments quoted word by word, stdout/stderr/status kept apart.
    r = ctl["run"]("exec", "--", "printf", "%s|", "a b", "it's", "$(id)")
    assert r.stdout == "a b|it's|$(id)|"
    r = ctl["run"]("exec", "--", "echo out; echo err >&2; exit 7", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    t0 = time.monotonic()
    r = ctl["run"]("exec", "--timeout", "2", "--", "sleep 30", check=False)
    assert r.returncode == 1 and "did not finish in time" in r.stderr
    assert time.monotonic() - t0 < 15

    # The host is "reinstalled": sshd comes back with a new host key.
    lab.proc("sshd", "node-a").stop()
    d = os.path.join(lab.dir, "sshd", "node-a")
    for f in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"):
        os.unlink(os.path.join(d, f))
    fp2 = lab.start_sshd("node-a")
    assert fp2 != fp
    r = ctl["run"]("exec", "--", "touch /root/should-not-exist", check=False)
    assert r.returncode == 3, r.stderr
    assert fp in r.stderr and fp2 in r.stderr and "re-pin" in r.stderr
    assert not os.path.exists(lab.path("node-a", "/root/should-not-exist"))
    assert open(ctl["pins"]).read().strip() == fp
    # A pin given on the command line works the same way.
    r = lab.run("ctl", [SSHC, "connect", "root@198.51.100.10", "--key", ctl["key"], "--pin", fp2],
                check=False)
    assert r.returncode == 0 and f"fingerprint={fp2}" in r.stdout


@pytest.mark.lab(**LAB)
def test_uploads_are_atomic_over_sftp_and_over_exec_without_sftp(lab, ctl):
    lab.start_sshd("node-a", authorized_key=ctl["pub"])
    sshd_variant(lab, 2222, sftp=False)
    blob = ctl["tmp"] / "blob"
    data = secrets.token_bytes(300_000)
    blob.write_bytes(data)
    dest_dir = lab.path("node-a", "/var/lib/pharos")
    os.makedirs(dest_dir, exist_ok=True)
    with open(os.path.join(dest_dir, "target"), "w") as f:
        f.write("old contents")

    for port, via, mode in ((22, "sftp", 0o640), (2222, "exec", 0o751)):
        r = ctl["run"]("upload", str(blob), "/var/lib/pharos/target", "--mode", f"{mode:o}",
                       target=f"root@198.51.100.10:{port}", pins=str(ctl["tmp"] / f"pins.{port}"))
        assert r.stdout.strip() == f"via={via}"
        path = os.path.join(dest_dir, "target")
        assert open(path, "rb").read() == data
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
        assert os.listdir(dest_dir) == ["target"], "a temporary file was left behind"
        data = data[::-1]
        blob.write_bytes(data)
    # A missing directory fails, and says where.
    r = ctl["run"]("upload", str(blob), "/nonexistent/dir/file", check=False)
    assert r.returncode == 1 and "/nonexistent/dir/" in r.stderr


def private_accounts(lab, password):
    """Copies of the machine's passwd, group and shadow plus a test user,
    for one sshd to bind-mount privately: the machine's files are not
    touched. Returns the sh text that mounts them."""
    d = os.path.join(lab.dir, "accounts")
    os.makedirs(d, mode=0o700)
    hashed = sh("openssl", "passwd", "-6", "-stdin", input=password).strip()
    day = int(time.time() // 86400)
    extra = {
        "passwd": f"{TEST_USER}:x:{TEST_UID}:{TEST_UID}:test:{TEST_HOME}:/bin/sh\n",
        "group": f"{TEST_USER}:x:{TEST_UID}:\n",
        "shadow": f"{TEST_USER}:{hashed}:{day}:0:99999:7:::\n",
    }
    mounts = []
    for name, line in extra.items():
        src = f"/etc/{name}"
        dst = os.path.join(d, name)
        shutil.copyfile(src, dst)
        shutil.copymode(src, dst)
        with open(dst, "a") as f:
            f.write(line)
        mounts.append(f"mount --bind {dst} {src} || exit 125; ")
    home = lab.path("node-a", TEST_HOME)
    os.makedirs(home)
    os.chmod(os.path.dirname(home), 0o755)
    os.chmod(lab.path("node-a", "/var/lib/pharos"), 0o755)
    os.chown(home, TEST_UID, TEST_UID)
    os.chmod(home, 0o755)
    return "".join(mounts)


@pytest.mark.lab(**LAB)
def test_a_one_time_password_installs_the_key_and_then_keys_alone_work(lab, ctl):
    lab.start_sshd("node-a")
    password = secrets.token_urlsafe(18)
    mounts = private_accounts(lab, password)
    sshd_variant(lab, 2200, extra=f"PasswordAuthentication yes\nAllowUsers {TEST_USER}\n", wrapper=mounts)
    target = f"{TEST_USER}@198.51.100.10:2200"
    pins = str(ctl["tmp"] / "pins.2200")

    # Before: no key, so key authentication is refused.
    r = ctl["run"]("exec", "--", "true", target=target, pins=pins, check=False)
    assert r.returncode == 1 and "refused the controller's key" in r.stderr
    r = ctl["run"]("bootstrap-password", "--password-stdin", target=target, pins=pins, check=False,
                   input="wrong-" + password + "\n")
    assert r.returncode == 1 and "password authentication failed" in r.stderr
    for _ in range(2):  # twice: the key line is added once
        r = ctl["run"]("bootstrap-password", "--password-stdin", target=target, pins=pins,
                       input=password + "\n")
        assert "key authentication works" in r.stdout
        assert password not in r.stdout + r.stderr
    r = ctl["run"]("exec", "--", "id", "-un", target=target, pins=pins)
    assert r.stdout.strip() == TEST_USER

    ssh_dir = lab.path("node-a", TEST_HOME + "/.ssh")
    ak = os.path.join(ssh_dir, "authorized_keys")
    assert stat.S_IMODE(os.stat(ssh_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ak).st_mode) == 0o600
    assert os.stat(ak).st_uid == TEST_UID
    lines = open(ak).read().splitlines()
    assert len(lines) == 1 and lines[0].split()[:2] == ctl["pub"].split()[:2], lines
    assert password not in open(pins).read()
    # The machine's own account files never saw the test user.
    assert TEST_USER not in open("/etc/passwd").read()


@pytest.fixture
def fleet(lab, ctl):
    """CA material, sshd on node-a with the controller's key, gRPC stubs."""
    t = ctl["tmp"]
    ca = str(t / "ca")
    sh(PKI, "init", ca)
    sh(PKI, "issue", ca, "controller", "ctl-1", str(t / "controller"))
    pb = str(t / "pb")
    os.makedirs(pb)
    sh("/usr/bin/python3", "-m", "grpc_tools.protoc", f"--proto_path={HERE}/../../proto",
       f"--python_out={pb}", f"--grpc_python_out={pb}", "pharos/node/v1/control.proto")
    lab.start_sshd("node-a", authorized_key=ctl["pub"])
    return dict(ca=ca, pb=pb, root=os.path.join(ca, "root.crt"))


def get_status(lab, ctl, fleet):
    t = ctl["tmp"]
    r = lab.run("ctl", ["/usr/bin/python3", os.path.join(HERE, "node_ctl.py"), "--pb", fleet["pb"],
                        "--addr", "198.51.100.10:8444", "--ca", fleet["root"], "--cert",
                        str(t / "controller.crt"), "--key", str(t / "controller.key"), "GetStatus"],
                check=False, timeout=40)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def status(ctl, node_args):
    out = ctl["run"]("status", *node_args).stdout
    return dict(line.split("=", 1) for line in out.split())


def live(pid):
    """pid runs (a zombie does not count: the machine's pid 1 may be slow to
    reap the orphaned supervisor)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(pred, timeout=20, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.lab(**LAB)
def test_the_node_is_installed_supervised_restarted_updated_and_removed(lab, ctl, fleet):
    node_args = ["--awg-port", "51820", "--extra", "--obfuscation", "--extra", "off"]
    r = ctl["run"]("install-node", "--binary", NODE, "--ca-dir", fleet["ca"], "--id", "node-a",
                   "--ip", "198.51.100.10", *node_args)
    steps = re.findall(r"^\[([^\]]+)\] (ok|FAILED)", r.stdout, re.M)
    assert steps == [("preflight", "ok"), ("upload binary", "ok"), ("generate key and CSR", "ok"),
                     ("sign CSR", "ok"), ("install certificates", "ok"), ("install service", "ok"),
                     ("start", "ok")], r.stdout
    assert "service: supervisor" in r.stdout  # the lab has no systemd
    conf = lab.path("node-a", "/etc/pharos/node")
    assert stat.S_IMODE(os.stat(os.path.join(conf, "tls.key")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(conf, "tls.crt")).st_mode) == 0o644
    assert open(os.path.join(conf, "ca.crt")).read() == open(fleet["root"]).read()
    binary = lab.path("node-a", "/usr/local/bin/pharos-node")
    assert open(binary, "rb").read() == open(NODE, "rb").read()
    assert stat.S_IMODE(os.stat(binary).st_mode) == 0o755

    lab.wait_tcp("ctl", "198.51.100.10", 8444, timeout=30)
    assert '"public_key"' in get_status(lab, ctl, fleet)
    st = status(ctl, node_args)
    assert st["service"] == "supervisor" and st["running"] == "1", st
    pid, sup = int(st["pid"]), int(st["supervisor_pid"])
    assert live(pid) and live(sup)

    # A crash: the supervisor starts a new agent.
    lab.run("node-a", ["kill", "-9", str(pid)])
    st = wait_for(lambda: (lambda s: s if s.get("running") == "1" and int(s["pid"]) != pid else None)(
        status(ctl, node_args)), what="a restarted agent")
    assert int(st["supervisor_pid"]) == sup
    lab.wait_tcp("ctl", "198.51.100.10", 8444, timeout=30)
    assert '"public_key"' in get_status(lab, ctl, fleet)
    log = open(lab.path("node-a", "/var/log/pharos/pharos-node.log")).read()
    assert "exited with status 137, restarting in 1s" in log

    # Stop: agent and supervisor gone, port closed; start brings both back.
    pid = int(st["pid"])
    r = ctl["run"]("stop", *node_args)
    assert "[stop] ok" in r.stdout
    st = status(ctl, node_args)
    assert st["running"] == "0" and st["supervisor_pid"] == "0", st
    assert not live(pid) and not live(sup)
    assert not lab.can_connect("ctl", "198.51.100.10", 8444)
    ctl["run"]("stop", *node_args)  # idempotent
    ctl["run"]("start", *node_args)
    assert "already running" in ctl["run"]("start", *node_args).stdout
    lab.wait_tcp("ctl", "198.51.100.10", 8444, timeout=30)

    # Update: a new binary, a new agent process, same identity.
    old = int(status(ctl, node_args)["pid"])
    r = ctl["run"]("update", "--binary", NODE, *node_args)
    assert "[update] ok" in r.stdout and "[start] ok" in r.stdout, r.stdout
    st = status(ctl, node_args)
    assert st["running"] == "1" and int(st["pid"]) != old
    lab.wait_tcp("ctl", "198.51.100.10", 8444, timeout=30)
    assert '"public_key"' in get_status(lab, ctl, fleet)

    # Remove: nothing of the node stays.
    last = [int(st["pid"]), int(st["supervisor_pid"])]
    r = ctl["run"]("remove", *node_args)
    assert "[remove] ok" in r.stdout
    assert status(ctl, node_args)["service"] == "none"
    for p in last:
        assert not live(p)
    for path in ("/etc/pharos/node", "/usr/local/bin/pharos-node", "/usr/local/bin/pharos-node-supervise",
                 "/run/pharos/pharos-node.pid", "/var/log/pharos/pharos-node.log"):
        assert not os.path.exists(lab.path("node-a", path)), path
    r = ctl["run"]("start", *node_args, check=False)
    assert r.returncode == 1 and "no pharos-node service is installed" in r.stdout


@pytest.mark.lab(**LAB)
def test_a_failed_install_is_rolled_back(lab, ctl, fleet):
    empty_ca = str(ctl["tmp"] / "no-ca")
    os.makedirs(empty_ca)
    r = ctl["run"]("install-node", "--binary", NODE, "--ca-dir", empty_ca, "--id", "node-a", check=False)
    assert r.returncode == 1
    assert "[sign CSR] FAILED" in r.stdout and "[rollback] ok" in r.stdout, r.stdout
    for path in ("/etc/pharos/node", "/usr/local/bin/pharos-node"):
        assert not os.path.exists(lab.path("node-a", path)), path
    # Bad input never reaches the host: no new SSH login.
    logins = lab.proc("sshd", "node-a").log_text().count("Accepted publickey")
    r = ctl["run"]("install-node", "--binary", NODE, "--ca-dir", fleet["ca"], "--id", "node-a",
                   "--interface", "x;reboot", check=False)
    assert r.returncode == 2 and 'interface "x;reboot"' in r.stderr
    time.sleep(0.5)
    assert lab.proc("sshd", "node-a").log_text().count("Accepted publickey") == logins
