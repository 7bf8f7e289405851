"""Login roles of the pipeline: one login per component, each a member of one group role.

Group roles and their grants are versioned migrations (V001). Logins carry passwords, which must not
live in SQL files, so they are created here from Airflow connections (or any credentials source).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUPS = ("adevents_realtime_writer", "adevents_analytics_builder", "adevents_dashboard_reader")


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    group: str


def ensure_logins(conn: Any, logins: list[Login]) -> dict[str, str]:
    """Creates missing logins, syncs passwords, grants group membership; returns user -> outcome."""
    outcomes: dict[str, str] = {}
    conn.autocommit = False
    with conn.cursor() as cur:
        for login in logins:
            if login.group not in GROUPS:
                raise ValueError(f"{login.user}: unknown group {login.group!r}, expected one of {GROUPS}")
            if not login.password:
                raise ValueError(f"{login.user}: empty password; set it in the connection (.env)")
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.user,))
            exists = cur.fetchone() is not None
            verb = "ALTER" if exists else "CREATE"
            # Role DDL takes no bound parameters: let the server quote the name and the password.
            cur.execute(
                "SELECT quote_ident(%s), quote_ident(%s), quote_literal(%s)",
                (login.user, login.group, login.password),
            )
            user_ident, group_ident, password_literal = cur.fetchone()
            cur.execute(f"{verb} ROLE {user_ident} LOGIN PASSWORD {password_literal}")
            cur.execute(
                "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s AND u.rolname = %s",
                (login.group, login.user),
            )
            if cur.fetchone() is None:
                cur.execute(f"GRANT {group_ident} TO {user_ident}")
                outcomes[login.user] = "created" if not exists else "granted"
            else:
                outcomes[login.user] = "unchanged" if exists else "created"
    conn.commit()
    return outcomes
