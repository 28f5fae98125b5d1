"""Publishing a study's report (``nmtprune report STUDY --export DIR``): the report, its figures
and ``results.csv``, copied where they can be committed (e.g. ``docs/results/``); absolute paths
in the report are written relative to the directory the command runs in.

Only what the report shows travels: no checkpoints, no store, no run directories.
Figures the report no longer links are removed from ``DIR/figures`` so the published
set is exactly the report's; other files in ``DIR`` (a config kept there) are left alone.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import NmtpruneError
from ..fileio import atomic_write


def linked_figures(report_md: str) -> list[str]:
    """File names of the figures a report links (``![name](figures/FILE)``)."""
    return re.findall(r"!\[[^\]]*\]\(figures/([^)/]+)\)", report_md)


def relative_paths(text: str, base: Path) -> str:
    """``text`` with absolute paths inside ``base``'s parent written relative to ``base`` (where the
    commands run), so a published report names no machine's layout."""
    home = str(base.resolve())
    text = re.sub(re.escape(home) + r"/", "", text)
    return re.sub(re.escape(str(Path(home).parent)) + r"/", "../", text)


def publish(study: str | Path, dest: str | Path) -> list[Path]:
    """Copy ``report.md``, ``results.csv`` and the linked figures of ``study`` into ``dest``
    (each file written atomically); the paths written."""
    study, dest = Path(study), Path(dest)
    if dest.resolve() == study.resolve():
        raise NmtpruneError(f"--export {dest}: that is the study directory itself; name another directory")
    report = study / "report.md"
    text = report.read_text(encoding="utf-8")
    names = linked_figures(text)
    missing = [n for n in names if not (study / "figures" / n).is_file()]
    if missing:
        raise NmtpruneError(f"{study / 'figures'}: the report links {', '.join(missing)}, which is not there; "
                            f"rebuild it with 'nmtprune report {study}'")
    written = []
    atomic_write(dest / "report.md", relative_paths(text, Path.cwd()))
    atomic_write(dest / "results.csv", (study / "results.csv").read_bytes())
    written += [dest / "report.md", dest / "results.csv"]
    for n in names:
        atomic_write(dest / "figures" / n, (study / "figures" / n).read_bytes())
        written.append(dest / "figures" / n)
    for stale in (dest / "figures").glob("*.png"):
        if stale.name not in names:
            stale.unlink()
    return written
