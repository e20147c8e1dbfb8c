-- The SQL harness's own test (tests/sql_harness.rs): each construct the SQL back end emits, in
-- Spark SQL's dialect (4.x, in-memory catalog). duckdb.sql and postgres.sql say the same in
-- theirs; all three must give the rows in expected_*.jsonl. Identifiers are quoted with
-- backticks ("..." is a string in Spark unless spark.sql.ansi.doubleQuotedIdentifiers is on),
-- and each statement ends with a ';' at the end of its line.

-- 60 nested subqueries need more analyzer passes than the default 100 allow.
SET spark.sql.analyzer.maxIterations = 1000;

-- The facts table: a STRING key, each scalar type, an array of strings, an array of structs.
CREATE TABLE `h_facts` (
  `id` STRING NOT NULL,
  `flag` BOOLEAN,
  `n` BIGINT,
  `amt` DECIMAL(18,6),
  `name` STRING,
  `d` DATE,
  `codes` ARRAY<STRING>,
  `sessions` ARRAY<STRUCT<`kind`: STRING, `relief`: DECIMAL(18,6), `day`: DATE>>
) USING parquet;

-- A table filled by the setup itself; the literals hold ';' (the statements are split).
CREATE TABLE `h_labels` (`k` BIGINT, `label` STRING) USING parquet;
INSERT INTO `h_labels` VALUES (1, 'one; with a semicolon'), (2, 'it\'s two;');

-- An array of structs exploded with its row's id (explode in the select list), and a field of
-- the item.
CREATE VIEW `h_items` AS
SELECT `id`, `item`.`kind` AS `kind`, `item`.`relief` AS `relief`, `item`.`day` AS `day`
FROM (SELECT `id`, explode(`sessions`) AS `item` FROM `h_facts`) AS `x`;

-- The same, exploded with LATERAL VIEW; a temporary view, which lives in the job's session.
CREATE OR REPLACE TEMPORARY VIEW `h_items_lateral` AS
SELECT f.`id`, s.`item`.`kind` AS `kind`
FROM `h_facts` AS f LATERAL VIEW explode(f.`sessions`) s AS `item`;

-- Distinct codes of a kind per id: count(DISTINCT CASE ...) over an exploded array.
CREATE VIEW `h_codes` AS
SELECT `id`, count(DISTINCT CASE WHEN `code` LIKE 'A%' THEN `code` END) AS `a_codes`
FROM (SELECT `id`, explode(`codes`) AS `code` FROM `h_facts`) AS `x`
GROUP BY `id`;

CREATE VIEW `h_relief` AS
SELECT `id`, count(*) AS `items`, sum(`relief`) AS `relief`,
  count(DISTINCT CASE WHEN `kind` = 'pt' THEN `day` END) AS `pt_days`
FROM `h_items`
GROUP BY `id`;

CREATE OR REPLACE TEMPORARY VIEW `h_lateral_count` AS
SELECT `id`, count(*) AS `items` FROM `h_items_lateral` GROUP BY `id`;

-- Everything else, with the aggregates LEFT JOINed back on id (ids without items get NULL).
-- A permanent view cannot refer to a temporary one: this one is temporary too.
CREATE OR REPLACE TEMPORARY VIEW `h_checks` AS
SELECT
  f.`id`,
  c.`a_codes`,
  r.`items`,
  r.`relief`,
  r.`pt_days`,
  lc.`items` AS `items_lateral`,
  l.`label`,
  -- try_element_at, not element_at: element_at of a constant array at a NULL index gives an
  -- element, not NULL, in compiled code (Spark 4.3.0: 30 here for the NULL n, 0 over a VALUES
  -- list), and with ANSI on (Spark 4's default) fails on an index past the end; the index
  -- must be an INT (a BIGINT is an error).
  try_element_at(array(10, 20, 30), CAST(f.`n` + 1 AS INT)) AS `pick_int`,
  try_element_at(array('x', 'y', 'z'), CAST(f.`n` + 1 AS INT)) AS `pick_str`,
  try_element_at(
    array(array('a', 'b'), array('c'), CAST(array() AS ARRAY<STRING>)),
    CAST(f.`n` + 1 AS INT)
  ) AS `pick_list`,
  array_compact(array(
    CASE WHEN f.`flag` THEN 'flag' END,
    CASE WHEN f.`amt` * 30 >= 1 THEN 'big' END,
    CASE WHEN f.`name` IS NOT NULL THEN 'named' END
  )) AS `kept`,
  datediff(f.`d`, DATE '2024-01-01') AS `days`,
  year(f.`d`) AS `y`,
  month(f.`d`) AS `m`,
  day(f.`d`) AS `dd`,
  add_months(f.`d`, -1) AS `month_back`,
  f.`amt` > 0.1 AS `gt`,
  f.`amt` * 30 >= 1 AS `big`,
  f.`amt` + 0.1 AS `amt_plus`
FROM `h_facts` AS f
LEFT JOIN `h_codes` AS c ON c.`id` = f.`id`
LEFT JOIN `h_relief` AS r ON r.`id` = f.`id`
LEFT JOIN `h_lateral_count` AS lc ON lc.`id` = f.`id`
LEFT JOIN `h_labels` AS l ON l.`k` = f.`n`;
