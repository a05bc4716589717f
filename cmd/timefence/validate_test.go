package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestValidate applies expectations from a definitions file, has a batch
// refused by a hard one and another written under a warn one, and lists
// the event with `validate report`.
func TestValidate(t *testing.T) {
	c := startCLIServer(t)
	defs := `entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
feature_views:
  - name: user_stats
    entity: user
    features:
      - {name: clicks, type: int64}
      - {name: country, type: string}
    expectations:
      - {feature: clicks, min: 0, max: 1000}
      - {feature: country, allowed: [DE, FR, US], level: warn}
`
	require.Contains(t, c.ok("apply", c.write("defs.yaml", defs)), "user_stats")
	bad := strings.Replace(defs, "min: 0, max: 1000", "min: 10, max: 1", 1)
	require.Contains(t, c.fail("apply", c.write("bad.yaml", bad)), "bad.yaml:10: feature_views[0].expectations[0].min: 10 is greater than max 1")

	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
	header := "user_id,event_timestamp,clicks,country\n"
	row := func(user, clicks int, country string) string {
		return fmt.Sprintf("%d,%s,%d,%s\n", user, now, clicks, country)
	}
	msg := c.fail("write", "user_stats", c.write("bad.csv", header+row(1, 5, "DE")+row(2, -3, "DE")+row(3, 2000, "FR")))
	require.Contains(t, msg, `feature view "user_stats": hard expectation range(clicks) (min 0, max 1000) failed: 2 of 3 rows fail (row 1: -3, row 2: 2000); nothing of the batch was written`)
	require.Contains(t, c.ok("validate", "report"), "0 validation events")

	c.ok("write", "user_stats", c.write("warn.csv", header+row(1, 5, "DE")+row(2, 6, "XX")+row(3, 7, "US")))
	out := c.ok("validate", "report", "--since", "1h", "--view", "user_stats")
	require.Contains(t, out, "1 validation event\n")
	require.Regexp(t, `user_stats\s+allowed\(country\)\s+warn\s+1\s+1`, out)
	require.Contains(t, out, `  allowed(country) (allowed DE, FR, US): 1 of 3 rows fail: row 1: "XX"`)
	require.Contains(t, c.ok("validate", "report", "--until", "2h"), "0 validation events")
	require.Contains(t, c.ok("validate", "report", "--json"), `"rows_failed": "1"`)
	require.Contains(t, c.fail("validate", "report", "--view", "nope"), `unknown feature view "nope"`)
	res := c.run("validate")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "expected a subcommand: report")
}
