"""The accuracy targets the service must meet, judged on one data set's table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ENSEMBLE = "service ensemble"
MEMBERS = ("service prophet", "service lstm", "service random_forest")
SERVICE_ROWS = (ENSEMBLE, *MEMBERS)
COVERAGE_POINTS = 5.0
TRAIN_SECONDS = 1.5
SMAPE_STORE_ITEM = 11.6
RMSPE_CALENDAR = 0.15
RMSPE_SALES = 0.185
RMSSE_M5_ITEMS = 0.78
DEAD_ITEM_MEAN = 0.1


@dataclass(frozen=True)
class Verdict:
    """One target: the service's figure, the target in words, and whether it is met."""

    figure: str
    ours: str
    target: str
    met: bool


def judge(name: str, table: dict[str, dict[str, Any]], facts: dict[str, Any]) -> list[Verdict]:
    """Return the verdicts of data set `name` from its table (method -> scores) and its facts."""
    if ENSEMBLE not in table:
        return []
    ours = table[ENSEMBLE]
    metric = ours["metric"]
    peers = {m: row["metric"] for m, row in table.items() if m not in SERVICE_ROWS}
    out: list[Verdict] = []
    if name == "store-item":
        out.append(Verdict("SMAPE", f"{metric:.2f}", f"<= {SMAPE_STORE_ITEM}", metric <= SMAPE_STORE_ITEM))
        worst = {m: table[m]["metric"] for m in MEMBERS if m in table}
        out.append(Verdict("ensemble better than each member", f"{metric:.2f} vs "
                           + ", ".join(f"{m.split()[1]} {v:.2f}" for m, v in worst.items()),
                           "< every member", all(metric < v for v in worst.values())))
    elif name == "rossmann-calendar":
        out.append(Verdict("RMSPE (open days)", f"{metric:.3f}", f"<= {RMSPE_CALENDAR}", metric <= RMSPE_CALENDAR))
        closed, nonzero = facts["closed_days"], facts["closed_days_nonzero"]
        out.append(Verdict("closed days forecast non-zero", f"{nonzero} of {closed}", "0", nonzero == 0))
    elif name == "rossmann-sales":
        out.append(Verdict("RMSPE (open days)", f"{metric:.3f}", f"<= {RMSPE_SALES}", metric <= RMSPE_SALES))
        if peers:  # a run of the service alone has no peer to beat
            best = min(peers, key=peers.get)
            out.append(Verdict("better than every peer without the calendar",
                               f"{metric:.3f} vs {best} {peers[best]:.3f}", "< best peer", metric < peers[best]))
    elif name == "m5-items":
        out.append(Verdict("RMSSE", f"{metric:.3f}", f"<= {RMSSE_M5_ITEMS}", metric <= RMSSE_M5_ITEMS))
        if "dead_item_mean" in facts:  # judged on the bench's own window only
            dead = facts["dead_item_mean"]
            out.append(Verdict(f"{facts['dead_item']} mean forecast a day", f"{dead:.3f}", f"<= {DEAD_ITEM_MEAN}",
                               dead <= DEAD_ITEM_MEAN))
    elif name == "m5-level9":
        others = {m: row["metric"] for m, row in table.items() if m != ENSEMBLE}
        best = min(others, key=others.get)
        out.append(Verdict("best RMSSE of all methods", f"{metric:.3f} vs {best} {others[best]:.3f}",
                           "best", metric < others[best]))
    for level in (80, 95):
        value = ours.get(f"coverage_{level}")
        if value is not None:
            out.append(Verdict(f"{level} % interval coverage", f"{value:.1f} %", f"{level} +- {COVERAGE_POINTS:g}",
                               abs(value - level) <= COVERAGE_POINTS))
    train = facts.get("train_seconds")
    if train is not None:
        out.append(Verdict("training per product, s (one core)", f"{train:.2f} (max {facts['train_seconds_max']:.2f})",
                           f"<= {TRAIN_SECONDS}", train <= TRAIN_SECONDS))
    return out


def as_dicts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """Return the verdicts as JSON-able dicts."""
    return [asdict(v) for v in verdicts]
