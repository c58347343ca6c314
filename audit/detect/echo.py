"""The caller throws the agent's own words back as a question: "明天？我这一屋子车……你跟我说明天？".

Indignation that needs no anger word: the agent says 明天 / 不一定 / 找房东, and the caller,
loud, repeats it with a question mark and goes on. The anger rule counts it as anger said
(`echo_question: true`) when the turn is loud, as it counts angry words; a caller who has
said why they are loud (calm_if) is confirming what they heard, and it does not count.

A confirmation is short and stops ("明天上午？好的。"); an echo of indignation goes on, so the
caller must say at least MIN_AFTER characters more in the turn.

The agent's words may also come back as a list, mocking, with no question mark of their own
("可能吧，大概吧，说不太准，再等一等看——三个月的钱，就换来你这四句话？": gen9 r11): at least
MIN_LISTED clauses in a row that open the turn, each the agent's words, none a number read back.
"""

from __future__ import annotations

import re

MIN_ECHO = 2  # characters of the agent's words the question repeats
MAX_QUESTION = 10  # a question clause longer than this is the caller's own sentence, not an echo
MIN_AFTER = 12  # characters the caller says after the echo (a confirmation stops there)
MIN_LISTED = 3  # clauses of the agent's words in a row that open the turn (an address read back is numbers)

# 你跟我说明天？ 你叫我去找房东？ 就一句不一定？: the frame around the echoed words
_FRAME = re.compile(r"^(?:你们?|您)?(?:就|还|又)?(?:跟我|给我|对我)?(?:说|讲|叫我|让我|要我|喊我)?(?:去|先)?|(?:啊|呀|哦|吗|呢|了)+$")
_CLAUSE = re.compile(r"[^，。！？,.!?；;]+[？?]")
_STRIP = re.compile(r"[\s，。！？、；：“”‘’,.!?;:—…]")
_LIST_CLAUSE = re.compile(r"[^，。！？,.!?；;—…]+")
_NUMBER = re.compile(r"[0-9零一二三四五六七八九十百幺两]{2,}")


def _core(question: str) -> str:
    return _FRAME.sub("", _STRIP.sub("", question))


def _common(a: str, b: str) -> int:
    """Length of the longest run of characters that a and b share."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def echoed(turn: str, agent_before: str) -> str | None:
    """The question clause of `turn` that echoes `agent_before` (what the agent just said),
    when the caller goes on after it; None otherwise."""
    said = _STRIP.sub("", agent_before)
    if not said:
        return None
    for m in _CLAUSE.finditer(turn):
        core = _core(m.group())
        if not (MIN_ECHO <= len(core) <= MAX_QUESTION):
            continue
        if _common(core, said) < max(MIN_ECHO, (len(core) + 1) // 2):
            continue
        rest = _STRIP.sub("", turn[:m.start()] + turn[m.end():])
        if len(rest) >= MIN_AFTER:
            return m.group().strip()
    return _listed(turn, said)


def _listed(turn: str, said: str) -> str | None:
    """The agent's words listed back at the start of the turn (MIN_LISTED clauses or more), when the caller goes on."""
    run = []
    for m in _LIST_CLAUSE.finditer(turn):
        core = _core(m.group())
        if not (MIN_ECHO <= len(core) <= MAX_QUESTION) or _NUMBER.search(core) or _common(core, said) < max(MIN_ECHO, len(core) - 1):
            break
        run.append(m)
    if len(run) < MIN_LISTED:
        return None
    rest = _STRIP.sub("", turn[run[-1].end():])
    return turn[run[0].start():run[-1].end()].strip() if len(rest) >= MIN_AFTER else None
