-- timefence's read rule as a point-in-time join, for DuckDB, over the
-- versions of one feature view as an export writes them (Parquet: the join
-- keys, event_timestamp, available_at, deleted, backfilled, the features).
--
-- For each spine row at time t, the winner is the version with
--   event_timestamp <= t and available_at <= t
-- that is greatest in (event_timestamp, available_at, order in the file):
-- an export lists versions that tie on both times oldest first, so the last
-- of them is the newest write. The row's features are null when there is no
-- winner, when the winner is a deletion, or when the view has a ttl and the
-- winner's event is older than t by more than it. Bounds are inclusive.
--
-- Times are compared as Unix nanoseconds. The export holds only versions
-- within its split, so a spine whose times lie in the split reads exactly
-- what the server's join reads under it.
--
-- Placeholders, filled in by timefence.duckdb (identifiers quoted):
--   {versions}  the Parquet path, a SQL string
--   {spine}     a table with _spine_row, _t (Unix ns) and the join keys
--   {keys}      v.k = s.k AND ... for every join key
--   {features}  the feature columns, as: CASE ... END AS "f", ...
--   {ttl}       the view's ttl in nanoseconds, 0 for none
WITH versions AS (
    SELECT *,
           epoch_ns(event_timestamp) AS _event,
           epoch_ns(available_at) AS _available,
           file_row_number AS _order
    FROM read_parquet({versions}, file_row_number = true)
),
winners AS (
    SELECT s._spine_row, s._t, v.*
    FROM {spine} AS s
    JOIN versions AS v ON {keys} AND v._event <= s._t AND v._available <= s._t
    QUALIFY row_number() OVER (PARTITION BY s._spine_row ORDER BY v._event DESC, v._available DESC, v._order DESC) = 1
)
SELECT s._spine_row, {features}
FROM {spine} AS s
LEFT JOIN winners AS w ON w._spine_row = s._spine_row
ORDER BY s._spine_row
