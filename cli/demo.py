"""`brume image build-demo`: build the demo VM image and upload it through the image service.

The image itself is made by cli.demo_image (Debian kernel + busybox initramfs, qcow2);
the upload is cli.image's own `upload` command (progress, MD5 verified against what the
service stored), so the result is an ordinary active qcow2/bare image whose id is printed.
`--no-upload` only builds the files into `--output-dir`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from cli.demo_image import DEFAULT_CACHE_DIR, DemoImageError, build_demo_image
from imagesvc.schema import VISIBILITIES

DEFAULT_NAME = "brume-demo"


def _deb_cache_dir(requested: str | None) -> str:
    """The kernel .deb cache: as asked, else the system one if usable, else the user's."""
    if requested:
        return requested
    if os.access(DEFAULT_CACHE_DIR, os.W_OK) or (
        not os.path.exists(DEFAULT_CACHE_DIR) and os.geteuid() == 0
    ):
        return DEFAULT_CACHE_DIR
    if os.path.isdir(DEFAULT_CACHE_DIR) and any(
        name.endswith(".deb") for name in os.listdir(DEFAULT_CACHE_DIR)
    ):
        return DEFAULT_CACHE_DIR
    return os.path.join(os.path.expanduser("~"), ".cache", "brume", "debs")


def _upload(args, qcow2: str, name: str) -> int:
    from cli import image as image_cli

    upload_args = argparse.Namespace(**vars(args))
    upload_args.file = qcow2
    upload_args.name = name
    upload_args.disk_format = "qcow2"
    upload_args.container_format = "bare"
    upload_args.visibility = args.visibility
    upload_args.min_ram = None
    upload_args.min_disk = None
    upload_args.protected = False
    upload_args.tag = ["brume-demo"]
    upload_args.property = []
    upload_args.progress = False
    return image_cli.cmd_upload(upload_args)


def cmd_build_demo(args) -> int:
    if args.no_upload and not args.output_dir:
        print("brume: --no-upload needs --output-dir (where to leave the image)",
              file=sys.stderr)
        return 1
    if args.poweroff_after is not None and args.poweroff_after < 1:
        print("brume: --poweroff-after must be at least 1 second", file=sys.stderr)
        return 1
    name = args.name or (
        f"{DEFAULT_NAME}-poweroff{args.poweroff_after}" if args.poweroff_after else DEFAULT_NAME
    )
    with tempfile.TemporaryDirectory(prefix="brume-demo-build-") as scratch:
        output_dir = args.output_dir or scratch
        try:
            artifacts = build_demo_image(output_dir, _deb_cache_dir(args.deb_cache),
                                         poweroff_after=args.poweroff_after)
        except DemoImageError as exc:
            print(f"brume: {exc}", file=sys.stderr)
            return 1
        if args.no_upload:
            print(artifacts.qcow2)
            return 0
        return _upload(args, artifacts.qcow2, name)


def add_build_demo_command(commands, common, run) -> None:
    """Add `build-demo` to `brume image`'s subcommands (`common`/`run` from cli.image)."""
    demo = commands.add_parser(
        "build-demo", help="build the small bootable demo VM image (qcow2) and upload it")
    demo.add_argument("--name", help=f"image name (default {DEFAULT_NAME})")
    demo.add_argument("--output-dir", dest="output_dir",
                      help="keep the built files here (default: a temporary directory)")
    demo.add_argument("--no-upload", dest="no_upload", action="store_true",
                      help="only build the image into --output-dir and print its path")
    demo.add_argument("--poweroff-after", dest="poweroff_after", type=int, metavar="SECONDS",
                      help="the guest powers itself off this many seconds after booting")
    demo.add_argument("--visibility", choices=VISIBILITIES)
    demo.add_argument("--deb-cache", dest="deb_cache", metavar="DIR",
                      help=f"where the kernel .deb is cached (default {DEFAULT_CACHE_DIR})")
    common(demo)
    demo.set_defaults(func=run(cmd_build_demo))
