"""A QA team's workspace: its settings, its recordings, its one database.

`config` reads audit.toml; `index` reads the recordings' export (or scans the root);
`store` is the SQLite file and the only module with SQL; `review_states` is the review
and appeal flow the store enforces on every transition.

May import: the stages' entry modules and their packages (`audit.sampling`,
`audit.detect`, `audit.asr`, `audit.text`), `audit.errors`. Never the runner, the
reports or the web page.
"""
