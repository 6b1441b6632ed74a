"""Which GuestBuilder an agent uses, chosen by `[compute-agent] virt_type`.

`test` → compute.testdriver_guest.TestGuestBuilder. `qemu`/`kvm` → the real-VM builder, which
lives with the image cache, disks and domain XML code and must expose
`QemuGuestBuilder(conf)` implementing compute.driver.GuestBuilder; it is located through
`REAL_VM_BUILDER` below.
"""
from __future__ import annotations

import importlib

from common.config import ConfigError
from compute.testdriver_guest import TestGuestBuilder

# module:class of the QEMU/KVM guest builder.
REAL_VM_BUILDER = "compute.qemu_guest:QemuGuestBuilder"


def make_guest_builder(conf: dict, sleep):
    if conf["virt_type"] == "test":
        return TestGuestBuilder(spawn_seconds=conf["test_spawn_seconds"], sleep=sleep)
    module_name, _, class_name = REAL_VM_BUILDER.partition(":")
    try:
        builder_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"virt_type {conf['virt_type']} needs {REAL_VM_BUILDER}, which is not available"
        ) from None
    return builder_class(conf)
