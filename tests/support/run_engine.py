"""Run a pipeline in a process of its own and print its outcome as one line of JSON:
`python -m support.run_engine '<json>'` from tests/, with the JSON holding `pipeline`, `sources`,
`workspace`, `engine` and `config` (keyword arguments of `dc.run`).

The Temporal SDK may abort the interpreter at exit (sdk-python issue 300) after the run went
well, so a test judges the run by the `RESULT` line, not by the exit code."""

from __future__ import annotations

import json
import sys

import dataraum_context as dc


def main() -> None:
    given = json.loads(sys.argv[1])
    try:
        run = dc.run(given["pipeline"], sources=given["sources"], workspace=given["workspace"],
                     engine=given["engine"], **given.get("config", {}))
    except Exception as exc:  # noqa: BLE001 (the test reads what failed)
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    else:
        context = run.context
        outcome = {"record": run.model_dump(mode="json"),
                   "context": None if context is None else context.model_dump(mode="json", exclude={"generated_at"})}
    print("RESULT " + json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
