"""Time ontology loading and the concept matcher.

    python benchmarks/concept_matching.py            # every built-in ontology

Columns are spelled from the ontologies' own indicators (snake_case, with a table prefix on
every third one) plus as many names that match nothing, each with five sample values, so both
the name path and the value path are timed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dataraum_context.ontology import find_ontologies, load_ontology, match_concepts
from dataraum_context.ontology.tokens import tokenize

SAMPLE = ["ann@example.com", "2023-04-01", "12.50", "open", "DE"]


def _columns(name: str) -> list[tuple[str, str]]:
    onto = load_ontology(name)
    spelled = ["_".join(tokenize(indicator.replace("*", " qzx "))) for c in onto.concepts for indicator in c.indicators]
    named = [(("o_" if i % 3 == 0 else "") + column, "orders") for i, column in enumerate(spelled)]
    return named + [(f"col_{i}", "t") for i in range(len(named))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    builtins = [n for n, s in find_ontologies().items() if s.provider == "built-in"]
    print(f"{'ontology':<22}{'load ms':>9}{'columns':>9}{'match µs/column':>17}{'with values':>13}")
    for name in builtins:
        loads = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            onto = load_ontology(name)
            loads.append(time.perf_counter() - t0)
        columns = _columns(name)
        times = {}
        for label, values in (("names", None), ("values", SAMPLE)):
            runs = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for column, table in columns:
                    match_concepts(column, table, "VARCHAR", None, values, onto)
                runs.append((time.perf_counter() - t0) / len(columns))
            times[label] = statistics.median(runs)
        print(f"{name:<22}{statistics.median(loads) * 1000:>9.1f}{len(columns):>9}"
              f"{times['names'] * 1e6:>17.0f}{times['values'] * 1e6:>13.0f}")


if __name__ == "__main__":
    main()
