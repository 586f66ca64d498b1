"""Evidence that tells keys from coincidence: each trap of a star schema and of small classic
schemas, and each kind of reference that used to be missed, on tables DuckDB generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataraum_context.models import TopologyResult
from dataraum_context.naming import column_name, entity, name_evidence
from dataraum_context.sample import star
from dataraum_context.sample.star import SqlSchema

from support.steps import statistics_profiling, topology_enrichment


def discover(root: Path, **selects: str) -> tuple[TopologyResult, dict[tuple[str, str, str, str], float]]:
    """The relationships found in tables made by these SELECTs, with their confidence."""
    types = SqlSchema(seed=7, convention="test", selects=selects).workspace(root)
    topo = topology_enrichment(statistics_profiling(types, str(root)), types, str(root))
    return topo, {(r.from_table, r.from_columns[0], r.to_table, r.to_columns[0]): r.confidence
                  for r in topo.relationships if len(r.from_columns) == 1}


def rows(n: int) -> str:
    return f"FROM range({n}) t(i)"


# --- traps: inclusion that is no reference ---------------------------------------------------


def test_line_numbers_and_quantities_inside_a_sparse_order_key_are_no_reference(tmp_path):
    """Order keys skip three values of four (1..8, 33..40, ...): the line numbers 1..7 and the
    quantities 1..20 all lie in them, as in any key that starts at 1. The key is sparse overall
    but dense where those small integers are, so their inclusion proves nothing."""
    _, found = discover(
        tmp_path,
        orders=f"SELECT (i // 8) * 32 + i % 8 + 1 AS o_orderkey, 1 + hash(i) % 100 AS o_custkey {rows(3000)}",
        lineitem="SELECT o_orderkey AS l_orderkey, n AS l_linenumber, 1 + hash(o_orderkey, n) % 20 AS l_quantity "
                 "FROM orders, range(1, 8) l(n) WHERE n <= 1 + o_orderkey % 7")
    assert set(found) == {("lineitem", "l_orderkey", "orders", "o_orderkey")}


def test_business_ids_of_one_format_are_no_reference_but_a_named_code_is(tmp_path):
    """Customer and supplier codes come from one sequence (`BX00000001`, ...): every customer
    code is a supplier code. Each names its own table, so neither references the other; a
    product's supplier_code does reference suppliers."""
    _, found = discover(
        tmp_path,
        customers=f"SELECT 1 + i AS customer_id, printf('BX%08d', 1 + i) AS customer_code {rows(300)}",
        suppliers=f"SELECT 1 + i AS supplier_id, printf('BX%08d', 1 + i) AS supplier_code {rows(900)}",
        products=f"SELECT 1 + i AS product_id, printf('BX%08d', 1 + hash(i) % 900) AS supplier_code {rows(200)}")
    assert set(found) == {("products", "supplier_code", "suppliers", "supplier_code")}


def test_shared_free_text_is_no_key(tmp_path):
    """A product's name (unique free text) copied into each order line is a denormalized copy,
    not a reference; a comment shared by two tables neither."""
    words = "['red', 'big', 'soft', 'old', 'new', 'blue'][1 + (hash(i, 'w{0}') % 6)::INTEGER]"
    name = " || ' ' || ".join(words.format(k) for k in range(3)) + " || ' ' || i"
    _, found = discover(
        tmp_path,
        products=f"SELECT 1 + i AS product_id, {name} AS product_name, {words.format(9)} || ' note' AS comment "
                 f"{rows(150)}",
        order_lines="SELECT i AS line_id, p.product_id, p.product_name, p.comment FROM range(2000) t(i) "
                    "JOIN products p ON p.product_id = 1 + hash(i) % 150")
    assert set(found) == {("order_lines", "product_id", "products", "product_id")}


def test_a_column_equal_to_its_own_tables_key_is_no_reference(tmp_path):
    """The time of day in seconds is its own surrogate key; a page number runs 1..N like its
    table's key. Within a table only a role name (parent, manager) makes a reference."""
    _, found = discover(
        tmp_path,
        time_dim=f"SELECT i AS t_time_sk, i AS t_time, i // 3600 AS t_hour {rows(7200)}",
        catalog_page=f"SELECT 1 + i AS cp_catalog_page_sk, 1 + i % 108 AS cp_catalog_page_number {rows(500)}")
    assert found == {}


def test_two_demographics_tables_sharing_their_key_name_are_told_apart(tmp_path):
    """`cd_demo_sk` and `hd_demo_sk` share a name that abbreviates both tables: neither table's key
    references the other. `ss_cdemo_sk` and `ss_hdemo_sk` say which table they mean."""
    _, found = discover(
        tmp_path,
        customer_demographics=f"SELECT 1 + i AS cd_demo_sk, i % 7 AS cd_dep_count {rows(5000)}",
        household_demographics=f"SELECT 1 + i AS hd_demo_sk, i % 6 AS hd_vehicle_count {rows(720)}",
        store_sales=f"SELECT 1 + hash(i, 'c') % 5000 AS ss_cdemo_sk, 1 + hash(i, 'h') % 720 AS ss_hdemo_sk "
                    f"{rows(4000)}")
    assert set(found) == {("store_sales", "ss_cdemo_sk", "customer_demographics", "cd_demo_sk"),
                          ("store_sales", "ss_hdemo_sk", "household_demographics", "hd_demo_sk")}
    assert min(found.values()) >= 0.9


# --- misses: references that need names, not values -----------------------------------------


def test_small_dimensions_are_linked_when_names_agree_and_inclusion_is_complete(tmp_path):
    """Dimensions of 1, 3 and 12 rows keyed 1..N: their keys lie inside every larger key, so only
    the names can tell, and with complete inclusion they do."""
    topo, found = discover(
        tmp_path,
        warehouse=f"SELECT 1 + i AS w_warehouse_sk, 'main' AS w_warehouse_name {rows(1)}",
        call_center=f"SELECT 1 + i AS cc_call_center_sk, 50 + i AS cc_employees {rows(3)}",
        reason=f"SELECT 1 + i AS r_reason_sk, 'reason ' || i AS r_reason_desc {rows(12)}",
        customer=f"SELECT 1 + i AS c_customer_sk {rows(400)}",
        catalog_returns=f"SELECT 1 AS cr_warehouse_sk, 1 + hash(i, 'c') % 3 AS cr_call_center_sk, "
                        f"1 + hash(i, 'r') % 12 AS cr_reason_sk, 1 + hash(i, 'q') % 12 AS cr_return_quantity, "
                        f"1 + hash(i, 'k') % 400 AS cr_returning_customer_sk {rows(900)}")
    assert set(found) == {("catalog_returns", "cr_warehouse_sk", "warehouse", "w_warehouse_sk"),
                          ("catalog_returns", "cr_call_center_sk", "call_center", "cc_call_center_sk"),
                          ("catalog_returns", "cr_reason_sk", "reason", "r_reason_sk"),
                          ("catalog_returns", "cr_returning_customer_sk", "customer", "c_customer_sk")}
    reason = next(r for r in topo.relationships if r.to_table == "reason")
    assert reason.confidence == 1.0 and "the name decides" in " ".join(reason.evidence)


def test_role_named_keys_to_dates_and_parties(tmp_path):
    """`cc_closed_date_sk` (mostly null) and `cc_open_date_sk` reference the date dimension;
    `bill_to` and `ship_to` reference customers."""
    _, found = discover(
        tmp_path,
        date_dim=f"SELECT 2450815 + i AS d_date_sk, DATE '1998-01-01' + i::INTEGER AS d_date {rows(2000)}",
        call_center=f"SELECT 1 + i AS cc_call_center_sk, 2450815 + hash(i) % 300 AS cc_open_date_sk, "
                    f"CASE WHEN i % 3 = 0 THEN 2451500 + i END AS cc_closed_date_sk {rows(12)}",
        customers=f"SELECT 1 + i AS customer_id {rows(300)}",
        orders=f"SELECT 1 + i AS order_id, 1 + hash(i, 'b') % 300 AS bill_to, 1 + hash(i, 's') % 300 AS ship_to "
               f"{rows(2000)}")
    assert set(found) == {("call_center", "cc_open_date_sk", "date_dim", "d_date_sk"),
                          ("call_center", "cc_closed_date_sk", "date_dim", "d_date_sk"),
                          ("orders", "bill_to", "customers", "customer_id"),
                          ("orders", "ship_to", "customers", "customer_id")}


def test_role_named_uuid_keys(tmp_path):
    """Users and teams keyed by UUIDs; tickets reference them by role (`assignee` as text,
    `created_by` as UUID) and by name (`team_id`)."""
    uid = "CAST(md5('{t}' || ({i})) AS UUID)"
    _, found = discover(
        tmp_path,
        users=f"SELECT {uid.format(t='u', i='i')} AS id, 'user' || i AS login {rows(200)}",
        teams=f"SELECT {uid.format(t='t', i='i')} AS id {rows(8)}",
        tickets=f"SELECT 1 + i AS ticket_id, CAST({uid.format(t='u', i='hash(i) % 200')} AS VARCHAR) AS assignee, "
                f"{uid.format(t='u', i='hash(i, 1) % 200')} AS created_by, "
                f"{uid.format(t='t', i='hash(i, 2) % 8')} AS team_id {rows(1000)}")
    assert set(found) == {("tickets", "assignee", "users", "id"), ("tickets", "created_by", "users", "id"),
                          ("tickets", "team_id", "teams", "id")}


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "column", "key_table", "key_column", "score"), [
    ("store_sales", "ss_hdemo_sk", "household_demographics", "hd_demo_sk", 0.95),  # h + demo
    ("orders", "bill_to", "customers", "customer_id", 0.65),
    ("orders", "ship_cost", "customers", "customer_id", 0.0),
    ("call_center", "cc_closed_date_sk", "date_dim", "d_date_sk", 0.9),
    ("time_dim", "t_time", "time_dim", "t_time_sk", 0.0),  # the same name within a table
    ("inspections", "inspector_id", "employees", "employee_id", 0.6),  # someone who inspects: staff
    ("projects", "sponsor_id", "customers", "customer_id", 0.5),  # ... a client less likely
    ("inspections", "inspector_id", "products", "product_id", 0.35),  # no person
    ("lines", "order_id", "employees", "employee_id", 0.35),  # an order is a thing
])
def test_name_evidence(table, column, key_table, key_column, score):
    ref = column_name(table, column, column[: column.index("_") + 1] if column[2:3] == "_" else None)
    key = column_name(key_table, key_column, key_column[: key_column.index("_") + 1])
    assert name_evidence(ref, key, key_is_own=True).score == score


def test_table_kind_words_are_not_the_entity():
    assert entity("date_dim") == ("date",) == entity("dim_date")
    assert entity("sales_fact") == ("sale",)


# --- a whole star ----------------------------------------------------------------------------


@pytest.mark.parametrize("convention", star.CONVENTIONS)
def test_a_generated_star_is_found_with_calibrated_confidence(tmp_path, convention):
    """24 tables, dimensions of 2 to a few thousand rows, role-named references, business ids of
    one format, composite references of returns to sales lines: everything found, nothing false."""
    schema = star.generate(2, convention, scale=0.05)
    types = schema.workspace(tmp_path)
    topo = topology_enrichment(statistics_profiling(types, str(tmp_path)), types, str(tmp_path))
    found = {(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in topo.relationships}
    truth = {(f, (c,), t, (k,)) for f, c, t, k in schema.relationships} | schema.composites
    assert found == truth
