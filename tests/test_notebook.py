"""The quickstart notebook runs headless, top to bottom, on the bundled sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataraum_context import sample

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def _text(outputs: list) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_committed_notebook_has_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"cell {cell.id!r} has outputs: clear them before committing")


@pytest.mark.e2e
@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's temporary workspace lands here
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell

    cells = {cell.id: cell for cell in nb.cells}
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.get("output_type") == "error"], cell.id
    dag = cells["dag"].outputs
    assert dag and any("image/svg+xml" in o.get("data", {}) or "text/plain" in o.get("data", {})
                       for o in dag)
    context = _text(cells["context"].outputs)
    for table in sample.TABLES:
        assert table in context, f"context document does not mention {table!r}"
    assert "order_date" in context
    assert "month" in _text(cells["query"].outputs)
    assert list(tmp_path.glob("dataraum-quickstart-*/tables/orders.parquet"))
