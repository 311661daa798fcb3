#!/usr/bin/env bash
# Issue 2: iomap4j's buffered I/O (FlatFile over a FileBlockDevice) vs raw FileChannel on the same kind of file,
# JMH single-shot passes (sequential 1 MiB write + fsync, cold sequential 1 MiB read), ratios, then write
# amplification of random 4 KiB overwrites in 2 MiB folios. Drops the host page cache before each cold read
# when run as root. Usage: bench/core.sh [FILE_MIB=1024] [ITERATIONS=5]   (needs ~2x FILE_MIB free in /tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/find-jdk.sh
source "$root/scripts/find-jdk.sh"
jar="$root/iomap4j-bench/target/benchmarks.jar"
[ -f "$jar" ] || { echo "bench/core.sh: build first: ./build.sh -q -pl iomap4j-bench package -DskipTests" >&2; exit 2; }
echo "bench/core.sh: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar" org.iomap4j.bench.BenchMain "${1:-1024}" "${2:-5}"
