#!/usr/bin/env bash
# Runs Maven with a JDK >= 25: JAVA_HOME if it is >= 25, else the newest JDK >= 25 under /usr/lib/jvm.
# Usage: ./build.sh test        (the test command)
#        ./build.sh [maven args] (anything else goes to mvn)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/find-jdk.sh
source "$here/scripts/find-jdk.sh"
cd "$here"
if [ "$#" -eq 0 ]; then set -- test; fi
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
# No ANSI colour codes when the output is not a terminal (-B alone still lets Maven 3.8 print resets).
if [ ! -t 1 ]; then export MAVEN_OPTS="$MAVEN_OPTS -Djansi.noreset=true"; set -- -Dstyle.color=never "$@"; fi
exec mvn -B -ntp "$@"
