#!/usr/bin/env bash
# Installs what Brume needs on a fresh Debian machine: system packages with apt-get,
# Python packages with pip (Brume itself in editable mode).
#   ./install.sh         runtime: servers, libvirt + QEMU, demo-image tools
#   ./install.sh --dev   runtime plus the test and lint tools
set -euo pipefail
cd "$(dirname "$0")"

dev=0
[ "${1:-}" = "--dev" ] && dev=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

APT_PACKAGES=(
  # building Python extensions (libvirt-python)
  gcc pkg-config python3-dev libvirt-dev
  # hypervisor: libvirt with QEMU (TCG where KVM is unavailable)
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  # demo image: kernel package unpacked (not installed), busybox initramfs, bootable ISO
  busybox-static cpio grub-pc-bin grub-common xorriso mtools
  # VM networking datapath (network.datapath): bridges and veths (iproute2), packet
  # filtering and NAT (nftables), DHCP per network (dnsmasq-base), forgetting flows a
  # changed rule no longer allows (conntrack); the tests' "VMs" use busybox udhcpc/ping
  iproute2 nftables dnsmasq-base conntrack procps
)
# --dev: the dashboard's browser tests drive Debian's chromium with selenium (its fonts are
# only a recommendation, which --no-install-recommends skips)
[ $dev -eq 1 ] && APT_PACKAGES+=(chromium chromium-driver fonts-liberation)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
pip_flags=(-q)
# Debian's own python3 refuses system-wide pip installs (PEP 668) unless told.
if $PY -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")) else 1)'; then
  pip_flags+=(--break-system-packages)
fi
if [ $dev -eq 1 ]; then
  $PY -m pip install "${pip_flags[@]}" -e '.[test]'
else
  $PY -m pip install "${pip_flags[@]}" -e .
fi
# The demo VM image's kernel comes from Debian's linux-image-amd64 package, unpacked (never
# installed on this host) by `brume image build-demo`; fetch it now so that works offline.
$PY -c 'from cli.demo_image import fetch_kernel_deb; fetch_kernel_deb()' \
  || echo "install.sh: warning: could not download the demo image's kernel package" >&2
# Tests run Swift's own functional suite against Brume (tests/conformance): its runner and
# venv come from the Swift reference peer kept beside the checkout (../shared/peer, or
# $BRUME_SWIFT_PEER); setup_peer.sh is idempotent and quick once done.
if [ $dev -eq 1 ]; then
  peer=${BRUME_SWIFT_PEER:-$(cd .. && pwd)/shared/peer}
  [ -f "$peer/setup_peer.sh" ] || peer=/work/shared/peer
  if [ -f "$peer/setup_peer.sh" ]; then
    bash "$peer/setup_peer.sh" >/dev/null
  else
    echo "install.sh: warning: no Swift reference peer (../shared/peer): tests/conformance will fail" >&2
  fi
fi
echo "install.sh: done"
