"""Recordings -> transcripts with speaker roles and timing.

Engines sit behind one small interface and are loaded only when asked for:
`faster-whisper` (default; CTranslate2, int8 on CPU) and `openai-whisper` (PyTorch,
from a checkpoint converted from the same weights by `callaudit model convert`).
Stereo recordings are transcribed per channel (the channel says who speaks); mono
recordings once, then cut into single-speaker pieces and attributed to agent/customer by
voice and wording (`audit.asr.turns`, `audit.asr.diarize`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zlib
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from audit.asr.audio import SAMPLE_RATE, Audio, decode
from audit.errors import AuditError
from audit.asr.transcript import AGENT, CUSTOMER, Segment, Transcript, Word, split_on_pauses  # noqa: F401 (re-exported)
from audit.text.chinese import to_simplified  # noqa: F401 (re-exported: audit.transcribe.to_simplified)

log = logging.getLogger("audit")

@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that changes a transcript; all of it goes into the cache key."""

    engine: str = "faster-whisper"
    model: str = ""  # resolved path or hub name
    model_name: str = "whisper-base"
    device: str = "auto"
    compute_type: str = "auto"
    language: str = "zh"  # forced; detection is unreliable on 8 kHz audio
    beam_size: int = 1
    vad: bool = True
    agent_channel: str = "left"
    threads: int = 0  # native threads (CTranslate2, torch); 0 = all cores, never the environment
    word_timestamps: bool = True
    split_gap: float = 0.5  # split a Whisper segment where its words pause this long (s)
    lexicon: str = ""  # extra vocabulary file for homophone correction ("" = built-in only)
    homophones: bool = True  # rewrite same-sounding stretches to hotline vocabulary (audit/asr/lexicon.py)
    batch_size: int = 0  # faster-whisper: >1 decodes VAD chunks in batches (faster, but dropped speech on dev07)
    refill: bool = True  # decode again, alone, speech that the first pass skipped (audit/asr/refill.py)
    site_terms: tuple[str, ...] = ()  # the site's own names ([site]), ahead of the built-in vocabulary

    def cache_key(self, audio_sha256: str) -> str:
        relevant = {k: v for k, v in asdict(self).items() if k not in ("model", "threads", "device")}
        if self.lexicon:  # an edited vocabulary file means new transcripts
            relevant["lexicon"] = hashlib.sha256(Path(self.lexicon).read_bytes()).hexdigest()
        blob = json.dumps([audio_sha256, relevant, TRANSCRIPT_VERSION], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


# Bump when post-processing changes, so cached transcripts are redone.
TRANSCRIPT_VERSION = 19  # 19: mono pieces' wording (audit/asr/roles.py) beside their voice; 18: mono pieces before the greeting's are the agent's; 17: mono voices re-estimated from the decided pieces; 16: mono greeting bonus on the first piece of >= 1 s; 15: mono speakers by voice (GE2E d-vectors, audit/asr/voices.py + turns.py), attribution_note; vocabulary sound matching reads digits as said


class Engine(Protocol):
    name: str

    def run(self, samples: np.ndarray, batched: bool = True) -> list[Segment]:
        """Transcribe one 16 kHz mono channel; segments come back with speaker ''.

        batched=False asks for sequential decoding where the engine has both (finer timing)."""


# ---------------------------------------------------------------- text guards

# Full-width digits and Latin letters (０-９, Ａ-Ｚ) as ASCII, so number masking, rules and
# error rates see one form; Chinese punctuation stays.
_HALFWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF21 + i: 0x41 + i for i in range(26)} | {0xFF41 + i: 0x61 + i for i in range(26)}


def plain_text(text: str) -> str:
    """Simplified characters, ASCII digits and letters; no U+FFFD (a token cut inside a character)."""
    return to_simplified(text).translate(_HALFWIDTH).replace("\ufffd", "")


_LOOP = re.compile(r"(.{1,6}?)\1{3,}")


def collapse_loops(text: str) -> str:
    """Whisper's repeated-token loops ("对对对对对…") keep two copies of the repeated unit."""
    return _LOOP.sub(lambda m: m.group(1) * 2, text)


def compression_ratio(text: str) -> float:
    b = text.encode("utf-8")
    return len(b) / max(1, len(zlib.compress(b)))


# Lines Whisper learnt from subtitled video and writes over silence or a short "嗯，行"
# (seen on a held-out call: "中文字幕后"); none of them is said on a hotline.
_SUBTITLE_LINES = re.compile(r"字幕|点赞|打赏|明镜|谢谢观看|感谢观看|谢谢收看|独播剧场|amara", re.IGNORECASE)


def is_hallucination(seg: Segment) -> bool:
    """Segments Whisper invents on silence and noise."""
    if not seg.text.strip():
        return True
    if _SUBTITLE_LINES.search(seg.text):
        return True
    if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
        return True
    return len(seg.text) > 20 and compression_ratio(seg.text) > 2.4


def clean_segments(raw: list[Segment], options: TranscribeOptions) -> list[Segment]:
    """Simplified text, loops collapsed, invented segments dropped, long segments cut at pauses."""
    out = []
    for seg in raw:
        words = tuple(replace(w, text=plain_text(w.text)) for w in seg.words)
        seg = replace(seg, text=collapse_loops(plain_text(seg.text)).strip(), words=words)
        if is_hallucination(seg):
            log.debug("dropped segment %.1f-%.1f %r", seg.start, seg.end, seg.text[:40])
            continue
        for part in split_on_pauses(seg, options.split_gap) if options.word_timestamps else [seg]:
            part = replace(part, text=collapse_loops(part.text))
            if part.text and part.end > part.start:
                out.append(part)
    return out


def correct_segments(segments: list[Segment], options: TranscribeOptions) -> list[Segment]:
    """Homophones rewritten to the hotline vocabulary, and the lexicon's `@agent` set phrases
    on the agent's segments (audit/asr/lexicon.py). The last text step:
    anything that rebuilds a segment's text from its words (mono attribution) comes before it.
    Words keep what Whisper wrote, with their timing."""
    if not options.homophones:
        return list(segments)
    from audit.asr.lexicon import correct_agent_forms, correct_homophones, load_agent_forms, load_lexicon

    lexicon, forms = load_lexicon(options.lexicon, tuple(options.site_terms)), load_agent_forms(options.lexicon)
    out = []
    for s in segments:
        text = correct_homophones(s.text, lexicon)
        out.append(replace(s, text=correct_agent_forms(text, forms) if s.speaker == AGENT else text))
    return out


# ---------------------------------------------------------------- engines


def _threads(options: TranscribeOptions) -> int:
    from audit.asr.threads import count

    return count(options.threads)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, options: TranscribeOptions):
        from faster_whisper import WhisperModel

        device = options.device
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute = options.compute_type
        if compute == "auto":
            compute = "float16" if device == "cuda" else "int8"
        self.options = options
        # Both counts explicit: cpu_threads=0 would let CTranslate2 read OMP_NUM_THREADS (else 4).
        self.model = WhisperModel(
            options.model, device=device, compute_type=compute, cpu_threads=_threads(options), num_workers=1
        )
        # Batched decoding of VAD chunks: ~25% faster on 2 CPU cores, but on dev07 it lost 30 s of the
        # agent channel (a chunk decoded to one short line), so it is opt-in.
        self.batched = None
        if options.batch_size > 1 and options.vad:
            from faster_whisper import BatchedInferencePipeline

            self.batched = BatchedInferencePipeline(self.model)

    def run(self, samples: np.ndarray, batched: bool = True) -> list[Segment]:
        o = self.options
        common = dict(
            language=o.language,
            task="transcribe",
            beam_size=o.beam_size,
            vad_filter=o.vad,
            word_timestamps=o.word_timestamps,
            condition_on_previous_text=False,  # stops one bad segment from seeding a loop
            initial_prompt=None,  # a prompt can come back as the whole transcript
            compression_ratio_threshold=2.4,
            no_speech_threshold=0.6,
            log_prob_threshold=-1.0,
            temperature=(0.0, 0.2, 0.4, 0.6),
        )
        if self.batched is not None and batched:
            segments, _info = self.batched.transcribe(samples, batch_size=o.batch_size, **common)
        else:
            segments, _info = self.model.transcribe(samples, **common)
        return [
            Segment(
                speaker="",
                start=round(s.start, 2),
                end=round(s.end, 2),
                text=s.text,
                avg_logprob=round(s.avg_logprob, 3),
                no_speech_prob=round(s.no_speech_prob, 3),
                words=tuple(Word(round(w.start, 2), round(w.end, 2), w.word, round(w.probability, 3)) for w in (s.words or ())),
            )
            for s in segments
        ]


class OpenAIWhisperEngine:
    """openai-whisper on a checkpoint converted from the same CTranslate2 weights (`callaudit model convert`)."""

    name = "openai-whisper"

    def __init__(self, options: TranscribeOptions):
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise AuditError("engine openai-whisper needs: pip install 'callaudit[openai]' (install torch==2.13.0 first)") from exc
        from audit.asr.convert import checkpoint_path

        pt = checkpoint_path(options.model)
        if not pt.exists():
            raise AuditError(f"no openai-whisper checkpoint at {pt}; run `callaudit model convert` first")
        torch.set_num_threads(_threads(options))
        self.options = options
        self.model = whisper.load_model(str(pt), device="cpu" if options.device in ("auto", "cpu") else options.device)

    def run(self, samples: np.ndarray, batched: bool = True) -> list[Segment]:
        o = self.options
        result = self.model.transcribe(
            samples,
            language=o.language,
            task="transcribe",
            beam_size=o.beam_size if o.beam_size > 1 else None,
            fp16=False,
            word_timestamps=o.word_timestamps,
            condition_on_previous_text=False,
            initial_prompt=None,
            compression_ratio_threshold=2.4,
            no_speech_threshold=0.6,
            logprob_threshold=-1.0,
            temperature=(0.0, 0.2, 0.4, 0.6),
        )
        return [
            Segment(
                speaker="",
                start=round(s["start"], 2),
                end=round(s["end"], 2),
                text=s["text"],
                avg_logprob=round(s["avg_logprob"], 3),
                no_speech_prob=round(s["no_speech_prob"], 3),
                words=tuple(
                    Word(round(w["start"], 2), round(w["end"], 2), w["word"], round(w["probability"], 3))
                    for w in s.get("words", ())
                ),
            )
            for s in result["segments"]
        ]


ENGINES = {"faster-whisper": FasterWhisperEngine, "openai-whisper": OpenAIWhisperEngine}


@lru_cache(maxsize=2)
def load_engine(options: TranscribeOptions) -> Engine:
    """One loaded model per process and options (workers load once, then reuse)."""
    try:
        cls = ENGINES[options.engine]
    except KeyError:
        raise AuditError(f"unknown engine {options.engine!r}; choose one of {', '.join(ENGINES)}") from None
    return cls(options)


# ---------------------------------------------------------------- entry points


def _refilled(engine: Engine, channel: np.ndarray, segs: list[Segment], options: TranscribeOptions) -> list[Segment]:
    if not options.refill:
        return segs
    from audit.asr.refill import refill

    return refill(engine, channel, segs, lambda raw: clean_segments(raw, options))


def transcribe_audio(audio: Audio, options: TranscribeOptions, engine: Engine | None = None) -> Transcript:
    """Transcribe a decoded recording: per channel when stereo, attributed by voice when mono."""
    engine = engine or load_engine(options)
    if audio.n_channels >= 2:
        agent_idx = 0 if options.agent_channel == "left" else 1
        segs = []
        for idx, role in ((agent_idx, AGENT), (1 - agent_idx, CUSTOMER)):
            channel = np.ascontiguousarray(audio.channels[idx])
            heard = _refilled(engine, channel, clean_segments(engine.run(channel), options), options)
            segs += [replace(s, speaker=role) for s in heard]
        segs = correct_segments(segs, options)
        segs.sort(key=lambda s: (s.start, s.end))
        layout, confidence, note = "stereo", None, ""
    else:
        from audit.asr.diarize import attribute

        # Sequential decoding: batched chunks carry no inner timestamps, and the turn
        # changes in a mono mix are found from those.
        channel = np.ascontiguousarray(audio.channels[0])
        segs = _refilled(engine, channel, clean_segments(engine.run(channel, batched=False), options), options)
        attributed = attribute(channel, audio.sample_rate, segs)
        segs, confidence, note = correct_segments(attributed.segments, options), attributed.confidence, attributed.note
        layout = "mono"
    return Transcript(
        segments=tuple(segs),
        duration=round(audio.duration, 2),
        layout=layout,
        engine=engine.name,
        model=options.model_name,
        options={k: v for k, v in asdict(options).items() if k not in ("model",)},
        audio_sha256=audio.sha256,
        attribution_confidence=confidence,
        attribution_note=note,
    )


def transcribe_file(path: Path, options: TranscribeOptions, engine: Engine | None = None) -> Transcript:
    return transcribe_audio(decode(path, SAMPLE_RATE), options, engine)
