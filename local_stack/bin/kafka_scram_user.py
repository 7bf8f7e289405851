"""Gives the local broker's SASL user (KAFKA_LOCAL_SASL_USERNAME) its SCRAM-SHA-256 credential.

SCRAM credentials live in the cluster's metadata, not in server.properties: this sets them through
the PLAINTEXT listener once the broker is up (make up runs it after the broker's health check).
Idempotent: the credential is replaced with the one from the current settings.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from include import config

ITERATIONS = 8192


def main() -> int:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    cfg = config.resolve()
    user, password = cfg["KAFKA_LOCAL_SASL_USERNAME"], cfg["KAFKA_LOCAL_SASL_PASSWORD"]
    if not password:
        print("KAFKA_LOCAL_SASL_PASSWORD is empty: run make up, which generates it", file=sys.stderr)
        return 2
    # The local broker's own PLAINTEXT listener, whatever KAFKA_BOOTSTRAP_SERVERS points at.
    admin = AdminClient({"bootstrap.servers": f"{cfg['BIND_HOST']}:{cfg['KAFKA_PORT']}"})
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, ITERATIONS), password.encode()
    )
    try:
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
    except KafkaException as exc:
        print(f"could not set the SCRAM credential of {user!r}: {exc.args[0].str()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
