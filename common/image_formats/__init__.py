"""Image format inspection shared by the image service (uploads) and compute agents (bases).

`format_inspect` checks that bytes are what their declared `disk_format` says and are safe
for QEMU; `header_rules` is Brume's own stricter reading of qcow2 and VMDK headers.
"""
