"""The command line: `tally <command>`, one module per command, built on the Python API."""
