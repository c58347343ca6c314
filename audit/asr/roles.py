"""Who says a sentence, agent or caller, from its words alone.

Mono attribution (audit/asr/diarize.py) decides which voice is the agent's from what each voice
says. The set phrases (AGENT_CUES, CUSTOMER_CUES) fire on a few pieces of a call; an agent who
says 你 for 您 and never the greeting's words leaves a call with two cues, and one wrong piece then
decides it (gen8 q27: the whole call swapped, agreement 0.33). So every piece also gets the log
odds of its wording: a character n-gram (1-3) weight table learned from the sentence bank, whose
sentences each say their speaker (role_ngrams.tsv, built by benchmarks/role_lexicon.py: 94.9% of
the held-out writers' sentences get the right speaker). The table is data shipped with the code,
so hearing does not change when a QA lead edits the bank.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from audit.text.chinese import digits_as_said

TABLE = Path(__file__).with_name("role_ngrams.tsv")


@lru_cache(maxsize=1)
def _table() -> tuple[float, dict[str, float]]:
    intercept, weights = 0.0, {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        gram, w = line.rsplit("\t", 1)
        if gram == "(intercept)":
            intercept = float(w)
        else:
            weights[gram] = float(w)
    return intercept, weights


def agent_log_odds(text: str) -> float:
    """Log odds that the agent said text (positive) rather than the caller (negative); 0 for no words."""
    intercept, weights = _table()
    t = digits_as_said(text).lower()  # as the table's CountVectorizer read it
    grams = {t[i:i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1)}
    found = [weights[g] for g in grams if g in weights]
    return intercept + sum(found) if found else 0.0
