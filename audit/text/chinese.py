"""Chinese script: Whisper sometimes writes Traditional characters; everything downstream reads Simplified."""

from __future__ import annotations

_t2s = None


def to_simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


_DIGIT_SOUNDS = str.maketrans("0123456789０１２３４５６７８９", "零一二三四五六七八九零一二三四五六七八九")


def digits_as_said(text: str) -> str:
    """Each digit as the character it is said as, one for one (offsets stay): Whisper writes
    digits for syllables that sound like them, "请9等呢" for 请久等了, so a match by sound
    must read 9 as jiu (dev48's thanks after a 171 s hold, missed while 9 read as "9")."""
    return text.translate(_DIGIT_SOUNDS)
