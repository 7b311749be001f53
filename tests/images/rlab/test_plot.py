"""A notebook's first cell on rlab: a ggplot2 plot drawn to PNG by the `ir` kernel."""

from __future__ import annotations

from collections.abc import Callable

from harness.imagelab import CellResult

CELL = """
library(ggplot2)
plot <- ggplot(data.frame(x = 1:10, y = (1:10)^2), aes(x, y)) + geom_point()
file <- tempfile(fileext = ".png")
png(file, type = "cairo", width = 300, height = 300)
print(plot)
invisible(dev.off())
cat(sum((1:10)^2), rawToChar(readBin(file, "raw", 4)[2:4]), "\\n")
"""


def test_ggplot2_draws_a_plot_in_the_ir_kernel(run_cell: Callable[[str, str], CellResult]) -> None:
    result = run_cell("ir", CELL)
    assert (result.status, result.output.split()[-2:]) == ("ok", ["385", "PNG"]), result.output
