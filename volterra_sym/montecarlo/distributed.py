"""Chunks of paths in-process or on a Dask cluster (docs/theory.md §12).

Every Monte Carlo estimator is a mean of per-path quantities, so a run is a sequence of
*chunks* (runs of consecutive seed blocks, see :mod:`.simulate`) whose results are
sufficient statistics. :func:`map_chunks` computes ``job.run_chunk(i)`` for every chunk

* in-process (``client=None``): one after the other, as before;
* on a ``dask.distributed.Client``: one task per chunk with the key
  ``volterra-chunk-<run>-<i>``; the job itself is one task (``volterra-job-<run>``) holding
  the pickled plan, so every worker unpickles it once and a lost worker's copy is rebuilt
  from the scheduler's task graph. Tasks are pure functions of the chunk index: when a
  worker dies, the scheduler recomputes the chunks it held or was running, and the numbers
  do not change.

Results are handed to ``on_result(i, result)`` strictly in chunk order, whatever the order
in which the workers finish (results that arrive early wait in a dictionary), so the
floating-point merge of the statistics is the same sequence of operations in every case:
the numbers are bitwise identical in-process, on one worker and on many (given the same
numpy and CPU). A progress bar (tqdm) counts finished chunks.

Why Dask: the scheduler, ``LocalCluster`` and worker-loss recovery are exactly what a
well-kept library does better than code written here; ``dask`` and ``distributed`` are
imported only when a client is passed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm

from ..arrays import check_int
from ..budget import montecarlo_seconds
from ..errors import InvalidInputError, ResourceLimitError, SimulationError

__all__ = ["Pilot", "PilotWatch", "check_client", "map_chunks"]


def check_client(client):
    """``None`` or a running ``dask.distributed.Client``; anything else is refused
    (:class:`~volterra_sym.errors.InvalidInputError`, ``param="client"``)."""
    if client is None:
        return None
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise InvalidInputError("client= needs the 'distributed' package",
                                param="client") from None
    if not isinstance(client, Client):
        raise InvalidInputError(f"client must be a dask.distributed.Client or None, got "
                                f"{type(client).__name__}", param="client")
    if client.status not in ("running", "connecting"):
        raise InvalidInputError(f"the Dask client is {client.status!r}, not running",
                                param="client")
    return client


def _unpack(payload: bytes):
    """Worker side: the run plan from its pickle (one task, shared by the chunk tasks)."""
    import cloudpickle

    return cloudpickle.loads(payload)


def _run_chunk(job, i: int):
    return job.run_chunk(i)


def map_chunks(job, n_chunks: int, *, client=None,
               on_result: Callable[[int, Any], None] | None = None,
               progress: bool = False, desc: str = "chunks") -> None:
    """Run ``job.run_chunk(i)`` for ``i = 0..n_chunks-1`` and pass each result to
    ``on_result(i, result)`` in increasing ``i`` (see the module docstring).

    Errors raised by a chunk (a typed :class:`~volterra_sym.errors.VolterraSymError` such
    as a divergence) are re-raised here unchanged; the other chunks are cancelled. A chunk
    whose workers died too often (Dask's ``allowed-failures``) is a
    :class:`~volterra_sym.errors.SimulationError`. ``job`` without a ``run_chunk`` method or
    ``n_chunks`` not an integer ≥ 0 is an :class:`~volterra_sym.errors.InvalidInputError`.
    """
    if not callable(getattr(job, "run_chunk", None)):
        raise InvalidInputError(f"job must be a run plan with run_chunk(i) (a PathJob), got "
                                f"{type(job).__name__}", param="job")
    n_chunks = check_int(n_chunks, "n_chunks", lo=0)
    on_result = on_result or (lambda i, r: None)
    bar = tqdm(total=n_chunks, unit="chunk", disable=not progress, desc=desc, leave=False)
    try:
        if client is None:
            pilot = Pilot(n_chunks)
            for i in range(n_chunks):
                on_result(i, job.run_chunk(i, watch=pilot.watch(i)))
                bar.update(1)
                pilot.chunk_done(i)
            return
        _map_on_client(job, n_chunks, client, on_result, bar)
    finally:
        bar.close()


class PilotWatch:
    """Time budget inside the first chunk: a run that is one long chunk (few paths, many
    steps) is judged before it ends. ``run_chunk`` calls ``watch(done)`` with the fraction
    ``done ∈ [0, 1]`` of its time loop; the first call marks the end of its set-up ``s``.
    Once the loop has run ``MIN_SECONDS``, the run's cost is estimated once as
    ``(s + loop / done)·n_chunks`` and refused if over ``budget``."""

    MIN_SECONDS = 1.0

    def __init__(self, n_chunks: int, budget: float):
        self.n_chunks, self.budget = n_chunks, budget
        self.start = time.perf_counter()
        self.loop_start: float | None = None
        self.judged = False

    def __call__(self, done: float) -> None:
        if self.judged:
            return
        now = time.perf_counter()
        if self.loop_start is None:
            self.loop_start = now
            return
        loop = now - self.loop_start
        if loop < self.MIN_SECONDS or done <= 0:
            return
        self.judged = True
        setup = self.loop_start - self.start
        chunk = setup + loop / min(done, 1.0)
        if chunk * self.n_chunks > self.budget:
            _refuse(chunk * self.n_chunks, self.budget,
                    f"{done:.2%} of the first of {self.n_chunks} chunks took "
                    f"{setup + loop:.3g} s")


def _refuse(estimate: float, budget: float, measured: str) -> None:
    raise ResourceLimitError(
        f"Monte Carlo: {measured}, so the run needs about {estimate:.3g} s, more than the "
        f"time budget {budget:g} s (VOLTERRA_TIME_BUDGET); lower the paths (or the time "
        f"steps, origins or window), or raise VOLTERRA_TIME_BUDGET",
        estimate=estimate, budget=budget, unit="seconds",
        option="lower the paths or raise VOLTERRA_TIME_BUDGET")


class Pilot:
    """The time budget (``VOLTERRA_TIME_BUDGET``) of ``n_chunks`` chunks run one after
    another in-process: :meth:`watch` gives the first chunk its in-loop
    :class:`PilotWatch`; :meth:`chunk_done` refuses, after the first chunk, a run whose
    first chunk times ``n_chunks`` exceeds the budget (the cost is measured, not modelled:
    one chunk of ≤ a few thousand paths is spent)."""

    def __init__(self, n_chunks: int):
        self.n_chunks, self.budget = n_chunks, montecarlo_seconds()
        self.start = time.perf_counter()

    def watch(self, i: int) -> PilotWatch | None:
        return PilotWatch(self.n_chunks, self.budget) if i == 0 else None

    def chunk_done(self, i: int) -> None:
        if i != 0 or self.n_chunks < 2:
            return
        first = time.perf_counter() - self.start
        estimate = first * self.n_chunks
        if estimate > self.budget:
            _refuse(estimate, self.budget,
                    f"the first of {self.n_chunks} chunks took {first:.3g} s")


def _map_on_client(job, n_chunks: int, client, on_result, bar) -> None:
    import cloudpickle
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        KilledWorker = ()  # noqa: N806

    budget = montecarlo_seconds()
    slots = max(sum(client.nthreads().values()), 1)
    start = time.perf_counter()
    run = uuid.uuid4().hex[:16]
    payload = cloudpickle.dumps(job)
    job_f = client.submit(_unpack, payload, key=f"volterra-job-{run}", pure=False)
    futures = {client.submit(_run_chunk, job_f, i, key=f"volterra-chunk-{run}-{i}",
                             pure=False): i for i in range(n_chunks)}
    waiting: dict[int, Any] = {}
    nxt = 0
    judged = False
    try:
        for fut in as_completed(list(futures)):
            i = futures[fut]
            try:
                res = fut.result()
            except KilledWorker as exc:
                raise SimulationError(f"chunk {i} was lost with its worker too often "
                                      f"({exc}); the cluster is unstable") from None
            except FutureCancelledError:
                raise SimulationError(f"chunk {i} was cancelled (the Dask client or cluster "
                                      "shut down during the run)") from None
            fut.release()
            if not judged and n_chunks > slots:      # the pilot: the first chunk back
                judged = True
                first = time.perf_counter() - start
                estimate = first * -(-n_chunks // slots)
                if estimate > budget:
                    _refuse(estimate, budget, f"the first of {n_chunks} chunks on {slots} "
                                              f"worker threads took {first:.3g} s")
            waiting[i] = res
            bar.update(1)
            while nxt in waiting:
                on_result(nxt, waiting.pop(nxt))
                nxt += 1
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        for f in futures:
            f.release()
        job_f.release()
