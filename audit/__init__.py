"""callaudit: quality audit of utility hotline call recordings.

The stages, as packages, imported one way (`.importlinter`):

    sampling.py   which calls are heard (entry point of the sample stage)
    transcribe.py the ASR stage's entry point; its parts are in asr/
    scoring.py    the score stage's entry point; its parts are in detect/
    asr/          decoding, voice activity, Whisper, speakers, vocabulary, weights
    detect/       measures, rule packs, flags, what cancels them, confidence, scores
    text/         Chinese text tools both share (matching, sound-alikes, masking)
    workspace/    audit.toml, the recordings index, the SQLite store, the review flow
    run/          the night: index -> sample -> transcribe -> measure -> score
    reports/      the workbook, summaries, clips, the review queue
    web/          the review page
    cli.py        the commands, on top of it all
"""

from audit.errors import AuditError

__version__ = "0.1.0"
__all__ = ["AuditError", "__version__"]
