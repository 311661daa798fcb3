#!/usr/bin/env bash
# Issue 17 item 2: the same small fio jobs on one ext2 image mounted by iomapfs with FUSE over io_uring
# (--io-uring on) and with read/write on /dev/fuse (--io-uring off). The transports take turns job by job (the
# order alternates by round); every job runs on a fresh mount; each job's median over ROUNDS rounds is printed.
# The O_DIRECT jobs make every I/O a FUSE request, so they measure the transport's round trip.
#
# Usage (root; fio, python3; the fuse module's enable_uring is switched on):
#   bench/uring.sh [OUT=bench/results/uring.txt]
#   env: RUNTIME=10 (seconds per fio job), ROUNDS=3, FILE_MIB=256, NFILES=3000, WORK=/tmp/iomap4j-uring
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$root/bench/results/uring.txt}
RUNTIME=${RUNTIME:-10}
ROUNDS=${ROUNDS:-3}
FILE_MIB=${FILE_MIB:-256}
NFILES=${NFILES:-3000}
WORK=${WORK:-/tmp/iomap4j-uring}
IOMAPFS="$root/iomapfs"
for tool in fio python3 mountpoint; do
  command -v "$tool" >/dev/null || { echo "uring bench: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "uring bench: needs root" >&2; exit 2; }
echo Y > /sys/module/fuse/parameters/enable_uring
mkdir -p "$WORK" "$(dirname "$OUT")"
img="$WORK/img"; mnt="$WORK/mnt"; mkdir -p "$mnt"
rm -f "$img"
"$IOMAPFS" mkfs "$img" --size $(( FILE_MIB * 2 + 512 ))M > /dev/null
PID=
mount_with() { # on|off
  "$IOMAPFS" mount "$img" "$mnt" --io-uring "$1" --stats > "$WORK/mount-$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do mountpoint -q "$mnt" && return 0; sleep 0.1; done
  cat "$WORK/mount-$1.log" >&2; return 1
}
umount_it() {
  "$IOMAPFS" umount "$mnt"; wait "$PID" || true
}
trap 'mountpoint -q "$mnt" && umount -l "$mnt"; true' EXIT
mount_with off
dd if=/dev/urandom of="$mnt/data" bs=1M count="$FILE_MIB" status=none conv=fsync
umount_it

# fio_metric JOB_ARGS... : prints iops (random jobs) or MiB/s (sequential) of one fio run on $mnt/data.
fio_metric() {
  local kind=$1; shift
  fio --output-format=json --name=j --filename="$mnt/data" --size="${FILE_MIB}M" --runtime="$RUNTIME" \
      --time_based --group_reporting "$@" > "$WORK/fio.json" 2> "$WORK/fio.err"
  python3 - "$WORK/fio.json" "$kind" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
side = j["read"] if j["read"]["io_bytes"] > 0 else j["write"]
print(f'{side["iops"]:.0f}' if sys.argv[2] == "iops" else f'{side["bw"] / 1024:.0f}')
EOF
}
meta_ops() { # creates, stats and unlinks NFILES files; prints operations per second
  python3 - "$mnt/meta" "$NFILES" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
t = time.monotonic()
for i in range(n):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
for i in range(n):
    os.stat(f"{d}/f{i}")
for i in range(n):
    os.unlink(f"{d}/f{i}")
print(f"{3 * n / (time.monotonic() - t):.0f}")
EOF
}
declare -A JOBS=(
  [randread-4k-direct-qd1]="iops --rw=randread --bs=4k --direct=1 --ioengine=psync"
  [randwrite-4k-direct-qd1]="iops --rw=randwrite --bs=4k --direct=1 --ioengine=psync"
  [randread-4k-direct-4jobs]="iops --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=4"
  [seqread-1m-direct]="mibs --rw=read --bs=1M --direct=1 --ioengine=psync"
  [seqwrite-1m-direct]="mibs --rw=write --bs=1M --direct=1 --ioengine=psync"
)
ORDER=(randread-4k-direct-qd1 randwrite-4k-direct-qd1 randread-4k-direct-4jobs seqread-1m-direct seqwrite-1m-direct
  meta-create-stat-unlink)
declare -A R=()
for round in $(seq 1 "$ROUNDS"); do
  for job in "${ORDER[@]}"; do
    modes=(on off); [ $(( round % 2 )) = 0 ] && modes=(off on)
    for mode in "${modes[@]}"; do
      mount_with "$mode"
      if [ "$job" = meta-create-stat-unlink ]; then
        v=$(meta_ops)
      else
        read -r -a a <<< "${JOBS[$job]}"
        v=$(fio_metric "${a[@]}")
      fi
      umount_it
      grep -q "transport $( [ "$mode" = on ] && echo io_uring || echo /dev/fuse)" "$WORK/mount-$mode.log" \
        || { echo "uring bench: $mode mount was not served as expected:" >&2; cat "$WORK/mount-$mode.log" >&2; exit 1; }
      R[$job,$mode]="${R[$job,$mode]:-} $v"
      echo "round $round $job $mode $v" >&2
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
{
  echo "# bench/uring.sh: iomapfs on one ext2 image, --io-uring on vs off, median of $ROUNDS rounds, ${RUNTIME}s fio jobs"
  echo "# $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ); the machine was shared with other work during the run"
  printf '%-28s %12s %12s %8s  %s\n' job io_uring /dev/fuse ratio unit
  for job in "${ORDER[@]}"; do
    on=$(echo "${R[$job,on]}" | median); off=$(echo "${R[$job,off]}" | median)
    unit=iops; case $job in seq*) unit=MiB/s ;; meta*) unit=ops/s ;; esac
    printf '%-28s %12s %12s %8s  %s   (on:%s | off:%s)\n' "$job" "$on" "$off" \
      "$(python3 -c "print(f'{$on / $off:.2f}')")" "$unit" "${R[$job,on]}" "${R[$job,off]}"
  done
} | tee "$OUT"
