"""The `brume` command line: cluster control (up/down/status) and the user-facing groups."""
