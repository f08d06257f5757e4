"""The streaming engine's partitions counted on a Dask cluster (``BOAS_DASK_SCHEDULER``).

``audits.streaming`` partitions the dataset and its predictions by key on disk, then maps
``count_partition`` over the partitions and adds up the partial counts. Here that map goes to the
workers of a ``dask.distributed`` cluster: each task is a ``PartitionTask`` (two file paths, a few
integers and, with scores, the histogram's bin edges) and each result a ``PartitionCounts`` (integer
arrays; with scores, a histogram of integer counts and fixed-point sums, and each cell's smallest and
largest score), so nothing but paths and counts crosses the network. Sums of integers, minima and
maxima do not depend on the order the partitions finish in: the audit, score metrics included, is
identical to the one counted on the job's own machine.

What the cluster must provide:

- Workers that run this version of BOAS (they import ``audits.streaming`` to run ``count_partition``).
- The job's partition files at the same path: they are written under the data directory
  (``$BOAS_DATA_DIR/tmp``), so in production the data directory is a filesystem the job workers and
  the Dask workers all mount at the same path, as the same user (it is owner-only). The blob store
  itself is never read by the Dask workers: the job's worker reads the dataset and writes the partitions.

The first pass (reading the row groups and writing the partitions) stays on the job's worker: it fixes
each sensitive column's dictionary (value -> code) once for every partition, which is what keeps the
codes, and so the partial counts, comparable across workers.

A scheduler that does not answer, or that has no worker, fails the job within ``timeout`` seconds
with a message that names the address, instead of leaving it waiting; so does a cluster that loses
every worker while partitions wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from audits.streaming import PartitionCounts, PartitionTask


class DaskUnavailable(RuntimeError):
    """The configured Dask scheduler cannot run the job's partitions; ``reason`` is the job's error."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class DaskExecutor:
    """A connected client: maps the partitions onto the cluster and says where they ran."""

    client: Any  # distributed.Client
    address: str
    timeout: float  # how long the cluster may stay without a worker while partitions wait
    poll_seconds: float = 1.0

    def workers(self) -> int:
        return len(self.client.nthreads())

    def map(self, func: Callable[[PartitionTask], PartitionCounts],
            tasks: list[PartitionTask]) -> Iterator[PartitionCounts]:
        """Each task's result as it completes; a task's exception is raised here, as the worker raised it.

        A cluster that loses every worker would leave the partitions waiting for ever (and the job
        running, its heartbeat alive): past ``timeout`` seconds without a worker, the job fails instead.
        """
        from distributed import wait

        futures = self.client.map(func, tasks, pure=False)
        pending = set(futures)
        workerless_since: float | None = None
        try:
            while pending:
                try:
                    with self.client.as_current():  # wait() asks for the current client; not a global default
                        done, pending = wait(pending, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    if self.workers():
                        workerless_since = None
                    elif workerless_since is None:
                        workerless_since = time.monotonic()
                    elif time.monotonic() - workerless_since > self.timeout:
                        raise DaskUnavailable(f"the Dask cluster at {self.address} lost its workers: "
                                              f"{len(pending)} partitions of the audit waited {self.timeout:g} s "
                                              "for one") from None
                    continue
                for future in done:
                    result = future.result()
                    future.release()
                    yield result
        finally:
            self.client.cancel(futures)  # after a failure, no partition goes on counting for nothing

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"executor": "dask", "scheduler": self.address, "workers": self.workers(),
                "distributed": version("distributed")}


@contextmanager
def dask_executor(address: str, *, timeout: float) -> Iterator[DaskExecutor]:
    """A client of the scheduler at ``address`` with at least one worker, or ``DaskUnavailable`` within ``timeout`` s."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DaskUnavailable(f"the Dask scheduler at {address} did not answer within {timeout:g} s "
                              f"(BOAS_DASK_SCHEDULER): {exc}") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise DaskUnavailable(f"the Dask scheduler at {address} has no worker to run the audit's partitions "
                                  f"(waited {timeout:g} s)") from exc
        yield DaskExecutor(client, address, timeout)
    finally:
        client.close()
