package main

// quickstartReadme is written to the quickstart's directory; {dir} is
// replaced by its path.
const quickstartReadme = `timefence quickstart
====================

'timefence quickstart' filled this directory:

  definitions.yaml               the entity, feature view and splits (timefence apply)
  definitions.schema.json        the JSON Schema of that file, for your editor
  transactions.csv               the generated card transactions; arrived_at is when
                                 a late one from an offline terminal arrived
  user_daily_spend.csv           every row the nightly pipeline landed, with the time
                                 it landed (available_at) and whether it was a correction
  spine.parquet                  the training spine: the transactions within split train,
                                 with their fraud labels
  spine_crossing_cutoff.parquet  a spine that crosses the cutoff of split train
  training_set.parquet           the point-in-time join of spine.parquet with user_daily_spend
  training_set.manifest.json     its manifest: dataset id, split, watermark, row count,
                                 naive-join differences, output checksum
  data/                          the store

The pipeline's history was written as backfills, each row with the time it
really landed; live writes get the server's clock instead.

Try next, with the server running on this store:

  timefence serve --data {dir}/data &

  # What production would serve now: stale, as the data is from March 2024
  # and the view's ttl is 48h.
  timefence get --features user_daily_spend --key user_id=1042

  # Time travel: what production served at 02:00 on March 15.
  timefence get --features user_daily_spend --key user_id=1042 --split train --as-of 2024-03-15T02:00:00Z

  timefence split list
  timefence join --split train --spine {dir}/spine.parquet --features user_daily_spend -o {dir}/again.parquet
  timefence join --split train --spine {dir}/spine_crossing_cutoff.parquet --features user_daily_spend -o {dir}/refused.parquet
  timefence export --split train --view user_daily_spend -o {dir}/user_daily_spend.parquet
  timefence stats --split train --view user_daily_spend
  timefence stats --split recent --view user_daily_spend --compare train
`
