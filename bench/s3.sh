#!/usr/bin/env bash
# Issue 18's benchmark: an S3 bucket mounted by iomapfs, s3fs-fuse and rclone mount, all three on one local
# s3proxy (scripts/s3proxy: the server the tests use, filesystem store), each in a bucket of its own. Prints a
# table of seconds per job and the ratio peer/iomapfs (above 1: iomapfs is faster), and the write amplification
# of the random-write job (bytes sent to the server per byte written, counted by a relay, bench/s3-relay.py).
#
# Usage (root; installs Debian's s3fs and rclone if missing):
#   bench/s3.sh [OUT_DIR=bench/results]
#   env: SEQ_MIB=1024 (sequential object), RAND_MIB=256 (random-write object), RAND_WRITES=64 (4 KiB writes at random 4 KiB-aligned offsets),
#        NFILES=10000 (small files of 1 KiB), KINDS="iomapfs s3fs rclone", WORK=/tmp/iomap4j-s3bench, PORT=9400,
#        JOBS="large small" (large: seq-write, seq reads, rand-write; small: the NFILES jobs),
#        IOMAPFS_S3_OPTS (more 'iomapfs mount' options). KINDS may name iomapfs-async: iomapfs with --async-close.
#        iomapfs mounts run with --stats: WORK/mount-iomapfs*.log has the FUSE and S3 requests of every mount.
#
# Every job runs on a fresh mount (a new process); a job's time ends when its data is on the server: a write job
# includes the fsync and the unmount (the process exits once it has uploaded what it holds; rclone uploads on
# close in the background and waits for it at unmount). Cold reads start with empty local caches and the host's
# page cache dropped; cached reads remount over the local cache the cold read filled (iomapfs: its disk cache;
# s3fs: -o use_cache; rclone: --vfs-cache-mode full) with the host's page cache dropped. Every object read is
# compared (md5) with what was written. The peers run with the options their documentation gives for caching
# (s3fs use_cache, rclone --vfs-cache-mode full); all three use the same part size (8 MiB).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$root/bench/results}
SEQ_MIB=${SEQ_MIB:-1024}
RAND_MIB=${RAND_MIB:-256}
RAND_WRITES=${RAND_WRITES:-64}
NFILES=${NFILES:-10000}
WORK=${WORK:-/tmp/iomap4j-s3bench}
PORT=${PORT:-9400}
RELAY_PORT=$((PORT + 1))
read -r -a KINDS <<< "${KINDS:-iomapfs s3fs rclone}"
JOBS=" ${JOBS:-large small} "
# The server is plain http on loopback: a CA bundle from the environment is not needed, and rclone's S3 backend
# refuses to start with AWS_CA_BUNDLE set ("unsupported transport").
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-iomap4j-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-iomap4j-secret}

[ "$(id -u)" = 0 ] || { echo "s3 bench: needs root (FUSE mounts, drop_caches)" >&2; exit 2; }
missing=()
command -v s3fs > /dev/null || missing+=(s3fs)
command -v rclone > /dev/null || missing+=(rclone)
if [ ${#missing[@]} -gt 0 ]; then
  echo "s3 bench: installing ${missing[*]} from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
for tool in python3 md5sum mountpoint fusermount3; do
  command -v "$tool" > /dev/null || { echo "s3 bench: $tool is not installed" >&2; exit 2; }
done
"$root/iomapfs" --version > /dev/null # builds and trains the AOT cache outside the timed jobs

rm -rf "$WORK"; mkdir -p "$WORK" "$OUT"
SERVER_PID=""; RELAY_PID=""; MOUNT_PID=""
cleanup() {
  for k in "${KINDS[@]}"; do umount -l "$WORK/mnt-$k" 2> /dev/null || true; done
  for p in "$MOUNT_PID" "$RELAY_PID" "$SERVER_PID"; do [ -n "$p" ] && kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
}
trap cleanup EXIT

buckets=(); for k in "${KINDS[@]}"; do buckets+=("bench-$k"); done
"$root/scripts/s3proxy" "$PORT" "$WORK/blobs" "${buckets[@]}" > "$WORK/s3proxy.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do grep -q "^s3proxy: http" "$WORK/s3proxy.log" && break; sleep 1; done
grep -q "^s3proxy: http" "$WORK/s3proxy.log" || { cat "$WORK/s3proxy.log" >&2; exit 1; }

# rclone as the oracle client (not a mount): configured through the environment.
export RCLONE_CONFIG_S3P_TYPE=s3 RCLONE_CONFIG_S3P_PROVIDER=Other RCLONE_CONFIG_S3P_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_S3P_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_S3P_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_S3P_CHUNK_SIZE=8M RCLONE_CONFIG_S3P_UPLOAD_CUTOFF=8M
export RCLONE_CONFIG_S3P_ENDPOINT=http://127.0.0.1:$PORT
echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" > "$WORK/s3fs.passwd"; chmod 600 "$WORK/s3fs.passwd"
server_md5() { rclone cat "s3p:bench-$1/$2" | md5sum | cut -d' ' -f1; }

# mount KIND [cached] [port]: a fresh mount of bucket bench-KIND at $WORK/mnt-KIND; cached keeps the local cache.
mount_kind() {
  local kind=$1 keep=${2:-} port=${3:-$PORT} mnt="$WORK/mnt-$kind" cache="$WORK/cache-$kind"
  mkdir -p "$mnt"
  if [ "$keep" != cached ]; then rm -rf "$cache"; fi
  mkdir -p "$cache"
  case $kind in
    iomapfs|iomapfs-async)
      local extra=(); if [ "$kind" = iomapfs-async ]; then extra=(--async-close); fi
      "$root/iomapfs" mount "s3://bench-$kind" "$mnt" --endpoint "http://127.0.0.1:$port" --cache-dir "$cache" \
        --disk-cache-size $(( (SEQ_MIB + RAND_MIB) * 2 ))M --stats "${extra[@]}" ${IOMAPFS_S3_OPTS:-} \
        >> "$WORK/mount-$kind.log" 2>&1 &
      MOUNT_PID=$! ;;
    s3fs)
      s3fs "bench-$kind" "$mnt" -f -o url="http://127.0.0.1:$port" -o use_path_request_style \
        -o passwd_file="$WORK/s3fs.passwd" -o use_cache="$cache" -o multipart_size=8 -o allow_other \
        > "$WORK/mount-$kind.log" 2>&1 &
      MOUNT_PID=$! ;;
    rclone)
      RCLONE_CONFIG_S3P_ENDPOINT="http://127.0.0.1:$port" rclone mount "s3p:bench-$kind" "$mnt" \
        --vfs-cache-mode full --cache-dir "$cache" --vfs-write-back 0s --allow-other \
        > "$WORK/mount-$kind.log" 2>&1 &
      MOUNT_PID=$! ;;
  esac
  for _ in $(seq 600); do mountpoint -q "$mnt" && return 0; kill -0 "$MOUNT_PID" 2> /dev/null || break; sleep 0.1; done
  echo "s3 bench: $kind did not mount:" >&2; cat "$WORK/mount-$kind.log" >&2; exit 1
}
# Unmounts and waits for the mount's process to exit (it has then uploaded what it holds).
umount_kind() {
  local kind=$1
  case $kind in
    iomapfs*) "$root/iomapfs" umount "$WORK/mnt-$kind" ;;
    *) fusermount3 -u "$WORK/mnt-$kind" 2> /dev/null || umount "$WORK/mnt-$kind" ;;
  esac
  wait "$MOUNT_PID" 2> /dev/null || true
  MOUNT_PID=""
}
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
declare -A T=()
timed() { # timed JOB KIND CMD...: seconds of CMD into T[JOB,KIND]
  local job=$1 kind=$2; shift 2
  local t0; t0=$(now); "$@"; T[$job,$kind]=$(python3 -c "print(f'{$(now) - $t0:.2f}')")
  echo "  $job $kind: ${T[$job,$kind]} s" >&2
}

echo "s3 bench: sources ($SEQ_MIB MiB, $RAND_MIB MiB)" >&2
head -c $((SEQ_MIB << 20)) /dev/urandom > "$WORK/seq.src"
head -c $((RAND_MIB << 20)) /dev/urandom > "$WORK/rand.src"
SEQ_MD5=$(md5sum < "$WORK/seq.src" | cut -d' ' -f1)
python3 - "$WORK/rand.src" "$WORK/rand.expect" "$RAND_WRITES" "$WORK/rand.plan" <<'PY'
import random, shutil, sys
src, dst, n, plan = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
shutil.copyfile(src, dst)
r = random.Random(18)
size = __import__("os").path.getsize(src)
with open(dst, "r+b") as f, open(plan, "w") as p:
    for i in range(n):
        off = r.randrange(size // 4096) * 4096
        data = bytes([i % 251 + 1]) * 4096
        f.seek(off); f.write(data)
        p.write(f"{off} {i % 251 + 1}\n")
PY
RAND_MD5=$(md5sum < "$WORK/rand.expect" | cut -d' ' -f1)
randwrite() { python3 - "$1" "$WORK/rand.plan" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for line in open(sys.argv[2]):
    off, b = map(int, line.split())
    os.pwrite(fd, bytes([b]) * 4096, off)
os.fsync(fd)
os.close(fd)
PY
}
smallfiles() { python3 - "$1" "$2" "$NFILES" <<'PY'
import os, sys
d, what, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if what == "create":
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(f"{d}/f{i:05d}", "wb") as f:
            f.write(i.to_bytes(4, "little") * 256)
elif what == "list":
    assert len(os.listdir(d)) == n, len(os.listdir(d))
elif what == "stat":
    assert sum(os.stat(f"{d}/f{i:05d}").st_size for i in range(n)) == 1024 * n
else:
    for i in range(n):
        with open(f"{d}/f{i:05d}", "rb") as f:
            assert f.read() == i.to_bytes(4, "little") * 256, i
PY
}
check() { # check WHAT GOT WANT
  if [ "$2" != "$3" ]; then echo "s3 bench: $1: content differs ($2 != $3)" >&2; ERRORS+=("$1"); fi
}
ERRORS=()
declare -A AMP=()

for kind in "${KINDS[@]}"; do
  mnt="$WORK/mnt-$kind"
  echo "s3 bench: $kind" >&2
  if [[ "$JOBS" == *" large "* ]]; then
  mount_kind "$kind"
  timed seq-write "$kind" dd if="$WORK/seq.src" of="$mnt/seq" bs=1M conv=fsync status=none
  t0=$(now); umount_kind "$kind"
  T[seq-write,$kind]=$(python3 -c "print(f'{${T[seq-write,$kind]} + $(now) - $t0:.2f}')")
  echo "  seq-write $kind with unmount: ${T[seq-write,$kind]} s" >&2
  check "seq-write $kind" "$(server_md5 "$kind" seq)" "$SEQ_MD5"

  mount_kind "$kind"; drop
  timed seq-read-cold "$kind" sh -c "md5sum < '$mnt/seq' > '$WORK/md5-cold'"
  check "seq-read-cold $kind" "$(cut -d' ' -f1 "$WORK/md5-cold")" "$SEQ_MD5"
  umount_kind "$kind"
  mount_kind "$kind" cached; drop
  timed seq-read-cached "$kind" sh -c "md5sum < '$mnt/seq' > '$WORK/md5-cached'"
  check "seq-read-cached $kind" "$(cut -d' ' -f1 "$WORK/md5-cached")" "$SEQ_MD5"
  umount_kind "$kind"

  # random 4 KiB writes into an object already on the server, through the counting relay
  rclone copyto "$WORK/rand.src" "s3p:bench-$kind/rand"
  python3 "$root/bench/s3-relay.py" "$RELAY_PORT" "$PORT" "$WORK/relay-count" &
  RELAY_PID=$!
  sleep 0.5
  mount_kind "$kind" "" "$RELAY_PORT"
  before=$(cat "$WORK/relay-count")
  timed rand-write "$kind" randwrite "$mnt/rand"
  t0=$(now); umount_kind "$kind"
  T[rand-write,$kind]=$(python3 -c "print(f'{${T[rand-write,$kind]} + $(now) - $t0:.2f}')")
  sleep 0.6; kill "$RELAY_PID"; wait "$RELAY_PID" 2> /dev/null || true; RELAY_PID=""
  after=$(cat "$WORK/relay-count")
  AMP[$kind]=$(python3 -c "print(f'{($after - $before) / ($RAND_WRITES * 4096):.1f}')")
  echo "  rand-write $kind with unmount: ${T[rand-write,$kind]} s, sent $((after - before)) bytes: ${AMP[$kind]}x" >&2
  check "rand-write $kind" "$(server_md5 "$kind" rand)" "$RAND_MD5"
  fi

  if [[ "$JOBS" == *" small "* ]]; then
  mount_kind "$kind"
  timed files-create "$kind" smallfiles "$mnt/small" create
  t0=$(now); umount_kind "$kind"
  T[files-create,$kind]=$(python3 -c "print(f'{${T[files-create,$kind]} + $(now) - $t0:.2f}')")
  mount_kind "$kind"; drop
  timed files-list "$kind" smallfiles "$mnt/small" list
  timed files-stat "$kind" smallfiles "$mnt/small" stat
  timed files-read "$kind" smallfiles "$mnt/small" read
  umount_kind "$kind"
  fi
done

{
  echo "# bench/s3.sh on $(date -u +%Y-%m-%dT%H:%MZ): SEQ_MIB=$SEQ_MIB RAND_MIB=$RAND_MIB RAND_WRITES=$RAND_WRITES NFILES=$NFILES"
  echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); s3fs $(s3fs --version | head -1 | grep -o 'V[0-9.]*'), $(rclone version | head -1)"
  printf "| job |"; for k in "${KINDS[@]}"; do printf " %s |" "$k"; done
  for k in "${KINDS[@]:1}"; do printf " %s/%s |" "$k" "${KINDS[0]}"; done; echo
  printf "|---|"; for _ in "${KINDS[@]}" "${KINDS[@]:1}"; do printf -- "---|"; done; echo
  for job in seq-write seq-read-cold seq-read-cached rand-write files-create files-list files-stat files-read; do
    printf "| %s |" "$job"
    for k in "${KINDS[@]}"; do printf " %s s |" "${T[$job,$k]:-?}"; done
    for k in "${KINDS[@]:1}"; do
      printf " %s |" "$(python3 -c "print(f'{${T[$job,$k]:-0} / max(${T[$job,${KINDS[0]}]:-1}, 0.01):.1f}x')")"
    done
    echo
  done
  printf "| write amplification (rand-write, bytes sent / written) |"
  for k in "${KINDS[@]}"; do printf " %sx |" "${AMP[$k]:-?}"; done; echo
  if [ ${#ERRORS[@]} -gt 0 ]; then echo "# content errors: ${ERRORS[*]}"; fi
} | tee "$OUT/s3-bench.md"
