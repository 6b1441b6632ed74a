"""`brume image ...`: upload, register, list, show, download, set, delete, (de)activate.

Credentials come from `cli.credentials` (flags, then BRUME_* / ST_* environment
variables, then the all-in-one defaults). Output is a table by default, JSON with
`--format json`. Errors print one line on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile

from cli.credentials import AuthError, add_credential_flags, authenticate
from cli.image_client import ImageClient, ImageClientError
from cli.image_output import Progress, print_image, print_images, print_members
from common.http_client import HTTPClientError
from imagesvc.schema import CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES

CHUNK_SIZE = 64 * 1024


class UsageError(Exception):
    """A bad argument, found after parsing; printed as one line."""


def _client(args) -> ImageClient:
    session = authenticate(args)
    return ImageClient(session.image_url, session.token)


def _properties(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--property needs KEY=VALUE, got {pair!r}")
        found[key] = value
    return found


def _create_fields(args) -> dict:
    fields = {"name": args.name, "disk_format": args.disk_format,
              "container_format": args.container_format}
    if args.visibility:
        fields["visibility"] = args.visibility
    if args.min_ram is not None:
        fields["min_ram"] = args.min_ram
    if args.min_disk is not None:
        fields["min_disk"] = args.min_disk
    if args.protected:
        fields["protected"] = True
    if args.tag:
        fields["tags"] = args.tag
    fields.update(_properties(args.property))
    return fields


def _show_progress(args) -> bool:
    return args.progress or sys.stderr.isatty()


def cmd_upload(args) -> int:
    try:
        size = os.path.getsize(args.file)
        with open(args.file, "rb") as probe:
            probe.read(1)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    client = _client(args)
    image = client.create(_create_fields(args))
    source = open(args.file, "rb")
    md5 = hashlib.md5(usedforsecurity=False)
    progress = Progress(size, enabled=_show_progress(args))

    def chunks():
        while chunk := source.read(CHUNK_SIZE):
            md5.update(chunk)
            progress.advance(len(chunk))
            yield chunk

    try:
        with source:
            client.upload(image["id"], chunks(), size)
        progress.done()
        image = client.get(image["id"])
        if image["checksum"] != md5.hexdigest():
            raise ImageClientError(f"stored checksum {image['checksum']} differs from the "
                                   f"file's {md5.hexdigest()}")
    except BaseException:
        progress.done()
        _discard(client, image["id"])
        raise
    print_image(image, args.format)
    if args.format == "table":
        print(f"checksum (md5): {image['checksum']}")
    return 0


def _discard(client: ImageClient, image_id: str) -> None:
    """Remove an image this command created before it failed."""
    try:
        client.delete(image_id)
    except HTTPClientError:
        pass


def cmd_register(args) -> int:
    client = _client(args)
    image = client.create(_create_fields(args))
    try:
        image = client.import_object(image["id"], args.from_object)
    except BaseException:
        _discard(client, image["id"])
        raise
    print_image(image, args.format)
    return 0


def cmd_list(args) -> int:
    filters = {}
    for key in ("name", "status", "visibility", "owner", "disk_format"):
        if getattr(args, key, None):
            filters[key] = getattr(args, key)
    if args.tag:
        filters["tag"] = args.tag
    images = list(_client(args).list(filters))
    print_images(images, args.format)
    return 0


def cmd_show(args) -> int:
    print_image(_client(args).find(args.image), args.format)
    return 0


def cmd_download(args) -> int:
    client = _client(args)
    image = client.find(args.image)
    if image["status"] not in ("active", "deactivated") or image["checksum"] is None:
        raise UsageError(f"image {image['id']} has no data (status {image['status']})")
    md5 = hashlib.md5(usedforsecurity=False)
    sha512 = hashlib.sha512()
    progress = Progress(image["size"] or 0, enabled=args.file is not None and
                        _show_progress(args))
    if args.file:
        directory = os.path.dirname(os.path.abspath(args.file))
        handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".brume-download-",
                                             delete=False)
    else:
        handle = sys.stdout.buffer

    def sink(chunk: bytes) -> None:
        md5.update(chunk)
        sha512.update(chunk)
        handle.write(chunk)
        progress.advance(len(chunk))

    try:
        client.download(image["id"], sink)
        progress.done()
        if md5.hexdigest() != image["checksum"]:
            raise ImageClientError(f"downloaded data's MD5 {md5.hexdigest()} does not match "
                                   f"the image checksum {image['checksum']}")
        if image.get("os_hash_algo") == "sha512" and sha512.hexdigest() != image[
            "os_hash_value"
        ]:
            raise ImageClientError("downloaded data's SHA-512 does not match os_hash_value")
        if args.file:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(handle.name, args.file)
    except BaseException:
        if args.file:
            handle.close()
            os.unlink(handle.name)
        raise
    if args.file:
        print(f"saved {image['size']} bytes to {args.file} (md5 {image['checksum']} verified)",
              file=sys.stderr)
    return 0


def cmd_set(args) -> int:
    client = _client(args)
    image = client.find(args.image)
    ops = []
    for key in ("name", "visibility", "min_ram", "min_disk", "disk_format",
                "container_format"):
        value = getattr(args, key)
        if value is not None:
            ops.append({"op": "replace", "path": f"/{key}", "value": value})
    if args.protected is not None:
        ops.append({"op": "replace", "path": "/protected", "value": args.protected})
    if args.tag:
        ops.append({"op": "replace", "path": "/tags",
                    "value": sorted(set(image["tags"]) | set(args.tag))})
    for key, value in _properties(args.property).items():
        ops.append({"op": "add", "path": "/" + key.replace("~", "~0"), "value": value})
    for key in args.remove_property or []:
        ops.append({"op": "remove", "path": "/" + key.replace("~", "~0")})
    if not ops:
        raise UsageError("nothing to change; see brume image set --help")
    print_image(client.patch(image["id"], ops), args.format)
    return 0


def cmd_delete(args) -> int:
    client = _client(args)
    for name in args.image:
        client.delete(client.find(name)["id"])
    return 0


def cmd_action(args) -> int:
    client = _client(args)
    client.action(client.find(args.image)["id"], args.action)
    return 0


def cmd_share(args) -> int:
    client = _client(args)
    image = client.find(args.image)
    print_members([client.add_member(image["id"], args.project)], args.format)
    return 0


def cmd_unshare(args) -> int:
    client = _client(args)
    client.remove_member(client.find(args.image)["id"], args.project)
    return 0


def cmd_accept(args) -> int:
    session = authenticate(args)
    client = ImageClient(session.image_url, session.token)
    image = client.get(args.image)
    project = session.storage_url.rstrip("/").rsplit("/", 1)[-1].removeprefix("AUTH_")
    status = "rejected" if args.reject else "accepted"
    print_members([client.set_member_status(image["id"], project, status)], args.format)
    return 0


def cmd_members(args) -> int:
    client = _client(args)
    print_members(client.members(client.find(args.image)["id"]), args.format)
    return 0


def _run(handler):
    def wrapped(args) -> int:
        try:
            return handler(args)
        except (HTTPClientError, AuthError, UsageError) as exc:
            print(f"brume: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            return 1
    return wrapped


def _common(parser: argparse.ArgumentParser) -> None:
    add_credential_flags(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")


def _image_fields(parser: argparse.ArgumentParser, creating: bool) -> None:
    parser.add_argument("--name", required=creating)
    parser.add_argument("--disk-format", dest="disk_format", choices=DISK_FORMATS,
                        required=creating)
    parser.add_argument("--container-format", dest="container_format",
                        choices=CONTAINER_FORMATS, default="bare" if creating else None)
    parser.add_argument("--visibility", choices=VISIBILITIES)
    parser.add_argument("--min-ram", dest="min_ram", type=int)
    parser.add_argument("--min-disk", dest="min_disk", type=int)
    parser.add_argument("--property", action="append", metavar="KEY=VALUE", default=[])
    parser.add_argument("--tag", action="append", default=[])


def register(subparsers) -> None:
    image = subparsers.add_parser("image", help="register, upload and manage VM images")
    commands = image.add_subparsers(dest="image_command", metavar="IMAGE_COMMAND")
    commands.required = True

    upload = commands.add_parser("upload", help="create an image and upload a file as its data")
    upload.add_argument("file")
    _image_fields(upload, creating=True)
    upload.add_argument("--protected", action="store_true")
    upload.add_argument("--progress", action="store_true",
                        help="show a progress bar even when stderr is not a terminal")
    _common(upload)
    upload.set_defaults(func=_run(cmd_upload))

    reg = commands.add_parser(
        "register", help="create an image from an object already in your object store "
        "(copied server-side; checksums computed by the service)")
    reg.add_argument("--from-object", dest="from_object", required=True,
                     metavar="CONTAINER/OBJECT")
    _image_fields(reg, creating=True)
    reg.add_argument("--protected", action="store_true")
    _common(reg)
    reg.set_defaults(func=_run(cmd_register))

    listing = commands.add_parser("list", help="list the images you can see")
    for key in ("name", "status", "visibility", "owner"):
        listing.add_argument("--" + key)
    listing.add_argument("--disk-format", dest="disk_format")
    listing.add_argument("--tag", action="append", default=[])
    _common(listing)
    listing.set_defaults(func=_run(cmd_list))

    show = commands.add_parser("show", help="show one image (by ID or name)")
    show.add_argument("image")
    _common(show)
    show.set_defaults(func=_run(cmd_show))

    download = commands.add_parser("download", help="download an image's data, verified")
    download.add_argument("image")
    download.add_argument("--file", help="write here instead of stdout")
    download.add_argument("--progress", action="store_true")
    _common(download)
    download.set_defaults(func=_run(cmd_download))

    change = commands.add_parser("set", help="change an image's attributes or properties")
    change.add_argument("image")
    _image_fields(change, creating=False)
    change.add_argument("--remove-property", dest="remove_property", action="append",
                        metavar="KEY")
    change.add_argument("--protected", dest="protected", action="store_true", default=None)
    change.add_argument("--unprotected", dest="protected", action="store_false")
    _common(change)
    change.set_defaults(func=_run(cmd_set))

    delete = commands.add_parser("delete", help="delete images and their data")
    delete.add_argument("image", nargs="+")
    _common(delete)
    delete.set_defaults(func=_run(cmd_delete))

    share = commands.add_parser("share", help="share a shared-visibility image with a project")
    share.add_argument("image")
    share.add_argument("project")
    _common(share)
    share.set_defaults(func=_run(cmd_share))

    unshare = commands.add_parser("unshare", help="stop sharing an image with a project")
    unshare.add_argument("image")
    unshare.add_argument("project")
    _common(unshare)
    unshare.set_defaults(func=_run(cmd_unshare))

    accept = commands.add_parser("accept", help="accept (or --reject) an image shared with "
                                 "your project (by image ID)")
    accept.add_argument("image")
    accept.add_argument("--reject", action="store_true")
    _common(accept)
    accept.set_defaults(func=_run(cmd_accept))

    members = commands.add_parser("members", help="list the projects an image is shared with")
    members.add_argument("image")
    _common(members)
    members.set_defaults(func=_run(cmd_members))

    for action in ("deactivate", "reactivate"):
        sub = commands.add_parser(action, help=f"{action} an image")
        sub.add_argument("image")
        _common(sub)
        sub.set_defaults(func=_run(cmd_action), action=action)

    from cli.demo import add_build_demo_command  # the demo VM image (compute/)

    add_build_demo_command(commands, _common, _run)


def main(argv: list[str] | None = None) -> int:
    """Run `brume image ...` without the dispatcher (handy for scripts and tests)."""
    parser = argparse.ArgumentParser(prog="brume")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["image", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
