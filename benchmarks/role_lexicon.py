"""Build audit/asr/role_ngrams.tsv: which character n-grams agents say and which callers say.

    python benchmarks/role_lexicon.py [--bank rules/bank] [--out audit/asr/role_ngrams.tsv]

Every sentence of the sentence bank says its speaker (a concept's `speaker`, or its own in
ordinary.yaml), so the bank is also a corpus of who says what, written apart from every call.
A logistic regression over the presence of character n-grams (1-3; binary, no idf, no norm, so
that a sentence's score is the intercept plus the weights of the n-grams it holds, which
audit/asr/roles.py adds up from the file alone) is fitted on the written sentences and their
heard forms, and the n-grams whose weight is large enough are written out, strongest first.
Mono attribution (audit/asr/diarize.py) reads them as each piece's wording evidence.

The file is data, versioned with the code (hearing must not change when a QA lead edits the
bank: a transcript depends on the audio, the model and the options only); rebuild it here and
bump audit.transcribe.TRANSCRIPT_VERSION when the bank has grown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.detect.bank import load_bank  # noqa: E402
from audit.text.chinese import digits_as_said  # noqa: E402

C = 0.5  # held-out writers (the bank's held_out), share of sentences whose speaker it gets right: C=0.25 0.945, 0.5 0.949, 1 0.949, 2 0.948, 4 0.946
MIN_WEIGHT = 0.1  # n-grams below this move a sentence's log odds by less than a cue's rounding


def spoken(bank_dir: Path) -> tuple[list[str], list[int], list[str]]:
    """(texts, 1 for agent / 0 for customer, writer) of every bank sentence with a speaker, and its heard form."""
    bank = load_bank(bank_dir)
    texts, roles, by = [], [], []

    def add(text: str, role: str, writer: str) -> None:
        if role not in ("agent", "customer"):
            return
        for t in (text, bank.heard.get(text)):
            if t:
                texts.append(t)
                roles.append(int(role == "agent"))
                by.append(writer)

    for concept in bank.concepts.values():
        for s in concept.sentences:
            add(s.text, concept.speaker, s.by)
    ordinary = yaml.safe_load((bank_dir / "ordinary.yaml").read_text(encoding="utf-8"))
    for e in ordinary.get("negative") or []:
        add(e["text"], e.get("speaker", ""), e.get("by", ""))
    return texts, roles, by


def fit(texts, roles):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(analyzer="char", ngram_range=(1, 3), binary=True, min_df=3, preprocessor=digits_as_said)
    X = vec.fit_transform(texts)
    lr = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    lr.fit(X, roles)
    return vec, lr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=REPO / "rules" / "bank")
    ap.add_argument("--out", type=Path, default=REPO / "audit" / "asr" / "role_ngrams.tsv")
    ap.add_argument("--held-out", action="store_true", help="fit without the bank's held-out writers and print their accuracy")
    a = ap.parse_args()
    texts, roles, by = spoken(a.bank)
    if a.held_out:
        held = load_bank(a.bank).held_out
        train = [i for i, w in enumerate(by) if w not in held]
        test = [i for i, w in enumerate(by) if w in held]
        vec, lr = fit([texts[i] for i in train], [roles[i] for i in train])
        pred = lr.predict(vec.transform([texts[i] for i in test]))
        print(f"held-out writers {sorted(held)}: {sum(int(p) == roles[i] for p, i in zip(pred, test)) / len(test):.3f} of {len(test)}")
        return
    vec, lr = fit(texts, roles)
    weights = sorted(((g, float(w)) for g, w in zip(vec.get_feature_names_out(), lr.coef_[0]) if abs(w) >= MIN_WEIGHT),
                     key=lambda gw: -abs(gw[1]))
    bank = load_bank(a.bank)
    lines = [f"# who says it: character n-gram weights, agent (+) against caller (-); benchmarks/role_lexicon.py, bank {bank.digest}, "
             f"{len(texts)} sentences, C={C}",
             f"(intercept)\t{float(lr.intercept_[0]):.4f}"]
    lines += [f"{g}\t{w:.4f}" for g, w in weights if "\t" not in g and "\n" not in g]
    a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{a.out}: {len(weights)} n-grams from {len(texts)} sentences")


if __name__ == "__main__":
    main()
