"""`brume server snapshot|backup|shelve|unshelve|resize|resize-confirm|resize-revert|migrate|
rebuild|evacuate|actions`: day-2 commands of the CLI, each one compute action.

    brume server snapshot S --name IMAGE [--wait]     # prints the new image's id
    brume server backup S --name N --type daily --rotation 7 [--wait]
    brume server shelve S [--wait] | unshelve S [--wait]
    brume server resize S --flavor F [--wait]          # then resize-confirm S | resize-revert S
    brume server migrate S [--wait]                    # cloud admin: another host
    brume server rebuild S [--image I] [--wait]
    brume server evacuate S [--host H] [--wait]        # cloud admin: its host is down
    brume server actions S                             # os-instance-actions

`--wait` waits for the state the action ends in (ACTIVE, SHELVED_OFFLOADED, VERIFY_RESIZE;
for a snapshot or backup, the status it had) with no task left running, and shows the server.
"""
from __future__ import annotations

from cli.compute import _settled, _show_server, _wait_for, leaf
from cli.compute_client import ComputeClient
from cli.compute_output import print_json, print_table
from cli.main import CLIError

IMAGE_ID_IN_BODY = {"OpenStack-API-Version": "compute 2.45"}  # createImage/Backup answer it


def _task_done(server: dict | None) -> bool:
    return server is not None and not server["OS-EXT-STS:task_state"]


def _act(args, body: dict, final: str | None, headers=None) -> dict:
    """POST `body` to the server's action URL; with --wait, wait for status `final` (or,
    when None, for the task to end whatever the status) and show the server."""
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    answer = client.compute("POST", f"/v2.1/servers/{server['id']}/action", body,
                            headers=headers)
    if getattr(args, "wait", False):
        done = _settled(final) if final else _task_done
        server = _wait_for(client, server["id"], done, args.timeout)
        _show_server(args, server)
    return answer


def _image_answer(args, answer: dict) -> int:
    """Print the new image's id (with --wait the server was shown instead)."""
    if not args.wait:
        image_id = answer.get("image_id", "")
        if args.format == "json":
            print_json({"image_id": image_id})
        else:
            print(image_id)
    return 0


def server_snapshot(args) -> int:
    answer = _act(args, {"createImage": {"name": args.name}}, None, IMAGE_ID_IN_BODY)
    return _image_answer(args, answer)


def server_backup(args) -> int:
    if args.rotation < 0:
        raise CLIError("--rotation must be 0 or more")
    answer = _act(args, {"createBackup": {"name": args.name, "backup_type": args.type,
                                          "rotation": args.rotation}},
                  None, IMAGE_ID_IN_BODY)
    return _image_answer(args, answer)


# Actions without arguments: (the action's body key, the status a --wait waits for, help).
PLAIN_ACTIONS = {
    "shelve": ("shelve", "SHELVED_OFFLOADED", "store the server's disk and free its host"),
    "unshelve": ("unshelve", "ACTIVE", "boot a shelved server again, on any host"),
    "resize-confirm": ("confirmResize", "ACTIVE", "keep a resized or migrated server"),
    "resize-revert": ("revertResize", "ACTIVE", "go back to the flavor and host before"),
    "migrate": ("migrate", "VERIFY_RESIZE", "move the server to another host (cloud admin)"),
}


def plain_action(action: str, final: str):
    """The handler of an action that takes no arguments (see PLAIN_ACTIONS)."""
    def handler(args) -> int:
        _act(args, {action: None}, final)
        return 0

    return handler


def server_resize(args) -> int:
    client = ComputeClient.from_args(args)
    flavor = client.resolve_flavor(args.flavor)
    _act(args, {"resize": {"flavorRef": flavor}}, "VERIFY_RESIZE")
    return 0


def server_rebuild(args) -> int:
    client = ComputeClient.from_args(args)
    image = client.resolve_image(args.image) if args.image else (
        client.resolve_server(args.server)["image"]["id"])
    _act(args, {"rebuild": {"imageRef": image}}, "ACTIVE")
    return 0


def server_evacuate(args) -> int:
    body = {"evacuate": {"host": args.host} if args.host else {}}
    _act(args, body, "ACTIVE")
    return 0


def server_actions(args) -> int:
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    actions = client.compute("GET", f"/v2.1/servers/{server['id']}/os-instance-actions"
                             )["instanceActions"]
    if args.format == "json":
        print_json(actions)
        return 0
    print_table(["Request ID", "Action", "Start Time", "User ID", "Message"],
                [[a["request_id"], a["action"], a["start_time"], a.get("user_id", ""),
                  a.get("message") or ""] for a in actions])
    return 0


def register(group) -> None:
    """Add the day-2 commands to `brume server`'s subcommand `group`."""
    def command(name, handler, help_text, wait=True):
        parser = leaf(group, name, handler, help_text)
        parser.add_argument("server", help="server name or id")
        if wait:
            parser.add_argument("--wait", action="store_true")
            parser.add_argument("--timeout", type=float, default=900.0)
        return parser

    snapshot = command("snapshot", server_snapshot, "write the server's disk as a new image")
    snapshot.add_argument("--name", required=True, help="the image's name")
    backup = command("backup", server_backup, "a snapshot kept in a rotation")
    backup.add_argument("--name", required=True)
    backup.add_argument("--type", default="daily", help="backup type (rotation group)")
    backup.add_argument("--rotation", type=int, default=1,
                        help="how many backups of this type to keep")
    resize = command("resize", server_resize, "move the server to another flavor")
    resize.add_argument("--flavor", required=True, help="flavor name or id")
    for name, (action, final, help_text) in PLAIN_ACTIONS.items():
        command(name, plain_action(action, final), help_text)
    rebuild = command("rebuild", server_rebuild, "boot the server afresh from an image")
    rebuild.add_argument("--image", default=None, help="image name or id (default: its own)")
    evacuate = command("evacuate", server_evacuate,
                       "rebuild a server of a down host elsewhere (cloud admin)")
    evacuate.add_argument("--host", default=None, help="target host (default: scheduled)")
    command("actions", server_actions, "what was done to the server, by whom", wait=False)
