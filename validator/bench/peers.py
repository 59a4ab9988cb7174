"""The benchmark's peers: the same work as ade-validate in pandas, polars, DuckDB
and Great Expectations.

usage: python peers.py ENGINE MODE FILE
  ENGINE: pandas | polars | duckdb | ge
  MODE:   profile (every column: count, nulls, distinct, min, max; numeric mean,
          stddev, quantiles 0.5/0.9/0.99; top-10 values of integer and text
          columns; text length min/max/mean) | checks (the 11-check suite of
          checks-suite.json)
Prints a short summary; the timing and memory come from /usr/bin/time.
"""

import json
import sys
import time

ENGINE, MODE, FILE = sys.argv[1], sys.argv[2], sys.argv[3]
INTS = ["id", "user_id", "quantity"]
FLOATS = ["amount", "price", "discount"]
TEXTS = ["status", "country", "email", "sku"]
TIMES = ["created_at", "updated_at"]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "NO", "DK", "FI", "BE", "AT", "CH", "PT", "IE", "CZ", "JP", "BR"]
SKU = r"^[A-Z]{3}-\d+$"
FRESH_AFTER = "2026-09-21T00:00:00+00:00"  # window end 2026-09-23 minus maxAge 48h


def pandas_profile():
    import pandas as pd

    df = pd.read_parquet(FILE)
    out = {}
    for c in df.columns:
        s = df[c]
        d = {"count": int(s.count()), "nulls": int(s.isna().sum()), "distinct": int(s.nunique()), "min": str(s.min()), "max": str(s.max())}
        if c in INTS + FLOATS:
            d.update(mean=float(s.mean()), std=float(s.std()), q=s.quantile([0.5, 0.9, 0.99]).tolist())
        if c in INTS + TEXTS:
            d["top"] = s.value_counts().head(10).to_dict()
        if c in TEXTS:
            lengths = s.str.len()
            d.update(len_min=lengths.min(), len_max=lengths.max(), len_mean=lengths.mean())
        out[c] = d
    return len(out)


def pandas_checks():
    import pandas as pd

    df = pd.read_parquet(FILE)
    r = [
        len(df) >= 1,
        df["email"].notna().mean() >= 0.95,
        not df["id"].duplicated().any(),
        df["status"].dropna().isin(STATUSES).all(),
        df["country"].dropna().isin(COUNTRIES).all(),
        (df["amount"].dropna() >= 0).all(),
        df["quantity"].between(1, 100).all(),
        df["sku"].str.match(SKU).all(),
        (df["discount"].isna() | (df["discount"] < 0.5)).all(),
        df["price"].between(0, 200).mean() >= 0.99,
        df["created_at"].max() >= pd.Timestamp(FRESH_AFTER),
    ]
    return r


def polars_profile():
    import polars as pl

    df = pl.read_parquet(FILE)
    out = {}
    for c in df.columns:
        s = df[c]
        d = {"count": s.len() - s.null_count(), "nulls": s.null_count(), "distinct": s.n_unique(), "min": s.min(), "max": s.max()}
        if c in INTS + FLOATS:
            d.update(mean=s.mean(), std=s.std(), q=[s.quantile(q) for q in (0.5, 0.9, 0.99)])
        if c in INTS + TEXTS:
            d["top"] = s.value_counts(sort=True).head(10)
        if c in TEXTS:
            lengths = s.str.len_chars()
            d.update(len_min=lengths.min(), len_max=lengths.max(), len_mean=lengths.mean())
        out[c] = d
    return len(out)


def polars_checks():
    import polars as pl
    from datetime import datetime

    df = pl.read_parquet(FILE)
    fresh = datetime.fromisoformat(FRESH_AFTER)
    r = df.select(
        (pl.len() >= 1).alias("rows"),
        (pl.col("email").is_not_null().mean() >= 0.95).alias("email"),
        (pl.col("id").is_unique().all()).alias("unique"),
        pl.col("status").drop_nulls().is_in(STATUSES).all().alias("status"),
        pl.col("country").drop_nulls().is_in(COUNTRIES).all().alias("country"),
        (pl.col("amount").drop_nulls() >= 0).all().alias("amount"),
        pl.col("quantity").is_between(1, 100).all().alias("quantity"),
        pl.col("sku").str.contains(SKU).all().alias("sku"),
        (pl.col("discount").is_null() | (pl.col("discount") < 0.5)).all().alias("discount"),
        (pl.col("price").is_between(0, 200).mean() >= 0.99).alias("price"),
        (pl.col("created_at").max() >= fresh).alias("fresh"),
    )
    return r.row(0)


def duckdb_profile():
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{FILE}')")
    parts = []
    for c in INTS + FLOATS + TEXTS + TIMES:
        parts += [f"count({c})", f"count(*) - count({c})", f"approx_count_distinct({c})", f"min({c})", f"max({c})"]
        if c in INTS + FLOATS:
            parts += [f"avg({c})", f"stddev_samp({c})", f"approx_quantile({c}, [0.5, 0.9, 0.99])"]
        if c in TEXTS:
            parts += [f"min(length({c}))", f"max(length({c}))", f"avg(length({c}))"]
    con.execute("SELECT " + ", ".join(parts) + " FROM t").fetchall()
    for c in INTS + TEXTS:
        con.execute(f"SELECT {c}, count(*) n FROM t GROUP BY {c} ORDER BY n DESC LIMIT 10").fetchall()
    return len(parts)


def duckdb_checks():
    import duckdb

    con = duckdb.connect()
    q = f"""
    SELECT count(*) >= 1,
           avg(CASE WHEN email IS NULL THEN 0 ELSE 1 END) >= 0.95,
           count(DISTINCT id) = count(id),
           bool_and(status IN {tuple(STATUSES)}),
           bool_and(country IN {tuple(COUNTRIES)}),
           bool_and(amount IS NULL OR amount >= 0),
           bool_and(quantity BETWEEN 1 AND 100),
           bool_and(regexp_full_match(sku, '{SKU[1:-1]}')),
           bool_and(discount IS NULL OR discount < 0.5),
           avg(CASE WHEN price BETWEEN 0 AND 200 THEN 1 ELSE 0 END) >= 0.99,
           max(created_at) >= TIMESTAMPTZ '{FRESH_AFTER}'
    FROM read_parquet('{FILE}')"""
    return con.execute(q).fetchall()


def ge_checks():
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    df = pd.read_parquet(FILE)
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = context.suites.add(gx.ExpectationSuite(name="s"))
    for e in [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="email", mostly=0.95),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
        gxe.ExpectColumnValuesToBeInSet(column="country", value_set=COUNTRIES),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, max_value=100),
        gxe.ExpectColumnValuesToMatchRegex(column="sku", regex=SKU),
        gxe.ExpectColumnValuesToBeBetween(column="discount", max_value=0.5, strict_max=True),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0, max_value=200, mostly=0.99),
        gxe.ExpectColumnMaxToBeBetween(column="created_at", min_value=pd.Timestamp(FRESH_AFTER)),
    ]:
        suite.add_expectation(e)
    result = batch.validate(suite)
    return [r.success for r in result.results]


def ge_profile():
    raise SystemExit("ge: profile not run (GE's profilers are not comparable)")


started = time.time()
result = globals()[f"{ENGINE}_{MODE}"]()
print(json.dumps({"engine": ENGINE, "mode": MODE, "seconds": round(time.time() - started, 3), "result": str(result)[:300]}))
