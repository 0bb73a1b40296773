#!/usr/bin/env bash
# Installs the PyTorch baseline of `npm run bench` (bench/fair.ts): Debian's python3-torch (run with
# /usr/bin/python3) and serial OpenBLAS, and makes libblas.so.3 resolve to serial OpenBLAS. Idempotent; apt only.
# Run as root (or with sudo).
set -euo pipefail
arch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
serial="/usr/lib/${arch}/openblas-serial/libblas.so.3"
if ! dpkg -s python3-torch libopenblas0-serial >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch libopenblas0-serial
fi
if [ -e "$serial" ]; then
  update-alternatives --set "libblas.so.3-${arch}" "$serial"
fi
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'
echo "libblas.so.3 -> $(readlink -f "/usr/lib/${arch}/libblas.so.3")"
