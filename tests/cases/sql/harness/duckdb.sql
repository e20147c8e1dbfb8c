-- The SQL harness's own test (tests/sql_harness.rs): each construct the SQL back end emits, in
-- DuckDB's dialect. postgres.sql and spark.sql say the same in theirs; all three must give the
-- rows in expected_*.jsonl.

-- The facts table: a VARCHAR key, each scalar type, a list of strings, a list of records.
CREATE TABLE "h_facts" (
  "id" VARCHAR PRIMARY KEY,
  "flag" BOOLEAN,
  "n" BIGINT,
  "amt" DECIMAL(18,6),
  "name" VARCHAR,
  "d" DATE,
  "codes" VARCHAR[],
  "sessions" STRUCT("kind" VARCHAR, "relief" DECIMAL(18,6), "day" DATE)[]
);

-- A table filled by the setup itself; the literals hold ';' (Spark's statements are split).
CREATE TABLE "h_labels" ("k" BIGINT, "label" VARCHAR);
INSERT INTO "h_labels" VALUES (1, 'one; with a semicolon'), (2, 'it''s two;');

-- A list of records exploded with its row's id (unnest in the select list), and a field of
-- the item.
CREATE VIEW "h_items" AS
SELECT "id", "item"."kind" AS "kind", "item"."relief" AS "relief", "item"."day" AS "day"
FROM (SELECT "id", unnest("sessions") AS "item" FROM "h_facts") AS "x";

-- The same, exploded in FROM.
CREATE VIEW "h_items_lateral" AS
SELECT f."id", s."item"."kind" AS "kind"
FROM "h_facts" AS f, unnest(f."sessions") AS s("item");

-- Distinct codes of a kind per id: count(DISTINCT CASE ...) over an exploded list.
CREATE VIEW "h_codes" AS
SELECT "id", count(DISTINCT CASE WHEN "code" LIKE 'A%' THEN "code" END) AS "a_codes"
FROM (SELECT "id", unnest("codes") AS "code" FROM "h_facts") AS "x"
GROUP BY "id";

CREATE VIEW "h_relief" AS
SELECT "id", count(*) AS "items", sum("relief") AS "relief",
  count(DISTINCT CASE WHEN "kind" = 'pt' THEN "day" END) AS "pt_days"
FROM "h_items"
GROUP BY "id";

CREATE VIEW "h_lateral_count" AS
SELECT "id", count(*) AS "items" FROM "h_items_lateral" GROUP BY "id";

-- Everything else, with the aggregates LEFT JOINed back on id (ids without items get NULL).
CREATE VIEW "h_checks" AS
SELECT
  f."id",
  c."a_codes",
  r."items",
  r."relief",
  r."pt_days",
  lc."items" AS "items_lateral",
  l."label",
  [10, 20, 30][f."n" + 1] AS "pick_int",
  ['x', 'y', 'z'][f."n" + 1] AS "pick_str",
  [['a', 'b'], ['c'], []::VARCHAR[]][f."n" + 1] AS "pick_list",
  list_filter([
    CASE WHEN f."flag" THEN 'flag' END,
    CASE WHEN CAST(f."amt" AS DECIMAL(38,6)) * 30 >= 1 THEN 'big' END,
    CASE WHEN f."name" IS NOT NULL THEN 'named' END
  ], lambda x: x IS NOT NULL) AS "kept",
  f."d" - DATE '2024-01-01' AS "days",
  year(f."d") AS "y",
  month(f."d") AS "m",
  day(f."d") AS "dd",
  CAST(f."d" - INTERVAL 1 MONTH AS DATE) AS "month_back",
  f."amt" > 0.1 AS "gt",
  -- DuckDB keeps DECIMAL(18,6) * 30 in DECIMAL(18,6) and fails on overflow (here
  -- 123456789012.123456 * 30): widened first, as the generator must.
  CAST(f."amt" AS DECIMAL(38,6)) * 30 >= 1 AS "big",
  f."amt" + 0.1 AS "amt_plus"
FROM "h_facts" AS f
LEFT JOIN "h_codes" AS c ON c."id" = f."id"
LEFT JOIN "h_relief" AS r ON r."id" = f."id"
LEFT JOIN "h_lateral_count" AS lc ON lc."id" = f."id"
LEFT JOIN "h_labels" AS l ON l."k" = f."n";
