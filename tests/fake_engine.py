"""A stand-in for Whisper for tests that run callaudit in a subprocess (kill-and-rerun).

    python -c "import tests.fake_engine as f; f.main()" nightly --date ...

Each engine run over a whole channel sleeps FAKE_ENGINE_SLEEP seconds and every run (refills of
the gaps too) appends a line to FAKE_ENGINE_LOG, so a test can kill the process mid-transcription
and count what was transcribed. The gap refills do not sleep: they are a dozen short runs per
channel, and sleeping in each made the kill-and-rerun test spend 50 s waiting."""

import os
import time

from audit import transcribe
from audit.run import pipeline
from audit.transcribe import Segment, TranscribeOptions, Word

WHOLE_CHANNEL = 30  # seconds: the demo's channels run 60-120 s, its refilled gaps a few seconds
TEXT = "您好国家电网客服，工号1023，我要投诉，请问还有其他可以帮您的吗"


class SleepyEngine:
    name = "fake"

    def run(self, samples, batched=True):
        if len(samples) > WHOLE_CHANNEL * 16000:
            time.sleep(float(os.environ.get("FAKE_ENGINE_SLEEP", "0")))
        if os.environ.get("FAKE_ENGINE_LOG"):
            with open(os.environ["FAKE_ENGINE_LOG"], "a") as fh:
                fh.write(f"{len(samples)}\n")
        n = len(samples) / 16000
        return [Segment("", 0.5, min(4.0, n), TEXT, -0.2, 0.01, (Word(0.5, min(4.0, n), TEXT),))]


def install() -> None:
    transcribe.load_engine = lambda options: SleepyEngine()
    pipeline.transcribe_options = lambda settings, threads=0: TranscribeOptions(model="fake", threads=1)


def main() -> None:
    install()
    from audit.cli import main as cli_main

    cli_main()


def die_on(item):
    """For the executor test: a worker process that dies outright on one item."""
    if item == "die":
        os._exit(1)
    return item * 2
