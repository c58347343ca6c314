"""Chinese text tools that hearing and detection share.

Simplified script (`chinese`), phrase matching that tolerates how Mandarin sounds on a
telephone line (`textmatch`, `soundalike`), syllables counted as said (`syllables`), and
numbers masked for people who read reports (`masking`).

May import: `audit.errors` only.
"""
