"""What yunpipe knows about its pipelines, and how far to trust it.

- `target`   — the account, region and endpoint a record belongs to;
- `files`    — reading a local JSON record without ever hanging or crashing;
- `process`  — who is writing a record, and whether that process is still alive;
- `lock`     — one writer per pipeline (a local flock and a marker in the account);
- `registry` — the account-side record of deployed pipelines: ownership and bucket loops;
- `scan`     — the pipelines present in the account, found by their `yunpipe:pipeline` tag.

No module here imports Textual, the screens or the deploy package: the deploy package builds
on these, never the other way round.
"""
