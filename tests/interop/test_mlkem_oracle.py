"""ML-KEM-768 (src/reality/mlkem.c) against independent implementations,
byte for byte, through the test tool tests/tools/mlkem-tool.c:

    random seeds, messages, ciphertexts
            │
            ├──► mlkem-tool keygen/encaps/decaps (our C) ──┐
            │                                               ├──► equal?
            └──► oracle: fips203 (Rust, via its Python      │
                 binding) and/or kyber-py (pure Python) ───┘

Oracles (tests/interop/requirements.txt; this file installs nothing, and
each oracle that cannot be imported is skipped with the reason):
  - fips203 0.4.3 (PyPI): a ctypes binding of the Rust crate fips203-ffi; it
    needs libfips203.so (cargo build --release of fips203-ffi) on the library
    path. It offers keygen from a seed d||z, decapsulation, and only
    *random* encapsulation, so encapsulation is checked both ways: its
    ciphertexts decapsulate to its secret with our code (which re-encrypts
    and compares, so this proves our K-PKE.Encrypt reproduced its ciphertext
    exactly) and ours decapsulate to our secret with its code.
  - kyber-py 1.2.0 (PyPI, pure Python): also exposes Encaps_internal(ek, m),
    so our deterministic encapsulation is compared directly.

The tool comes from PHAROS_TOOLS (a build's tools directory, as for
tests/netns), else build/asan/tools or build/release/tools.
Seed the case generator with MLKEM_ORACLE_SEED=N to replay a failure.
`make test` runs it with kyber-py from PyPI in a venv of the build
(make check-oracle, MLKEM_ORACLES=kyber-py); fips203 needs a Rust build and
is run by hand.
"""
import os
import random
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
Q = 3329
EK_LEN, DK_LEN, CT_LEN = 1184, 2400, 1088
CASES = 50


def _find_tool():
    dirs = [os.environ["PHAROS_TOOLS"]] if os.environ.get("PHAROS_TOOLS") else [
        os.path.join(ROOT, "build", m, "tools") for m in ("asan", "release")]
    for d in dirs:
        path = os.path.join(d, "mlkem-tool")
        if os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def tool():
    path = _find_tool()
    if path is None:
        pytest.skip("mlkem-tool not built (make tools, then set PHAROS_TOOLS to the tools directory)")

    def run(*args, refuse_ok=False):
        p = subprocess.run([path, *args], capture_output=True, text=True)
        if refuse_ok and p.returncode == 1:
            return None
        assert p.returncode == 0, f"mlkem-tool {args[0]} failed ({p.returncode}): {p.stderr}"
        return {k: bytes.fromhex(v) for k, v in (line.split("=", 1) for line in p.stdout.split())}
    return run


class Fips203Oracle:
    name = "fips203"
    deterministic_encaps = False

    def __init__(self, mod):
        self.m = mod

    def keygen(self, seed):
        ek, dk = self.m.ML_KEM_768.keygen(self.m.Seed(seed))
        return bytes(ek), bytes(dk)

    def encaps_random(self, ek):
        ct, ss = self.m.EncapsulationKey(ek).encaps()
        return bytes(ct), ss

    def decaps(self, dk, ct):
        return self.m.DecapsulationKey(dk).decaps(self.m.Ciphertext(ct))

    def accepts_ek(self, ek):
        try:
            self.m.EncapsulationKey(ek).encaps()
            return True
        except Exception:
            return False


class KyberPyOracle:
    name = "kyber-py"
    deterministic_encaps = True

    def __init__(self, mod):
        self.k = mod.ML_KEM_768

    def keygen(self, seed):
        return self.k._keygen_internal(seed[:32], seed[32:])

    def encaps(self, ek, m):
        ss, ct = self.k._encaps_internal(ek, m)
        return ct, ss

    def encaps_random(self, ek):
        ss, ct = self.k.encaps(ek)
        return ct, ss

    def decaps(self, dk, ct):
        return self.k.decaps(dk, ct)

    def accepts_ek(self, ek):
        try:
            self.k.encaps(ek)
            return True
        except ValueError:
            return False


def _load(name):
    if name == "fips203":
        try:
            import fips203
        except ImportError as e:
            pytest.skip(f"fips203 not importable ({e}); pip install -r tests/interop/requirements.txt")
        except OSError as e:
            pytest.skip(f"fips203 is installed but its native library is missing ({e}); build libfips203.so "
                        "from the Rust crate fips203-ffi and put it on LD_LIBRARY_PATH")
        return Fips203Oracle(fips203)
    try:
        import kyber_py.ml_kem
    except ImportError as e:
        pytest.skip(f"kyber-py not importable ({e}); pip install -r tests/interop/requirements.txt")
    return KyberPyOracle(kyber_py.ml_kem)


# MLKEM_ORACLES=kyber-py (as `make test` sets it) runs only the named
# oracles, and one that cannot be loaded is then a failure, not a skip.
_REQUIRED = [o for o in os.environ.get("MLKEM_ORACLES", "").split(",") if o]


@pytest.fixture(scope="module", params=_REQUIRED or ["fips203", "kyber-py"])
def oracle(request):
    if not _REQUIRED:
        return _load(request.param)
    try:
        return _load(request.param)
    except pytest.skip.Exception as e:
        pytest.fail(f"required oracle {request.param}: {e}")


@pytest.fixture
def rng():
    seed = int(os.environ.get("MLKEM_ORACLE_SEED", "0")) or int.from_bytes(os.urandom(8), "big")
    print(f"MLKEM_ORACLE_SEED={seed}")
    return random.Random(seed)


def _bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def _set_coeff(ek, i, v):
    e = bytearray(ek)
    p = 3 * (i // 2)
    if i % 2:
        e[p + 1] = (e[p + 1] & 0x0F) | ((v & 0x0F) << 4)
        e[p + 2] = v >> 4
    else:
        e[p] = v & 0xFF
        e[p + 1] = (e[p + 1] & 0xF0) | (v >> 8)
    return bytes(e)


def test_keygen_from_random_seeds_matches_the_oracle_byte_for_byte(tool, oracle, rng):
    for _ in range(CASES):
        seed = _bytes(rng, 64)
        ours = tool("keygen", seed.hex())
        ek, dk = oracle.keygen(seed)
        assert ours["ek"] == ek, f"ek differs for seed {seed.hex()}"
        assert ours["dk"] == dk, f"dk differs for seed {seed.hex()}"


def test_encapsulation_agrees_with_the_oracle_in_both_directions(tool, oracle, rng):
    for _ in range(CASES):
        ek, dk = oracle.keygen(_bytes(rng, 64))
        m = _bytes(rng, 32)
        ours = tool("encaps", ek.hex(), m.hex())
        if oracle.deterministic_encaps:
            ct, ss = oracle.encaps(ek, m)
            assert ours["ct"] == ct, f"ct differs for m {m.hex()}"
            assert ours["ss"] == ss
        # Our ciphertext decapsulates to our secret with the oracle...
        assert oracle.decaps(dk, ours["ct"]) == ours["ss"]
        # ...and the oracle's (random) one to its secret with our code.
        ct, ss = oracle.encaps_random(ek)
        assert tool("decaps", dk.hex(), ct.hex())["ss"] == ss


def test_decapsulation_of_random_and_corrupted_ciphertexts_matches_the_oracle(tool, oracle, rng):
    ek, dk = oracle.keygen(_bytes(rng, 64))
    valid, _ = oracle.encaps_random(ek)
    for i in range(2 * CASES):
        if i % 2:
            ct = _bytes(rng, CT_LEN)
        else:
            c = bytearray(valid)
            for _ in range(1 + rng.randrange(3)):
                c[rng.randrange(CT_LEN)] ^= 1 << rng.randrange(8)
            ct = bytes(c)
        assert tool("decaps", dk.hex(), ct.hex())["ss"] == oracle.decaps(dk, ct), f"ss differs for ct {ct.hex()}"


def test_tampered_encapsulation_keys_are_refused_by_both(tool, oracle, rng):
    for _ in range(CASES // 2):
        ek, _ = oracle.keygen(_bytes(rng, 64))
        assert oracle.accepts_ek(ek)
        assert tool("encaps", ek.hex(), refuse_ok=True) is not None
        bad = _set_coeff(ek, rng.randrange(768), rng.randrange(Q, 4096))
        assert not oracle.accepts_ek(bad)
        assert tool("encaps", bad.hex(), _bytes(rng, 32).hex(), refuse_ok=True) is None
