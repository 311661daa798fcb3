#!/usr/bin/env bash
# Issue 14: journaled ext4 through `iomapfs mount` against the kernel's ext4 (data=ordered) and fuse2fs, on copies
# of one fresh default mkfs.ext4 image (has_journal), in one run; plus iomapfs on the same image without a journal
# (mkfs.ext4 -O ^has_journal) for the journal's own cost. A benchmark, not a test: it prints figures and ratios.
#
# Usage (root; fio, fuse2fs, sqlite3, python3, e2fsprogs installed; builds iomapfs.jar through ./iomapfs):
#   bench/journal.sh [NFILES=10000] [SEQ_MIB=512] [OUT_DIR=bench/out]
#   env: WORK=/tmp/iomap4j-journal  KINDS="iomapfs fuse2fs kernel iomapfs-nojournal"  SQL_TX=500
# Jobs (each on a fresh mount):
#   create+unlink  python3: NFILES files open(O_CREAT|O_EXCL)+close in one directory, then unlink them all; seconds
#   sqlite         SQL_TX inserts, one transaction (and so fsyncs) each, journal_mode=DELETE; seconds
#   fsync p50/p99  fio: 4 KiB appends with an fsync after each (2000 of them), sync latency percentiles in usec
#   seq write      dd 1 MiB blocks, SEQ_MIB, conv=fsync; MiB/s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
NFILES=${1:-10000}
SEQ_MIB=${2:-512}
OUT=${3:-$root/bench/out}
WORK=${WORK:-/tmp/iomap4j-journal}
SQL_TX=${SQL_TX:-500}
read -r -a KINDS <<< "${KINDS:-iomapfs fuse2fs kernel iomapfs-nojournal}"
IOMAPFS="$root/iomapfs"
for tool in fio fuse2fs mkfs.ext4 sqlite3 python3 mountpoint; do
  command -v "$tool" >/dev/null || { echo "journal bench: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "journal bench: needs root (loop mount)" >&2; exit 2; }
"$IOMAPFS" --version > /dev/null
mkdir -p "$WORK" "$OUT"
IMG_MIB=$(( SEQ_MIB + 1024 ))
PID=""

mount_fs() { # kind img mnt
  local kind=$1 img=$2 mnt=$3
  mkdir -p "$mnt"
  case $kind in
    iomapfs*) "$IOMAPFS" mount "$img" "$mnt" > "$WORK/$kind.log" 2>&1 & PID=$! ;;
    fuse2fs) fuse2fs "$img" "$mnt" -f -o rw > "$WORK/$kind.log" 2>&1 & PID=$! ;;
    kernel) mount -t ext4 -o loop,data=ordered "$img" "$mnt"; PID="" ;;
  esac
  for _ in $(seq 1 300); do mountpoint -q "$mnt" && return 0; sleep 0.1; done
  echo "journal bench: $kind did not mount" >&2; cat "$WORK/$kind.log" >&2 || true; return 1
}

umount_fs() { # kind mnt
  local kind=$1 mnt=$2
  case $kind in iomapfs*) "$IOMAPFS" umount "$mnt" ;; *) umount "$mnt" ;; esac
  if [ -n "$PID" ]; then wait "$PID" 2>/dev/null || true; PID=""; fi
  sync
}

fresh() { # kind -> image path
  local kind=$1 img="$WORK/$1.img"
  rm -f "$img"; truncate -s "${IMG_MIB}M" "$img"
  if [ "$kind" = iomapfs-nojournal ]; then mkfs.ext4 -q -F -O ^has_journal "$img"; else mkfs.ext4 -q -F "$img"; fi
  echo "$img"
}

now() { date +%s.%N; }

declare -A R
for kind in "${KINDS[@]}"; do
  mnt="$WORK/mnt-$kind"
  # create + unlink
  img=$(fresh "$kind"); mount_fs "$kind" "$img" "$mnt"
  t0=$(now)
  python3 - "$mnt/d" "$NFILES" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
for i in range(n):
    os.unlink(f"{d}/f{i}")
PY
  t1=$(now); R[$kind,create]=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  umount_fs "$kind" "$mnt"
  # sqlite: one transaction per insert
  img=$(fresh "$kind"); mount_fs "$kind" "$img" "$mnt"
  t0=$(now)
  python3 - "$mnt/db.sqlite" "$SQL_TX" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("pragma journal_mode=delete"); c.execute("pragma synchronous=full")
c.execute("create table t (k integer primary key, v text)")
for i in range(int(sys.argv[2])):
    c.execute("begin"); c.execute("insert into t (v) values (?)", ("x" * 100,)); c.execute("commit")
c.close()
PY
  t1=$(now); R[$kind,sqlite]=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  # fsync latency
  fio --name=fsync --directory="$mnt" --rw=write --bs=4k --size=8m --fsync=1 --ioengine=sync \
      --output-format=json > "$WORK/fio-$kind.json" 2>/dev/null
  read -r p50 p99 < <(python3 - "$WORK/fio-$kind.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["sync"]["lat_ns"]["percentile"]
print(f'{j["50.000000"]/1000:.0f} {j["99.000000"]/1000:.0f}')
PY
)
  R[$kind,p50]=$p50; R[$kind,p99]=$p99
  umount_fs "$kind" "$mnt"
  # sequential write
  img=$(fresh "$kind"); mount_fs "$kind" "$img" "$mnt"
  t0=$(now)
  dd if=/dev/zero of="$mnt/seq" bs=1M count="$SEQ_MIB" conv=fsync status=none
  t1=$(now); R[$kind,seq]=$(python3 -c "print(f'{$SEQ_MIB/($t1-$t0):.0f}')")
  umount_fs "$kind" "$mnt"
  e2fsck -fn "$img" > /dev/null || echo "journal bench: e2fsck -fn found problems on $kind's image" >&2
done

{
  printf "%-18s %16s %12s %14s %14s %14s\n" kind "create+unlink s" "sqlite s" "fsync p50 us" "fsync p99 us" "seq MiB/s"
  for kind in "${KINDS[@]}"; do
    printf "%-18s %16s %12s %14s %14s %14s\n" "$kind" "${R[$kind,create]}" "${R[$kind,sqlite]}" "${R[$kind,p50]}" \
      "${R[$kind,p99]}" "${R[$kind,seq]}"
  done
} | tee "$OUT/journal.txt"
if [ -n "${R[fuse2fs,create]:-}" ] && [ -n "${R[iomapfs,create]:-}" ]; then
  python3 -c "print('iomapfs vs fuse2fs: create+unlink %.2fx, sqlite %.2fx (higher is better for iomapfs)' % (${R[fuse2fs,create]}/${R[iomapfs,create]}, ${R[fuse2fs,sqlite]}/${R[iomapfs,sqlite]}))" | tee -a "$OUT/journal.txt"
fi
if [ -n "${R[iomapfs-nojournal,seq]:-}" ] && [ -n "${R[iomapfs,seq]:-}" ]; then
  python3 -c "print('sequential write with the journal / without: %.2fx' % (${R[iomapfs,seq]}/${R[iomapfs-nojournal,seq]}))" | tee -a "$OUT/journal.txt"
fi
