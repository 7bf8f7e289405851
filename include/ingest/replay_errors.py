"""Why a replay could not start or finish: one line for a person, and the CLI's exit code."""

from __future__ import annotations

from include.ingest.accounting import AccountingReport


class ReplayError(Exception):
    """A replay that cannot start or cannot finish; ``str()`` is one line for a human, no traceback.

    ``exit_code``: 2 for a problem with the input (file, format, range), 3 for an unreachable or
    unprepared service (broker, registry, topic). ``report`` is set when some rows were already sent.
    """

    exit_code = 1

    def __init__(self, message: str, report: AccountingReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class InputError(ReplayError):
    exit_code = 2


class ServiceError(ReplayError):
    """Raised before anything is sent, so the replay DAG may retry it."""

    exit_code = 3
