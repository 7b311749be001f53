"""A notebook's first cell on pylab: numpy, pandas and matplotlib together, a plot drawn to PNG."""

from __future__ import annotations

from collections.abc import Callable

from harness.imagelab import CellResult

CELL = """
import io
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
frame = pd.DataFrame({"x": np.arange(10), "y": np.arange(10) ** 2})
figure, axes = plt.subplots()
frame.plot(x="x", y="y", ax=axes)
png = io.BytesIO()
figure.savefig(png, format="png")
print(int(frame["y"].sum()), png.getvalue()[:8] == b"\\x89PNG\\r\\n\\x1a\\n")
"""


def test_numpy_pandas_and_matplotlib_draw_a_plot(run_cell: Callable[[str, str], CellResult]) -> None:
    result = run_cell("python3", CELL)
    # Its last line: matplotlib may first say that it builds its font cache.
    assert (result.status, result.output.split()[-2:]) == ("ok", ["285", "True"]), result.output
