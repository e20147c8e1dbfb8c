"""Runs SQL jobs on DuckDB or Spark SQL for the tests (tests/support/engines.rs starts it).

    python sql_engine.py duckdb|spark PLAN STATUS

PLAN is a JSON object {"jobs": [{"setup", "table", "data", "query", "out"}, ...]}: each job runs
the setup file, loads the JSON lines file `data` into `table`, runs `query` and writes its rows
to `out` as JSON lines. All jobs run in this one process (one DuckDB library, one SparkSession),
so the engine starts once. STATUS receives one JSON line per job, written as soon as the job
ends: {"ok": true} or {"error": "..."}; a job missing there never finished (the process died).

Numbers are written as the engine gives them (DECIMAL 36.5 in DECIMAL(18,6) as 36.500000):
engines.rs rewrites every number into its shortest exact form, for all engines alike.
"""

import datetime
import decimal
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback


def main():
    engine, plan_path, status_path = sys.argv[1:4]
    with open(plan_path, encoding="utf-8") as f:
        jobs = json.load(f)["jobs"]
    started = time.monotonic()
    runner = DuckDb() if engine == "duckdb" else Spark()
    try:
        # Timings on standard error, for whoever measures the harness (engines.rs shows them
        # only when asked, see MEDPOL_ENGINE_TIMES there).
        log(f"{engine}: started in {time.monotonic() - started:.2f} s")
        with open(status_path, "w", encoding="utf-8") as status:
            for i, job in enumerate(jobs):
                began = time.monotonic()
                try:
                    runner.run(i, job)
                    record = {"ok": True}
                except Exception as e:  # noqa: BLE001 - every failure is the job's result
                    record = {"error": message(e)}
                log(f"{engine}: job {i} took {time.monotonic() - began:.2f} s")
                status.write(json.dumps(record) + "\n")
                status.flush()
    finally:
        runner.close()


def log(text):
    print(text, file=sys.stderr, flush=True)


def message(e):
    """The engine's own message, without the Python and Java stack traces around it."""
    text = str(e).strip() or type(e).__name__
    lines = [l for l in text.splitlines() if not l.startswith("\tat ")]
    # Spark's analysis errors go on with the statement and its whole plan after the line with
    # the SQLSTATE; a parse error's "== SQL ==" excerpt after it is worth keeping.
    for i, line in enumerate(lines):
        if "SQLSTATE" in line:
            if i + 1 < len(lines) and lines[i + 1].startswith("== SQL"):
                break
            lines = lines[: i + 1]
            break
    return "\n".join(lines[:40])


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_keys(data, columns, table):
    """Both engines read only the keys that name columns and leave a misspelt one out silently
    (as NULL); a test's data with a key the table lacks is a mistake worth saying."""
    known = set(columns)
    with open(data, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"{data}:{number}: a row is a JSON object, not {line.strip()[:40]}")
            for key in row:
                if key not in known:
                    raise ValueError(f"{data}:{number}: table {table} has no column `{key}`")


def statements(sql):
    """The setup file's statements, with the line each starts on. A statement ends with the `;`
    that ends a line (the generator never ends a line inside a literal with one); lines of only
    a comment are left out, since Spark rejects a statement that is only a comment."""
    out, current, first = [], [], None
    for number, line in enumerate(sql.splitlines(), 1):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        if first is None:
            first = number
        current.append(line)
        if stripped.endswith(";"):
            text = "\n".join(current).rstrip()[:-1]
            out.append((first, text))
            current, first = [], None
    if current and "\n".join(current).strip():
        out.append((first, "\n".join(current)))
    return out


def encode(value):
    """A result value as JSON text, exactly: decimals keep their digits, dates are strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else json.dumps(str(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return json.dumps(value.isoformat())
    if hasattr(value, "__fields__"):
        # A Spark Row (a struct): a tuple with field names.
        return encode_object(zip(value.__fields__, value))
    if isinstance(value, dict):
        return encode_object(value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, (bytes, bytearray)):
        return json.dumps(bytes(value).hex())
    return json.dumps(str(value))


def encode_object(pairs):
    return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + encode(v) for k, v in pairs) + "}"


def write_rows(path, columns, rows):
    text = "".join(encode_object(zip(columns, row)) + "\n" for row in rows)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class DuckDb:
    def __init__(self):
        import duckdb

        self.duckdb = duckdb

    def run(self, _i, job):
        # A database of its own for each job: the same table names come back in the next.
        con = self.duckdb.connect(":memory:")
        try:
            con.execute(read(job["setup"]))
            table = job["table"]
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = ? AND schema_name = current_schema() ORDER BY column_index",
                [table],
            ).fetchall()
            if not columns:
                raise ValueError(f"the setup made no table {table}")
            check_keys(job["data"], [c for c, _ in columns], table)
            # read_json with the table's own types reads DECIMAL numbers exactly (it does not
            # go through a double), dates from their strings, and structs and lists as given.
            names = ", ".join(quote_ident(c) for c, _ in columns)
            con.execute(
                f"INSERT INTO {quote_ident(table)} ({names}) SELECT {names} FROM "
                "read_json($data, format = 'newline_delimited', columns = $columns)",
                {"data": job["data"], "columns": dict(columns)},
            )
            result = con.execute(job["query"])
            names = [d[0] for d in result.description]
            write_rows(job["out"], names, result.fetchall())
        finally:
            con.close()

    def close(self):
        pass


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


class Spark:
    def __init__(self):
        # Spark writes its tables, its block manager's files and (with Hive) a Derby metastore
        # under these; all in a folder of ours, removed when the run ends.
        self.dir = tempfile.mkdtemp(prefix="medpol-spark-")
        self.session = None
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ["PYSPARK_PYTHON"] = sys.executable
        try:
            from pyspark.sql import SparkSession

            java = f"-Dderby.system.home={self.dir}/derby -Duser.timezone=UTC"
            self.session = (
                SparkSession.builder.master("local[2]")
                .appName("medpol-tests")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                # The default 200 shuffle partitions cost a task each for a few rows.
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.default.parallelism", "2")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.warehouse.dir", os.path.join(self.dir, "warehouse"))
                .config("spark.local.dir", os.path.join(self.dir, "local"))
                .config("spark.driver.extraJavaOptions", java)
                # Local mode runs everything in the driver: the default 1 GB heap runs out
                # while planning the largest policy's view (L38994, 45 variables).
                .config("spark.driver.memory", os.environ.get("MEDPOL_SPARK_MEMORY", "4g"))
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate()
            )
            self.session.sparkContext.setLogLevel("ERROR")
        except BaseException:
            self.close()
            raise

    def run(self, i, job):
        # A session of its own for each job (its own temporary views, settings and current
        # database) and a database of its own for its tables and views, dropped after.
        spark = self.session.newSession()
        database = f"medpol_job_{i}"
        spark.sql(f"CREATE DATABASE {database}")
        try:
            spark.catalog.setCurrentDatabase(database)
            for line, sql in statements(read(job["setup"])):
                try:
                    spark.sql(sql)
                except Exception as e:
                    raise RuntimeError(f"{job['setup']}:{line}: {message(e)}") from None
            table = job["table"]
            quoted = "`" + table.replace("`", "``") + "`"
            schema = spark.table(quoted).schema
            check_keys(job["data"], schema.fieldNames(), table)
            # The table's own schema: DECIMAL numbers are read exactly, dates from their
            # strings; FAILFAST makes a value of the wrong type an error, not a NULL row.
            frame = spark.read.schema(schema).option("mode", "FAILFAST").json(job["data"])
            frame.write.insertInto(quoted)
            result = spark.sql(job["query"])
            write_rows(job["out"], result.columns, result.collect())
        finally:
            spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")

    def close(self):
        if self.session is not None:
            try:
                self.session.stop()
            except Exception:  # noqa: BLE001 - stopping is best effort; the folder goes anyway
                traceback.print_exc()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
