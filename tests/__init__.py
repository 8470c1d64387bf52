# Makes `python3 -m tests.lab` work from the repository root.
