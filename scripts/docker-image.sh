#!/usr/bin/env bash
# Builds the paxos-bench container image without a registry: the binary is built on this host with cargo, a
# base image is assembled from the shared libraries it links (and a passwd file for the non-root user) and
# imported with `docker import`, and the Dockerfile's `local` target puts the binary on it. Nothing is pulled.
#
#   scripts/docker-image.sh [--tag paxos-bench:local] [--no-build]
#
# --no-build uses the binary already in cargo's target directory. Prints the image's name and size.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="paxos-bench:local"
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if ! command -v docker >/dev/null 2>&1; then
  echo "docker-image: needs the docker command (Debian: apt-get install docker.io)" >&2
  exit 3
fi
if ! docker info >/dev/null 2>&1; then
  echo "docker-image: no Docker engine answers (is dockerd running, and may this user use it?)" >&2
  exit 3
fi

target="${CARGO_TARGET_DIR:-target}"
if [ "$build" = 1 ]; then
  cargo build --release --locked -p paxos-harness --bin paxos-bench
fi
bin="$target/release/paxos-bench"
if [ ! -x "$bin" ]; then
  echo "docker-image: $bin is missing (run without --no-build)" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
ctx="$work/context"
mkdir -p "$root"/{etc,tmp,data,usr/local/bin} "$ctx"
chmod 1777 "$root/tmp"

# The binary without its debug info (the host build keeps it for profiling; the image has no use for it).
strip --strip-debug -o "$ctx/paxos-bench" "$bin"

# Every shared library the binary links, and the dynamic loader, at the paths the binary asks for.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# Debian's merged /usr: /lib64 and /lib point into /usr on the host; the loader path must resolve either way.
for l in lib lib64; do
  if [ -d "$root/usr/$l" ] && [ ! -e "$root/$l" ]; then ln -s "usr/$l" "$root/$l"; fi
done

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/usr/sbin/nologin
paxos:x:10001:10001:paxos-bench:/data:/usr/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
paxos:x:10001:
GROUP
echo "hosts: files dns" > "$root/etc/nsswitch.conf"

base="paxos-bench-base:local"
# Owners as numbers: /data belongs to the image's user, everything else to root.
tar --numeric-owner --owner=0 --group=0 -C "$root" --exclude=./data -cf "$work/rootfs.tar" .
tar --numeric-owner --owner=10001 --group=10001 -C "$root" -rf "$work/rootfs.tar" ./data
docker import "$work/rootfs.tar" "$base" >/dev/null
echo "base image $base: $(docker image inspect -f '{{.Size}}' "$base") bytes (host libraries: $(ldd "$bin" | grep -c '=>' ) linked)"

# The classic builder warns on every build that it is deprecated; that warning is not about this image.
if ! docker build -q --target local --build-arg BASE_IMAGE="$base" -t "$tag" -f Dockerfile "$ctx" \
    >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "docker-image: docker build failed" >&2
  exit 1
fi
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "image $tag: $((size / 1024 / 1024)) MiB ($size bytes)"
docker run --rm "$tag" --version
