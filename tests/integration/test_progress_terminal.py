"""`pinbot scan` in a real terminal (a pty): live progress on stderr, a table that fits; in CI
and with --json, plain output without a single terminal control sequence."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from testing.cutworld import CAPABLE, IMAGE
from testing.worlds import Images

ERASE = "\r\x1b[K"


def scan_in_a_terminal(images: Images, *flags: str, **environ: str) -> tuple[int, str, str]:
    """(exit code, what the terminal showed, stderr when it is a pipe) of `pinbot scan`."""
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "NO_COLOR")}
    env.update({"COLUMNS": "60", "TERM": "xterm", **environ})
    argv = [sys.executable, "-m", "pinbot", "scan", "--image", IMAGE, *flags]
    argv += ["--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    with subprocess.Popen(argv, stdout=secondary, stderr=secondary, env=env) as process:
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=120)
    os.close(main)
    return code, shown.decode().replace("\r\n", "\n"), ""


def test_a_terminal_shows_the_candidates_examined_live_and_a_table_that_fits(
    images: Images, tmp_path: Path
) -> None:
    code, shown, _ = scan_in_a_terminal(images, "--no-cache")

    assert code == 0, shown
    assert ERASE in shown  # the status line was drawn and taken down
    assert "examined 1 of 3 candidates" in shown
    assert f"examined 2 of 3 candidates: {CAPABLE} pass" in shown
    lines = shown.split(ERASE)[-1].splitlines()
    assert lines[-1].startswith(f"selected: {IMAGE}:{CAPABLE}@sha256:")
    table = [line for line in lines if line.startswith(("TAG", "1."))]
    assert len(table) == 3 and all(len(line) <= 60 for line in table), table
    assert table[1].endswith("…")  # the why gave way


def test_ci_json_and_no_color_get_plain_lines_without_control_sequences(images: Images) -> None:
    for flags, environ in (((), {"CI": "true"}), (("--json",), {}), ((), {"NO_COLOR": "1"})):
        code, shown, _ = scan_in_a_terminal(images, "--no-cache", *flags, **environ)

        assert code == 0, shown
        assert "\x1b" not in shown and "\r" not in shown, (flags, environ)
        assert "examined" not in shown  # a quick scan needs no progress lines at all
