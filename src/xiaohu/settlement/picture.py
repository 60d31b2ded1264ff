"""The period's dues matrix as a picture: a 31×31 heat map, payer by row, receiver by column.

Drawn with matplotlib's Agg backend (no display). Province names are Chinese when a Chinese
face is installed (Debian's fonts-noto-cjk, wqy or arphic; matplotlib finds it by family
name), else English, so the picture never shows empty boxes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from xiaohu.kit.money import yuan
from xiaohu.regions.provinces import PROVINCES
from xiaohu.settlement.rules import Dues

# Chinese faces matplotlib may find, best first (the same packages the receipt uses).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "AR PL UMing CN",
)


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The first Chinese face matplotlib knows, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


def render(period: str, dues: Dues) -> bytes:
    """PNG bytes of the heat map; amounts in yuan, empty cells white."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    codes = list(PROVINCES)
    index = {c: i for i, c in enumerate(codes)}
    grid = np.full((len(codes), len(codes)), np.nan)
    for (payer, receiver), amount in dues.items():
        if amount > 0:
            grid[index[payer], index[receiver]] = amount / 100
    family = cjk_family()
    names = [PROVINCES[c].short if family else PROVINCES[c].name_en for c in codes]
    figure = Figure(figsize=(11, 9.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    shown = grid[~np.isnan(grid)]
    norm = LogNorm(vmin=max(shown.min(), 0.01), vmax=shown.max()) if shown.size else None
    image = axes.imshow(grid, cmap="viridis", norm=norm)
    font: dict[str, Any] = {"family": family} if family else {}
    axes.set_xticks(range(len(codes)), names, rotation=90, fontsize=8, **font)
    axes.set_yticks(range(len(codes)), names, fontsize=8, **font)
    zh = (lambda text: f" · {text}") if family else (lambda _text: "")
    axes.set_xlabel("receiver (owed)" + zh("收款方"), **font)
    axes.set_ylabel("payer (owes)" + zh("付款方"), **font)
    total = yuan(sum(dues.values()))
    title = f"Dues between provinces{zh('省间应结款项')} {period}  (total {total})"
    axes.set_title(title, **font)
    figure.colorbar(image, ax=axes, label="yuan (log scale)", shrink=0.8)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
