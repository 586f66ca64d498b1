"""The context delivered: output formats (JSON, Markdown, YAML, HTML, and plugins'; `formats`),
token budgets (`budget`), and results in a notebook."""

from dataraum_context import joins, models
from dataraum_context.delivery import notebook, render


def register() -> None:
    """Give the results their behaviour beyond data (`models.DELEGATES`): how they show in a
    notebook, how the context renders, how it finds a join path."""
    models.DELEGATES.update(
        summary=notebook.summary, markdown=notebook.markdown, to_polars=notebook.to_polars,
        to_pandas=notebook.to_pandas, to_json=render.to_json, to_markdown=render.to_markdown,
        to_yaml=render.to_yaml, join_path=joins.join_path,
    )
