"""The all-in-one cluster behind `brume up`/`down`/`status`: every Brume server on loopback.

`layout` names every process, port, path and credential of one data dir; `configs` writes
the per-process configs from the samples in etc/; `rings` builds the three rings;
`processes` starts, finds and stops the processes through pid files; `health` waits for
their `/healthcheck`; `hypervisor` picks the compute agents' libvirt connection;
`lifecycle` ties these into prepare/start/supervise; `status` gathers what `brume status`
shows (processes, and each node's `/recon/all` figures).
"""
