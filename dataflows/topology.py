"""Topology: foreign keys discovered from the values, how they agree with the keys the sources
declare, table roles and join paths.

    relationship_candidates   the pairs worth measuring, from the statistics and names alone
    measured_relationships    their inclusion measured in DuckDB, with orphans and repeated keys
    topology_enrichment       the best key per referencing column, agreement with the declared
                              keys, table roles and join paths

Candidates are pruned before any value is read: a referenced side is a candidate key of
`column_roles` (unique and non-null, a few repeats tolerated, see `key_duplicate_tolerance`), a
referencing side must be of the same type family and able to fit inside it, and a pair must be
able to reach
`min_relationship_confidence` from its names and from how unlikely a full inclusion would be by
chance. Keys of two columns are searched by name. DuckDB then measures, exactly and at any
size, the uniqueness of the keys and the inclusion of the referencing side's distinct values in
the key over the typed Parquet files. The logic is in `dataraum_context.topology`.
"""

from __future__ import annotations

from dataraum_context import settings
from dataraum_context.joins import star_paths, table_roles
from dataraum_context.models import (
    ColumnRolesResult,
    StagingResult,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.roles import given_or_decided
from dataraum_context.sql import session
from dataraum_context.step import part_of_step, step
from dataraum_context.topology import candidates, columns, measure
from dataraum_context.topology.declared import against_declared
from dataraum_context.topology.evidence import discovered
from dataraum_context.topology.models import (
    MeasuredRelationships,
    RelationshipCandidates,
)
from dataraum_context.workspace import Workspace


@part_of_step("topology_enrichment")
def relationship_candidates(
    statistics_profiling: StatisticsResult,
    type_resolution: TypeResolutionResult,
    staging: StagingResult | None = None,
    column_roles: ColumnRolesResult | None = None,
    min_relationship_confidence: float = settings.MIN_RELATIONSHIP_CONFIDENCE,
    min_inclusion: float = settings.MIN_INCLUSION,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> RelationshipCandidates:
    """The pairs of a referencing column (or column pair) and a key worth measuring, each with
    what the names say and the score it could reach; and the pair that measures each declared
    key. Nothing is read but the statistics. Keys are `column_roles`' own and candidate keys."""
    roles = given_or_decided(column_roles, statistics_profiling, staging, key_duplicate_tolerance)
    cols = columns.joinable_columns(statistics_profiling, type_resolution, roles)
    own = roles.own_keys()
    singles, compatible = candidates.single_column_pairs(cols, own, min_inclusion, min_relationship_confidence)
    tuples = columns.Tuples(statistics_profiling, first_id=len(cols))
    composites = candidates.composite_pairs(cols, tuples, min_inclusion, min_relationship_confidence)
    declared = staging.declared_relationships if staging else ()
    checks = candidates.declared_pairs(declared, cols, own, singles + composites, tuples)
    return RelationshipCandidates(sides=(*cols, *tuples.sides()), own_keys=own, pairs=tuple(singles),
                                  composites=tuple(composites), declared=tuple(checks), pairs_compatible=compatible)


@part_of_step("topology_enrichment")
def measured_relationships(
    relationship_candidates: RelationshipCandidates,
    type_resolution: TypeResolutionResult,
    workspace: str,
    min_inclusion: float = settings.MIN_INCLUSION,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> MeasuredRelationships:
    """The candidates measured in DuckDB (a composite one only when its key pair turns out
    unique enough): those whose values lie in the key (`min_inclusion`) and the declared ones,
    with their inclusion, coverage, orphans, repeated key values and score."""
    c = relationship_candidates
    declared = [p for p in c.declared if p is not None]
    with session() as con:
        measure.open_tables(con, Workspace(workspace), type_resolution)
        sides, unique = measure.profiled_sides(con, c, key_duplicate_tolerance, min_inclusion)
        pairs = measure.measure(con, [*c.pairs, *unique, *declared], sides, min_inclusion,
                                keep={(p.ref, p.key) for p in declared})
        pairs = measure.with_examples(con, pairs, sides)
    return MeasuredRelationships(sides=sides, pairs=tuple(pairs), composite_pairs_measured=len(unique),
                                 composite_keys_checked=len({p.key for p in c.composites}))


@step(scope="source", phase="enrichment", criticality="optional")
def topology_enrichment(
    relationship_candidates: RelationshipCandidates,
    measured_relationships: MeasuredRelationships,
    type_resolution: TypeResolutionResult,
    staging: StagingResult | None = None,
    min_relationship_confidence: float = settings.MIN_RELATIONSHIP_CONFIDENCE,
    min_inclusion: float = settings.MIN_INCLUSION,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> TopologyResult:
    """Foreign keys of one or two columns found in the values, each with its evidence; the keys
    the sources declare, measured and compared with them; table roles; join paths from the
    fact tables."""
    c, m = relationship_candidates, measured_relationships
    found = discovered(m, min_inclusion, min_relationship_confidence, key_duplicate_tolerance)
    relationships, agreement = against_declared(staging, c.declared, m, found, min_inclusion,
                                                min_relationship_confidence, key_duplicate_tolerance)
    declared = staging.declared_relationships if staging else ()
    keys = columns.table_keys(c.own_keys, declared, found, m.sides)
    roles = table_roles(relationships, {name: tuple(t.columns) for name, t in type_resolution.tables.items()}, keys)
    return TopologyResult(
        relationships=tuple(relationships),
        tables=roles,
        join_paths=star_paths(relationships, roles),
        pairs_compatible=c.pairs_compatible,
        pairs_measured=len(c.pairs),
        composite_keys_checked=m.composite_keys_checked,
        composite_pairs_measured=m.composite_pairs_measured,
        key_duplicate_policy=columns.duplicate_policy(key_duplicate_tolerance),
        key_agreement=agreement,
    )

