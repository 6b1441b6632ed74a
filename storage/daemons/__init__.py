"""The storage daemons of one node that are not replication: auditing, updating, expiring.

`runner` runs them (`python -m storage.daemons.runner CONF`) with a shared `context`
(config, devices, rings, peers); `object_auditor`, `db_auditor`, `object_updater`,
`container_updater`, `object_expirer` are the daemons; `rate_limit` paces their work.
The replicators live in `storage.replication` and run under the same runner.
"""
