"""`/v2.0/security-groups` and `/v2.0/security-group-rules`, with Neutron's semantics.

Each project gets its `default` group the first time it lists or creates groups, rules or
ports (`ensure_default`): egress open, ingress only from the group's members
(`network.sg_rules`). The default group cannot be renamed or deleted (409); a group used by
a port is in use (409 `SecurityGroupInUse`); deleting a group deletes the rules of other
groups that name it as their remote group. Rules cannot be updated, only created and deleted;
a duplicate is a 409 `SecurityGroupRuleExists` naming the existing rule.
"""
from __future__ import annotations

import sqlite3
import uuid

from network import listing, lookups, policy, sg_rules, views
from network.errors import NeutronError, invalid_attr, not_found
from network.store import Tx
from network.web import (
    boolean,
    check_attrs,
    empty_response,
    ident,
    json_body,
    json_response,
    now,
    params,
    read_only,
    text,
)

GROUP_ATTRS = {"name", "description", "project_id", "tenant_id", "stateful", "shared"}


def _insert_rules(tx: Tx, group_id: str, project_id: str, rules: list[dict]) -> list[str]:
    ids = []
    stamp = now()
    for rule in rules:
        rule_id = str(uuid.uuid4())
        tx.insert("security_group_rules", {"id": rule_id, "security_group_id": group_id,
                                           "project_id": project_id, **rule,
                                           "created_at": stamp, "updated_at": stamp})
        ids.append(rule_id)
    return ids


def _insert_group(tx: Tx, project_id: str, name: str, description: str, default: bool,
                  stateful: bool = True) -> str:
    group_id = str(uuid.uuid4())
    stamp = now()
    tx.insert("security_groups", {"id": group_id, "project_id": project_id, "name": name,
                                  "description": description, "is_default": int(default),
                                  "stateful": int(stateful), "created_at": stamp,
                                  "updated_at": stamp})
    rules = sg_rules.default_group_rules(group_id) if default else sg_rules.new_group_rules()
    _insert_rules(tx, group_id, project_id, rules)
    return group_id


def ensure_default(tx: Tx, project_id: str) -> str:
    """The id of the project's `default` group, created now if missing."""
    found = tx.row("SELECT id FROM security_groups WHERE project_id = ? AND is_default = 1",
                   (project_id,))
    if found:
        return found["id"]
    return _insert_group(tx, project_id, "default", "Default security group", True)


def _ensure_default_outside(service, project_id: str) -> None:
    """`ensure_default` for a read: a write transaction only when the group is missing."""
    if service.store.row("SELECT 1 FROM security_groups WHERE project_id = ? AND "
                         "is_default = 1", (project_id,)) is None:
        with service.store.write() as tx:
            ensure_default(tx, project_id)


def list_groups(service, req):
    caller = service.caller(req)
    _ensure_default_outside(service, caller.project_id)
    rows = [row for row in service.store.rows("SELECT * FROM security_groups ORDER BY rowid")
            if policy.owns(caller, row["project_id"])]
    docs = views.group_docs(service.store, rows)
    return json_response(listing.list_response(docs, params(req), "security_groups",
                                               req.path_url))


def show_group(service, req, group_id):
    caller = service.caller(req)
    row = lookups.owned(service.store, caller, "SecurityGroup", group_id)
    doc = views.group_docs(service.store, [row])[0]
    return json_response({"security_group": listing.select_fields([doc], params(req))[0]})


def create_group(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_security_group")
    doc = json_body(req, "security_group")
    check_attrs(doc, GROUP_ATTRS, "security_group")
    if boolean(doc, "shared", False):
        raise invalid_attr("shared", "shared security groups are not supported")
    project_id = policy.target_project(caller, doc, "create_security_group")
    name = text(doc, "name")
    description = text(doc, "description")
    stateful = boolean(doc, "stateful", True)
    with service.store.write() as tx:
        ensure_default(tx, project_id)
        if name == "default":
            raise NeutronError(409, "SecurityGroupDefaultAlreadyExists",
                               "Default security group already exists.")
        service.check_quota(tx, "security_group", "security_groups", project_id)
        service.check_quota(tx, "security_group_rule", "security_group_rules", project_id, 2)
        group_id = _insert_group(tx, project_id, name, description, False, stateful)
        out = views.group_docs(tx, [tx.row("SELECT * FROM security_groups WHERE id = ?",
                                           (group_id,))])[0]
    return json_response({"security_group": out}, 201)


def update_group(service, req, group_id):
    caller = service.caller(req)
    doc = json_body(req, "security_group")
    check_attrs(doc, GROUP_ATTRS, "security_group")
    read_only(doc, {"project_id", "tenant_id", "shared"})
    values = {key: text(doc, key) for key in ("name", "description") if key in doc}
    if "stateful" in doc:
        values["stateful"] = int(boolean(doc, "stateful"))
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "SecurityGroup", group_id)
        lookups.require_owner(caller, row, "update_security_group")
        if row["is_default"] and values.get("name", "default") != "default":
            raise NeutronError(409, "SecurityGroupCannotUpdateDefault",
                               "Updating default security group not allowed.")
        if not row["is_default"] and values.get("name") == "default":
            raise NeutronError(409, "SecurityGroupDefaultAlreadyExists",
                               "Default security group already exists.")
        tx.update("security_groups", group_id, values, now())
        out = views.group_docs(tx, [tx.row("SELECT * FROM security_groups WHERE id = ?",
                                           (group_id,))])[0]
    return json_response({"security_group": out})


def delete_group(service, req, group_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "SecurityGroup", group_id)
        lookups.require_owner(caller, row, "delete_security_group")
        if row["is_default"]:
            raise NeutronError(409, "SecurityGroupCannotRemoveDefault",
                               "Insufficient rights for removing default security group.")
        if tx.row("SELECT 1 FROM port_security_groups WHERE security_group_id = ?",
                  (group_id,)):
            raise NeutronError(409, "SecurityGroupInUse", f"Security Group {group_id} in use.")
        tx.execute("DELETE FROM security_group_rules WHERE remote_group_id = ?", (group_id,))
        tx.execute("DELETE FROM security_groups WHERE id = ?", (group_id,))
    return empty_response()


def list_rules(service, req):
    caller = service.caller(req)
    _ensure_default_outside(service, caller.project_id)
    rows = [row for row in service.store.rows(
        "SELECT * FROM security_group_rules ORDER BY rowid")
        if policy.owns(caller, row["project_id"])]
    return json_response(listing.list_response(views.rule_docs(rows), params(req),
                                               "security_group_rules", req.path_url))


def show_rule(service, req, rule_id):
    caller = service.caller(req)
    row = lookups.owned(service.store, caller, "SecurityGroupRule", rule_id)
    doc = views.rule_docs([row])[0]
    return json_response({"security_group_rule": listing.select_fields([doc], params(req))[0]})


def create_rule(service, req):
    caller = service.caller(req)
    policy.require_write(caller, "create_security_group_rule")
    doc = json_body(req, "security_group_rule")
    group_id = ident(doc, "security_group_id", required=True)
    rule = sg_rules.parse_rule(doc)
    with service.store.write() as tx:
        ensure_default(tx, caller.project_id)
        group = lookups.owned(tx, caller, "SecurityGroup", group_id)
        lookups.require_owner(caller, group, "create_security_group_rule")
        policy.target_project(caller, {key: doc.get(key) for key in ("project_id",
                                                                     "tenant_id")},
                              "create_security_group_rule")
        if rule["remote_group_id"] is not None:
            remote = tx.row("SELECT * FROM security_groups WHERE id = ?",
                            (rule["remote_group_id"],))
            if remote is None or not policy.owns(caller, remote["project_id"]):
                raise not_found("SecurityGroup", rule["remote_group_id"])
        for existing in tx.rows("SELECT * FROM security_group_rules WHERE "
                                "security_group_id = ?", (group_id,)):
            if sg_rules.same_rule(existing, rule):
                raise NeutronError(409, "SecurityGroupRuleExists",
                                   f"Security group rule already exists. Rule id is "
                                   f"{existing['id']}.")
        service.check_quota(tx, "security_group_rule", "security_group_rules",
                            group["project_id"])
        try:
            rule_id = _insert_rules(tx, group_id, group["project_id"], [rule])[0]
        except sqlite3.IntegrityError:
            raise NeutronError(409, "SecurityGroupRuleExists",
                               "Security group rule already exists.") from None
        out = views.rule_docs([tx.row("SELECT * FROM security_group_rules WHERE id = ?",
                                      (rule_id,))])[0]
    return json_response({"security_group_rule": out}, 201)


def delete_rule(service, req, rule_id):
    caller = service.caller(req)
    with service.store.write() as tx:
        row = lookups.owned(tx, caller, "SecurityGroupRule", rule_id)
        lookups.require_owner(caller, row, "delete_security_group_rule")
        tx.execute("DELETE FROM security_group_rules WHERE id = ?", (rule_id,))
    return empty_response()
