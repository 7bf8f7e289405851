"""include/db/connection_errors.py on libpq's messages for cases the local stack cannot produce (its
server always offers TLS); the stack's own refusals are in tests/local_stack/test_postgres_tls.py."""

from __future__ import annotations

from include import config
from include.db.connection_errors import explain

CFG = config.resolve({"PG_HOST": "db.example", "PG_PORT": "6543", "PG_SSLMODE": "require"})


def test_a_server_without_tls_names_the_mode_that_requires_it():
    line = explain(
        'connection to server at "db.example", port 6543 failed: server does not support SSL, but SSL was required',
        CFG,
    )
    assert line.startswith(
        "PostgreSQL at db.example:6543 does not offer TLS, but PG_SSLMODE=require requires it"
    )
    assert "\n" not in line


def test_another_failure_keeps_libpq_words_on_one_line():
    line = explain(
        'connection to server at "db.example", port 6543 failed: Connection refused\n\tIs the server running?',
        CFG,
    )
    assert line == (
        'could not connect to PostgreSQL at db.example:6543: connection to server at "db.example", port 6543 '
        "failed: Connection refused Is the server running?"
    )
