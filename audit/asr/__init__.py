"""Hearing a call: from a recording to who said what, when.

Audio decoding (`audio`), voice activity (`vad`), the transcript's dataclasses
(`transcript`), speech the first pass skipped decoded again (`refill`), speakers of a
mono mix told apart (`voices`: the trained speaker encoder; `turns`: single-speaker pieces
cut at voice changes; `diarize`: whose each piece is, and how sure), the hotline's
vocabulary corrected (`lexicon`), the
Whisper weights found and converted (`model`, `convert`), native thread counts for the
engines and the pools under them (`threads`), and error rates against a reference
(`metrics`). The stage's entry point is `audit.transcribe`.

May import: `audit.text`, `audit.errors`. Never detection, the workspace or the runner.
"""
