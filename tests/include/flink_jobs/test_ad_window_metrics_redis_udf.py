"""The Redis UDF runs where ``include`` cannot be imported, as in Flink's Python worker.

redis_cache.py is pickled by value into the TaskManager's Python worker, whose path does not hold
this repository; it takes constants from include/metrics_contract.py, which must travel with it.
Here its UDF is registered as the job does, pickled as PyFlink pickles it, and called in an isolated
interpreter of the PyFlink venv (a Redis that is not there: the rows are built, then counted 0).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FLINK_PYTHON = REPO / ".venvs" / "flink" / "bin" / "python"

PICKLE = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
import cloudpickle
from include.flink_jobs.ad_window_metrics import redis_cache


class Config:
    def set(self, key, value):
        pass


class TableEnv:
    def get_config(self):
        return Config()

    def create_temporary_function(self, name, udf):
        self.udf = udf


t_env = TableEnv()
redis_cache.register(t_env, url="redis://127.0.0.1:1/0", prefix="p", ttl_ms=1000)
sys.stdout.buffer.write(cloudpickle.dumps(t_env.udf._func))
"""

CALL = """
import pickle, sys
from datetime import datetime
from decimal import Decimal

import pandas as pd

try:
    import include
    sys.exit("include is importable: this check proves nothing")
except ImportError:
    pass
cache = pickle.loads(sys.stdin.buffer.read())
columns = [
    pd.Series([datetime(2014, 10, 21)]), pd.Series([datetime(2014, 10, 21, 0, 1)]), pd.Series(["all"]),
    pd.Series([""]), pd.Series([10]), pd.Series([2]), pd.Series([0]), pd.Series([Decimal("0.5")]),
    pd.Series([Decimal("0")]), pd.Series([Decimal("0.2")]), pd.Series([Decimal("0.25")]),
    pd.Series([None]), pd.Series([Decimal("0")]), 60,
]
print(list(cache(*columns)))
"""


def test_the_udf_runs_without_the_repository_on_the_path(tmp_path):
    pickled = subprocess.run([str(FLINK_PYTHON), "-c", PICKLE], capture_output=True, timeout=300, check=False)
    assert pickled.returncode == 0, pickled.stderr.decode()[-3000:]
    called = subprocess.run(
        [str(FLINK_PYTHON), "-I", "-c", CALL],
        input=pickled.stdout,
        capture_output=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert called.returncode == 0, called.stderr.decode()[-3000:]
    assert called.stdout.decode().strip() == "[0]"  # built every row, could not reach Redis
