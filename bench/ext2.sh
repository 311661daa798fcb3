#!/usr/bin/env bash
# Issue 3: create/stat/unlink NFILES files in one directory and write + cold-read DATA_MIB sequentially on
# iomap4j's ext2 (library level, Vfs API), the kernel's ext2 (loop mount) and debugfs -w, each on a copy of one
# fresh mke2fs image, in one run; prints rates and ratios and writes a CSV. Root (loop mount, drop_caches).
# Usage: bench/ext2.sh [NFILES=10000] [DATA_MIB=1024] [WORK_DIR=/tmp/iomap4j-extbench]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/find-jdk.sh
source "$root/scripts/find-jdk.sh"
jar="$root/iomap4j-bench/target/benchmarks.jar"
[ -f "$jar" ] || { echo "bench/ext2.sh: build first: ./build.sh -q -pl iomap4j-bench package -DskipTests" >&2; exit 2; }
work=${3:-/tmp/iomap4j-extbench}
cleanup() { umount "$work/mnt-kernel" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
echo "bench/ext2.sh: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx4g -cp "$jar" org.iomap4j.bench.Ext2Bench \
  "${1:-10000}" "${2:-1024}" "$work"
