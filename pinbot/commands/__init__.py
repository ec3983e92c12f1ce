"""One module per verb: typed options in (`pinbot.options`), an exit code out; no printing of
their own (they report through `ctx.out`), no argparse, no call back into the CLI."""

from __future__ import annotations

from pinbot.context import Context

__all__ = ["Context"]
