"""The streaming engine's partitions counted on a Dask cluster: the same audit, to the byte, as on one machine.

A real ``LocalCluster`` of two worker processes (``dask_scheduler`` in tests/conftest.py): the
partition tasks and their counts cross process boundaries pickled, as on a real cluster.
"""

from __future__ import annotations

import socket
import time

import pandas as pd
import pytest

from audits.distributed import DaskUnavailable, dask_executor
from audits.fairness import BiasAuditParams, run_bias_audit
from audits.streaming import run_streaming_bias_audit
from audits.synth import BiasSpec, generate_cohort
from boas.config import SettingsError, load_settings
from registry_db.errors import ValidationFailed
from tests.audits.test_fairness import edge_case_frame
from tests.audits.test_streaming import canonical, files, null_cohort


def _three_ways(tmp_path, address, frame, sensitive, *, label="outcome", pred="prediction", key="row_id",
                fmt="parquet", partition_rows=1_000, **options):
    """The in-memory audit, the streamed one counted here, and the streamed one counted on the cluster."""
    from distributed import get_task_stream

    params = BiasAuditParams(sensitive_features=sensitive, **options)
    dataset, predictions = files(tmp_path, frame, key=key, pred=pred, fmt=fmt)
    in_memory = run_bias_audit(pd.read_parquet(dataset), label=label, sensitive=sensitive,
                               y_pred=frame[pred].to_numpy(), y_score=None, params=params)
    common = {"predictions_format": fmt, "label": label, "row_key": key, "params": params, "batch_rows": 400,
              "partition_rows": partition_rows}
    local, local_counts = run_streaming_bias_audit(dataset, predictions, workdir=tmp_path / "local", **common)
    with dask_executor(address, timeout=10) as executor, get_task_stream(executor.client) as stream:
        on_dask, dask_counts = run_streaming_bias_audit(dataset, predictions, workdir=tmp_path / "dask",
                                                        map_partitions=executor.map, **common)
        workers = executor.workers()
        cluster = set(executor.client.nthreads())
    tasks = [t for t in stream.data if t["key"].startswith("count_partition")]
    assert len(tasks) == dask_counts.stats.partitions and workers == 2
    assert {t["worker"] for t in tasks} <= cluster  # every partition was counted by a worker process of the cluster
    assert (local_counts.coding.counts == dask_counts.coding.counts).all()
    return in_memory, local, on_dask, dask_counts


@pytest.mark.parametrize("cohort", ["biased", "null", "small-groups", "no-row-key"])
def test_in_memory_streaming_and_dask_audits_are_identical(tmp_path, dask_scheduler, cohort):
    options: dict = {"n_boot": 200, "seed": 7, "intersections": True}
    kwargs: dict = {}
    if cohort == "biased":
        frame = generate_cohort(5_000, seed=1, bias=BiasSpec("sex", "F", 0.5)).drop(columns=["risk_score"])
        sensitive = ["sex", "age_band", "region"]  # small regions (Corse, Mayotte) too
    elif cohort == "null":
        frame, sensitive = null_cohort(4_000, seed=4), ["sex", "age_band"]
    elif cohort == "small-groups":
        frame = edge_case_frame(0)  # groups without positives, predicted positives or negatives; a tiny group
        frame = frame[~((frame["g"] == "a") & (frame["h"] == "z"))]  # an intersection that never occurs
        frame = frame.assign(row_id=[f"P{i:05d}" for i in range(len(frame))]).drop(columns="score")
        sensitive, kwargs = ["g", "h"], {"label": "y", "pred": "pred", "partition_rows": 150}
        options["reference_group"] = {"g": "b"}
    else:
        frame = generate_cohort(3_000, seed=6).drop(columns=["row_id", "risk_score"])
        sensitive, kwargs = ["sex", "deprivation_quintile"], {"key": None, "fmt": "csv"}

    in_memory, local, on_dask, counts = _three_ways(tmp_path, dask_scheduler, frame, sensitive, **kwargs, **options)

    assert canonical(on_dask) == canonical(local) == canonical(in_memory)  # counts, intervals, verdicts: all of it
    assert counts.stats.partitions >= 3
    if cohort == "biased":
        assert any(d["verdict"] == "fail" for f in on_dask["features"] for d in f["disparities"])
    if cohort == "null":
        assert not [d for f in on_dask["features"] for d in f["disparities"] if d["verdict"] == "fail"]
    if cohort == "small-groups":
        gxh = next(f for f in on_dask["features"] if f["name"] == "g×h")
        assert "a×z" not in {g["group"] for g in gxh["groups"]}
        assert min(g["count"] for g in gxh["groups"]) < 30


def test_bad_predictions_are_refused_on_the_cluster_in_the_same_words(tmp_path, dask_scheduler):
    frame = generate_cohort(2_000, seed=3).drop(columns=["risk_score"])
    dataset, _ = files(tmp_path, frame)
    predictions = frame[["row_id", "prediction"]].iloc[5:]  # 5 rows without a prediction
    predictions = pd.concat([predictions, predictions.iloc[[0]]])  # and a duplicate key
    path = tmp_path / "bad.parquet"
    predictions.to_parquet(path, index=False)
    params = BiasAuditParams(sensitive_features=["sex"])
    common = {"predictions_format": "parquet", "label": "outcome", "row_key": "row_id", "params": params,
              "partition_rows": 300}
    with pytest.raises(ValidationFailed) as local:
        run_streaming_bias_audit(dataset, path, workdir=tmp_path / "local", **common)
    with dask_executor(dask_scheduler, timeout=10) as executor, pytest.raises(ValidationFailed) as on_dask:
        run_streaming_bias_audit(dataset, path, workdir=tmp_path / "dask", map_partitions=executor.map, **common)
    assert on_dask.value.errors == local.value.errors == {"file": ["'row_id' has duplicate values", "5 dataset rows have no prediction"]}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_scheduler_fails_within_the_timeout_naming_its_address():
    address = f"tcp://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(DaskUnavailable) as failed, dask_executor(address, timeout=2):
        pass
    assert time.monotonic() - started < 10
    assert failed.value.reason.startswith(f"the Dask scheduler at {address} did not answer within 2 s")


def test_a_cluster_that_loses_its_workers_mid_audit_fails_instead_of_waiting_for_ever():
    """Partitions waiting on a cluster without workers would keep the job running, its heartbeat alive."""
    import threading

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      host="127.0.0.1") as cluster, dask_executor(cluster.scheduler_address, timeout=2) as executor:
        threading.Timer(1.0, cluster.scale, args=(0,)).start()  # the only worker goes while both tasks wait
        started = time.monotonic()
        with pytest.raises(DaskUnavailable) as failed:
            list(executor.map(time.sleep, [30, 30]))
        assert time.monotonic() - started < 15
    assert failed.value.reason == (f"the Dask cluster at {cluster.scheduler_address} lost its workers: "
                                   "2 partitions of the audit waited 2 s for one")


@pytest.mark.parametrize("address", [
    "tcp://127.0.0.1:8786", "tcp://dask-scheduler:8786", "tcp://dask.internal.example.org:1", "tcp://[::1]:8786",
])
def test_a_scheduler_address_is_accepted(address):
    assert load_settings({"BOAS_DASK_SCHEDULER": address}).dask_scheduler == address


@pytest.mark.parametrize("address", [
    "http://dask:8786", "https://dask:8786", "tls://dask:8786", "inproc://x", "ucx://dask:8786", "dask:8786",
    "tcp://dask", "tcp://dask:0", "tcp://dask:70000", "tcp://dask:8786/path", "tcp://user@dask:8786",
    "tcp://da sk:8786", "tcp://-dask:8786", "file:///etc/passwd", "tcp://:8786",
])
def test_a_bad_scheduler_setting_is_refused_naming_the_variable(address):
    with pytest.raises(SettingsError, match=r"BOAS_DASK_SCHEDULER must be a Dask scheduler address tcp://host:port"):
        load_settings({"BOAS_DASK_SCHEDULER": address})


def test_a_scheduler_without_the_dask_client_installed_stops_at_start(monkeypatch, tmp_path):
    """An install without the ``dask`` extra cannot take BOAS_DASK_SCHEDULER: refused when the process starts,
    naming the extra, rather than a job failing later on an import."""
    import sys

    from boas.runtime import build_runtime

    monkeypatch.setitem(sys.modules, "distributed", None)  # what Python does for a package that is not there
    settings = load_settings({"BOAS_DASK_SCHEDULER": "tcp://127.0.0.1:8786", "BOAS_DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match=r"BOAS_DASK_SCHEDULER needs the Dask client: pip install 'boas\[dask\]'"):
        build_runtime(settings)
