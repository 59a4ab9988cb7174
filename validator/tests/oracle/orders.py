"""Test data and its answers for validator/tests/oracle.rs, both from DuckDB.

usage: python orders.py OUT_DIR

Writes two batches of orders (Parquet) whose float column holds NaN, +inf,
-inf, nulls and negatives, whose (user_id, day) keys repeat, and whose
customer ids partly miss from a reference dataset; the second batch changes
the schema (user_id retyped, note removed, channel added) and shifts the
amounts. Then computes, with DuckDB's own SQL (and, for the KS distance, an
exact two-sample computation in Python), what ade-validate must report, and
writes it to OUT_DIR/answers.json. Nothing here shares code with the
validator: it is the independent side of the comparison.
"""

import json
import sys

import duckdb

out = sys.argv[1]
con = duckdb.connect()

ROWS = 20_000


def amount(shift):
    return f"""CASE
        WHEN i % 211 = 0 THEN NULL
        WHEN i % 101 = 0 THEN 'nan'::DOUBLE
        WHEN i % 499 = 0 THEN 'inf'::DOUBLE
        WHEN i % 1009 = 0 THEN '-inf'::DOUBLE
        WHEN i % 307 = 0 THEN -5.0
        ELSE (hash(i * 3) % 100000) / 100.0 + {shift}
    END"""


common = f"""
    i AS id,
    (DATE '2026-11-29' - CAST(hash(i + 1) % 4 AS INTEGER)) AS day,
    CASE WHEN i % 53 = 0 THEN NULL ELSE CAST(hash(i + 2) % 1100 AS BIGINT) END AS customer_id,
    CASE i % 3 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' ELSE 'US' END AS country
"""
user = "CASE WHEN i % 997 = 0 THEN NULL ELSE CAST(hash(i) % 6000 AS BIGINT) END"

con.execute(
    f"""CREATE TABLE b1 AS SELECT {common}, {user} AS user_id, {amount(0)} AS amount,
        'note ' || i AS note FROM range({ROWS}) t(i)"""
)
con.execute(
    f"""CREATE TABLE b2 AS SELECT {common}, CAST({user} AS VARCHAR) AS user_id, {amount(300)} AS amount,
        CASE i % 2 WHEN 0 THEN 'web' ELSE 'app' END AS channel FROM range({ROWS}) t(i)"""
)
con.execute(
    """CREATE TABLE customers AS SELECT CAST(i AS BIGINT) AS id,
        CASE i % 3 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' ELSE 'US' END AS region
        FROM range(1000) t(i)"""
)
for table in ["b1", "b2", "customers"]:
    con.execute(f"COPY {table} TO '{out}/{table}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 4096)")


def one(sql):
    return con.execute(sql).fetchone()


def answers(table):
    rows, nulls, nans, infs = one(
        f"""SELECT count(*), count(*) - count(amount),
            count(*) FILTER (WHERE isnan(amount)), count(*) FILTER (WHERE isinf(amount))
            FROM {table}"""
    )
    fmin, fmax, fmean, fstd = one(
        f"""SELECT min(amount), max(amount), avg(amount), stddev_samp(amount)
            FROM {table} WHERE isfinite(amount)"""
    )
    non_null = rows - nulls
    range_failing = one(
        f"""SELECT count(*) FROM {table} WHERE amount IS NOT NULL
            AND (isnan(amount) OR isinf(amount) OR amount < 0 OR amount > 1000)"""
    )[0]
    lenient_failing = one(
        f"SELECT count(*) FROM {table} WHERE isfinite(amount) AND amount < 0"
    )[0]

    def duplicates(where):
        return one(
            f"""SELECT count(*) - count(DISTINCT (user_id, day)), count(*) FROM {table}
                WHERE user_id IS NOT NULL AND day IS NOT NULL {where}"""
        )

    def orphans(where):
        return one(
            f"""SELECT count(*) FILTER (WHERE customer_id NOT IN (SELECT id FROM customers)), count(*)
                FROM {table} WHERE customer_id IS NOT NULL {where}"""
        )

    compound_orphans = one(
        f"""SELECT count(*) FROM {table} o WHERE customer_id IS NOT NULL AND country IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.region = o.country)"""
    )[0]
    schema = con.execute(
        f"""SELECT name, type, repetition_type FROM parquet_schema('{out}/{table}.parquet')
            WHERE name <> 'duckdb_schema'"""
    ).fetchall()
    return {
        "rows": rows,
        "nulls": nulls,
        "nans": nans,
        "infinities": infs,
        "min": fmin,
        "max": fmax,
        "mean": fmean,
        "stddev": fstd,
        "presentRatioNanIsNull": (rows - nulls - nans) / rows,
        "presentRatio": (rows - nulls) / rows,
        "range": {"evaluated": non_null, "failing": range_failing},
        "rangeLenientFailing": lenient_failing,
        "unique": dict(zip(["failing", "evaluated"], duplicates(""))),
        "uniqueDE": dict(zip(["failing", "evaluated"], duplicates("AND country = 'DE'"))),
        "reference": dict(zip(["failing", "evaluated"], orphans(""))),
        "referenceFR": dict(zip(["failing", "evaluated"], orphans("AND country = 'FR'"))),
        "compoundReferenceFailing": compound_orphans,
        "parquetSchema": [{"name": n, "type": t, "repetition": r} for n, t, r in schema],
    }


def ks(a, b):
    """Exact two-sample Kolmogorov–Smirnov distance."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    return d


def finite(table):
    return [r[0] for r in con.execute(f"SELECT amount FROM {table} WHERE isfinite(amount)").fetchall()]


result = {
    "b1": answers("b1"),
    "b2": answers("b2"),
    "ksB2VsB1": ks(finite("b2"), finite("b1")),
    "customersOverB1B2": one(
        "SELECT count(DISTINCT customer_id) FROM (SELECT customer_id FROM b1 UNION ALL SELECT customer_id FROM b2)"
    )[0],
    "countriesB1": one("SELECT count(DISTINCT country) FROM b1")[0],
}
with open(f"{out}/answers.json", "w") as f:
    json.dump(result, f, indent=2)
