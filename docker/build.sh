#!/usr/bin/env bash
# Builds the Heavy Optimizer images without any registry (nothing is pulled):
#
#   docker/build.sh [--profile release|debug] [--samba]
#
# 1. hop-base:<version>: imported (`docker import`) from a root filesystem made here of exactly
#    the shared libraries `ldd` names for the six binaries (glibc, libgcc_s, the loader), an
#    /etc/passwd with user `hop` (10001), /tmp and /var/lib/hop (owned by 10001). No shell, no
#    package manager: a few MB, built in seconds from the host's own files, so the binaries run
#    with the very glibc they were linked against. Its tarball is rebuilt every time (under a
#    second) and imported only when its content hash differs from the image's `hop.base.key`, so
#    unchanged binaries reuse every cached layer. Downloads are cached in $HOME/.cache/hop-docker.
# 2. hop-<service>:<version> for the six services, from docker/Dockerfile.service and the binary
#    in target/<profile> (stripped of debug info here). hop-compute also carries NVRTC from the
#    PyPI wheel nvidia-cuda-nvrtc-cu12 (cached); libcuda comes from the node's NVIDIA runtime.
# 3. With --samba: hop-samba:<version>, Debian's smbd in a `debootstrap --variant=minbase`
#    root (cached tarball; about a minute cold), for the chart's optional Windows share.
#
# Prints every image with its size. Tags are the workspace version, never `latest`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
profile=release
samba=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --samba) samba=1; shift ;;
    *) echo "usage: $0 [--profile release|debug] [--samba]" >&2; exit 2 ;;
  esac
done
services=(ingest compute legacy validator router bridge)
bins="${CARGO_TARGET_DIR:-$root/target}/$profile"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")"
cache="${HOP_DOCKER_CACHE:-$HOME/.cache/hop-docker}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"
for b in "${services[@]/#/hop-}" hop; do
  [ -x "$bins/$b" ] || { echo "missing $bins/$b: cargo build --bins (--release)" >&2; exit 1; }
done

# Copies each library `ldd` names for $3... into the root $1 at its real path, with the name the
# binary asks for as a link to it (the loader under /lib64 included); skips those the root $2
# already has.
copy_libs() {
  local dest="$1" have="$2"; shift 2
  ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' |
    sort -u | while read -r lib; do
    real="$(readlink -f "$lib")"
    [ -e "$have$real" ] && continue
    mkdir -p "$dest$(dirname "$real")"
    cp -n "$real" "$dest$real"
    named="$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
    [ "$named" = "$real" ] || ln -sf "$real" "$dest$named"
  done
}

base_root="$work/base"
mkdir -p "$base_root"/{usr/lib/x86_64-linux-gnu,usr/lib64,usr/local/bin,etc,tmp,var/lib/hop}
ln -s usr/lib "$base_root/lib"
ln -s usr/lib64 "$base_root/lib64"
copy_libs "$base_root" /nonexistent "${services[@]/#/$bins/hop-}"
printf 'root:x:0:0:root:/root:/sbin/nologin\nhop:x:10001:10001:hop:/var/lib/hop:/sbin/nologin\n' \
  >"$base_root/etc/passwd"
printf 'root:x:0:\nhop:x:10001:\n' >"$base_root/etc/group"
printf 'hosts: files dns\n' >"$base_root/etc/nsswitch.conf"
# The NVIDIA runtime mounts libcuda here and runs ldconfig over this list.
printf '/usr/local/lib/nvrtc\n/usr/lib/x86_64-linux-gnu\n/usr/lib64\n' >"$base_root/etc/ld.so.conf"
chmod 1777 "$base_root/tmp"
base_tar="$work/base.tar"
tar -C "$base_root" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf "$base_tar" \
  --exclude=./var/lib/hop .
tar -C "$base_root" --mtime=@0 --numeric-owner --owner=10001 --group=10001 -rf "$base_tar" \
  ./var/lib/hop
key="$(sha256sum "$base_tar" | cut -c1-16)"
if [ "$(docker image inspect -f '{{index .Config.Labels "hop.base.key"}}' "hop-base:$version" 2>/dev/null)" != "$key" ]; then
  docker import --change "LABEL hop.base.key=$key org.opencontainers.image.version=$version" \
    --change 'USER 10001:10001' --change 'WORKDIR /var/lib/hop' --change 'EXPOSE 50051 9090' \
    "$base_tar" "hop-base:$version" >/dev/null
fi

# NVRTC for compute: libnvrtc.so.12 and its builtins from the wheel (not the `.alt.` builds),
# fetched once.
nvrtc="$cache/nvrtc/nvidia/cuda_nvrtc/lib"
if [ ! -e "$nvrtc/libnvrtc.so.12" ]; then
  rm -rf "$cache/nvrtc" && mkdir -p "$cache/nvrtc/wheel"
  python3 -m pip download --quiet --no-deps --dest "$cache/nvrtc/wheel" nvidia-cuda-nvrtc-cu12
  python3 -m zipfile -e "$cache"/nvrtc/wheel/*.whl "$cache/nvrtc"
  rm -rf "$cache/nvrtc/wheel"
fi

for s in "${services[@]}"; do
  ctx="$work/$s"
  mkdir -p "$ctx/rootfs/usr/local/bin"
  objcopy --strip-debug "$bins/hop-$s" "$ctx/rootfs/usr/local/bin/hop-$s"
  if [ "$s" = router ]; then
    # `hop cutover ...` inside the pod: deploy/emergency-rollback.sh --kubectl latches from here
    # (the chart sets HOP_ROUTER and HOP_ADMIN_TOKEN_FILE in the router's container).
    objcopy --strip-debug "$bins/hop" "$ctx/rootfs/usr/local/bin/hop"
  fi
  extra=""
  if [ "$s" = compute ]; then
    mkdir -p "$ctx/rootfs/usr/local/lib/nvrtc"
    cp "$nvrtc"/libnvrtc.so.12 "$nvrtc"/libnvrtc-builtins.so.12.* "$ctx/rootfs/usr/local/lib/nvrtc/"
    copy_libs "$ctx/rootfs" "$base_root" "$ctx"/rootfs/usr/local/lib/nvrtc/libnvrtc.so.*
    extra="LD_LIBRARY_PATH=/usr/local/lib/nvrtc "
  fi
  sed -e "s/@SERVICE@/$s/g" -e "s/@ENV@/${s^^}/g" -e "s/@VERSION@/$version/g" \
    -e "s|@EXTRA@|$extra|" "$here/Dockerfile.service" >"$ctx/Dockerfile"
  docker build -q -t "hop-$s:$version" "$ctx" >/dev/null 2>"$work/build.log" ||
    { cat "$work/build.log" >&2; exit 1; }
done
# The images these builds replaced.
docker image prune -f --filter label=hop.service >/dev/null

if [ "$samba" = 1 ]; then
  samba_tar="$cache/hop-samba-bookworm.tar"
  if [ ! -e "$samba_tar" ]; then
    sroot="$work/samba"
    debootstrap --variant=minbase --include=samba bookworm "$sroot" http://deb.debian.org/debian >&2
    rm -rf "$sroot"/usr/share/{doc,man,info,locale,i18n} "$sroot"/var/cache/apt/* \
      "$sroot"/var/lib/apt/lists/*
    find "$sroot/var/log" -type f -delete
    tar -C "$sroot" --numeric-owner -cf "$samba_tar.tmp" . && mv "$samba_tar.tmp" "$samba_tar"
  fi
  docker import \
    --change "LABEL org.opencontainers.image.title=hop-samba org.opencontainers.image.version=$version" \
    --change 'EXPOSE 445' \
    --change 'ENTRYPOINT ["/usr/sbin/smbd", "--foreground", "--no-process-group", "--debug-stdout"]' \
    "$samba_tar" "hop-samba:$version" >/dev/null
  services+=(samba)
fi

for image in base "${services[@]}"; do
  docker image inspect -f "hop-$image:$version {{.Size}}" "hop-$image:$version" |
    awk '{ printf "%-22s %7.1f MB\n", $1, $2 / 1e6 }'
done
