"""Draw a product's recent sales, its forecast, the 80 % and 95 % bands and each member's line."""

from __future__ import annotations

import io
from datetime import date

from api.dashboard import ChartData

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
MEMBER_COLOURS = {"prophet": "#2a9d8f", "lstm": "#e76f51", "random_forest": "#8d6cab"}


def forecast_chart(data: ChartData, fmt: str) -> bytes:
    """Return the chart of `data` as SVG or PNG bytes; each drawn series carries its name as id."""
    # Imported here: matplotlib costs ~0.3 s to import, paid by the first chart, not by every process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no display, safe in a threaded server
    ax = fig.subplots()
    days = [date.fromisoformat(p["date"]) for p in data.points]
    if data.history:
        sold = ax.plot([date.fromisoformat(r["date"]) for r in data.history], [r["quantity"] for r in data.history],
                       color="#555555", linewidth=1, label="sales")[0]
        sold.set_gid("history")
    for level, alpha in (("95", 0.15), ("80", 0.3)):
        low, high = ("lower", "upper") if level == "80" else ("lower_95", "upper_95")
        if days and low in data.points[0]:
            band = ax.fill_between(days, [p[low] for p in data.points], [p[high] for p in data.points],
                                   color="#1f77b4", alpha=alpha, linewidth=0, label=f"{level} % interval")
            band.set_gid(f"band-{level}")
    for member in data.members:
        line = ax.plot(days, [p[member] for p in data.points], linewidth=0.9, linestyle="--",
                       color=MEMBER_COLOURS.get(member), label=member.replace("_", " "))[0]
        line.set_gid(f"member-{member}")
    line = ax.plot(days, [p["forecast"] for p in data.points], color="#1f77b4", linewidth=2, label="forecast")[0]
    line.set_gid("forecast")
    ax.set_title(_title(data), fontsize=11, loc="left")
    ax.set_ylabel("units per day")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    fig.autofmt_xdate()
    out = io.BytesIO()
    fig.savefig(out, format=fmt, metadata=_metadata(fmt))
    return out.getvalue()


def _title(data: ChartData) -> str:
    product = data.product
    title = f"{product['name']} (product {product['id']}): {len(data.points)}-day forecast"
    if data.asked > len(data.points):
        title += f" (asked {data.asked}; the set's saved forecast holds {len(data.points)})"
    if data.state.state == "stale":
        title += f"; model set stale: {data.state.reason}"
    return title


def _metadata(fmt: str) -> dict[str, str | None]:
    # No creation date in the file: the same chart gives the same bytes.
    return {"Date": None} if fmt == "svg" else {"Software": None}
