"""Metabase dashboards as code: the cards of cards/*.sql and one dashboard, through Metabase's REST API.

Run it on the host once the compose stack is up (Metabase needs Docker: it does not run in the local
stack). Idempotent: a second run updates the cards' SQL in place.

    python local_stack/docker/metabase/provision.py        # settings from .env (include/config.py)

1. First start: finishes Metabase's setup (POST /api/setup) with METABASE_ADMIN_EMAIL /
   METABASE_ADMIN_PASSWORD; later runs log in with them (POST /api/session).
2. Adds the pipeline database (PostgreSQL ``postgres:5432/PG_DATABASE`` as seen from the Metabase
   container, read-only login PG_DASHBOARD_USER) unless a database of that name exists.
3. A collection "Ad events pipeline" with one native-SQL card per file of cards/ (the first comment
   line is the description, ``-- display: line; x: col; y: col, col`` the chart), and a dashboard
   "Ad events: daily marts" with every card, two per row.

Standard library only (urllib), so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CARDS_DIR = HERE / "cards"
COLLECTION = "Ad events pipeline"
DASHBOARD = "Ad events: daily marts"
DATABASE = "Ad events pipeline (PostgreSQL)"

Request = Callable[[str, str, Any], Any]


@dataclass(frozen=True)
class Card:
    name: str
    description: str
    sql: str
    display: str
    x: list[str]
    y: list[str]


def load_cards(directory: Path = CARDS_DIR) -> list[Card]:
    cards = []
    for path in sorted(directory.glob("*.sql")):
        sql = path.read_text()
        comments = [ln[2:].strip() for ln in sql.splitlines() if ln.startswith("--")]
        meta = {}
        for line in comments:
            if line.startswith("display:"):
                meta = dict(part.strip().split(":", 1) for part in line.split(";") if ":" in part)
        title, _, rest = comments[0].partition(":")
        cards.append(
            Card(
                name=title.strip(),
                description=" ".join(
                    [rest.strip(), *(c for c in comments[1:] if not c.startswith("display:"))]
                ),
                sql=sql,
                display=meta.get("display", "table").strip(),
                x=[c.strip() for c in meta.get("x", "").split(",") if c.strip()],
                y=[c.strip() for c in meta.get("y", "").split(",") if c.strip()],
            )
        )
    return cards


def card_payload(card: Card, database_id: int, collection_id: int) -> dict[str, Any]:
    viz: dict[str, Any] = {}
    if card.display in ("line", "bar") and card.x and card.y:
        viz = {"graph.dimensions": card.x, "graph.metrics": card.y}
    return {
        "name": card.name,
        "description": card.description,
        "collection_id": collection_id,
        "display": card.display,
        "visualization_settings": viz,
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": card.sql, "template-tags": {}},
        },
    }


def http_request(base: str) -> Callable[..., Any]:
    session: dict[str, str] = {}

    def request(method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{base.rstrip('/')}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if "token" in session:
            req.add_header("X-Metabase-Session", session["token"])
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"Metabase {method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc
        return json.loads(raw) if raw else None

    request.session = session  # type: ignore[attr-defined]
    return request


def _items(reply: Any) -> list[dict[str, Any]]:
    return reply.get("data", []) if isinstance(reply, dict) else list(reply or [])


def provision(request: Request, cfg: dict[str, str], db_host: str, db_port: int) -> dict[str, Any]:
    email, password = cfg["METABASE_ADMIN_EMAIL"], cfg["METABASE_ADMIN_PASSWORD"]
    props = request("GET", "/api/session/properties", None)
    if not props.get("has-user-setup"):
        reply = request(
            "POST",
            "/api/setup",
            {
                "token": props["setup-token"],
                "user": {
                    "email": email,
                    "password": password,
                    "first_name": "Ad events",
                    "last_name": "Admin",
                },
                "prefs": {"site_name": "Ad events pipeline", "allow_tracking": False},
            },
        )
        token = reply["id"]
    else:
        token = request("POST", "/api/session", {"username": email, "password": password})["id"]
    getattr(request, "session", {})["token"] = token

    databases = {d["name"]: d["id"] for d in _items(request("GET", "/api/database", None))}
    db_id = databases.get(DATABASE)
    if db_id is None:
        db_id = request(
            "POST",
            "/api/database",
            {
                "engine": "postgres",
                "name": DATABASE,
                "details": {
                    "host": db_host,
                    "port": db_port,
                    "dbname": cfg["PG_DATABASE"],
                    "user": cfg["PG_DASHBOARD_USER"],
                    "password": cfg["PG_DASHBOARD_PASSWORD"],
                    "ssl": False,
                },
            },
        )["id"]

    collections = {c["name"]: c["id"] for c in _items(request("GET", "/api/collection", None)) if "name" in c}
    collection_id = collections.get(COLLECTION)
    if collection_id is None:
        collection_id = request("POST", "/api/collection", {"name": COLLECTION})["id"]

    existing = {
        c["name"]: c["id"]
        for c in _items(request("GET", "/api/card?f=all", None))
        if c.get("collection_id") == collection_id and not c.get("archived")
    }
    card_ids = []
    for card in load_cards():
        payload = card_payload(card, db_id, collection_id)
        if card.name in existing:
            request("PUT", f"/api/card/{existing[card.name]}", payload)
            card_ids.append(existing[card.name])
        else:
            card_ids.append(request("POST", "/api/card", payload)["id"])

    dashboards = {
        d["name"]: d["id"]
        for d in _items(request("GET", "/api/dashboard", None))
        if d.get("collection_id") == collection_id and not d.get("archived")
    }
    dash_id = dashboards.get(DASHBOARD)
    if dash_id is None:
        dash_id = request("POST", "/api/dashboard", {"name": DASHBOARD, "collection_id": collection_id})["id"]
    dashcards = [
        {"id": -(i + 1), "card_id": card_id, "row": (i // 2) * 8, "col": (i % 2) * 12, "size_x": 12,
         "size_y": 8, "parameter_mappings": [], "visualization_settings": {}}
        for i, card_id in enumerate(card_ids)
    ]  # fmt: skip
    request("PUT", f"/api/dashboard/{dash_id}", {"dashcards": dashcards})
    return {
        "database_id": db_id,
        "collection_id": collection_id,
        "card_ids": card_ids,
        "dashboard_id": dash_id,
    }


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parents[2]))
    from include import config

    cfg = config.resolve()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=cfg["METABASE_URL"])
    parser.add_argument("--db-host", default="postgres", help="PostgreSQL host as Metabase sees it")
    parser.add_argument("--db-port", type=int, default=5432)
    args = parser.parse_args(argv)
    if not cfg["METABASE_ADMIN_PASSWORD"]:
        print("set METABASE_ADMIN_PASSWORD in .env (make up / init-env.sh generate it)", file=sys.stderr)
        return 2
    result = provision(http_request(args.url), cfg, args.db_host, args.db_port)
    print(json.dumps(result))
    print(f"dashboard: {args.url}/dashboard/{result['dashboard_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
