"""Draw docs/interprovince.png, the README's picture of messages between provinces: one
database today, and a national deployment with provinces on their own database servers and a
broker between them. Run: `.venv/bin/python tools/interprovince_diagram.py`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parent.parent / "docs" / "interprovince.png"
BLUE, GREEN, GREY, ORANGE = "#dbe9f6", "#dff0d8", "#eeeeee", "#fde3c8"


def box(ax, x, y, w, h, text, color, size=8.5):  # type: ignore[no-untyped-def]
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#555"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, wrap=True)


def arrow(ax, a, b, text="", dy=0.0):  # type: ignore[no-untyped-def]
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="#333"))
    if text:
        ax.text(
            (a[0] + b[0]) / 2,
            (a[1] + b[1]) / 2 + dy,
            text,
            ha="center",
            va="bottom",
            fontsize=7.5,
            color="#333",
        )


def province(ax, x, name, business, extra):  # type: ignore[no-untyped-def]
    box(ax, x, 0.62, 0.36, 0.22, business, BLUE)
    box(ax, x, 0.30, 0.36, 0.22, extra, GREEN)


def one_database(ax) -> None:  # type: ignore[no-untyped-def]
    ax.set_title("Today: every province in one database", fontsize=10, loc="left")
    box(
        ax,
        0.02,
        0.62,
        0.42,
        0.24,
        "Request in P (the line's home)\nP's books: Dr subscriber_cash:P / Cr due_to:P:H\n"
        "interprovince.service.send(ctx, H, kind, payload)",
        BLUE,
    )
    box(
        ax,
        0.02,
        0.10,
        0.42,
        0.30,
        "outbox row, topic 'interprovince'\n(same transaction as P's writes:\n"
        "sent if and only if they commit)",
        GREY,
    )
    box(
        ax,
        0.56,
        0.10,
        0.42,
        0.30,
        "delivery (inline in sandbox,\nthread in production)\nLocalLink.publish = receive",
        ORANGE,
    )
    box(
        ax,
        0.56,
        0.62,
        0.42,
        0.24,
        "H applies, once (interprovince_applied)\nH's books: Dr due_from:H:P /\n"
        "Cr store_drawer:<store>",
        GREEN,
    )
    arrow(ax, (0.23, 0.62), (0.23, 0.40), "writes")
    arrow(ax, (0.44, 0.25), (0.56, 0.25))
    ax.text(0.50, 0.44, "after\ncommit", ha="center", va="bottom", fontsize=7.5)
    arrow(ax, (0.77, 0.40), (0.77, 0.62), "applier by kind")


def national(ax) -> None:  # type: ignore[no-untyped-def]
    ax.set_title(
        "Later: provinces on their own database servers, a broker between them",
        fontsize=10,
        loc="left",
    )
    box(
        ax,
        0.00,
        0.55,
        0.30,
        0.33,
        "P's server (Jiangsu)\nrequest, P's books,\noutbox row\n(business code unchanged)",
        BLUE,
    )
    box(
        ax,
        0.00,
        0.08,
        0.30,
        0.30,
        "P's outbox delivery\nBrokerLink.publish(message)\n(an adapter: a Link)",
        ORANGE,
    )
    box(ax, 0.37, 0.08, 0.26, 0.30, "message broker\na queue per\nprovince\n(at least once)", GREY)
    box(
        ax,
        0.70,
        0.08,
        0.30,
        0.30,
        "H's consumer\nreceive(session, appliers,\nmessage, now)",
        ORANGE,
    )
    box(
        ax,
        0.70,
        0.55,
        0.30,
        0.33,
        "H's server (Guangdong)\nthe same appliers,\nH's books, applied once",
        GREEN,
    )
    arrow(ax, (0.15, 0.55), (0.15, 0.38))
    arrow(ax, (0.30, 0.23), (0.37, 0.23))
    arrow(ax, (0.63, 0.23), (0.70, 0.23))
    arrow(ax, (0.85, 0.38), (0.85, 0.55), "H's transaction")


def main() -> None:
    fig, axes = plt.subplots(2, 1, figsize=(8.5, 7.2))
    for ax in axes:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(0, 0.95)
        ax.axis("off")
    one_database(axes[0])
    national(axes[1])
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()
