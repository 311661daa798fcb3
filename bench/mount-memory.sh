#!/usr/bin/env bash
# Memory of the iomapfs server process (RSS) while writing, then reading back, MULTIPLE x its page cache through a
# real mount made by ./iomapfs with its default JVM flags (the launcher sizes the heap from --cache-size). Issue 17's
# budget: RSS <= cache size + 150 MiB in both phases.
#
#   sudo bench/mount-memory.sh [CACHE_SIZE (default 64M)] [MULTIPLE (default 10)] [extra mount options...]
#
# Each phase is its own mount (so the read comes cold from the image): write MULTIPLE files of CACHE_SIZE with dd
# from a random source file, sync, unmount; mount again, cat every file to /dev/null, unmount. RSS is sampled every
# 0.2 s from /proc/PID/status (VmRSS), and VmHWM (the kernel's own peak) just before each unmount.
# Prints one line per phase; writes nothing else. Needs root (mount) and free space for the sparse image in $TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cache=${1:-64M}
mult=${2:-10}
shift $(( $# < 2 ? $# : 2 ))
to_bytes() {
  local v=$1 n=${1%[KkMmGgTt]}
  case "${v: -1}" in
    K|k) echo $((n << 10)) ;; M|m) echo $((n << 20)) ;; G|g) echo $((n << 30)) ;; T|t) echo $((n << 40)) ;;
    *) echo "$v" ;;
  esac
}
cache_bytes=$(to_bytes "$cache")
file_mib=$((cache_bytes >> 20))
data_mib=$((file_mib * mult))
img_mib=$((data_mib + data_mib / 4 + 256))
work=$(mktemp -d "${TMPDIR:-/tmp}/iomapfs-mem.XXXXXX")
mnt=$work/mnt
mkdir "$mnt"
cleanup() {
  mountpoint -q "$mnt" && umount -l "$mnt" || true
  rm -rf "$work"
}
trap cleanup EXIT
"$here/iomapfs" mkfs "$work/img" --size "${img_mib}M" > /dev/null
head -c $((file_mib << 20)) /dev/urandom > "$work/src"

# phase NAME COMMAND: mounts, samples the server's RSS while COMMAND runs, unmounts, prints the peaks.
phase() {
  local name=$1 cmd=$2
  "$here/iomapfs" mount "$work/img" "$mnt" --cache-size "$cache" --warmup-ms 0 "${extra[@]}" > "$work/log.$name" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    grep -q " mounted at " "$work/log.$name" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log.$name" >&2; exit 1; }
    sleep 0.1
  done
  local peak=0 hwm=0 t0 t1
  t0=$(date +%s.%N)
  ( eval "$cmd" ) &
  local job=$!
  while kill -0 "$job" 2>/dev/null; do
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.2
  done
  wait "$job"
  t1=$(date +%s.%N)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  umount "$mnt"
  wait "$pid" || true
  printf '%-5s %6d MiB in %6.1f s: peak VmRSS %5d MiB, VmHWM %5d MiB (budget %d MiB = cache %d + 150)\n' \
    "$name" "$data_mib" "$(echo "$t1 - $t0" | bc)" $((peak >> 10)) $((hwm >> 10)) $((file_mib + 150)) "$file_mib"
}
extra=("$@")
phase write "for i in \$(seq $mult); do dd if=$work/src of=$mnt/f\$i bs=1M status=none; done; sync $mnt/f1"
phase read "cat $mnt/f* > /dev/null"
