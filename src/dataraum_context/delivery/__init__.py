"""The context delivered: output formats (JSON, Markdown, YAML, HTML, and plugins'; `formats`),
token budgets (`budget`), and results in a notebook."""

import importlib
from collections.abc import Callable
from typing import Any

from dataraum_context import models

# each behaviour by the module and function giving it: imported at its first call, since
# `import dataraum_context` registers them and needs neither polars nor DuckDB
_DELEGATES = {
    "summary": "dataraum_context.delivery.notebook", "markdown": "dataraum_context.delivery.notebook",
    "to_polars": "dataraum_context.delivery.notebook", "to_pandas": "dataraum_context.delivery.notebook",
    "to_json": "dataraum_context.delivery.render", "to_markdown": "dataraum_context.delivery.render",
    "to_yaml": "dataraum_context.delivery.render", "join_path": "dataraum_context.joins",
}


def register() -> None:
    """Give the results their behaviour beyond data (`models.DELEGATES`): how they show in a
    notebook, how the context renders, how it finds a join path."""
    models.DELEGATES.update({name: _on_first_call(module, name) for name, module in _DELEGATES.items()})


def _on_first_call(module: str, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        function = getattr(importlib.import_module(module), name)
        models.DELEGATES[name] = function  # the next call goes straight to it
        return function(*args, **kwargs)

    return call
