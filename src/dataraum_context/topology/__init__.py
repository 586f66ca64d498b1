"""Topology: foreign keys found in the values, measured, and compared with the declared ones.

`dataflows/topology.py` is the pipeline; this package is the logic behind its nodes, one
concern per module:

    models       the results the nodes hand each other (sides, candidates, measured pairs)
    columns      the columns that can take part, what their statistics say, each table's own key
    evidence     name, value and key evidence combined into a score; the best key per column
    candidates   the pairs worth measuring, from the statistics and names alone (no DuckDB)
    measure      inclusion, orphans and repeated keys measured in DuckDB
    declared     agreement of the keys found with the keys the sources declare
"""
