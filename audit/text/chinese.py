"""Chinese script: Whisper sometimes writes Traditional characters; everything downstream reads Simplified."""

from __future__ import annotations

_t2s = None


def to_simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)
