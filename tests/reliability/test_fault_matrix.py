"""Every cell of the fault matrix keeps the contract: see `matrix.run_cell` for the rules."""

import pytest

from .matrix import cells, run_cell


@pytest.mark.parametrize(
    ("case", "endpoint", "mode"),
    list(cells()),
    ids=lambda value: getattr(value, "name", value),
)
def test_fault_matrix_cell(case, endpoint, mode):
    cell = run_cell(case, endpoint, mode)
    if case.error is not None and mode != "supervised":
        assert cell.outcome == case.error.__name__
