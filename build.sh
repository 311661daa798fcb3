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
exec mvn -B -ntp "$@"
