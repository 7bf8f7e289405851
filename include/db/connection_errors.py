"""One line that says what to do when PostgreSQL refuses a connection over TLS settings.

libpq's own messages ("no pg_hba.conf entry ... no encryption", "certificate verify failed") are
right but name no setting; this maps them onto PG_SSLMODE, PG_SSLROOTCERT and PG_HOST. Works on the
text of any driver's error (psycopg, psycopg2), so it needs no driver import.
"""

from __future__ import annotations

from collections.abc import Mapping


def explain(error: BaseException | str, cfg: Mapping[str, str]) -> str:
    """A one-line explanation of a failed PostgreSQL connection, with the setting to change."""
    text = " ".join(str(error).split())
    where = f"PostgreSQL at {cfg['PG_HOST']}:{cfg['PG_PORT']}"
    mode, root = cfg["PG_SSLMODE"], cfg["PG_SSLROOTCERT"]
    lowered = text.lower()
    if "no encryption" in lowered:
        return (
            f"{where} accepts only TLS connections, but PG_SSLMODE is {mode}: set PG_SSLMODE=verify-full "
            f"(and PG_SSLROOTCERT to the server's CA) ({text})"
        )
    if "certificate verify failed" in lowered:
        return (
            f"{where} presented a certificate that the CA in PG_SSLROOTCERT ({root}) did not sign: point "
            f"PG_SSLROOTCERT at the CA that signed the server's certificate ({text})"
        )
    if "does not match host name" in lowered:
        return (
            f"{where} presented a certificate that does not name PG_HOST={cfg['PG_HOST']}: connect by a name "
            f"the certificate carries, or use PG_SSLMODE=verify-ca to check the CA only ({text})"
        )
    if "root certificate file" in lowered:
        return (
            f"PG_SSLROOTCERT ({root}) cannot be read, and PG_SSLMODE={mode} needs it: run make up (which "
            f"generates the local CA) or point PG_SSLROOTCERT at your server's CA ({text})"
        )
    if "server does not support ssl" in lowered:
        return (
            f"{where} does not offer TLS, but PG_SSLMODE={mode} requires it: enable ssl on the server, or set "
            f"PG_SSLMODE=prefer (or disable) for a server you trust on a private network ({text})"
        )
    return f"could not connect to {where}: {text}"
