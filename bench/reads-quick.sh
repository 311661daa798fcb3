#!/usr/bin/env bash
# Quick cold-read comparison iomapfs vs fuse2fs (512 MiB file, caches dropped and remount before each job, two
# rounds): sequential 1 MiB, O_DIRECT 1 MiB, random 4 KiB for 10 s. Run as root from an empty scratch directory.
# Needs iomap4j-cli/target/iomapfs.jar (./iomapfs --help builds it), fio, fuse2fs, e2fsprogs.
# quick read comparison: iomapfs vs fuse2fs, 512 MiB file, cold caches
set -u
source "$(dirname "$(readlink -f "$0")")/../scripts/find-jdk.sh"; J="$JAVA_HOME/bin/java"
JAR="$(dirname "$(readlink -f "$0")")/../iomap4j-cli/target/iomapfs.jar"
mke2fs -q -F -t ext2 base.img 1200M
for k in iomapfs fuse2fs; do cp --sparse=always base.img $k.img; mkdir -p m-$k; done
mnt() { case $1 in iomapfs) $J --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -jar $JAR mount $1.img m-$1 > $1.log 2>&1 & ;; fuse2fs) fuse2fs $1.img m-$1 -f -o rw > $1.log 2>&1 & ;; esac
  for i in $(seq 100); do mountpoint -q m-$1 && return; sleep 0.1; done; echo "no mount $1"; }
umnt() { case $1 in iomapfs) $J --enable-native-access=ALL-UNNAMED -jar $JAR umount m-$1;; *) umount m-$1;; esac; wait 2>/dev/null; }
for k in iomapfs fuse2fs; do
  mnt $k; fio --name=w --filename=m-$k/f --rw=write --bs=1M --size=512M --end_fsync=1 --output-format=terse --minimal >/dev/null; umnt $k
done
for round in 1 2; do
 for k in iomapfs fuse2fs; do
  for job in "seq:--rw=read --bs=1M" "dio:--rw=read --bs=1M --direct=1" "rand:--rw=randread --bs=4k --runtime=10 --time_based"; do
    name=${job%%:*}; args=${job#*:}
    sync; echo 3 > /proc/sys/vm/drop_caches; mnt $k
    r=$(fio --name=$name --filename=m-$k/f --size=512M $args --output-format=json 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]['read']; print(round(j['bw_bytes']/1048576,1), 'MiB/s', round(j['iops']), 'iops')")
    echo "round $round $k $name: $r"
    umnt $k
  done
 done
done
