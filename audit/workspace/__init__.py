"""A QA team's workspace: its settings, its recordings, its one database.

`config` reads audit.toml; `index` reads the recordings' export (or scans the root);
`store` is the SQLite file and the only module with SQL; `review_states` is the review
and appeal flow (and who may take which step) the store enforces on every transition;
`accounts` is who someone is: accounts, roles, password hashes, sign-in sessions, throttling.

May import: the stages' entry modules and their packages (`audit.sampling`,
`audit.detect`, `audit.asr`, `audit.text`), `audit.errors`, argon2 (password hashes).
Never the runner, the reports or the web page.
"""
