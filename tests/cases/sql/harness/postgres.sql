-- The SQL harness's own test (tests/sql_harness.rs): each construct the SQL back end emits, in
-- PostgreSQL's dialect (15). duckdb.sql and spark.sql say the same in theirs; all three must
-- give the rows in expected_*.jsonl.

-- The facts table: a text key, each scalar type, an array of text, an array of a composite
-- type (a list of records).
CREATE TYPE "h_sessions_item" AS ("kind" text, "relief" numeric(18,6), "day" date);
CREATE TABLE "h_facts" (
  "id" text PRIMARY KEY,
  "flag" boolean,
  "n" bigint,
  "amt" numeric(18,6),
  "name" text,
  "d" date,
  "codes" text[],
  "sessions" "h_sessions_item"[]
);

-- A table filled by the setup itself; the literals hold ';' (Spark's statements are split).
CREATE TABLE "h_labels" ("k" bigint, "label" text);
INSERT INTO "h_labels" VALUES (1, 'one; with a semicolon'), (2, 'it''s two;');

-- An array of records exploded with its row's id (unnest in the select list), and a field of
-- the item: (item).field.
CREATE VIEW "h_items" AS
SELECT "id", ("item")."kind" AS "kind", ("item")."relief" AS "relief", ("item")."day" AS "day"
FROM (SELECT "id", unnest("sessions") AS "item" FROM "h_facts") AS "x";

-- The same, exploded in FROM: unnest of a composite array gives the composite's columns.
CREATE VIEW "h_items_lateral" AS
SELECT f."id", s."kind"
FROM "h_facts" AS f CROSS JOIN LATERAL unnest(f."sessions") AS s;

-- Distinct codes of a kind per id: count(DISTINCT CASE ...) over an exploded array.
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
-- PostgreSQL has no arrays of arrays (ARRAY[ARRAY[...]] is a rectangular 2-D array, and
-- indexing it once gives NULL): a list of lists is picked with CASE.
CREATE VIEW "h_checks" AS
SELECT
  f."id",
  c."a_codes",
  r."items",
  r."relief",
  r."pt_days",
  lc."items" AS "items_lateral",
  l."label",
  (ARRAY[10, 20, 30])[f."n" + 1] AS "pick_int",
  (ARRAY['x', 'y', 'z'])[f."n" + 1] AS "pick_str",
  CASE f."n" + 1 WHEN 1 THEN ARRAY['a', 'b'] WHEN 2 THEN ARRAY['c'] WHEN 3 THEN ARRAY[]::text[] END
    AS "pick_list",
  array_remove(ARRAY[
    CASE WHEN f."flag" THEN 'flag' END,
    CASE WHEN f."amt" * 30 >= 1 THEN 'big' END,
    CASE WHEN f."name" IS NOT NULL THEN 'named' END
  ]::text[], NULL) AS "kept",
  f."d" - DATE '2024-01-01' AS "days",
  EXTRACT(YEAR FROM f."d") AS "y",
  EXTRACT(MONTH FROM f."d") AS "m",
  EXTRACT(DAY FROM f."d") AS "dd",
  (f."d" - INTERVAL '1 month')::date AS "month_back",
  f."amt" > 0.1 AS "gt",
  f."amt" * 30 >= 1 AS "big",
  f."amt" + 0.1 AS "amt_plus"
FROM "h_facts" AS f
LEFT JOIN "h_codes" AS c ON c."id" = f."id"
LEFT JOIN "h_relief" AS r ON r."id" = f."id"
LEFT JOIN "h_lateral_count" AS lc ON lc."id" = f."id"
LEFT JOIN "h_labels" AS l ON l."k" = f."n";
