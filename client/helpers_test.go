package client_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"
	"github.com/timefence/timefence/internal/tableio"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// startServer starts a real server on loopback over a temporary store, with
// the definitions of examples/definitions.yaml applied: entities user and
// store, views user_stats (clicks, spend, country, is_subscriber; ttl 7d)
// and store_sales, and the splits train (January 2024) and test. tune,
// when not nil, changes the server's config and the store's options first.
// stop ends the server and removes the store.
func startServer(tune func(*server.Config, *storage.Options)) (addr string, stop func()) {
	dir, err := os.MkdirTemp("", "timefence-client")
	must(err)
	addr, end := serve(dir, tune)
	applyExamples(addr)
	return addr, func() { end(); os.RemoveAll(dir) }
}

// serve serves the store in dir on loopback until end is called.
func serve(dir string, tune func(*server.Config, *storage.Options)) (addr string, end func()) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := storage.DefaultOptions(dir).WithLogger(quiet).WithSyncWrites(false)
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	if tune != nil {
		tune(&cfg, &opts)
	}
	st, err := storage.Open(opts)
	must(err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	return lis.Addr().String(), func() { cancel(); must(<-done); must(st.Close()) }
}

// applyExamples applies examples/definitions.yaml to the server at addr.
func applyExamples(addr string) {
	data, err := os.ReadFile("../examples/definitions.yaml")
	must(err)
	defs, err := definitions.Parse("examples/definitions.yaml", data)
	must(err)
	c, err := client.Dial(addr, client.WithToken(adminToken))
	must(err)
	defer c.Close()
	ctx := context.Background()
	for _, e := range defs.Entities {
		_, err = c.ApplyEntity(ctx, e.Def)
		must(err)
	}
	for _, v := range defs.FeatureViews {
		_, err = c.ApplyFeatureView(ctx, v.Def)
		must(err)
	}
	for _, sp := range defs.Splits {
		_, err = c.CreateSplit(ctx, sp.Def.GetName(), sp.Def.GetStart().AsTime(), sp.Def.GetEnd().AsTime())
		must(err)
	}
}

// startFull starts a server like startServer's whose disk is full: its
// store's reserve is more than any disk's free space, so it refuses writes.
func startFull() (addr string, stop func()) {
	dir, err := os.MkdirTemp("", "timefence-client")
	must(err)
	addr, end := serve(dir, nil)
	applyExamples(addr)
	end()
	addr, end = serve(dir, func(_ *server.Config, o *storage.Options) { *o = o.WithReserveBytes(1 << 62) })
	return addr, func() { end(); os.RemoveAll(dir) }
}

// adminToken is the admin's token of a server started with auth (withAuth).
const adminToken = "admin-token"

// startTour starts a server as the README's tour leaves it: the example
// definitions applied and examples/user_stats_history.csv written as a
// backfill.
func startTour() (addr string, stop func()) {
	addr, stop = startServer(nil)
	c, err := client.Dial(addr)
	must(err)
	defer c.Close()
	ctx := context.Background()
	history, err := tableio.Open(ctx, "../examples/user_stats_history.csv", func(string) (arrow.DataType, error) { return nil, nil })
	must(err)
	defer history.Close()
	_, err = c.WriteTable(ctx, "user_stats", history, client.Backfill())
	must(err)
	return addr, stop
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// withAuth turns auth on with three tokens: adminToken, "reader-token"
// (role reader) and "trainer-token" (role trainer, scoped to split train).
func withAuth(cfg *server.Config, _ *storage.Options) {
	auth, err := server.NewAuth([]server.Credential{
		{Name: "admin", TokenSHA256: server.HashToken(adminToken), Role: server.RoleAdmin},
		{Name: "dashboard", TokenSHA256: server.HashToken("reader-token"), Role: server.RoleReader},
		{Name: "training", TokenSHA256: server.HashToken("trainer-token"), Role: server.RoleTrainer, Splits: []string{"train"}},
	})
	must(err)
	cfg.Auth = auth
}
