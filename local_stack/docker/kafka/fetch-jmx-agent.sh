#!/bin/sh
# Run by the one-shot compose service kafka-jmx-agent (curl image, busybox sh): puts the Prometheus
# JMX exporter Java agent, version JMX_EXPORTER_VERSION (= jmx.exporter.version of
# local_stack/jvm/pom.xml), into the volume mounted at /agents, which the kafka service mounts and
# attaches through KAFKA_OPTS. Verified against the SHA-1 Maven Central publishes; a jar already
# there with the right checksum is kept.
set -eu

: "${JMX_EXPORTER_VERSION:?}"
url="https://repo1.maven.org/maven2/io/prometheus/jmx/jmx_prometheus_javaagent/${JMX_EXPORTER_VERSION}/jmx_prometheus_javaagent-${JMX_EXPORTER_VERSION}.jar"
jar=/agents/jmx_prometheus_javaagent.jar

sha1=$(curl -fsSL --retry 3 "${url}.sha1" | cut -c1-40)
if [ -f "$jar" ] && echo "${sha1}  ${jar}" | sha1sum -c - >/dev/null 2>&1; then
  echo "kafka-jmx-agent: ${jar} (${JMX_EXPORTER_VERSION}) already present"
  exit 0
fi

curl -fsSL --retry 3 -o "${jar}.tmp" "$url"
echo "${sha1}  ${jar}.tmp" | sha1sum -c -
mv "${jar}.tmp" "$jar"
chmod 0444 "$jar"
echo "kafka-jmx-agent: ${jar} (${JMX_EXPORTER_VERSION}) downloaded"
