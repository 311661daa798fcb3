#!/usr/bin/env bash
# Issue 4: the same fio jobs on an iomapfs mount, a fuse2fs mount and a kernel ext2 loop mount of identical
# fresh images (one mke2fs -t ext2 image copied three times), in one run. Prints a table with the ratios
# iomapfs/fuse2fs and iomapfs/kernel, writes it as CSV and as a PNG bar chart (CompareChart, XChart).
#
# Fairness on a shared VM: the filesystems take turns job by job (in an order that rotates from job to job),
# every job runs on a fresh mount (a new iomapfs JVM or fuse2fs process each time), and the whole sequence is
# repeated ROUNDS times; the table shows each job's median over the rounds (every round is in rounds.csv). A host
# that slows down for a minute then costs every filesystem alike instead of whichever ran during it.
#
# Usage (root; fio, fuse2fs, e2fsprogs installed):
#   bench/compare-mount.sh [SIZE_MIB=1024] [NFILES=10000] [OUT_DIR=bench/out]
#   env: RUNTIME=20 (seconds per random job), RAND_MIB=256 (random-job file), WORK=/tmp/iomap4j-compare,
#        ROUNDS=3, KINDS="iomapfs fuse2fs kernel", FSTYPE=ext2 (or ext4: mke2fs -t ext4 defaults, journal
#        included, the kernel mounts it with ext4; MKFS_OPTS adds mke2fs options, e.g. "-O ^has_journal")
# Jobs: sequential write 1 MiB + fsync, sequential read 1 MiB (cold: remount + drop_caches), random write 4 KiB
# (+ fsync at the end), random read 4 KiB (cold), O_DIRECT write and read 1 MiB (SIZE_MIB), and create / stat / unlink
# NFILES files in one directory, twice: fio's filecreate/filestat/filedelete engines, and a python3 loop of
# open(O_CREAT|O_EXCL)/stat/unlink (fio's engines are themselves slow at 10,000 files). A job that fails on a
# filesystem is recorded as "error" (its message goes to OUT_DIR/errors.txt) and the run goes on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-1024}
NFILES=${2:-10000}
OUT=${3:-$root/bench/out}
RUNTIME=${RUNTIME:-20}
RAND_MIB=${RAND_MIB:-256}
WORK=${WORK:-/tmp/iomap4j-compare}
ROUNDS=${ROUNDS:-3}
FSTYPE=${FSTYPE:-ext2}
MKFS_OPTS=${MKFS_OPTS:-}
read -r -a KINDS <<< "${KINDS:-iomapfs fuse2fs kernel}"
DIRECT_MIB=$SIZE_MIB   # as long as the sequential jobs: a 256 MiB job lasted a quarter second, mostly start-up
IMG_MIB=$(( SIZE_MIB + RAND_MIB + DIRECT_MIB + 512 ))
# shellcheck source=../scripts/find-jdk.sh
source "$root/scripts/find-jdk.sh"
JAVA="$JAVA_HOME/bin/java"
IOMAPFS_JAR="$root/iomap4j-cli/target/iomapfs.jar"
IOMAPFS="$root/iomapfs"   # the launcher: same JVM flags and AOT cache a user gets
BENCH_JAR="$root/iomap4j-bench/target/benchmarks.jar"

for tool in fio fuse2fs mke2fs e2fsck python3 mountpoint; do
  command -v "$tool" >/dev/null || { echo "compare-mount: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "compare-mount: needs root (loop mount, drop_caches)" >&2; exit 2; }
"$IOMAPFS" --version > /dev/null  # builds on first use and trains the AOT cache outside the timed jobs
[ -f "$IOMAPFS_JAR" ] || { echo "compare-mount: build first: ./iomapfs --help (builds $IOMAPFS_JAR)" >&2; exit 2; }
[ -f "$BENCH_JAR" ] || { echo "compare-mount: build first: ./build.sh -q -pl iomap4j-bench package -DskipTests" >&2; exit 2; }

mkdir -p "$WORK" "$OUT"
: > "$OUT/errors.txt"
declare -A PID=()      # background server pid per filesystem kind (iomapfs, fuse2fs)

mnt_of() { echo "$WORK/mnt-$1"; }
img_of() { echo "$WORK/$1.img"; }

is_mounted() { mountpoint -q "$1"; }

mount_fs() {
  local kind=$1 img mnt
  img=$(img_of "$kind"); mnt=$(mnt_of "$kind")
  mkdir -p "$mnt"
  case $kind in
    iomapfs)
      "$IOMAPFS" mount "$img" "$mnt" > "$WORK/iomapfs.log" 2>&1 &
      PID[$kind]=$! ;;
    fuse2fs)
      fuse2fs "$img" "$mnt" -f -o rw > "$WORK/fuse2fs.log" 2>&1 &
      PID[$kind]=$! ;;
    kernel)
      mount -t "$FSTYPE" -o loop "$img" "$mnt" ;;
  esac
  for _ in $(seq 1 300); do
    is_mounted "$mnt" && return 0
    if [ -n "${PID[$kind]:-}" ] && ! kill -0 "${PID[$kind]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "compare-mount: $kind did not mount $img on $mnt" >&2
  cat "$WORK/$kind.log" >&2 2>/dev/null || true
  return 1
}

umount_fs() {
  local kind=$1 mnt
  mnt=$(mnt_of "$kind")
  if is_mounted "$mnt"; then
    case $kind in
      iomapfs) "$IOMAPFS" umount "$mnt" ;;
      *) umount "$mnt" ;;
    esac
  fi
  if [ "$kind" = kernel ]; then
    # The loop device detaches asynchronously after umount: let it go before the next job mounts. (This does not
    # remove a larger effect: whichever filesystem ran right after the kernel's random-read job read at a third of
    # its speed, 0.5 vs 1.3-1.8 GiB/s O_DIRECT, even 5 s later; the job order rotates for that reason.)
    for _ in $(seq 1 100); do [ -z "$(losetup -j "$(img_of kernel)" 2>/dev/null)" ] && break; sleep 0.1; done
    sync; sleep 1
  fi
  # The FUSE servers write back on unmount: wait until they have exited.
  if [ -n "${PID[$kind]:-}" ]; then
    wait "${PID[$kind]}" 2>/dev/null || true
    unset "PID[$kind]"
  fi
}

cleanup() {
  for kind in iomapfs fuse2fs kernel; do
    umount_fs "$kind" 2>/dev/null || umount -l "$(mnt_of "$kind")" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# fio_job KIND JOB METRIC fio-args... : runs fio, prints the metric (MiB/s | iops) or "error".
fio_job() {
  local kind=$1 job=$2 metric=$3; shift 3
  local json="$WORK/$kind-$job.json"
  if ! fio --output-format=json --output="$json" --name="$job" "$@" > "$WORK/fio.err" 2>&1; then
    { echo "== $kind $job: fio $*"; cat "$WORK/fio.err"; tail -5 "$json" 2>/dev/null; } >> "$OUT/errors.txt"
    echo error
    return 0
  fi
  python3 - "$json" "$metric" <<'EOF' || echo error
import json, sys
d = json.load(open(sys.argv[1]))
j = d["jobs"][0]
if j.get("error", 0):
    raise SystemExit(1)
metric = sys.argv[2]
r, w = j["read"], j["write"]
side = r if r["io_bytes"] > 0 or (r["iops"] > 0 and w["iops"] == 0) else w
if metric == "mibs":
    print("%.1f" % (side["bw_bytes"] / 1048576.0))
else:
    print("%.1f" % side["iops"])
EOF
}

declare -A R=()   # R[kind,job] = value
JOBS=(seqwrite seqread randwrite randread directwrite directread create stat unlink pycreate pystat pyunlink)
declare -A UNIT=([seqwrite]=MiB/s [seqread]=MiB/s [randwrite]=IOPS [randread]=IOPS [directwrite]=MiB/s
  [directread]=MiB/s [create]=files/s [stat]=files/s [unlink]=files/s [pycreate]=files/s [pystat]=files/s
  [pyunlink]=files/s)
declare -A LABEL=([seqwrite]="seq write 1M+fsync" [seqread]="seq read 1M cold" [randwrite]="rand write 4K"
  [randread]="rand read 4K cold" [directwrite]="O_DIRECT write 1M" [directread]="O_DIRECT read 1M"
  [create]="create (fio)" [stat]="stat (fio)" [unlink]="unlink (fio)" [pycreate]="create (python)"
  [pystat]="stat (python)" [pyunlink]="unlink (python)")

# py_meta DIR N: create, stat and unlink N empty files in DIR with direct syscalls from one python3 process
# (fio's file engines cost fio itself O(nrfiles) per file: at 10,000 files they cap the kernel at ~7k/s).
# Prints "create stat unlink" rates in files/s; create and unlink end with fsync of the directory + sync.
py_meta() {
  python3 - "$1" "$2" <<'PYEOF' || echo "error error error"
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
names = [os.path.join(d, "f%d" % i) for i in range(n)]
def syncfs():
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.sync()
    finally:
        os.close(fd)
rates = []
t = time.perf_counter()
for p in names:
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
syncfs()
rates.append(n / (time.perf_counter() - t))
t = time.perf_counter()
for p in names:
    if os.stat(p).st_size != 0:
        raise SystemExit("non-empty " + p)
rates.append(n / (time.perf_counter() - t))
t = time.perf_counter()
for p in names:
    os.unlink(p)
syncfs()
rates.append(n / (time.perf_counter() - t))
print(" ".join("%.1f" % r for r in rates))
PYEOF
}

# run_job KIND JOB: one job on a fresh mount of KIND's image (read jobs: caches dropped first); sets R[KIND,JOB]
# (or the three py* results for "pymeta"). Files read by the read jobs are those the write jobs left.
run_job() {
  local kind=$1 job=$2 mnt
  mnt=$(mnt_of "$kind")
  case $job in seqread|randread|directread) drop_caches ;; esac
  mount_fs "$kind"
  local common=(--ioengine=psync --numjobs=1 --group_reporting)
  case $job in
    seqwrite)
      rm -f "$mnt/seq.dat"
      R[$kind,seqwrite]=$(fio_job "$kind" seqwrite mibs "${common[@]}" --filename="$mnt/seq.dat" --rw=write --bs=1M \
        --size="${SIZE_MIB}M" --end_fsync=1) ;;
    randwrite)
      R[$kind,randwrite]=$(fio_job "$kind" randwrite iops "${common[@]}" --filename="$mnt/rand.dat" --rw=randwrite \
        --bs=4k --size="${RAND_MIB}M" --runtime="$RUNTIME" --time_based --end_fsync=1 --randrepeat=1) ;;
    directwrite)
      rm -f "$mnt/direct.dat"
      R[$kind,directwrite]=$(fio_job "$kind" directwrite mibs "${common[@]}" --filename="$mnt/direct.dat" --direct=1 \
        --rw=write --bs=1M --size="${DIRECT_MIB}M" --end_fsync=1) ;;
    seqread)
      R[$kind,seqread]=$(fio_job "$kind" seqread mibs "${common[@]}" --filename="$mnt/seq.dat" --rw=read --bs=1M \
        --size="${SIZE_MIB}M") ;;
    randread)
      R[$kind,randread]=$(fio_job "$kind" randread iops "${common[@]}" --filename="$mnt/rand.dat" --rw=randread \
        --bs=4k --size="${RAND_MIB}M" --runtime="$RUNTIME" --time_based --randrepeat=1) ;;
    directread)
      R[$kind,directread]=$(fio_job "$kind" directread mibs "${common[@]}" --filename="$mnt/direct.dat" --direct=1 \
        --rw=read --bs=1M --size="${DIRECT_MIB}M") ;;
    create)
      rm -rf "$mnt/meta"; mkdir -p "$mnt/meta"
      R[$kind,create]=$(fio_job "$kind" create iops --directory="$mnt/meta" --ioengine=filecreate --nrfiles="$NFILES" \
        --filesize=4k --openfiles=1 --create_on_open=1 --fallocate=none) ;;
    stat)
      R[$kind,stat]=$(fio_job "$kind" stat iops --directory="$mnt/meta" --ioengine=filestat --nrfiles="$NFILES" \
        --filesize=4k --openfiles=1) ;;
    unlink)
      R[$kind,unlink]=$(fio_job "$kind" unlink iops --directory="$mnt/meta" --ioengine=filedelete --nrfiles="$NFILES" \
        --filesize=4k --openfiles=1) ;;
    pymeta)
      rm -rf "$mnt/meta-py"
      read -r "R[$kind,pycreate]" "R[$kind,pystat]" "R[$kind,pyunlink]" < <(py_meta "$mnt/meta-py" "$NFILES") ;;
  esac
  umount_fs "$kind"
}

# The order of one round: writes first (they leave the files the reads need), then reads, then metadata.
ROUND_JOBS=(seqwrite randwrite directwrite seqread randread directread create stat unlink pymeta)

echo "compare-mount: $FSTYPE ${MKFS_OPTS}, seq ${SIZE_MIB} MiB, random ${RAND_MIB} MiB x ${RUNTIME}s, O_DIRECT ${DIRECT_MIB} MiB," \
  "${NFILES} files; image ${IMG_MIB} MiB; ${ROUNDS} rounds, filesystems in turn per job; $(nproc) CPUs," \
  "load: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK"/*.img
truncate -s "${IMG_MIB}M" "$WORK/base.img"
# shellcheck disable=SC2086 # MKFS_OPTS is a list of options
mke2fs -q -F -t "$FSTYPE" -b 4096 $MKFS_OPTS -N $(( NFILES * 2 > 65536 ? NFILES * 2 : 65536 )) "$WORK/base.img"
for kind in "${KINDS[@]}"; do cp --sparse=always "$WORK/base.img" "$(img_of "$kind")"; done

rounds_csv="$OUT/rounds.csv"
echo "round,job,unit,iomapfs,fuse2fs,kernel" > "$rounds_csv"
declare -A ALL=()   # ALL[kind,job] = space-separated values over the rounds
for round in $(seq 1 "$ROUNDS"); do
  echo "-- round $round/$ROUNDS"
  j=0
  for job in "${ROUND_JOBS[@]}"; do
    # Rotate who goes first, so that no filesystem always runs right after the same other one (see umount_fs).
    for k in $(seq 0 $(( ${#KINDS[@]} - 1 ))); do
      run_job "${KINDS[$(( (k + j + round) % ${#KINDS[@]} ))]}" "$job"
    done
    j=$(( j + 1 ))
  done
  for job in "${JOBS[@]}"; do
    for kind in iomapfs fuse2fs kernel; do
      ALL[$kind,$job]="${ALL[$kind,$job]:-} ${R[$kind,$job]:-error}"
    done
    echo "$round,${LABEL[$job]},${UNIT[$job]},${R[iomapfs,$job]:-},${R[fuse2fs,$job]:-},${R[kernel,$job]:-}" >> "$rounds_csv"
  done
done
for kind in "${KINDS[@]}"; do
  if e2fsck -fn "$(img_of "$kind")" > "$WORK/$kind.fsck" 2>&1; then
    echo "   e2fsck -fn $(basename "$(img_of "$kind")"): clean"
  else
    echo "   e2fsck -fn $(basename "$(img_of "$kind")"): NOT clean (see $WORK/$kind.fsck)"
  fi
done
median() { python3 -c "import sys, statistics
v = [float(x) for x in sys.argv[1:] if x not in ('error', '')]
print('%.1f' % statistics.median(v) if v else 'error')" "$@"; }
for job in "${JOBS[@]}"; do
  for kind in iomapfs fuse2fs kernel; do
    # shellcheck disable=SC2086
    R[$kind,$job]=$(median ${ALL[$kind,$job]:-})
  done
done

csv="$OUT/compare-mount.csv"
echo "job,unit,iomapfs,fuse2fs,kernel" > "$csv"
printf '\n%-20s %-8s %12s %12s %12s %16s %15s\n' job unit iomapfs fuse2fs kernel iomapfs/fuse2fs iomapfs/kernel
ratio() { python3 -c "import sys
try: print('%.2fx' % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print('-')" "$1" "$2"; }
for job in "${JOBS[@]}"; do
  a=${R[iomapfs,$job]}; f=${R[fuse2fs,$job]}; k=${R[kernel,$job]}
  echo "${LABEL[$job]},${UNIT[$job]},$a,$f,$k" >> "$csv"
  printf '%-20s %-8s %12s %12s %12s %16s %15s\n' "${LABEL[$job]}" "${UNIT[$job]}" "$a" "$f" "$k" \
    "$(ratio "$a" "$f")" "$(ratio "$a" "$k")"
done
echo
echo "CSV: $csv (medians of $ROUNDS rounds; every round: $rounds_csv)"
"$JAVA" -Djava.awt.headless=true -cp "$BENCH_JAR" org.iomap4j.bench.CompareChart "$csv" "$OUT/compare-mount.png" \
  "iomapfs vs fuse2fs vs kernel ext2: seq ${SIZE_MIB} MiB, ${NFILES} files (throughput / fuse2fs)"
[ -s "$OUT/errors.txt" ] && echo "job errors: $OUT/errors.txt"
exit 0
