//! Real SQL engines for the tests of the SQL back end: DuckDB and Spark SQL through their Python
//! packages (`tests/support/sql_engine.py`), PostgreSQL as a throwaway cluster of its own.
//!
//! Each job runs a setup file (DDL, INSERTs, views), loads a JSON lines file into the facts
//! table and writes the rows of a query as JSON lines: one object per row, keys the query's
//! column names in order, SQL NULL as null, DATE as "2024-02-29", arrays as arrays, structs
//! and composites as objects, and every number in its shortest exact decimal form (DECIMAL
//! 36.500000 as 36.5, 42.000000 as 42), so the three engines' rows compare as text.
//!
//! `.ci/run` installs the Python packages into `target/ci-tools/py` and makes sure a
//! `postgres` user exists; where an engine is missing, `run` says why (`Unavailable`) and
//! the test reports itself as skipped.
// Each test uses part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One setup, data file and query, run in a database of its own.
#[derive(Clone, Debug)]
pub struct Job {
    /// A SQL file: DDL, INSERTs, views. For Spark, statements end with a `;` at a line's end.
    pub setup: PathBuf,
    /// The facts table the data is loaded into.
    pub table: String,
    /// JSON lines, one object per row, keys the table's column names (a key left out is NULL).
    pub data: PathBuf,
    /// The query whose rows are written, e.g. `SELECT * FROM "x_decisions" ORDER BY "id"`.
    pub query: String,
    /// Where the rows go, as JSON lines.
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    DuckDb,
    Postgres,
    Spark,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::DuckDb, Engine::Postgres, Engine::Spark];

    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::Postgres => "postgres",
            Engine::Spark => "spark",
        }
    }
}

/// Why an engine cannot run here (not installed), so the test can say it skipped.
#[derive(Clone, Debug)]
pub struct Unavailable(pub String);

/// Whether `engine` can run here, without starting it.
pub fn available(engine: Engine) -> Result<(), Unavailable> {
    match engine {
        Engine::DuckDb => python_with("duckdb").map(drop),
        Engine::Spark => {
            java()?;
            python_with("pyspark").map(drop)
        }
        Engine::Postgres => PgTools::find().map(drop),
    }
}

/// Runs every job on the engine in one session (one process / one cluster / one
/// SparkSession), in order; a failing job is an Err naming the job and the engine's message,
/// the others still run. An engine that is installed but does not start fails every job.
pub fn run(engine: Engine, jobs: &[Job]) -> Result<Vec<Result<(), String>>, Unavailable> {
    let results = match engine {
        Engine::DuckDb => {
            let python = python_with("duckdb")?;
            run_python(&python, engine, jobs)
        }
        Engine::Spark => {
            java()?;
            let python = python_with("pyspark")?;
            run_python(&python, engine, jobs)
        }
        Engine::Postgres => {
            let tools = PgTools::find()?;
            match Cluster::start(tools) {
                Ok(cluster) => jobs
                    .iter()
                    .enumerate()
                    .map(|(i, job)| cluster.run(i, job))
                    .collect(),
                Err(e) => vec![Err(format!("postgres did not start: {e}")); jobs.len()],
            }
        }
    };
    Ok(jobs
        .iter()
        .zip(results)
        .enumerate()
        .map(|(i, (job, result))| {
            result
                .and_then(|()| normalize_file(&job.out))
                .map_err(|e| format!("{} job {i} ({}): {e}", engine.name(), job.setup.display()))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// DuckDB and Spark: one Python process for all jobs.

/// Where the Python with the engines' packages is: the one `.ci/run` makes, then the one the
/// developer names, then the one on the PATH.
fn python_candidates() -> Vec<PathBuf> {
    let mut candidates =
        vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-tools/py/bin/python")];
    if let Some(named) = std::env::var_os("MEDPOL_PYTHON") {
        candidates.push(PathBuf::from(named));
    }
    candidates.push(PathBuf::from("python3"));
    candidates
}

/// The first Python that has `module`; a venv with only some of the packages does not hide a
/// later Python that has them all.
pub fn python_with(module: &str) -> Result<PathBuf, Unavailable> {
    // find_spec looks the module up without importing it (pyspark takes a second to import).
    let probe =
        "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)";
    for python in python_candidates() {
        let found = Command::new(&python)
            .args(["-c", probe, module])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return Ok(python);
        }
    }
    Err(Unavailable(format!(
        "no Python with the `{module}` package (looked at target/ci-tools/py/bin/python, \
         $MEDPOL_PYTHON and python3); `MEDPOL_CI_INSTALL=1 .ci/run` installs it"
    )))
}

/// Spark runs on a JVM: `$JAVA_HOME/bin/java` or `java` on the PATH, as pyspark looks.
fn java() -> Result<(), Unavailable> {
    let java = match std::env::var_os("JAVA_HOME") {
        Some(home) => PathBuf::from(home).join("bin/java"),
        None => PathBuf::from("java"),
    };
    let found = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(())
    } else {
        Err(Unavailable(format!(
            "no Java for Spark (`{}` does not run); Spark 4 needs Java 17 or later",
            java.display()
        )))
    }
}

fn run_python(python: &Path, engine: Engine, jobs: &[Job]) -> Vec<Result<(), String>> {
    let fail_all = |e: String| vec![Err(e); jobs.len()];
    let scratch = match tempfile::Builder::new().prefix("medpol-sql-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail_all(format!("cannot make a temporary folder: {e}")),
    };
    let plan = serde_json::json!({
        "jobs": jobs.iter().map(|job| serde_json::json!({
            "setup": job.setup,
            "table": job.table,
            "data": job.data,
            "query": job.query,
            "out": job.out,
        })).collect::<Vec<_>>(),
    });
    let plan_path = scratch.path().join("plan.json");
    let status_path = scratch.path().join("status.jsonl");
    if let Err(e) = fs::write(&plan_path, plan.to_string()) {
        return fail_all(format!("cannot write the plan: {e}"));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sql_engine.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(engine.name())
        .arg(&plan_path)
        .arg(&status_path)
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return fail_all(format!("cannot start {}: {e}", python.display())),
    };
    if std::env::var_os("MEDPOL_ENGINE_TIMES").is_some() {
        // The script's timings: `started in`, `job N took`.
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            if line.starts_with(engine.name()) {
                eprintln!("{line}");
            }
        }
    }
    let status = fs::read_to_string(&status_path).unwrap_or_default();
    let mut results: Vec<Result<(), String>> = status
        .lines()
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) if v["ok"] == true => Ok(()),
                Ok(v) => Err(v["error"].as_str().unwrap_or("unknown error").to_owned()),
                Err(e) => Err(format!("unreadable status line {line:?}: {e}")),
            },
        )
        .collect();
    // Jobs with no status never ran: the process stopped (did not start, or crashed).
    let stopped = format!(
        "{} stopped before this job ({}):\n{}",
        engine.name(),
        output.status,
        tail(&output.stderr, 30)
    );
    results.resize(jobs.len(), Err(stopped));
    results
}

/// The last `n` lines of a process's output: where the reason for a failure is.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a throwaway cluster, a database per job.

/// The PostgreSQL programs, and how to run the server's as a user other than root.
struct PgTools {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
    /// The prefix that runs a command as `postgres` (when we are root), and that user's ids.
    as_postgres: Option<(Vec<OsString>, u32, u32)>,
}

impl PgTools {
    fn find() -> Result<PgTools, Unavailable> {
        // Debian's packages put the server's programs in /usr/lib/postgresql/VERSION/bin and
        // link only the clients into /usr/bin; some machines link the rest into /usr/local/bin.
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.push("/usr/local/bin".into());
        dirs.push("/usr/bin".into());
        if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
            let mut versions: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect();
            // The newest first: "9.6" < "15" numerically, not as text.
            versions.sort_by_key(|p| {
                let v = p.parent().and_then(|v| v.file_name());
                let v = v.and_then(|v| v.to_str()).unwrap_or("");
                std::cmp::Reverse(v.split('.').next().and_then(|v| v.parse::<u32>().ok()))
            });
            dirs.extend(versions);
        }
        let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
        let missing = |name: &str| {
            Unavailable(format!(
                "the PostgreSQL program `{name}` is not installed (looked on the PATH, in /usr/local/bin \
                 and /usr/lib/postgresql/*/bin); the Debian package `postgresql` has it"
            ))
        };
        let initdb = find("initdb").ok_or_else(|| missing("initdb"))?;
        let pg_ctl = find("pg_ctl").ok_or_else(|| missing("pg_ctl"))?;
        let psql = find("psql").ok_or_else(|| missing("psql"))?;
        let as_postgres = if effective_uid() == Some(0) {
            Some(run_as_postgres()?)
        } else {
            None
        };
        Ok(PgTools {
            initdb,
            pg_ctl,
            psql,
            as_postgres,
        })
    }

    /// `program args` as the server's user.
    fn server_command(&self, program: &Path) -> Command {
        match &self.as_postgres {
            Some((prefix, _, _)) => {
                let mut command = Command::new(&prefix[0]);
                command.args(&prefix[1..]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

/// The effective user id, from /proc (no libc here).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// initdb and postgres refuse to run as root: as root, they run as the `postgres` user
/// (`.ci/run` creates it where it is missing), through runuser or setpriv.
fn run_as_postgres() -> Result<(Vec<OsString>, u32, u32), Unavailable> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    let (Some(uid), Some(gid)) = (id("-u"), id("-g")) else {
        return Err(Unavailable(
            "running as root, and there is no `postgres` user to run the server as (initdb \
             refuses root); `useradd --system --no-create-home postgres` makes one, as .ci/run does"
                .into(),
        ));
    };
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let runuser = ["-u", "postgres", "--"];
    let setpriv = [
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ];
    let prefix: Vec<OsString> = if works("runuser", &runuser) {
        std::iter::once("runuser")
            .chain(runuser)
            .map(Into::into)
            .collect()
    } else if works("setpriv", &setpriv) {
        std::iter::once("setpriv")
            .chain(setpriv)
            .map(Into::into)
            .collect()
    } else {
        return Err(Unavailable(
            "running as root, and neither runuser nor setpriv can run the server as `postgres` \
             (initdb refuses root)"
                .into(),
        ));
    };
    Ok((prefix, uid, gid))
}

/// A running cluster in a temporary folder; stopped, and the folder removed, when dropped.
struct Cluster {
    tools: PgTools,
    /// Holds the data, the socket, the log and the jobs' scripts.
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn start(tools: PgTools) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("medpol-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        if let Some((_, uid, gid)) = &tools.as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(*uid), Some(*gid))
                .map_err(|e| format!("cannot give {} to postgres: {e}", dir.path().display()))?;
        }
        let data = dir.path().join("data");
        // No fsync: the cluster lives for one test; C collation: strings sort by their
        // bytes, as in DuckDB and Spark, whatever the machine's locale.
        let out = tools
            .server_command(&tools.initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg("--no-sync")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", tools.initdb.display()))?;
        if !out.status.success() {
            return Err(format!("initdb failed:\n{}", tail(&out.stderr, 20)));
        }
        // The server is not running yet: dropping this stops nothing, and removes the folder.
        let mut cluster = Cluster {
            tools,
            dir,
            port: 0,
        };
        // A free port can be taken between our look and the server's bind: try a few.
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = free_port().map_err(|e| format!("no free port: {e}"))?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let socket = self.dir.path().display().to_string();
        // pg_ctl hands -o to a shell: the folder is quoted.
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=off",
            self.port,
            socket.replace('\'', r"'\''")
        );
        let out = self
            .tools
            .server_command(&self.tools.pg_ctl)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.tools.pg_ctl.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = fs::read(self.dir.path().join("server.log")).unwrap_or_default();
            Err(format!(
                "pg_ctl start failed:\n{}\n{}",
                tail(&out.stderr, 10),
                tail(&log, 10)
            ))
        }
    }

    /// psql on the cluster's socket, as the superuser `postgres`, stopping at the first error.
    fn psql(&self, database: &str) -> Command {
        let mut command = Command::new(&self.tools.psql);
        command
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            // The developer's own connection settings would send psql elsewhere.
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .env_remove("PGDATABASE");
        command
    }

    fn run(&self, i: usize, job: &Job) -> Result<(), String> {
        let database = format!("medpol_job_{i}");
        let out = self
            .psql("postgres")
            .args(["-c", &format!("CREATE DATABASE {database}")])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        psql_result(&out)?;
        let script = self.dir.path().join(format!("{database}.sql"));
        fs::write(&script, load_script(&job.table, &job.query))
            .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        let data = fs::File::open(&job.data)
            .map_err(|e| format!("cannot read {}: {e}", job.data.display()))?;
        // The setup's own output (a SELECT in it) goes nowhere; the script then sends the
        // query's rows to standard output, and reads the data from standard input.
        let out = self
            .psql(&database)
            .args(["-c", r"\o /dev/null", "-f"])
            .arg(&job.setup)
            .arg("-f")
            .arg(&script)
            .stdin(data)
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        psql_result(&out)?;
        fs::write(&job.out, &out.stdout)
            .map_err(|e| format!("cannot write {}: {e}", job.out.display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stopped before the folder goes (the TempDir is dropped after this). A server that is
        // not running only makes pg_ctl say so.
        let _ = self
            .tools
            .server_command(&self.tools.pg_ctl)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn psql_result(out: &Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The psql script that loads the data (psql's standard input) into `table` and prints the
/// query's rows as JSON, one per line.
fn load_script(table: &str, query: &str) -> String {
    let table_ident = format!("\"{}\"", table.replace('"', "\"\""));
    let table_literal = format!("'{}'", table_ident.replace('\'', "''"));
    let query = query.trim().trim_end_matches(';');
    let mut s = String::new();
    // The CSV format with a quote and a delimiter that JSON text never holds unescaped (control
    // characters are escaped in JSON strings): each line arrives whole, backslashes and quotes
    // as they are (the text format would take backslashes as escapes).
    s.push_str("CREATE TEMPORARY TABLE medpol_stage (line bigserial, j jsonb NOT NULL);\n");
    s.push_str("\\copy medpol_stage (j) FROM pstdin WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')\n");
    // jsonb_populate_record ignores keys that name no column, and so would read a misspelt
    // one as NULL: a key the table lacks is an error, as in the other engines.
    let _ = writeln!(
        s,
        "DO $medpol$ DECLARE bad record; BEGIN\n\
         SELECT s.line, k INTO bad FROM medpol_stage s, jsonb_object_keys(s.j) AS k\n\
         WHERE k NOT IN (SELECT attname FROM pg_attribute WHERE attrelid = {table_literal}::regclass\n\
         AND attnum > 0 AND NOT attisdropped) ORDER BY s.line LIMIT 1;\n\
         IF FOUND THEN RAISE EXCEPTION 'data line %: table % has no column `%`', bad.line, {table_literal}, bad.k; END IF;\n\
         END $medpol$;"
    );
    // Numbers go into numeric columns exactly (jsonb keeps them as numeric); nested arrays of
    // composites and missing fields (NULL) are filled in too.
    let _ = writeln!(
        s,
        "INSERT INTO {table_ident} SELECT r.* FROM medpol_stage s, \
         jsonb_populate_record(NULL::{table_ident}, s.j) AS r ORDER BY s.line;"
    );
    s.push_str("\\o\n");
    // row_to_json (json, not jsonb) keeps the columns' order and each number's digits; the
    // subquery's ORDER BY is kept by the plain scan over it.
    let _ = writeln!(s, "SELECT row_to_json(q)::text FROM (\n{query}\n) AS q;");
    s
}

// ---------------------------------------------------------------------------------------------
// Results.

/// Rewrites a result file's numbers into their shortest exact form and checks each line is
/// JSON: the engines write DECIMAL(18,6) 36.5 as 36.500000.
fn normalize_file(path: &Path) -> Result<(), String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !l.is_empty()) {
        let line = normalize_numbers(line);
        serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| format!("the engine wrote a row that is not JSON ({e}): {line}"))?;
        out.push_str(&line);
        out.push('\n');
    }
    let mut file =
        fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(out.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Every number outside strings without trailing fractional zeros (`-2.500000` -> `-2.5`,
/// `42.000000` -> `42`, `-0.000` -> `0`); numbers with an exponent (from doubles) are kept.
pub fn normalize_numbers(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut chars = json.char_indices().peekable();
    let mut in_string = false;
    while let Some((start, c)) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '-' || c.is_ascii_digit() {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-') {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&shortest(&json[start..end]));
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

fn shortest(number: &str) -> String {
    if number.contains(['e', 'E']) || !number.contains('.') {
        return number.to_owned();
    }
    let trimmed = number.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}
