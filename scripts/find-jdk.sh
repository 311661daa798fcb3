# Sourced: exports JAVA_HOME pointing at a JDK >= 25 and puts it first on PATH, or exits 1 naming what it saw.
# Order: $JAVA_HOME if its major version is >= 25, else the newest JDK >= 25 under /usr/lib/jvm.
iomap4j_jdk_major() { # prints the major version of the JDK at $1, or nothing
  local rel="$1/release"
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  if [ -f "$rel" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
  fi
}
iomap4j_find_jdk() {
  local best="" bestv=0 d v
  if [ -n "${JAVA_HOME:-}" ]; then
    v=$(iomap4j_jdk_major "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$JAVA_HOME"; return 0; fi
  fi
  for d in /usr/lib/jvm/*; do
    [ -d "$d" ] || continue
    [ -L "$d" ] && continue
    v=$(iomap4j_jdk_major "$d")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  [ -n "$best" ] && echo "$best"
}
_jdk=$(iomap4j_find_jdk)
if [ -z "$_jdk" ]; then
  echo "iomap4j: no JDK >= 25 found (JAVA_HOME=${JAVA_HOME:-unset}; looked under /usr/lib/jvm)" >&2
  exit 1
fi
export JAVA_HOME="$_jdk"
export PATH="$JAVA_HOME/bin:$PATH"
unset _jdk
