"""Training logs: one CSV row per step (the curves the notebooks draw), TensorBoard when installed."""
from __future__ import annotations

import csv
from pathlib import Path

from metastyle.errors import MetaStyleError
from metastyle.infra.claims import regular_files
from metastyle.infra.files import atomic_path


class RunLog:
    """Append-only CSV log with a fixed header; ``truncate(step)`` drops rows past a resumed checkpoint."""

    def __init__(self, path: str | Path, fields: list[str], *, tensorboard: bool = True):
        self.path, self.fields = Path(path), ["step", *fields]
        regular_files(self.path.parent, [self.path.name])  # a dangling link would be followed by open("w")
        if not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.fields)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.path.parent / "tb"))
            except ImportError:  # tensorboard is optional (not a dependency): not installed, the CSV log alone
                self._tb = None  # any other failure (a folder it cannot write, a broken install) is an error

    def write(self, step: int, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([step, *(_fmt(row.get(k, "")) for k in self.fields[1:])])
        if self._tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)

    def truncate(self, step: int) -> None:
        """Keep only complete rows with ``step <= step`` (resume after a crash that logged past its checkpoint).

        A row cut short by the crash (fewer fields, or an unparsable step) is dropped too; the file is
        rewritten atomically, so a second crash during the rewrite loses nothing.
        """
        keep = _kept_rows(self.path, self.fields, step)
        with atomic_path(self.path) as tmp:
            with tmp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(self.fields)
                w.writerows(keep)

    @staticmethod
    def steps(path: str | Path, fields: list[str], step: int) -> list[int]:
        """The steps of the rows ``truncate(step)`` would keep (read only)."""
        return [int(r[0]) for r in _kept_rows(Path(path), ["step", *fields], step)]

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _kept_rows(path: Path, fields: list[str], step: int) -> list[list[str]]:
    """Complete rows with increasing steps ``<= step`` (a torn or out-of-order row is dropped)."""
    keep = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as err:
        raise MetaStyleError(f"{path} is not a text log: byte {err.start} is not UTF-8 (damaged, or not this "
                             f"run's log; start over with --overwrite)") from None
    except csv.Error as err:
        raise MetaStyleError(f"{path} is not a CSV log ({err}); start over with --overwrite") from None
    for r in rows[1:]:
        if len(r) == len(fields) and r[0].isdigit() and int(r[0]) <= step and \
                (not keep or int(r[0]) > int(keep[-1][0])):
            keep.append(r)
    return keep


def _fmt(v):
    return f"{v:.8g}" if isinstance(v, float) else v


def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
