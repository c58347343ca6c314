import pytest

from audit.errors import AuditError
from audit.run.executor import plan_workers, run_jobs
from tests.fake_engine import die_on


def test_worker_plan_never_oversubscribes_cores():
    for cores in (1, 2, 4, 16):
        for asked in (0, 1, 3, 64):
            p = plan_workers(asked, cores)
            assert p.workers >= 1 and p.threads >= 1 and p.workers * p.threads <= cores


def test_in_process_errors_are_per_item():
    out = {item: (res, err) for item, res, err in run_jobs(lambda x: 10 // x, [1, 0, 5], workers=1)}
    assert out[1] == (10, None) and out[5] == (2, None)
    assert isinstance(out[0][1], ZeroDivisionError)


@pytest.mark.slow
def test_a_dying_worker_fails_its_items_and_the_batch_goes_on():
    items = ["die"] + list("abcdefgh")
    seen = list(run_jobs(die_on, items, workers=2))
    assert sorted(i for i, _, _ in seen) == sorted(items)  # every item reported exactly once
    by_item = {i: (r, e) for i, r, e in seen}
    assert isinstance(by_item["die"][1], AuditError)
    ok = [i for i, (r, e) in by_item.items() if e is None]
    assert all(by_item[i][0] == i * 2 for i in ok)
    assert set("efgh") <= set(ok)  # submitted after the breakage: a fresh pool ran them


def test_a_pool_that_breaks_between_a_result_and_the_next_submit_loses_nothing(monkeypatch):
    """The race CI met once: a job's result is back, then the pool is found broken when the next
    job is submitted. That next job never ran: a fresh pool must run it, not drop it."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from audit.run import executor

    pools = []

    class FlakyPool:  # runs jobs at once; the first pool breaks on its first submit after a result (the 5th)
        def __init__(self, *a, **kw):
            self.submits = 0
            self.breaks_at = 5 if not pools else None
            pools.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, item):
            self.submits += 1
            if self.submits == self.breaks_at:
                raise BrokenProcessPool("a child process terminated abruptly")
            fut = Future()
            fut.set_result(fn(item))
            return fut

    monkeypatch.setattr(executor, "ProcessPoolExecutor", FlakyPool)
    seen = list(run_jobs(str.upper, list("abcdefg"), workers=2))
    assert sorted(i for i, _, _ in seen) == list("abcdefg")  # each exactly once
    assert all(err is None and res == i.upper() for i, res, err in seen)
    assert len(pools) == 2
