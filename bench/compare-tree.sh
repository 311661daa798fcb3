#!/usr/bin/env bash
# Issue 17: a user's workload on an iomapfs mount, a fuse2fs mount and a kernel ext2 loop mount of identical fresh
# images: untar a real tree and sync, walk it (find + du), read every file cold (cat), rm -rf it; then create, stat
# and unlink 10,000 empty files from one python3 process. Prints each step's seconds (or files/s) per filesystem
# and the ratios iomapfs/kernel and iomapfs/fuse2fs (speed ratios: > 1 means iomapfs is faster), and the FUSE
# requests iomapfs served per untarred entry (iomapfs mount --stats). A benchmark script, not a test.
#
# Usage (root; fuse2fs, e2fsprogs, python3, tar):
#   bench/compare-tree.sh [TREE_TAR] [OUT_DIR=bench/out]
#   TREE_TAR: a tar of a real tree (default: made from /usr/share/doc into $WORK/tree.tar)
#   env: WORK=/tmp/iomap4j-tree, NFILES=10000, ROUNDS=1, KINDS="iomapfs fuse2fs kernel",
#        IOMAPFS_OPTS="" (extra 'iomapfs mount' options, e.g. --no-writeback-cache), IMG_MIB=2048
# Every step runs on a fresh mount with caches dropped first; the filesystems take turns step by step (rotating).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/iomap4j-tree}
TREE=${1:-$WORK/tree.tar}
OUT=${2:-$root/bench/out}
NFILES=${NFILES:-10000}
ROUNDS=${ROUNDS:-1}
IMG_MIB=${IMG_MIB:-2048}
read -r -a KINDS <<< "${KINDS:-iomapfs fuse2fs kernel}"
read -r -a IOMAPFS_OPTS <<< "${IOMAPFS_OPTS:-}"
IOMAPFS="$root/iomapfs"

for tool in fuse2fs mke2fs e2fsck python3 mountpoint tar; do
  command -v "$tool" >/dev/null || { echo "compare-tree: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "compare-tree: needs root (loop mount, drop_caches)" >&2; exit 2; }
"$IOMAPFS" --version > /dev/null   # builds and trains the AOT cache outside the timed steps
mkdir -p "$WORK" "$OUT"
if [ ! -f "$TREE" ]; then tar -C /usr/share -cf "$TREE" doc; fi
ENTRIES=$(tar -tf "$TREE" | wc -l)
declare -A PID=()
mnt_of() { echo "$WORK/mnt-$1"; }
img_of() { echo "$WORK/$1.img"; }

mount_fs() {
  local kind=$1 img mnt
  img=$(img_of "$kind"); mnt=$(mnt_of "$kind")
  mkdir -p "$mnt"
  case $kind in
    iomapfs) "$IOMAPFS" mount "$img" "$mnt" --stats "${IOMAPFS_OPTS[@]}" > "$WORK/iomapfs.log" 2>&1 & PID[$kind]=$! ;;
    fuse2fs) fuse2fs "$img" "$mnt" -f -o rw > "$WORK/fuse2fs.log" 2>&1 & PID[$kind]=$! ;;
    kernel) mount -t ext2 -o loop "$img" "$mnt" ;;
  esac
  for _ in $(seq 1 300); do
    mountpoint -q "$mnt" && return 0
    sleep 0.1
  done
  echo "compare-tree: $kind did not mount" >&2; cat "$WORK/$kind.log" >&2 2>/dev/null || true; return 1
}

umount_fs() {
  local kind=$1 mnt
  mnt=$(mnt_of "$kind")
  if mountpoint -q "$mnt"; then
    case $kind in iomapfs) "$IOMAPFS" umount "$mnt" ;; *) umount "$mnt" ;; esac
  fi
  if [ "$kind" = kernel ]; then
    for _ in $(seq 1 100); do [ -z "$(losetup -j "$(img_of kernel)" 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  if [ -n "${PID[$kind]:-}" ]; then wait "${PID[$kind]}" 2>/dev/null || true; unset "PID[$kind]"; fi
}
cleanup() { for k in iomapfs fuse2fs kernel; do umount_fs "$k" 2>/dev/null || umount -l "$(mnt_of "$k")" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); python3 -c "print('%.2f' % ($t1 - $t0))"; }

declare -A R=() REQ=()
STEPS=(untar walk read rm create stat unlink)
declare -A UNIT=([untar]=s [walk]=s [read]=s [rm]=s [create]=files/s [stat]=files/s [unlink]=files/s)

step() {
  local kind=$1 s=$2 mnt
  mnt=$(mnt_of "$kind")
  sync; echo 3 > /proc/sys/vm/drop_caches
  mount_fs "$kind"
  case $s in
    untar) R[$kind,untar]=$(secs bash -c "tar -C '$mnt' -xf '$TREE' && sync -f '$mnt'") ;;
    walk) R[$kind,walk]=$(secs bash -c "find '$mnt/doc' -printf '%s %m\n' > /dev/null && du -s '$mnt/doc'") ;;
    read) R[$kind,read]=$(secs bash -c "find '$mnt/doc' -type f -print0 | xargs -0 cat > /dev/null") ;;
    rm) R[$kind,rm]=$(secs bash -c "rm -rf '$mnt/doc' && sync -f '$mnt'") ;;
    meta) read -r "R[$kind,create]" "R[$kind,stat]" "R[$kind,unlink]" < <(python3 - "$mnt/meta" "$NFILES" <<'PYEOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
names = [os.path.join(d, "f%d" % i) for i in range(n)]
def syncfs():
    fd = os.open(d, os.O_RDONLY); os.fsync(fd); os.close(fd); os.sync()
r = []
t = time.perf_counter()
for p in names: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
syncfs(); r.append(n / (time.perf_counter() - t))
time.sleep(1.5)  # past a 1 s attribute timeout, as a user's later stat would be
t = time.perf_counter()
for p in names: os.stat(p)
r.append(n / (time.perf_counter() - t))
t = time.perf_counter()
for p in names: os.unlink(p)
syncfs(); r.append(n / (time.perf_counter() - t))
print(" ".join("%.1f" % x for x in r))
PYEOF
) ;;
  esac
  umount_fs "$kind"
  if [ "$kind" = iomapfs ]; then
    REQ[$s]=$(grep -o '[0-9]* FUSE requests' "$WORK/iomapfs.log" | cut -d' ' -f1 || echo '?')
    [ "$s" = untar ] && grep 'FUSE requests' "$WORK/iomapfs.log" > "$OUT/tree-untar-requests.txt" || true
  fi
}

echo "compare-tree: $(basename "$TREE") ($ENTRIES entries), $NFILES files; iomapfs ${IOMAPFS_OPTS[*]:-(defaults)};" \
  "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK"/*.img
truncate -s "${IMG_MIB}M" "$WORK/base.img"
mke2fs -q -F -t ext2 -b 4096 "$WORK/base.img"
for kind in "${KINDS[@]}"; do cp --sparse=always "$WORK/base.img" "$(img_of "$kind")"; done
j=0
for s in untar walk read rm meta; do
  for k in $(seq 0 $(( ${#KINDS[@]} - 1 ))); do step "${KINDS[$(( (k + j) % ${#KINDS[@]} ))]}" "$s"; done
  j=$((j + 1))
done
for kind in "${KINDS[@]}"; do
  e2fsck -fn "$(img_of "$kind")" > "$WORK/$kind.fsck" 2>&1 && echo "   e2fsck -fn $kind: clean" \
    || echo "   e2fsck -fn $kind: NOT clean ($WORK/$kind.fsck)"
done
speed() { python3 -c "import sys
u, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    a, b = float(a), float(b)
    print('%.2fx' % ((b / a) if u == 's' else (a / b)))
except Exception: print('-')" "$@"; }
csv="$OUT/compare-tree.csv"
echo "step,unit,iomapfs,fuse2fs,kernel,iomapfs_requests" > "$csv"
printf '\n%-8s %-8s %10s %10s %10s %15s %16s %14s\n' step unit iomapfs fuse2fs kernel iomapfs/kernel iomapfs/fuse2fs \
  "FUSE requests"
for s in "${STEPS[@]}"; do
  a=${R[iomapfs,$s]:-}; f=${R[fuse2fs,$s]:-}; k=${R[kernel,$s]:-}
  req=${REQ[$s]:-${REQ[meta]:-}}
  echo "$s,${UNIT[$s]},$a,$f,$k,$req" >> "$csv"
  printf '%-8s %-8s %10s %10s %10s %15s %16s %14s\n' "$s" "${UNIT[$s]}" "$a" "$f" "$k" "$(speed "${UNIT[$s]}" "$a" "$k")" \
    "$(speed "${UNIT[$s]}" "$a" "$f")" "$req"
done
[ -n "${REQ[untar]:-}" ] && python3 -c "print('iomapfs untar: %.2f FUSE requests per entry' % ($((${REQ[untar]})) / $ENTRIES))"
echo "CSV: $csv"
