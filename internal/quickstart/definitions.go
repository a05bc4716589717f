package quickstart

// Definitions is the definitions file of the quickstart's world: entity
// user, feature view user_daily_spend, and splits train and recent.
const Definitions = `# yaml-language-server: $schema=definitions.schema.json
# The quickstart's definitions. Apply them with: timefence apply definitions.yaml
entities:
  - name: user
    description: a card holder
    join_keys: [{name: user_id, type: int64}]

feature_views:
  - name: user_daily_spend
    entity: user
    ttl: 48h
    description: >-
      Each card holder's spending on one UTC day, from a nightly batch pipeline
      that lands 3 to 9 hours after the day closes, and lands a corrected total
      when late transactions arrive. The event time is the close of the day.
    owner: team-fraud
    tags: {pipeline: nightly_spend, tier: gold}
    features:
      - {name: spend_1d, type: double, description: total spent that day}
      - {name: txn_count_1d, type: int64, description: number of transactions that day}
      - {name: max_amount_1d, type: double, description: largest transaction that day}

splits:
  - name: train
    start: 2024-03-01T00:00:00Z
    end: 2024-03-21T23:59:59Z
    description: three weeks to train on; the end is the cutoff
  - name: recent
    start: 2024-03-22T00:00:00Z
    end: 2024-04-03T23:59:59Z
    description: the days after the cutoff, to compare with train
`
