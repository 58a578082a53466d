"""madstream.prefect against Prefect's own local server: real flow runs, task runs, events and logs."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import pickle
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.events.worker import EventsWorker

from madstream import DataArtifact, ExtractError, MadstreamError, TransientStorageError, asset
from madstream.prefect import CACHED_EVENT, MaterializeError, asset_key, is_transient, materialize, materialize_sync

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_api")]


@asset("shop/orders_{region}.parquet", name="orders_{region}", artifact_filetype="parquet")
async def orders(region: str, pages: int = 2) -> Any:
    """Module level, so Dask worker processes can import it."""
    for page in range(pages):
        yield [{"id": page * 10 + i, "region": region, "pid": os.getpid()} for i in range(3)]


@asset("shop/spread_{region}.parquet", name="spread_{region}")
def spread(region: str, linger: float = 0.0) -> Any:
    """Runs on a Dask worker: records which process ran it and where that process's environment points."""
    if linger:  # this worker process will take ``linger`` seconds to exit, as a busy one does
        atexit.register(time.sleep, linger)
    return [{"region": region, "pid": os.getpid(), "env_url": os.environ.get("FILESYSTEM_URL")}] * 3


@asset("shop/fanned.parquet", name="fanned", write_mode="append", partition_by=["region"])
def fanned(region: str) -> Any:
    """Many Dask workers append to this one partitioned dataset at once."""
    return [{"region": region, "i": i, "pid": os.getpid()} for i in range(3)]


@asset("out/broken_{region}.json", name="broken_{region}")
def broken(region: str) -> Any:
    raise ValueError(f"could not reach https://etl:hunter2-pw@api.example.com/{region} with key sk-live-4242")


async def _events(name: str, key: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Asset events of ``key`` once the server has stored ``count`` of them."""
    await asyncio.to_thread(EventsWorker.drain_all)
    event_filter = EventFilter(
        event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[key]),
    )
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            page = await client.read_events(event_filter, limit=50)
            if len(page.events) >= count or time.monotonic() > deadline:
                return list(page.events)
            await asyncio.sleep(0.25)


async def _settled_task_runs(names: list[str], timeout: float = 30.0, **filters: Any) -> list[Any]:
    """Task runs matching ``filters`` once their names read ``names`` and their states are final.

    Prefect creates a task run as ``{task}-{key}``, renames it to its
    ``task_run_name`` when it starts, and the server applies renames and states
    from the event stream: a read right after the flow can still see the past.
    """
    await asyncio.to_thread(EventsWorker.drain_all)
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            runs = await client.read_task_runs(**filters)
            settled = all(t.state is not None and t.state.is_final() for t in runs)
            if (settled and sorted(t.name for t in runs) == names) or time.monotonic() > deadline:
                return runs
            await asyncio.sleep(0.25)


def _of_flow_run(flow_run_id: uuid.UUID) -> dict[str, Any]:
    return {"flow_run_filter": FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))}


def _named(name: str) -> dict[str, Any]:
    return {"task_run_filter": TaskRunFilter(name=TaskRunFilterName(any_=[name]))}


async def test_one_flow_run_with_a_task_run_per_configuration() -> None:
    variants = [orders.with_arguments(region=r) for r in ("eu", "us", "au")]
    artifacts = await materialize(*variants)

    assert [a.path for a in artifacts] == ["shop/orders_eu.parquet", "shop/orders_us.parquet", "shop/orders_au.parquet"]
    assert [a.rows for a in artifacts] == [6, 6, 6]
    result = await variants[1].query("SELECT DISTINCT region")
    assert result.fetchall() == [("us",)]

    async with get_client() as client:
        [flow_run] = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["orders_au, orders_eu, orders_us"])), limit=5,
        )
    assert flow_run.state is not None and flow_run.state.is_completed()
    task_runs = await _settled_task_runs(["orders_au", "orders_eu", "orders_us"], **_of_flow_run(flow_run.id))
    assert sorted(t.name for t in task_runs) == ["orders_au", "orders_eu", "orders_us"]
    assert all(t.state is not None and t.state.is_completed() for t in task_runs)


async def test_each_materialization_is_reported_as_a_prefect_asset() -> None:
    eu = orders.with_arguments(region="ev", pages=3)
    [artifact] = await materialize(eu)
    key = asset_key(eu)
    root = os.environ["FILESYSTEM_URL"].removeprefix("file://")
    assert key == f"file://{root}/shop/orders_ev.parquet"

    [event] = await _events("prefect.asset.materialization.succeeded", key, 1)
    assert event.payload["rows"] == 9 == artifact.rows
    assert event.payload["batches"] == 3
    assert event.payload["bytes"] > 0
    assert event.payload["columns"] == {"id": "BIGINT", "region": "VARCHAR", "pid": "BIGINT"}
    assert event.payload["duration_ms"] >= 0
    assert event.resource["prefect.resource.name"] == "orders_ev"
    roles = {r.role for r in event.related}
    assert {"flow-run", "task-run", "asset-materialized-by"} <= roles


async def test_a_schema_change_is_named_in_the_materialization_event() -> None:
    row: dict[str, object] = {"id": 1}

    @asset("shop/drift.parquet", name="drift")
    async def drift():
        yield [dict(row)]

    await materialize(drift)
    row["id"] = "A-1"
    await materialize(drift)
    events = await _events("prefect.asset.materialization.succeeded", asset_key(drift), 2)
    assert sorted(e.payload["schema_changes"] for e in events) == [[], ["column `id` BIGINT -> VARCHAR"]]


async def test_every_result_type_is_its_own_asset() -> None:
    @asset("shop/both.parquet|csv", name="both")
    async def both() -> Any:
        yield [{"a": 1}, {"a": 2}]

    await materialize(both)
    for path in ("shop/both.parquet", "shop/both.csv"):
        [event] = await _events("prefect.asset.materialization.succeeded", asset_key(both, path), 1)
        assert event.payload["rows"] == 2


async def test_a_cached_result_ends_as_cached_and_says_so() -> None:
    import datetime as dt

    calls: list[int] = []

    @asset("shop/cached.parquet", name="cached", cache_expiration=dt.timedelta(hours=1))
    async def cached() -> Any:
        calls.append(1)
        yield [{"a": 1}, {"a": 2}]

    [first] = await materialize(cached)
    [second] = await materialize(cached)
    assert calls == [1]
    assert second.version == first.version and second.rows == 2
    task_runs = await _settled_task_runs(["cached", "cached"], **_named("cached"))
    assert sorted(str(t.state_name) for t in task_runs) == ["Cached", "Completed"]
    [event] = await _events(CACHED_EVENT, asset_key(cached), 1)
    assert event.payload["cached"] is True
    assert event.payload["rows"] == 2 and event.payload["version"] == first.version
    assert event.payload["path"] == "shop/cached.parquet"
    roles = {r.role for r in event.related}
    assert {"flow-run", "task-run", "asset-materialized-by"} <= roles
    cached_run = next(t for t in task_runs if t.state_name == "Cached")
    assert str(cached_run.id) in {r.id.removeprefix("prefect.task-run.") for r in event.related if r.role == "task-run"}
    events = await _events("prefect.asset.materialization.succeeded", asset_key(cached), 2, timeout=2)
    assert len(events) == 1  # the cached run is not reported as a materialization


class FlakyMemoryFS(MemoryFileSystem):
    """In-memory storage whose first writes time out, as an overloaded object store does."""

    protocol = "flaky"
    root_marker = "/"
    failures_left = 0

    def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and FlakyMemoryFS.failures_left > 0:
            FlakyMemoryFS.failures_left -= 1
            raise TimeoutError("write timed out")
        return super()._open(path, mode, *args, **kwargs)


async def test_a_transient_storage_fault_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fsspec.register_implementation("flaky", FlakyMemoryFS, clobber=True)
    monkeypatch.setenv("FILESYSTEM_URL", f"flaky://run-{uuid.uuid4().hex[:8]}")
    # Storage retries a failed open itself; with one attempt the fault reaches the Prefect task.
    monkeypatch.setenv("MADSTREAM_STORAGE_ATTEMPTS", "1")
    FlakyMemoryFS.failures_left = 1
    attempts: list[int] = []

    @asset("out/flaky.json", name="flaky")
    async def flaky() -> Any:
        attempts.append(1)
        yield [{"a": 1}, {"a": 2}]

    [artifact] = await materialize(flaky, retries=2, retry_delay_seconds=0)
    assert len(attempts) == 2
    assert artifact.rows == 2
    assert (await flaky.query("SELECT sum(a)")).fetchone() == (3,)
    [run] = await _settled_task_runs(["flaky"], **_named("flaky"))
    assert run.run_count == 2 and run.state_name == "Completed"


async def test_a_terminal_error_fails_at_once_and_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # A storage secret that the error happens to quote must not reach the event either.
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps({"auto_mkdir": True, "api_key": "sk-live-4242"}))
    failing = broken.with_arguments(region="t1")

    with pytest.raises(ExtractError, match="asset `broken_t1`.*could not reach"):
        await materialize(failing, retries=3, retry_delay_seconds=0)
    [event] = await _events("prefect.asset.materialization.failed", asset_key(failing), 1)
    assert event.resource["prefect.resource.name"] == "broken_t1"
    error = event.payload["error"]
    assert error["type"] == "ExtractError" and error["cause"] == "ValueError"
    assert "asset `broken_t1`" in error["message"]
    assert "https://etl@api.example.com/t1 with key ***" in error["message"]
    assert "hunter2-pw" not in json.dumps(event.payload) and "sk-live-4242" not in json.dumps(event.payload)
    assert json.loads(event.payload["parameters"]) == {"region": "t1"}
    assert int(event.payload["run_id"], 16) >= 0 and event.payload["duration_ms"] >= 0  # the run record's id
    [task_run] = await _settled_task_runs(["broken_t1"], **_named("broken_t1"))
    assert task_run.run_count == 1  # terminal: not retried


async def test_one_failure_among_several_keeps_the_others() -> None:
    variants = [orders.with_arguments(region="g1"), broken.with_arguments(region="g2"), orders.with_arguments(region="g3")]

    with pytest.raises(MaterializeError, match=r"1 of 3 assets failed: `broken_g2` \(ExtractError\); 2 completed") as caught:
        await materialize(*variants, retries=0)
    error = caught.value
    assert isinstance(error, MadstreamError) and isinstance(error, ExceptionGroup)
    assert [a.rows if a is not None else None for a in error.artifacts] == [6, None, 6]
    assert [a.path for a in error.succeeded] == ["shop/orders_g1.parquet", "shop/orders_g3.parquet"]
    [failure] = error.exceptions
    assert isinstance(failure, ExtractError) and failure.asset == "broken_g2"
    assert (await error.succeeded[1].query("SELECT count(*)")).fetchone() == (6,)
    revived = pickle.loads(pickle.dumps(error))
    assert [a.rows if a is not None else None for a in revived.artifacts] == [6, None, 6]
    assert str(revived) == str(error)
    try:
        raise error
    except* ExtractError as only:
        assert only.exceptions == (failure,)

    outcomes = await materialize(*variants, retries=0, return_exceptions=True)
    assert isinstance(outcomes[0], DataArtifact) and isinstance(outcomes[2], DataArtifact)
    assert isinstance(outcomes[1], ExtractError) and outcomes[1].asset == "broken_g2"
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["broken_g2, orders_g1, orders_g3"])),
        )
    assert [r.state_name for r in runs] == ["Failed", "Failed"]
    assert all(r.state is not None and r.state.message == "1 of 3 assets failed: `broken_g2` (ExtractError); 2 completed" for r in runs)


def test_quiet_keeps_prefect_tracebacks_off_the_console(prefect_api: str, tmp_path: Path) -> None:
    code = (
        "from madstream import MadstreamError, TransientStorageError, asset\n"
        "from madstream.prefect import materialize_sync\n"
        "@asset('x/down.parquet', name='down_quiet')\n"
        "def down():\n"
        "    raise TransientStorageError('the server dropped the connection', path='x')\n"
        "try:\n"
        "    materialize_sync(down, retries=1, retry_delay_seconds=0, quiet=True)\n"
        "except MadstreamError as exc:\n"
        "    print(f'error: {exc}')\n"
    )
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "MADSTREAM_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("error: asset `down_quiet`, path `x`: the server dropped the connection")
    assert "Retries are exhausted" in done.stderr  # Prefect's one-line messages stay ...
    assert "Traceback" not in done.stderr  # ... without their tracebacks

    async def logs() -> list[str]:
        async with get_client() as client:
            [flow_run] = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["down_quiet"])))
            found = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
        return [log.message for log in found]

    deadline = time.monotonic() + 20
    while True:  # the run's logs in Prefect keep the traceback
        messages = asyncio.run(logs())
        if any("Retries are exhausted" in m and "Traceback" in m for m in messages):
            break
        assert time.monotonic() < deadline, messages
        time.sleep(0.25)


def test_transient_is_read_through_the_cause_chain() -> None:
    try:
        try:
            raise TransientStorageError("reset", path="a")
        except TransientStorageError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
    assert not is_transient(ExtractError("bad", asset="x"))
    assert not is_transient(None)


async def test_inside_a_user_flow_the_task_runs_join_that_flow_run() -> None:
    @flow(name="nightly")
    async def nightly() -> tuple[uuid.UUID, list[int]]:
        from prefect.runtime import flow_run

        artifacts = await materialize(orders.with_arguments(region="n1"), orders.with_arguments(region="n2"))
        return uuid.UUID(flow_run.id), [a.rows or 0 for a in artifacts]

    flow_run_id, rows = await nightly()
    assert rows == [6, 6]
    task_runs = await _settled_task_runs(["orders_n1", "orders_n2"], **_of_flow_run(flow_run_id))
    assert sorted(t.name for t in task_runs) == ["orders_n1", "orders_n2"]
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["orders_n1, orders_n2"])))
    assert runs == []  # no second flow run was started


async def test_assets_still_work_awaited_in_a_plain_task() -> None:
    @task
    async def extract() -> int | None:
        artifact = await orders(region="plain")
        return artifact.rows

    @flow
    async def user_flow() -> int | None:
        return await extract()

    assert await user_flow() == 6


def test_materialize_sync_and_the_run_logger() -> None:
    @flow(name="sync-flow")
    def sync_flow() -> str:
        from prefect.runtime import flow_run

        [artifact] = materialize_sync(orders.with_arguments(region="sy"))
        assert artifact.rows == 6
        return str(flow_run.id)

    flow_run_id = uuid.UUID(sync_flow())

    async def logs() -> list[str]:
        async with get_client() as client:
            found = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        return [log.message for log in found]

    deadline = time.monotonic() + 20
    while True:
        messages = asyncio.run(logs())
        if any("orders_sy: 6 rows in 2 batches, " in m for m in messages):
            break
        assert time.monotonic() < deadline, messages
        time.sleep(0.25)


async def test_fan_out_over_a_dask_cluster_of_processes(
    storage_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    prefect_dask = pytest.importorskip("prefect_dask", reason="pip install 'madstream[dask]'")
    elsewhere = f"file://{tmp_path / 'elsewhere'}"
    runner = prefect_dask.DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
            # The workers' own environment points at other storage: the flow's storage must win.
            "env": {"FILESYSTEM_URL": elsewhere},
        },
    )
    regions = ("d1", "d2", "d3", "d4")
    variants = [spread.with_arguments(region=r, linger=4.5 if r == "d1" else 0.0) for r in regions]
    appenders = [fanned.with_arguments(region=r) for r in regions]
    with caplog.at_level(logging.WARNING, logger="distributed"):
        artifacts = await materialize(*variants, *appenders, task_runner=runner)
    assert [a.rows for a in artifacts[:4]] == [3] * 4
    # The four appends from the workers landed in one partitioned dataset, each exactly once.
    result = await fanned.with_arguments(region="d1").query("SELECT region, count(*), count(DISTINCT i) GROUP BY region ORDER BY region")
    assert result.fetchall() == [(r, 3, 3) for r in regions]
    assert len(await fanned.with_arguments(region="d1").versions()) == 4
    assert sorted(p.name for p in (storage_root / "shop" / "fanned").iterdir()) == [f"region={r}" for r in regions]
    pids = set()
    for region in regions:
        table = pq.read_table(storage_root / "shop" / f"spread_{region}.parquet")
        assert table.column("region").to_pylist() == [region] * 3
        assert table.column("env_url").to_pylist() == [elsewhere] * 3  # what the worker's environment said
        pids.update(table.column("pid").to_pylist())
    assert os.getpid() not in pids  # the extract functions ran in the Dask worker processes
    assert not (tmp_path / "elsewhere").exists()
    # The worker that takes 4.5 s to exit was let exit, not killed after distributed's 4 s.
    assert [r.getMessage() for r in caplog.records if "still alive" in r.getMessage()] == []
    for variant in variants:
        [event] = await _events("prefect.asset.materialization.succeeded", asset_key(variant), 1)
        assert event.payload["rows"] == 3


def test_the_cli_runs_an_asset_as_a_flow(prefect_api: str, tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(
        "from madstream import asset\n"
        "@asset('jobs/count.parquet', name='counter')\n"
        "async def counter(n: int):\n"
        "    yield [{'i': i} for i in range(n)]\n"
    )
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "MADSTREAM_PROGRESS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "madstream", "materialize", "jobs:counter", "--arg", "n=5", "--prefect"],
        cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("counter: 5 rows in 1 batch, ")
    assert "Task run 'counter'" in done.stdout + done.stderr


def test_the_engine_never_imports_prefect(tmp_path: Path) -> None:
    code = (
        "import sys, anyio, madstream\n"
        "@madstream.asset('x/y.parquet', name='y')\n"
        "async def y():\n"
        "    yield [{'a': 1}]\n"
        "anyio.run(y)\n"
        "print(anyio.run(y.query, 'SELECT count(*)').fetchone(), 'prefect' in sys.modules, 'rich' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1,) False False"
