"""PyFlink smoke job: Kafka topic (JSON) -> running SUM/COUNT per key -> JDBC upsert into PostgreSQL.

Proves the session cluster loads the Kafka and JDBC connectors and the PostgreSQL driver, and that
an updating result upserts by primary key. Configured only through the environment:
SMOKE_TOPIC, SMOKE_BOOTSTRAP, SMOKE_JDBC_URL, SMOKE_TABLE, SMOKE_USER, SMOKE_PASSWORD.
"""

import os

from pyflink.table import EnvironmentSettings, TableEnvironment

env = os.environ
t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
t_env.get_config().set("pipeline.name", env.get("SMOKE_PIPELINE_NAME", f"smoke-{env['SMOKE_TOPIC']}"))

t_env.execute_sql(f"""
    CREATE TABLE src (k STRING, v BIGINT) WITH (
        'connector' = 'kafka',
        'topic' = '{env["SMOKE_TOPIC"]}',
        'properties.bootstrap.servers' = '{env["SMOKE_BOOTSTRAP"]}',
        'properties.group.id' = 'smoke-{env["SMOKE_TOPIC"]}',
        'scan.startup.mode' = 'earliest-offset',
        'format' = 'json'
    )""")
t_env.execute_sql(f"""
    CREATE TABLE sink (k STRING, total BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
        'connector' = 'jdbc',
        'url' = '{env["SMOKE_JDBC_URL"]}',
        'table-name' = '{env["SMOKE_TABLE"]}',
        'username' = '{env["SMOKE_USER"]}',
        'password' = '{env["SMOKE_PASSWORD"]}',
        'sink.buffer-flush.interval' = '500ms'
    )""")
t_env.execute_sql("INSERT INTO sink SELECT k, SUM(v), COUNT(*) FROM src GROUP BY k")
