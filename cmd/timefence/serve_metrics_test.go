package main

import (
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPprofOnlyWithFlag: -metrics-addr serves /metrics; Go profiles at
// /debug/pprof/ only with -pprof.
func TestPprofOnlyWithFlag(t *testing.T) {
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	for _, pprof := range []bool{false, true} {
		dir, addr, maddr := t.TempDir(), freeAddr(t), freeAddr(t)
		flags := []string{"--metrics-addr", maddr}
		if pprof {
			flags = append(flags, "--pprof")
		}
		srv := startBinary(t, dir, addr, flags...)
		code, body := get("http://" + maddr + "/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "# TYPE")
		code, body = get("http://" + maddr + "/debug/pprof/")
		if pprof {
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "goroutine")
		} else {
			require.Equal(t, http.StatusNotFound, code, "profiles are off without -pprof")
			code, _ = get("http://" + maddr + "/debug/pprof/goroutine")
			require.Equal(t, http.StatusNotFound, code)
		}
		require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
		require.NoError(t, srv.Wait())
	}
	line := (&cli{t: t, dir: t.TempDir()}).fail("serve", "--pprof", "--data", t.TempDir(), "--addr", freeAddr(t))
	require.Contains(t, line, "--pprof serves profiles at --metrics-addr")
}

// TestWriteRefusesInvalidUTF8: a CSV whose string cell is not UTF-8 is
// refused whole, naming the row and column; the view stays readable.
func TestWriteRefusesInvalidUTF8(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.write("defs.yaml", cliDefinitions))
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bad := c.write("bad.csv", "user_id,event_timestamp,clicks,spend,country\n"+
		fmt.Sprintf("1,%s,1,1.5,DE\n2,%s,2,2.5,D\xffE\n", at, at))
	line := c.fail("write", "user_stats", bad)
	require.Contains(t, line, `row 1: column "country": string is not valid UTF-8`)
	good := c.write("good.csv", "user_id,event_timestamp,clicks,spend,country\n"+fmt.Sprintf("1,%s,1,1.5,DÉ\n", at))
	require.Contains(t, c.ok("write", "user_stats", good), "wrote 1 row to user_stats in one batch (seq 1-1")
	require.Contains(t, c.ok("get", "--features", "user_stats:country", "--key", "user_id=1", "--key", "user_id=2"), "DÉ")
	c.ok("split", "create", "all", "--start", "2020-01-01T00:00:00Z", "--end", time.Now().UTC().Format(time.RFC3339Nano))
	require.Contains(t, c.ok("stats", "--split", "all", "--view", "user_stats"), "country")
}
