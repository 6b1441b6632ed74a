"""The all-in-one cluster behind `brume up`/`down`/`status`: every Brume server on loopback.

`layout` names every process, port, path and credential of one data dir; `configs` writes
the per-process configs from the samples in etc/; `rings` builds the three rings;
`processes` starts, watches and stops the processes through pid files; `health` polls their
`/healthcheck`; `recon` gathers the per-node health figures that `brume status` shows.
"""
