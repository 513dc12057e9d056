"""Say at the end of the run when the browser tests did not run, and why."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "test_browser.py" in r.nodeid]
    if not skipped:
        return
    reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else str(skipped[0].longrepr)
    terminalreporter.write_sep("-", "playground browser tests")
    reason = reason.removeprefix("Skipped: ").removeprefix("browser tests not run: ")
    terminalreporter.write_line(f"{len(skipped)} browser tests NOT RUN: {reason}")
