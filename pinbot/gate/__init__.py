"""The gate's parts: the facts and checks (`facts`, `checks`), where the repositories are read
(`repos`) and the probe report (`probe_report`). `pinbot.commands.gate` puts them together.

Read-only. The gate reads what the deploy pipeline reads — `OPENHANDS_SHA` from the deploy
workflow at REF, then the pin sites at that commit — and checks each fact. Every check runs; one
that cannot (an earlier fact it needs is missing) says so, so a block lists every reason at once.
"""
