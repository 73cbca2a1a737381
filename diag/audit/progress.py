"""A progress bar on stderr: messages done, total, rate and time remaining."""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Messages per second, averaged by rich over the last 30 seconds."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} msg/s" if task.speed else "- msg/s")


class AuditProgress:
    """Context manager around rich.progress.Progress with one task, the audit."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, markup=False, emoji=False, highlight=False)
        self.progress = Progress(
            TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.task = None

    def __enter__(self) -> "AuditProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.progress.__exit__(*exc_info)

    def start(self, total: int | None) -> None:
        """Show the bar; a None total (merging shards) shows the count and rate without an ETA."""
        self.task = self.progress.add_task("audit", total=total)

    def advance(self) -> None:
        self.progress.advance(self.task)

    def echo(self, line: str) -> None:
        """Print a line above the bar."""
        self.console.print(Text(line))
