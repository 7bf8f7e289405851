#!/bin/sh
# Downloads the jars the streaming job needs beside Flink's own (the Kafka and JDBC connectors, the
# PostgreSQL driver, the Parquet format of the event archive) from Maven Central into the current
# directory, each checked against the SHA-1 Maven Central publishes. One list for both images that
# run Flink code: the Flink cluster's (its lib/) and Airflow's (the client that plans the job).
# Versions come from the environment (the Dockerfiles' ARGs; tests/test_docker_compose.py checks
# them against local_stack/jvm/pom.xml). Parquet: no flink-sql-parquet is published for Flink 2.0,
# so flink-parquet comes with its parquet-mr jars, zstd-jni (the archive's codec) and the shaded
# Hadoop client classes that parquet-hadoop needs.
set -eu
: "${MAVEN_CENTRAL:=https://repo1.maven.org/maven2}"
for path in \
    "org/apache/flink/flink-sql-connector-kafka/${FLINK_KAFKA_CONNECTOR_VERSION}/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
    "org/apache/flink/flink-connector-jdbc-core/${FLINK_JDBC_CONNECTOR_VERSION}/flink-connector-jdbc-core-${FLINK_JDBC_CONNECTOR_VERSION}.jar" \
    "org/apache/flink/flink-connector-jdbc-postgres/${FLINK_JDBC_CONNECTOR_VERSION}/flink-connector-jdbc-postgres-${FLINK_JDBC_CONNECTOR_VERSION}.jar" \
    "org/postgresql/postgresql/${POSTGRESQL_JDBC_VERSION}/postgresql-${POSTGRESQL_JDBC_VERSION}.jar" \
    "org/apache/flink/flink-parquet/${FLINK_PARQUET_VERSION}/flink-parquet-${FLINK_PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-hadoop/${PARQUET_VERSION}/parquet-hadoop-${PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-column/${PARQUET_VERSION}/parquet-column-${PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-common/${PARQUET_VERSION}/parquet-common-${PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-encoding/${PARQUET_VERSION}/parquet-encoding-${PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-format-structures/${PARQUET_VERSION}/parquet-format-structures-${PARQUET_VERSION}.jar" \
    "org/apache/parquet/parquet-jackson/${PARQUET_VERSION}/parquet-jackson-${PARQUET_VERSION}.jar" \
    "com/github/luben/zstd-jni/${ZSTD_JNI_VERSION}/zstd-jni-${ZSTD_JNI_VERSION}.jar" \
    "org/apache/hadoop/hadoop-client-api/${HADOOP_CLIENT_VERSION}/hadoop-client-api-${HADOOP_CLIENT_VERSION}.jar" \
    "org/apache/hadoop/hadoop-client-runtime/${HADOOP_CLIENT_VERSION}/hadoop-client-runtime-${HADOOP_CLIENT_VERSION}.jar"
do
    jar="$(basename "$path")"
    curl -fsSL --retry 3 -o "$jar" "${MAVEN_CENTRAL}/${path}"
    echo "$(curl -fsSL --retry 3 "${MAVEN_CENTRAL}/${path}.sha1" | cut -c1-40)  ${jar}" | sha1sum -c -
done
