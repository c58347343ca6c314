from audit.run.progress import StageProgress


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_rate_and_eta_count_worked_calls_not_cached_ones():
    clock = Clock()
    p = StageProgress("transcribe", total=10, clock=clock)
    assert p.per_minute is None and p.describe() == "starting"
    for _ in range(4):  # yesterday's work, taken from the store in no time
        clock.t += 0.01
        p.tick("cached")
    for _ in range(3):  # 20 s a call
        clock.t += 20.0
        p.tick("done")
    assert p.per_minute == 3.0
    assert p.eta_s == 3 * 20.0  # 3 calls left at 20 s each
    assert p.describe() == "3.0 calls/min, ETA 1:00, 4 already done"
    clock.t += 40.0
    p.tick("failed")
    assert p.per_minute == 60.0 * 4 / 100.0 and "1 failed" in p.describe()


def test_progress_line_from_the_cli_shows_a_real_rate(monkeypatch, capsys):
    import audit.run.progress as progress
    from audit.cli import progress_bars

    clock = Clock()
    monkeypatch.setattr(progress, "_now", clock)
    tick = progress_bars(True)("score", 3)
    for i in range(3):
        clock.t += 30.0
        tick(f"c{i}", "done")
    err = capsys.readouterr().err
    assert "2.0 calls/min" in err and "0.0 calls/min" not in err
