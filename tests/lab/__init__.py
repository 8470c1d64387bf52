"""PharosVPN network-namespace test lab; see lab.py for the topology and
docs/lab.md for how to use it from Python and from bash."""

from .capture import Capture
from .cleanup import gc, leftovers, list_labs
from .lab import (LAB_FILES, PRIVATE_DIRS, CommandError, CommandTimeout, Lab,
                  LabError)
from .proc import Proc
from .topology import DEFAULT_HOSTS, HostSpec, TopologyError

__all__ = ["Lab", "LabError", "CommandError", "CommandTimeout", "Proc",
           "Capture", "HostSpec", "TopologyError", "DEFAULT_HOSTS",
           "PRIVATE_DIRS", "LAB_FILES", "gc", "list_labs", "leftovers"]
