#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for balloon-oom: Debian packages (sos, QEMU,
# crash, ...), then a venv in .venv on Debian's python3 with the system site
# packages (so Debian's sos imports), then balloon-oom with its test extras.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-pip   # the venv (Debian's python3 is the one sos runs on)
  sosreport                          # the real sos (4.0 on Debian 12)
  python3-magic python3-packaging python3-pexpect python3-yaml  # sos 4.9.1 and 4.12.1 (tests/soslatest.py)
  systemd-journal-remote             # writes the fake guests' journals (tests/sosroots/journal.py)
  qemu-system-x86 busybox-static     # the real-guest lab
  ovmf                               # the lab's UEFI scenario (OVMF firmware)
  gcc libc6-dev cpio                 # the lab's static OOM "hog" program and initramfs
  crash                              # cross-checks of vmcore readings
  xz-utils zstd                      # sosreport tarballs
  chromium                           # renders the --html page in a test
  util-linux                         # unshare, for sos as non-root
  strace                             # proves the analyzer creates no file (hostile-input tests)
)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_ apt-get update -q
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check '.[test,fast]'
rm -rf build ./*.egg-info
echo "setup: ready (.venv/bin/balloon-oom)" >&2
