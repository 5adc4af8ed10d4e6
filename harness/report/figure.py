"""A finished matplotlib figure as PNG bytes, shared by every report figure."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def png(fig: Figure) -> bytes:
    """The figure drawn at :data:`DPI` as PNG bytes, without a "Software" tag (stable bytes)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
