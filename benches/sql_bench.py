"""Times a policy's decisions view on DuckDB or Spark SQL for benches/sql.rs.

    python sql_bench.py duckdb|spark SETUP TABLE DATA VIEW COPIES

Runs the setup file, loads the JSON lines file DATA into TABLE, makes COPIES copies of every row
(each with its own id: `ID-k`), then times deciding every row: DuckDB writes the view into a
table (every column computed), Spark writes it to the `noop` sink (every column computed,
nothing stored). Prints one JSON line: {"rows", "load_seconds", "seconds"}.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
import sql_engine  # noqa: E402 - the tests' loader and statement splitter


def duckdb_run(setup, table, data, view, copies):
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(sql_engine.read(setup))
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND schema_name = current_schema() ORDER BY column_index",
        [table],
    ).fetchall()
    names = [c for c, _ in columns]
    started = time.monotonic()
    q = sql_engine.quote_ident
    con.execute(
        f"CREATE TEMP TABLE one AS SELECT {', '.join(map(q, names))} FROM "
        "read_json($data, format = 'newline_delimited', columns = $columns)",
        {"data": data, "columns": dict(columns)},
    )
    rest = ", ".join(q(n) for n in names if n != "id")
    con.execute(
        f"INSERT INTO {q(table)} SELECT \"id\" || '-' || k, {rest} "
        f"FROM one CROSS JOIN range({copies}) AS r(k)"
    )
    loaded = time.monotonic() - started
    rows = con.execute(f"SELECT count(*) FROM {q(table)}").fetchone()[0]
    started = time.monotonic()
    con.execute(f"CREATE TEMP TABLE decided AS SELECT * FROM {q(view)}")
    seconds = time.monotonic() - started
    decided = con.execute("SELECT count(*) FROM decided").fetchone()[0]
    assert decided == rows, (decided, rows)
    return rows, loaded, seconds


def spark_run(setup, table, data, view, copies):
    runner = sql_engine.Spark()
    try:
        spark = runner.session
        for line, sql in sql_engine.statements(sql_engine.read(setup)):
            spark.sql(sql)
        quoted = "`" + table.replace("`", "``") + "`"
        schema = spark.table(quoted).schema
        started = time.monotonic()
        one = spark.read.schema(schema).option("mode", "FAILFAST").json(data)
        one.createOrReplaceTempView("one")
        rest = ", ".join(f"`{n}`" for n in schema.fieldNames() if n != "id")
        spark.sql(
            f"INSERT INTO {quoted} SELECT concat(`id`, '-', k), {rest} "
            f"FROM one LATERAL VIEW explode(sequence(0, {copies - 1})) AS k"
        )
        loaded = time.monotonic() - started
        rows = spark.table(quoted).count()
        started = time.monotonic()
        spark.table(f"`{view}`").write.format("noop").mode("overwrite").save()
        seconds = time.monotonic() - started
        return rows, loaded, seconds
    finally:
        runner.close()


def main():
    engine, setup, table, data, view, copies = sys.argv[1:7]
    run = duckdb_run if engine == "duckdb" else spark_run
    rows, loaded, seconds = run(setup, table, data, view, int(copies))
    print(json.dumps({"rows": rows, "load_seconds": loaded, "seconds": seconds}))


if __name__ == "__main__":
    main()
