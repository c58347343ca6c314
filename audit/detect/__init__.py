"""Finding what a QA reviewer would flag, and what it costs.

Acoustic measures from the audio and the transcript (`acoustic`); rule packs
(`rules`), their score forms (`forms`) and their examples run as tests (`ruletest`);
what raises a flag (`flags`), what cancels one (`scope`: negated, past, reported),
sentences alike in meaning (`similarity`), what was heard only nearly (`heard`), how sure
a flag is (`confidence`), anchors a rule is measured from (`anchors`), close hits merged
into one episode (`episodes`), and the one place a call's score is computed (`scores`).
The stage's entry point is `audit.scoring`.

May import: `audit.asr` (the transcript, audio, voice activity), `audit.text`,
`audit.errors`. Never the workspace (store, config), the runner or the reports.
"""
