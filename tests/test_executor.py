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
