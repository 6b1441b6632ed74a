"""Checking that image bytes are what their declared `disk_format` says, and safe for QEMU.

A hypervisor trusts the format it is told. Raw bytes labelled qcow2 (or a qcow2 labelled raw)
make it interpret the data differently than the owner meant, and a qcow2 or VMDK that names
a backing file, an external data file or extra extents makes it open a path on the host. So
every image is inspected, whatever its `container_format` (a label QEMU never sees), by two
inspections that must both pass:

- oslo.utils' `format_inspector` (the one Glance and Nova share): every format it knows
  looks at the whole stream; the declared format must be the one found (a raw image may
  also carry an MBR/GPT partition table, an ISO a hybrid MBR) and its safety checks must
  pass; no other format may be found;
- `common.image_formats.header_rules`, Brume's stricter reading of qcow2 and VMDK headers, on
  the first `HEAD_SIZE` bytes (plus a VHD footer or an ISO signature where the format has one).

`FormatInspector` is fed every chunk as it is read (`feed`), judged once on the head before
anything is stored (`check_head`) and once at the end (`check_end`); each answers a one-line
reason to refuse, or None. It also derives `virtual_size`. `inspect_file` runs the same on a
file (the compute agent checks its cached bases with it).
"""
from __future__ import annotations

import logging
import struct

from oslo_utils.imageutils import format_inspector as oslo

from common.image_formats.header_rules import check_qcow2, check_vmdk

HEAD_SIZE = 64 * 1024
TAIL_SIZE = 512
FILE_CHUNK = 1024 * 1024

VHD_COOKIE = b"conectix"
ISO_OFFSET = 32769
ISO_MARKERS = (b"CD001", b"BEA01", b"NSR02", b"NSR03")
PLOOP_MAGICS = (b"WithoutFreeSpace", b"WithouFreSpacExt")
RAWISH = ("raw", "ami", "aki", "ari")
# disk_format -> the name of oslo's inspector for it (None: oslo knows no such format)
OSLO_NAMES = {"raw": "raw", "ami": "raw", "aki": "raw", "ari": "raw", "qcow2": "qcow2",
              "vmdk": "vmdk", "vhd": "vhd", "vhdx": "vhdx", "vdi": "vdi", "iso": "iso",
              "ploop": None}
# Formats that may be found beside the declared one: a partition table (MBR or GPT) on a raw
# disk or at the start of a fixed VHD (raw data plus a footer), the hybrid MBR of a bootable
# ISO. QEMU reads them as the guest's bytes; their own safety checks are advisory (Glance's
# default, gpt_safety_checks_nonfatal).
COMPANIONS = {"raw": {"gpt"}, "iso": {"gpt"}, "vhd": {"gpt"}}

# oslo logs every failed safety check at WARNING; the refusal reaches the user as a 400.
logging.getLogger(oslo.__name__).setLevel(logging.ERROR)


def _matches(inspector: oslo.FileInspector) -> bool:
    try:
        return bool(inspector.format_match)
    except Exception:  # an inspector that cannot tell yet (or at all) does not match
        return False


def _safety_reason(inspector: oslo.FileInspector, declared: str) -> str | None:
    try:
        inspector.safety_check()
    except oslo.SafetyCheckFailed as exc:
        details = "; ".join(f"{name}: {failure}" for name, failure in exc.failures.items())
        return f"{declared} image fails its safety checks ({details})"
    except oslo.ImageFormatError as exc:
        return f"data is not a valid {declared} image ({exc})"
    return None


class FormatInspector:
    """Inspects one image's bytes as they stream past against its declared format."""

    def __init__(self, disk_format: str | None):
        self.disk_format = disk_format
        self.enabled = disk_format is not None
        self.virtual_size: int | None = None
        self._expected = OSLO_NAMES.get(disk_format or "")
        self._inspectors = {name: cls() for name, cls in oslo.ALL_FORMATS.items()}
        self._broken: dict[str, str] = {}  # inspector name -> why it gave up
        self._fixed_vhd = False

    # streaming ----------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        """Show the next chunk of the image to every format inspector."""
        if not self.enabled or not chunk:
            return
        for name, inspector in list(self._inspectors.items()):
            try:
                inspector.eat_chunk(chunk)
            except Exception as exc:  # this format does not fit the bytes: stop asking it
                self._broken[name] = str(exc)
                del self._inspectors[name]

    # verdicts -----------------------------------------------------------------------------
    def check_head(self, head: bytes) -> str | None:
        """Judge the first bytes (HEAD_SIZE or more; fewer when the whole image is smaller),
        which `feed` has already seen."""
        if not self.enabled:
            return None
        return self._other_format() or self._head_rules(head) or self._declared(final=False)

    def check_end(self, head: bytes, tail: bytes, size: int) -> str | None:
        """Judge the whole image once `feed` has seen all of it (`tail`: its last bytes)."""
        if not self.enabled:
            return None
        for inspector in self._inspectors.values():
            inspector.finish()
        declared = self.disk_format
        if declared == "vhd":
            self._fixed_vhd = tail[-512:].startswith(VHD_COOKIE) or tail[-511:].startswith(
                VHD_COOKIE)
            if not (head.startswith(VHD_COOKIE) or self._fixed_vhd):
                return "data is not a vhd image (no conectix cookie)"
        if declared == "iso" and size < ISO_OFFSET + 5:
            return "data is too small to be an iso image"
        reason = self._other_format() or self._declared(final=True)
        if reason:
            return reason
        if self.virtual_size is None:
            self.virtual_size = self._virtual_size(tail, size)
        return None

    def _virtual_size(self, tail: bytes, size: int) -> int | None:
        declared = self.disk_format
        if declared in RAWISH:
            return size
        footer = tail[-512:]
        if self._fixed_vhd and len(footer) == 512 and footer.startswith(VHD_COOKIE):
            return struct.unpack_from(">Q", footer, 48)[0]  # the footer's current size
        inspector = self._inspectors.get(self._expected or "")
        if inspector is not None and self._expected in self._found() and inspector.virtual_size:
            return inspector.virtual_size
        return size if declared == "iso" else None

    def _head_rules(self, head: bytes) -> str | None:
        declared = self.disk_format
        if declared == "qcow2":
            reason, self.virtual_size = check_qcow2(head)
            return reason
        if declared == "vmdk":
            reason, self.virtual_size = check_vmdk(head)
            return reason
        if declared == "ploop" and not head.startswith(PLOOP_MAGICS):
            return "data is not a ploop image"
        if declared == "iso" and len(head) >= ISO_OFFSET + 5:
            if head[ISO_OFFSET:ISO_OFFSET + 5] not in ISO_MARKERS:
                return "data is not an iso image (no CD001 at 32769)"
        return None

    def _found(self) -> set[str]:
        """The formats oslo's inspectors recognize so far (each inspector's format_match
        stays False until it has read enough to be sure)."""
        return {name for name, inspector in self._inspectors.items()
                if name != "raw" and _matches(inspector)}

    def _other_format(self) -> str | None:
        expected = self._expected
        others = sorted(self._found() - {expected} - COMPANIONS.get(expected or "", set()))
        if not others:
            return None
        shown = "qcow2" if "qcow2" in others else others[0]
        return f"data is in {shown} format but disk_format is {self.disk_format}"

    def _declared(self, final: bool) -> str | None:
        """oslo's view of the declared format: is it what the bytes are, and safe?"""
        declared, expected = self.disk_format, self._expected
        if expected is not None and expected in self._broken:
            return f"data is not a valid {declared} image ({self._broken[expected]})"
        if expected in (None, "raw"):
            return None
        inspector = self._inspectors[expected]
        if expected == "vhd" and (self._fixed_vhd or not final):
            return None  # a fixed VHD is raw data and a footer, which only the end shows
        if not (final or inspector.complete):
            return None  # it needs bytes further on (e.g. a VMDK footer)
        if expected not in self._found():
            return f"data is not a {declared} image"
        return _safety_reason(inspector, declared)


def inspect_file(path: str, disk_format: str) -> str | None:
    """Inspect a whole file like an upload; a one-line reason to refuse it, or None."""
    inspector = FormatInspector(disk_format)
    head, tail, size = b"", b"", 0
    judged = False
    with open(path, "rb") as handle:
        while chunk := handle.read(FILE_CHUNK):
            inspector.feed(chunk)
            size += len(chunk)
            tail = (tail + chunk)[-TAIL_SIZE:]
            if not judged:
                head += chunk[:max(0, HEAD_SIZE - len(head))]
                if len(head) >= HEAD_SIZE:
                    judged = True
                    reason = inspector.check_head(head)
                    if reason:
                        return reason
    if not judged:
        reason = inspector.check_head(head)
        if reason:
            return reason
    return inspector.check_end(head, tail, size)
