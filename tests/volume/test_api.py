"""The volume API in-process: volumes, snapshots, attachments, quotas and limits, with a
real SQLite store and real (sparse) volume files; exports recorded instead of run."""
from __future__ import annotations

import os

GiB = 1024**3
P1 = "/v3/p1"


def make(client, size=1, **extra):
    status, doc = client.post(f"{P1}/volumes", {"volume": {"size": size, **extra}})
    assert status == 202, doc
    return doc["volume"]


def show(client, volume_id):
    status, doc = client.get(f"{P1}/volumes/{volume_id}")
    assert status == 200, doc
    return doc["volume"]


def test_versions_need_no_token(app, member):
    status, doc = member.get("/", token="nonsense")
    assert status == 300 and doc["versions"][0]["id"] == "v3.0"
    status, doc = member.get("/v3", token="nonsense")
    assert status == 200 and doc["version"]["min_version"] == "3.0"


def test_blank_volume_is_a_sparse_raw_file(app, member):
    volume = make(member, 2, name="data")
    assert volume["status"] == "creating"  # jobs run at once here, the answer is from before
    current = show(member, volume["id"])
    assert current["status"] == "available" and current["size"] == 2
    assert current["bootable"] == "false" and current["attachments"] == []
    path = app.service.files.volume_path(volume["id"])
    assert os.path.getsize(path) == 2 * GiB
    assert os.stat(path).st_blocks == 0  # nothing written, nothing allocated
    status, doc = member.get(f"{P1}/volumes/detail")
    assert [v["id"] for v in doc["volumes"]] == [volume["id"]]
    status, doc = member.get(f"{P1}/volumes")
    assert set(doc["volumes"][0]) == {"id", "name", "links"}


def test_update_and_delete(app, member):
    volume = make(member)
    status, doc = member.put(f"{P1}/volumes/{volume['id']}",
                             {"volume": {"name": "renamed", "metadata": {"a": "b"}}})
    assert status == 200 and doc["volume"]["name"] == "renamed"
    assert doc["volume"]["metadata"] == {"a": "b"}
    status, _ = member.delete(f"{P1}/volumes/{volume['id']}")
    assert status == 202
    assert member.get(f"{P1}/volumes/{volume['id']}")[0] == 404
    assert not os.path.exists(app.service.files.volume_path(volume["id"]))


def test_bad_input_is_400_and_creates_nothing(app, member):
    for body in ({"volume": {"size": 0}}, {"volume": {"size": "big"}}, {"volume": {}},
                 {"volume": {"size": 1, "bogus": 1}}, {"volume": []}, {"nothing": 1},
                 {"volume": {"size": 1, "imageRef": "x", "snapshot_id": "y"}},
                 {"volume": {"size": 1, "name": "x" * 300}}):
        status, doc = member.post(f"{P1}/volumes", body)
        assert status == 400, (body, doc)
        assert "badRequest" in doc
    status, doc = member.call("POST", f"{P1}/volumes", raw=b"{not json")
    assert status == 400
    assert member.get(f"{P1}/volumes")[1]["volumes"] == []
    assert not [n for n in os.listdir(app.service.config.volumes_dir)
                if n.startswith("volume-")]


def test_extend(app, member):
    volume = make(member, 1)
    path = f"{P1}/volumes/{volume['id']}/action"
    assert member.post(path, {"os-extend": {"new_size": 1}})[0] == 400
    assert member.post(path, {"os-extend": {"new_size": "x"}})[0] == 400
    assert member.post(path, {"os-extend": {"new_size": 3}})[0] == 202
    assert show(member, volume["id"])["size"] == 3
    assert os.path.getsize(app.service.files.volume_path(volume["id"])) == 3 * GiB
    assert member.post(path, {"os-bogus": {}})[0] == 400


def test_projects_are_isolated(app, member, other, reader, admin):
    volume = make(member)
    assert other.get(f"/v3/p2/volumes/{volume['id']}")[0] == 404
    assert other.get(f"{P1}/volumes/{volume['id']}")[0] == 403
    assert other.delete(f"/v3/p2/volumes/{volume['id']}")[0] == 404
    assert other.get("/v3/p2/volumes")[1]["volumes"] == []
    assert reader.get(f"{P1}/volumes/{volume['id']}")[0] == 200
    assert reader.post(f"{P1}/volumes", {"volume": {"size": 1}})[0] == 403
    assert reader.delete(f"{P1}/volumes/{volume['id']}")[0] == 403
    assert admin.get(f"{P1}/volumes/{volume['id']}")[0] == 200
    status, doc = admin.get("/v3/admin/volumes?all_tenants=1")
    assert [v["id"] for v in doc["volumes"]] == [volume["id"]]
    assert member.get(f"{P1}/volumes", token="bad")[0] == 401


def test_quota_413_and_limits(app, member, admin):
    make(member, 15)
    status, doc = member.post(f"{P1}/volumes", {"volume": {"size": 6}})
    assert status == 413 and "gigabytes" in doc["overLimit"]["message"]
    for _ in range(4):
        make(member, 1)
    status, doc = member.post(f"{P1}/volumes", {"volume": {"size": 1}})
    assert status == 413 and "VolumeLimitExceeded" in doc["overLimit"]["message"]
    assert len(member.get(f"{P1}/volumes")[1]["volumes"]) == 5
    status, doc = member.get(f"{P1}/limits")
    absolute = doc["limits"]["absolute"]
    assert absolute["maxTotalVolumes"] == 5 and absolute["totalVolumesUsed"] == 5
    assert absolute["totalGigabytesUsed"] == 19
    status, doc = member.get(f"{P1}/os-quota-sets/p1?usage=true")
    assert doc["quota_set"]["volumes"] == {"limit": 5, "in_use": 5, "reserved": 0,
                                           "allocated": 0}
    assert member.put(f"{P1}/os-quota-sets/p1", {"quota_set": {"volumes": 9}})[0] == 403
    assert admin.put("/v3/admin/os-quota-sets/p1", {"quota_set": {"volumes": -2}})[0] == 400
    assert admin.put("/v3/admin/os-quota-sets/p1", {"quota_set": {"bogus": 1}})[0] == 400
    status, doc = admin.put("/v3/admin/os-quota-sets/p1", {"quota_set": {"volumes": 6}})
    assert status == 200 and doc["quota_set"]["volumes"] == 6
    make(member, 1)
    assert member.get(f"{P1}/os-quota-sets/p2")[0] == 403
    assert admin.delete("/v3/admin/os-quota-sets/p1")[0] == 200
    assert member.get(f"{P1}/os-quota-sets/p1")[1]["quota_set"]["volumes"] == 5


def test_snapshot_and_volume_from_it_keep_bytes(app, member):
    volume = make(member, 1)
    path = app.service.files.volume_path(volume["id"])
    with open(path, "r+b") as handle:
        handle.seek(12345)
        handle.write(b"snapshot me")
    status, doc = member.post(f"{P1}/snapshots", {"snapshot": {"volume_id": volume["id"],
                                                               "name": "s1"}})
    assert status == 202
    snapshot = doc["snapshot"]
    assert member.get(f"{P1}/snapshots/{snapshot['id']}")[1]["snapshot"]["status"] == \
        "available"
    with open(path, "r+b") as handle:  # the volume changes after the snapshot
        handle.seek(12345)
        handle.write(b"changed!!!!")
    copy = make(member, 2, snapshot_id=snapshot["id"])
    assert show(member, copy["id"])["snapshot_id"] == snapshot["id"]
    with open(app.service.files.volume_path(copy["id"]), "rb") as handle:
        handle.seek(12345)
        assert handle.read(11) == b"snapshot me"
    assert os.path.getsize(app.service.files.volume_path(copy["id"])) == 2 * GiB
    assert member.post(f"{P1}/volumes", {"volume": {"size": 1, "snapshot_id": "nope"}})[0] \
        == 404
    # a volume with snapshots cannot go; the snapshot can
    assert member.delete(f"{P1}/volumes/{volume['id']}")[0] == 409
    assert member.delete(f"{P1}/snapshots/{snapshot['id']}")[0] == 202
    assert member.delete(f"{P1}/volumes/{volume['id']}")[0] == 202
    assert member.get(f"{P1}/snapshots/detail")[1]["snapshots"] == []


def attach(client, volume_id, server="srv-1", connector=True):
    body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": server}}
    if connector:
        body["attachment"]["connector"] = {"host": "hv1", "mountpoint": "/dev/vdb"}
    return client.post(f"{P1}/attachments", body)


def test_attachment_lifecycle(app, member, exports):
    volume = make(member)
    status, doc = attach(member, volume["id"])
    assert status == 200, doc
    attachment = doc["attachment"]
    info = attachment["connection_info"]
    assert info["driver_volume_type"] == "nbd"
    assert info["data"]["name"] == f"volume-{volume['id']}"
    assert info["data"]["port"] == 10809
    assert exports.running_exports[attachment["id"]][2] == 10809
    assert show(member, volume["id"])["status"] == "attaching"
    status, _ = member.post(f"{P1}/attachments/{attachment['id']}/action",
                            {"os-complete": None})
    assert status == 204
    current = show(member, volume["id"])
    assert current["status"] == "in-use"
    assert current["attachments"][0]["server_id"] == "srv-1"
    assert current["attachments"][0]["device"] == "/dev/vdb"
    # in use: a second attach, a delete, an extend, a snapshot without force are refused
    assert attach(member, volume["id"], "srv-2")[0] == 409
    assert member.delete(f"{P1}/volumes/{volume['id']}")[0] == 409
    assert member.post(f"{P1}/volumes/{volume['id']}/action",
                       {"os-extend": {"new_size": 2}})[0] == 409
    assert member.post(f"{P1}/snapshots", {"snapshot": {"volume_id": volume["id"]}})[0] == 409
    # a second volume gets the next port
    second = make(member)
    status, doc = attach(member, second["id"], "srv-1")
    assert doc["attachment"]["connection_info"]["data"]["port"] == 10810
    status, doc = member.delete(f"{P1}/attachments/{attachment['id']}")
    assert status == 200 and attachment["id"] in exports.stopped
    assert show(member, volume["id"])["status"] == "available"
    assert show(member, volume["id"])["attachments"] == []
    assert member.delete(f"{P1}/attachments/{attachment['id']}")[0] == 404
    # the freed port is taken again
    status, doc = attach(member, volume["id"], "srv-3")
    assert doc["attachment"]["connection_info"]["data"]["port"] == 10809


def test_reserve_then_connect(app, member):
    volume = make(member)
    status, doc = attach(member, volume["id"], connector=False)
    attachment = doc["attachment"]
    assert attachment["status"] == "reserved" and attachment["connection_info"] == {}
    assert show(member, volume["id"])["status"] == "reserved"
    assert member.post(f"{P1}/attachments/{attachment['id']}/action",
                       {"os-complete": None})[0] == 409
    status, doc = member.put(f"{P1}/attachments/{attachment['id']}",
                             {"attachment": {"connector": {"host": "hv2"}}})
    assert status == 200 and doc["attachment"]["connection_info"]["data"]["port"] == 10809
    status, doc = member.get(f"{P1}/attachments?instance_id=srv-1")
    assert [a["id"] for a in doc["attachments"]] == [attachment["id"]]


def test_export_failure_leaves_volume_available(tmp_path, member):
    from tests.volume.conftest import RecordingExports, build_app

    app = build_app(str(write_conf_path(tmp_path)), RecordingExports(fail=True))
    client = member.__class__(app, member.token)
    volume = make(client)
    status, doc = attach(client, volume["id"])
    assert status == 503 and "qemu-nbd" in doc["serviceUnavailable"]["message"]
    assert show(client, volume["id"])["status"] == "available"
    assert client.get(f"{P1}/attachments")[1]["attachments"] == []


def write_conf_path(tmp_path):
    from tests.volume.conftest import write_conf

    other = tmp_path / "second"
    other.mkdir()
    return write_conf(other)


def test_attachment_of_another_project_volume_is_404(app, member, other):
    volume = make(member)
    status, _ = other.post("/v3/p2/attachments", {"attachment": {
        "volume_uuid": volume["id"], "instance_uuid": "x"}})
    assert status == 404


def test_recover_marks_interrupted_work(tmp_path, exports):
    from tests.volume.conftest import build_app, write_conf

    conf = write_conf(tmp_path)
    app = build_app(conf, exports)
    service = app.service
    with service.store.write() as tx:
        tx.insert("volumes", {"id": "v1", "project_id": "p1", "user_id": "u", "size": 1,
                              "status": "creating", "availability_zone": "nova",
                              "created_at": "t", "updated_at": "t"})
        tx.insert("volumes", {"id": "v2", "project_id": "p1", "user_id": "u", "size": 1,
                              "status": "extending", "availability_zone": "nova",
                              "created_at": "t", "updated_at": "t"})
        tx.insert("attachments", {"id": "a1", "volume_id": "v2", "project_id": "p1",
                                  "instance_uuid": "s", "attach_status": "attached",
                                  "export_port": 10811, "created_at": "t"})
    service.recover()
    assert service.store.get("volumes", "v1")["status"] == "error"
    assert service.store.get("volumes", "v2")["status"] == "error_extending"
    assert exports.running_exports["a1"][2] == 10811


def test_an_export_port_held_by_another_program_is_skipped(tmp_path, member):
    from tests.volume.conftest import RecordingExports, build_app

    exports = RecordingExports()
    exports.busy_ports = {10809, 10810}
    client = member.__class__(build_app(str(write_conf_path(tmp_path)), exports), member.token)
    volume = make(client)
    status, doc = attach(client, volume["id"])
    assert status == 200 and doc["attachment"]["connection_info"]["data"]["port"] == 10811


def test_a_real_listener_makes_the_port_busy():
    import socket

    from volume.exports import NbdExports

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        exports = NbdExports.__new__(NbdExports)
        exports.host = "127.0.0.1"
        assert exports.port_busy(listener.getsockname()[1])
    finally:
        listener.close()
