#!/usr/bin/env bash
# Resolve the Apache Kafka broker jars (KRaft, no ZooKeeper) from Maven Central into a cache
# directory, once. Later runs reuse the cache. Usage: deploy/kafka/fetch-kafka.sh [DEST]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/../../.cache/kafka}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
stamp="$dest/.resolved-$(sha256sum "$here/pom.xml" | cut -c1-16)"

if [[ -f "$stamp" ]]; then
  exit 0
fi
if ! command -v java >/dev/null 2>&1; then
  echo "ledgerflow: Java is missing; install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) to run the Kafka broker." >&2
  exit 1
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "ledgerflow: Maven is missing; install it (Debian: apt-get install maven) so the Kafka broker jars can be resolved from Maven Central." >&2
  exit 1
fi
echo "ledgerflow: resolving Kafka broker jars from Maven Central into $dest (first run only)"
rm -f "$dest"/*.jar
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$dest/jars"
touch "$stamp"
