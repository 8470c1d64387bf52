"""pytest support for network-namespace tests: fixtures that build a lab
(tests/lab) for one test and remove it afterwards, pass or fail.

    def test_full(lab): ...                            # whole topology

    @pytest.mark.lab(hosts=["node-a", "client-1"])    # only these (+ inet)
    def test_small(lab): ...

    def test_two(make_lab):                            # any number of labs
        a = make_lab(["node-a"]); b = make_lab(["node-a"], default_route=True)

Every test here is skipped, with the reason, when not run as root or when
a tool the lab needs is missing; with CI set in the environment (.ci/run)
any skip is a failure instead.  When a test fails, the logs of the
processes spawned on its labs are printed with the failure report.  With
PHAROS_LAB_KEEP=1 a failed test's labs are kept for inspection instead of
removed (the lab id is printed; `python3 -m tests.lab down ID` removes it).
"""

import os
import shutil

import pytest

from tests.lab import Lab

TOOLS = ("ip", "unshare", "mount", "nft", "sysctl")


def _skip_reason():
    if os.geteuid() != 0:
        return "network-namespace tests need root (ip netns, mount, nft)"
    missing = [t for t in TOOLS if shutil.which(t) is None
               and not os.path.exists(f"/usr/sbin/{t}")]
    if missing:
        return f"network-namespace tests need {', '.join(missing)}"
    return None


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "lab(hosts=None, **options): hosts and Lab options for "
        "the `lab` fixture")


@pytest.fixture(autouse=True)
def _netns_requirements():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    # In CI (scripts/deps installed every peer and tool) a skip would hide a
    # missing dependency or a failed interop build: it fails instead.
    if not hasattr(rep, "wasxfail"):
        _fail_skip_in_ci(rep)
    setattr(item, f"_lab_rep_{rep.when}", rep)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # The same for a whole module skipped while it is collected (an
    # importorskip of a missing client library): in CI that is a failure.
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


def _fail_skip_in_ci(rep):
    if rep.skipped and os.environ.get("CI"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped in CI, where nothing may be: {rep.longrepr}"


def _failed(node):
    return any(getattr(getattr(node, f"_lab_rep_{w}", None), "failed", False)
               for w in ("setup", "call"))


def _report(lab):
    print(f"\n=== lab {lab.id} ({lab.dir}) ===")
    for p in lab.processes():
        text = p.log_text()
        if len(text) > 8000:
            text = "...\n" + text[-8000:]
        print(f"--- {p.name} on {p.host} (pid {p.pid}, "
              f"{'alive' if p.alive() else 'exited'}) ---\n{text}")


@pytest.fixture
def make_lab(request):
    """Factory: make_lab(hosts=None, **Lab options) builds and returns a lab
    that is removed when the test ends."""
    labs = []

    def make(hosts=None, **options):
        lab = Lab(hosts, **options)
        lab.up()
        labs.append(lab)
        return lab

    yield make
    failed = _failed(request.node)
    errors = []
    for lab in reversed(labs):
        if failed:
            _report(lab)
            if os.environ.get("PHAROS_LAB_KEEP"):
                lab.release(0)
                print(f"kept lab {lab.id}: python3 -m tests.lab down {lab.id}")
                continue
        try:
            lab.down()
        except Exception as e:          # remove the others all the same
            errors.append(e)
        for path, excerpt in getattr(lab, "sanitizer_reports", []):
            print(f"\n=== sanitizer report in {path} (lab {lab.id}) ===\n{excerpt}")
            only = os.environ.get("PHAROS_SANITIZER_REPORT_ONLY")
            if only:        # a file to collect them in, for a survey
                with open(only, "a") as f:
                    f.write(f"=== {request.node.nodeid}: {path}\n{excerpt}\n")
            else:
                errors.append(AssertionError(f"a sanitizer reported in {path}: see above"))
    if errors:
        raise errors[0]


@pytest.fixture
def lab(request, make_lab):
    """A lab for this test: the whole topology, or what the test's
    @pytest.mark.lab(hosts=[...], **options) or indirect parametrization
    (a list of hosts or a dict of Lab arguments) asks for."""
    kwargs = {}
    marker = request.node.get_closest_marker("lab")
    if marker is not None:
        kwargs.update(marker.kwargs)
        if marker.args:
            kwargs["hosts"] = marker.args[0]
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        kwargs.update(param)
    elif param is not None:
        kwargs["hosts"] = param
    return make_lab(**kwargs)
