"""Replication between storage nodes: the replicators and the protocols they speak.

`object_replicator` and `db_replicator` are the daemons; `object_protocol` and
`db_protocol` the receiving sides served by the object and database servers; `wire` what
both protocols share.
"""
