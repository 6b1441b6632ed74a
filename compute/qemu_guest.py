"""The GuestBuilder for real VMs under libvirt + QEMU (TCG `qemu` or hardware `kvm`).

`prepare()` pulls the image (and, for direct kernel boot, the instance's `kernel_id` and
`ramdisk_id`: ids the compute API resolved with the caller's token at boot, never the image's
properties, since this agent reads images as the service user) into the node's image cache,
checks each cached base itself, makes the instance's disks on top of the cached bases,
and renders the domain XML: virtio disk, the server's ports as NICs on their networks'
bridges (bound and carried by this node's datapath through `compute.vm_network`; without
ports, one NIC on QEMU user networking or a configured libvirt network), the config drive
(`compute.config_drive`, `<instance dir>/disk.config`) when asked for, the server's volumes
as NBD network disks (`compute.volume_disks`; a boot volume replaces the image and its
overlay altogether), and the serial
console logged (appending, across boots) to
`<instance dir>/console.log`, which `os-getConsoleOutput` reads. Each instance records the
image ids its disks rely on in `<instance dir>/images.json`, so cache cleanup never removes a
base an instance still uses.
"""
from __future__ import annotations

import json
import logging
import os
import stat

from common.atomic_files import write_atomic
from common.http_client import HTTPClientError
from common.v1_auth import V1Session
from compute import console_ports, vm_network
from compute.config_drive import ConfigDriveError, drive_files, write_drive
from compute.domain_xml import DomainSpec, interface_xml, render_domain_xml, volume_xml
from compute.driver import DriverError
from compute.image_cache import ImageCache, ImageFetchError
from compute.image_source import ImageSource
from compute.instance_disks import DiskError, UnsafeBase, check_base, prepare_disks
from compute.network_client import NetworkClient
from compute.network_info import network_data
from compute.volume_disks import VolumeDiskError, has_boot_volume, volume_disk, volume_disks

IMAGES_FILE = "images.json"
CONFIG_DRIVE_FILE = "disk.config"
DEFAULT_CMDLINE = "console=ttyS0"


LOG = logging.getLogger("brume.compute.qemu_guest")


def _node_network(conf: dict, session: V1Session) -> vm_network.NodeNetwork | None:
    if not conf.get("network_url"):
        return None
    state_dir = conf.get("datapath_dir") or os.path.join(
        os.path.dirname(os.path.abspath(conf["instances_dir"])), "datapath")
    hosts = frozenset(h.strip() for h in (conf.get("datapath_hosts") or "").split(",")
                      if h.strip())
    return vm_network.NodeNetwork(conf["host"], NetworkClient(conf["network_url"]), session,
                                  vm_network.Datapath(state_dir), hosts)


class GuestBuildError(DriverError):
    """The guest could not be prepared; the message is the server's fault message."""

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


def others_can_reach(path: str) -> bool:
    """True when every directory above `path` lets other users (qemu) traverse it."""
    path = os.path.abspath(path)
    while True:
        parent = os.path.dirname(path)
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
        if parent == path or parent == "/":
            return True
        path = parent


class QemuGuestBuilder:
    """compute.driver.GuestBuilder for QEMU/KVM domains."""

    def __init__(self, conf: dict, image_source: ImageSource | None = None,
                 node_network: vm_network.NodeNetwork | None = None):
        self.domain_type = conf["virt_type"] or "qemu"
        self.instances_dir = conf["instances_dir"]
        cache_dir = conf.get("image_cache_dir") or os.path.join(
            os.path.dirname(os.path.abspath(self.instances_dir)), "image-cache"
        )
        session = V1Session(conf["auth_url"], conf["service_user"], conf["service_key"])
        if image_source is None:
            image_source = ImageSource(conf["image_url"], session)
        self.node_network = node_network if node_network is not None else \
            _node_network(conf, session)
        self.images = image_source
        self.cache = ImageCache(cache_dir, image_source.stream)
        self.network = conf.get("network") or None
        self.run_as_root = os.geteuid() == 0 and not (
            others_can_reach(self.instances_dir) and others_can_reach(cache_dir)
        )

    def _cached(self, image_meta: dict, disk_format: str) -> str:
        """The cached base of the image, checked by this agent itself (never trusting the
        image service's inspection alone): an unsafe base is removed from the cache."""
        try:
            path = self.cache.fetch(image_meta)
        except ImageFetchError as exc:
            raise GuestBuildError(str(exc), retry=exc.retry) from None
        try:
            check_base(path, disk_format)
        except UnsafeBase as exc:
            self.cache.discard(image_meta["id"])
            # The bytes matched the registry's size and MD5, so any host would get the same.
            raise GuestBuildError(
                f"image {image_meta['id']} is unsafe to boot ({exc}); removed from this "
                "host's image cache", retry=False) from None
        except DiskError as exc:
            raise GuestBuildError(str(exc), retry=False) from None
        return path

    def _meta(self, image_id: str, disk_format: str) -> dict:
        try:
            meta = self.images.get_meta(image_id)
        except HTTPClientError as exc:
            raise GuestBuildError(str(exc)) from None
        if meta.get("status") != "active":
            raise GuestBuildError(f"image {image_id} is not active", retry=False)
        if meta.get("disk_format") != disk_format:
            raise GuestBuildError(f"image {image_id} is not an {disk_format} image", retry=False)
        return meta

    def prepare(self, instance: dict, image_meta: dict, flavor: dict, instance_dir: str) -> str:
        try:
            volumes = volume_disks(instance.get("block_devices") or [])
        except VolumeDiskError as exc:
            raise GuestBuildError(str(exc), retry=False) from None
        if has_boot_volume(instance.get("block_devices")):  # no image: the volume is vda
            return self._render(instance, flavor, instance_dir, None, None, None, volumes)
        used = [image_meta["id"]]
        disk_format = image_meta.get("disk_format") or "raw"
        base = self._cached(image_meta, disk_format)
        kernel = initrd = None
        if instance.get("kernel_id"):  # resolved by the API; image_meta's own are ignored
            kernel_meta = self._meta(instance["kernel_id"], "aki")
            kernel = self._cached(kernel_meta, "aki")
            used.append(kernel_meta["id"])
            if instance.get("ramdisk_id"):
                ramdisk_meta = self._meta(instance["ramdisk_id"], "ari")
                initrd = self._cached(ramdisk_meta, "ari")
                used.append(ramdisk_meta["id"])
        write_atomic(os.path.join(instance_dir, IMAGES_FILE), json.dumps(used).encode())
        try:
            disks = prepare_disks(disk_format, base, int(flavor.get("disk") or 0), instance_dir)
        except DiskError as exc:
            raise GuestBuildError(str(exc), retry=False) from None
        cmdline = image_meta.get("os_command_line") or (
            f"{DEFAULT_CMDLINE} root=/dev/vda" if kernel else DEFAULT_CMDLINE
        )
        return self._render(instance, flavor, instance_dir, disks, (kernel, initrd), cmdline,
                            volumes)

    def _render(self, instance: dict, flavor: dict, instance_dir: str, disks, boot_files,
                cmdline, volumes) -> str:
        """The domain XML; `disks` None: the root disk is a boot volume among `volumes`."""
        kernel, initrd = boot_files or (None, None)
        ports = instance.get("network_info") or []
        self._plug(ports)
        config_drive = self._config_drive(instance, ports, instance_dir)
        spec = DomainSpec(
            name="brume-" + instance["id"],
            uuid=instance["id"],
            vcpus=int(flavor["vcpus"]),
            memory_mb=int(flavor["ram"]),
            domain_type=self.domain_type,
            disk_path=disks.root_path if disks else None,
            disk_format=disks.root_format if disks else "raw",
            extra_disk_path=disks.extra_root_path if disks else None,
            kernel=kernel,
            initrd=initrd,
            kernel_cmdline=cmdline or DEFAULT_CMDLINE,
            volumes=volumes,
            network=self.network,
            nics=vm_network.nics(ports),
            config_drive=config_drive,
            console_log=self.console_log_path(instance_dir),
            console_port=self._console_port(),
            vnc=True,
            display_name=instance.get("name", ""),
            metadata={str(k): str(v) for k, v in (instance.get("metadata") or {}).items()},
            run_as_root=self.run_as_root,
        )
        return render_domain_xml(spec)

    @staticmethod
    def _console_port() -> int:
        try:
            return console_ports.pick()
        except OSError as exc:
            raise GuestBuildError(str(exc)) from None

    def _plug(self, ports: list[dict]) -> None:
        """Bind the server's ports here and bring this node's datapath up to date."""
        if not ports:
            return
        if self.node_network is None:
            raise GuestBuildError("this host has no VM networking ([compute-agent] "
                                  "network_url is not set)")
        try:
            self.node_network.bind(ports)
            self.node_network.sync()
        except vm_network.VmNetworkError as exc:
            raise GuestBuildError(str(exc)) from None

    def _config_drive(self, instance: dict, ports: list[dict], instance_dir: str) -> str | None:
        if not instance.get("config_drive"):
            return None
        path = os.path.join(instance_dir, CONFIG_DRIVE_FILE)
        files = drive_files(instance, network_data(ports, vm_network.link_name))
        try:
            write_drive(path, files)
        except ConfigDriveError as exc:
            raise GuestBuildError(f"config drive: {exc}") from None
        return path

    def plug_interface(self, nic: dict) -> str:
        """Bind a port attached to a running server and carry it here; its device XML."""
        self._plug([nic])
        return interface_xml(vm_network.nics([nic])[0])

    def volume_device(self, item: dict) -> str:
        """The device XML of a volume's disk (to attach or detach it)."""
        try:
            return volume_xml(volume_disk(item))
        except VolumeDiskError as exc:
            raise GuestBuildError(str(exc), retry=False) from None

    def interface_device(self, nic: dict) -> str:
        """The device XML of a port's NIC (to detach it)."""
        return interface_xml(vm_network.nics([nic])[0])

    def sync_network(self) -> None:
        """Apply this node's network state again (called by the agent's sync loop, and after
        a delete); a failure is logged."""
        if self.node_network is None:
            return
        try:
            self.node_network.sync()
        except vm_network.VmNetworkError as exc:
            LOG.warning("network sync failed: %s", exc)

    def root_disk(self, instance_dir: str) -> str | None:
        """The instance's qcow2 overlay (an ISO boot's is its blank root disk)."""
        path = os.path.join(instance_dir, "disk")
        return path if os.path.isfile(path) else None

    def console_log_path(self, instance_dir: str) -> str:
        return os.path.join(instance_dir, "console.log")

    def guest_event(self, instance_dir: str, event: str) -> None:
        """A real guest writes its own console; nothing to do."""

    def cleanup(self, instance: dict | None, instance_dir: str) -> None:
        """Disks live in the instance dir (removed by the driver); the cache stays; the
        datapath drops what the server's ports needed (once the API released them)."""
        if instance is None or instance.get("network_info"):
            self.sync_network()

    # cache maintenance, called periodically by the agent --------------------------------
    def images_in_use(self) -> set[str]:
        in_use: set[str] = set()
        try:
            names = os.listdir(self.instances_dir)
        except FileNotFoundError:
            return in_use
        for name in names:
            try:
                with open(os.path.join(self.instances_dir, name, IMAGES_FILE)) as handle:
                    in_use.update(json.load(handle))
            except (OSError, ValueError):
                continue
        return in_use

    def remove_unused_images(self, max_age: float) -> list[str]:
        return self.cache.remove_unused(self.images_in_use(), max_age)
