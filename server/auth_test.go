package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// startSecure runs a server with TLS and the given credentials.
func startSecure(t *testing.T, tlsCfg *tls.Config, creds []server.Credential) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(testStoreOptions(t.TempDir()))
	require.NoError(t, err)
	auth, err := server.NewAuth(creds)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := server.DefaultConfig()
	cfg.Logger, cfg.Auth, cfg.TLS = quiet, auth, tlsCfg
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, st.Close())
	})
	return lis.Addr().String()
}

// TestRolesOnEveryRPC checks every role against every call: allowed calls
// succeed, others fail with PERMISSION_DENIED; no or bad tokens fail with
// UNAUTHENTICATED; health needs no token.
func TestRolesOnEveryRPC(t *testing.T) {
	cert, pool := selfSigned(t, "timefence-test")
	addr := startSecure(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, []server.Credential{
		{Name: "ops", TokenSHA256: server.HashToken("admin-token"), Role: server.RoleAdmin},
		{Name: "pipeline", TokenSHA256: server.HashToken("writer-token"), Role: server.RoleWriter},
		{Name: "inference", TokenSHA256: server.HashToken("reader-token"), Role: server.RoleReader},
		{Name: "notebook", TokenSHA256: server.HashToken("trainer-token"), Role: server.RoleTrainer, Splits: []string{"train"}},
	})
	dial := func(token string) *client.Client {
		opts := []client.DialOption{client.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})}
		if token != "" {
			opts = append(opts, client.WithToken(token))
		}
		c, err := client.Dial(addr, opts...)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx := context.Background()
	admin := dial("admin-token")
	env := &testEnv{client: admin}
	env.defineUsers(t, 0)
	now := time.Now()
	_, err := admin.CreateSplit(ctx, "train", now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	_, err = admin.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: now.Add(-time.Minute), Values: []any{1, 1.0}}})
	require.NoError(t, err)
	spine := func() array.RecordReader {
		schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(now.UnixNano()))
		return recordReader(b.NewRecord())
	}
	table := func() array.RecordReader {
		schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}, {Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).Append(2)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().UnixNano()))
		b.Field(3).(*array.Int64Builder).Append(5)
		return recordReader(b.NewRecord())
	}
	var datasetID string
	sum, err := admin.GetHistorical(ctx, "train", []string{"stats"}, spine(), func(arrow.Record) error { return nil })
	require.NoError(t, err)
	datasetID = sum.DatasetID
	keys := [][]any{{1, "eu"}}
	kn := []string{"user_id", "region"}
	nop := func(arrow.Record) error { return nil }
	calls := []struct {
		name    string
		allowed []string
		call    func(c *client.Client) error
	}{
		{"Backup", []string{"admin"}, func(c *client.Client) error {
			_, err := c.Backup(ctx, io.Discard, nil)
			return err
		}},
		{"Follow", []string{"admin"}, func(c *client.Client) error {
			full, err := admin.Backup(ctx, io.Discard, nil)
			if err != nil {
				return err
			}
			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := timefencev1.NewAdminServiceClient(c.Conn()).Follow(fctx, &timefencev1.FollowRequest{After: full})
			if err == nil {
				_, err = stream.Recv()
			}
			return err
		}},
		{"ApplyEntity", []string{"admin"}, func(c *client.Client) error {
			_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}, {Name: "region", Type: tString}}})
			return err
		}},
		{"ApplyFeatureView", []string{"admin"}, func(c *client.Client) error {
			_, err := c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "stats", Entity: "user", Features: []*timefencev1.Feature{{Name: "clicks", Type: tInt64}, {Name: "score", Type: tDouble}}})
			return err
		}},
		{"CreateSplit", []string{"admin"}, func(c *client.Client) error {
			_, err := c.CreateSplit(ctx, "train", now.Add(-time.Hour), now.Add(time.Hour))
			return err
		}},
		{"ApplyDefinitions", []string{"admin"}, func(c *client.Client) error {
			_, err := c.ApplyDefinitions(ctx, "d.yaml", []byte("entities: [{name: user, join_keys: [{name: user_id, type: int64}, {name: region, type: string}]}]"))
			return err
		}},
		{"GetEntity", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).GetEntity(ctx, &timefencev1.GetEntityRequest{Name: "user"})
			return err
		}},
		{"ListEntities", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).ListEntities(ctx, &timefencev1.ListEntitiesRequest{})
			return err
		}},
		{"GetFeatureView", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).GetFeatureView(ctx, &timefencev1.GetFeatureViewRequest{Name: "stats"})
			return err
		}},
		{"ListFeatureViews", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).ListFeatureViews(ctx, &timefencev1.ListFeatureViewsRequest{})
			return err
		}},
		{"GetSplit", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).GetSplit(ctx, &timefencev1.GetSplitRequest{Name: "train"})
			return err
		}},
		{"ListSplits", []string{"admin", "writer", "reader", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewRegistryServiceClient(c.Conn()).ListSplits(ctx, &timefencev1.ListSplitsRequest{})
			return err
		}},
		{"WriteBatch", []string{"admin", "writer"}, func(c *client.Client) error {
			_, err := c.Write(ctx, "stats", []client.Row{{Key: []any{3, "eu"}, EventTime: time.Now(), Values: []any{1, 1.0}}})
			return err
		}},
		{"DoPut write", []string{"admin", "writer"}, func(c *client.Client) error {
			_, err := c.WriteTable(ctx, "stats", table())
			return err
		}},
		{"online at now", []string{"admin", "reader", "trainer"}, func(c *client.Client) error {
			_, err := c.GetOnline(ctx, []string{"stats"}, kn, keys)
			return err
		}},
		{"online as of, in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(now), client.UnderSplit("train"))
			return err
		}},
		{"historical in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.GetHistorical(ctx, "train", []string{"stats"}, spine(), nop)
			return err
		}},
		{"export in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.Export(ctx, "train", "stats", nop)
			return err
		}},
		{"serving log in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.ServingLog(ctx, "train", []string{"stats"}, nop)
			return err
		}},
		{"history status", []string{"admin", "reader"}, func(c *client.Client) error {
			_, err := c.GetHistoryStatus(ctx)
			return err
		}},
		{"skew report", []string{"admin", "reader"}, func(c *client.Client) error {
			_, err := c.SkewReport(ctx, time.Time{}, time.Time{}, 0)
			return err
		}},
		{"validation report", []string{"admin", "writer", "reader"}, func(c *client.Client) error {
			_, err := c.ValidationReport(ctx, time.Time{}, time.Time{})
			return err
		}},
		{"statistics in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewDatasetServiceClient(c.Conn()).GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "train", FeatureView: "stats"})
			return err
		}},
		{"GetManifest in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.GetManifest(ctx, datasetID)
			return err
		}},
		{"ListManifests", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := timefencev1.NewDatasetServiceClient(c.Conn()).ListManifests(ctx, &timefencev1.ListManifestsRequest{})
			return err
		}},
		{"sandbox in scope", []string{"admin", "trainer"}, func(c *client.Client) error {
			_, err := c.CreateSandbox(ctx, "train", io.Discard)
			return err
		}},
	}
	// A split outside the trainer's scope.
	_, err = admin.CreateSplit(ctx, "holdout", now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	calls = append(calls,
		struct {
			name    string
			allowed []string
			call    func(c *client.Client) error
		}{"historical out of scope", []string{"admin"}, func(c *client.Client) error {
			_, err := c.GetHistorical(ctx, "holdout", []string{"stats"}, spine(), nop)
			return err
		}},
		struct {
			name    string
			allowed []string
			call    func(c *client.Client) error
		}{"online as of, out of scope", []string{"admin"}, func(c *client.Client) error {
			_, err := c.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(now), client.UnderSplit("holdout"))
			return err
		}},
		struct {
			name    string
			allowed []string
			call    func(c *client.Client) error
		}{"statistics out of scope", []string{"admin"}, func(c *client.Client) error {
			_, err := timefencev1.NewDatasetServiceClient(c.Conn()).GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "holdout", FeatureView: "stats"})
			return err
		}},
		struct {
			name    string
			allowed []string
			call    func(c *client.Client) error
		}{"sandbox out of scope", []string{"admin"}, func(c *client.Client) error {
			_, err := c.CreateSandbox(ctx, "holdout", io.Discard)
			return err
		}},
		struct {
			name    string
			allowed []string
			call    func(c *client.Client) error
		}{"serving log out of scope", []string{"admin"}, func(c *client.Client) error {
			_, err := c.ServingLog(ctx, "holdout", []string{"stats"}, nop)
			return err
		}},
	)
	roles := map[string]*client.Client{"admin": admin, "writer": dial("writer-token"), "reader": dial("reader-token"), "trainer": dial("trainer-token")}
	for _, c := range calls {
		for role, cl := range roles {
			err := fromGRPC(c.call(cl))
			if contains(c.allowed, role) {
				require.NoError(t, err, "%s as %s", c.name, role)
			} else {
				require.ErrorIs(t, err, client.ErrPermissionDenied, "%s as %s", c.name, role)
			}
		}
		for _, anon := range []*client.Client{dial(""), dial("wrong-token")} {
			err := fromGRPC(c.call(anon))
			var ce *client.Error
			require.ErrorAs(t, err, &ce, c.name)
			require.Equal(t, codes.Unauthenticated, ce.Code, c.name)
			require.ErrorIs(t, err, client.ErrUnauthenticated, c.name)
		}
	}
	// A sandbox cut for a scoped trainer holds only the splits of its scope.
	for role, want := range map[string][]string{"admin": {"holdout", "train"}, "trainer": {"train"}} {
		info, err := roles[role].CreateSandbox(ctx, "train", io.Discard)
		require.NoError(t, err)
		require.Equal(t, want, info.GetSplits(), role)
	}
	resp, err := healthpb.NewHealthClient(dial("").Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestMutualTLS: with client certificates required, a client without one is
// refused at the handshake.
func TestMutualTLS(t *testing.T) {
	srvCert, srvPool := selfSigned(t, "server")
	cliCert, cliPool := selfSigned(t, "client")
	addr := startSecure(t, &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: cliPool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		[]server.Credential{{Name: "ops", TokenSHA256: server.HashToken("t"), Role: server.RoleAdmin}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	without, err := client.Dial(addr, client.WithTLS(&tls.Config{RootCAs: srvPool, MinVersion: tls.VersionTLS12}), client.WithToken("t"))
	require.NoError(t, err)
	defer without.Close()
	_, err = timefencev1.NewRegistryServiceClient(without.Conn()).ListSplits(ctx, &timefencev1.ListSplitsRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	with, err := client.Dial(addr, client.WithTLS(&tls.Config{RootCAs: srvPool, Certificates: []tls.Certificate{cliCert}, MinVersion: tls.VersionTLS12}), client.WithToken("t"))
	require.NoError(t, err)
	defer with.Close()
	_, err = timefencev1.NewRegistryServiceClient(with.Conn()).ListSplits(ctx, &timefencev1.ListSplitsRequest{})
	require.NoError(t, err)
}

// TestBearerSchemeIsCaseInsensitive: the scheme of the authorization header
// is matched whatever its case (RFC 7235); anything but a bearer token is
// refused.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	addr := startSecure(t, nil, []server.Credential{{Name: "ci", TokenSHA256: server.HashToken("abc"), Role: server.RoleReader}})
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	for header, want := range map[string]codes.Code{
		"Bearer abc":  codes.OK,
		"bearer abc":  codes.OK,
		"BEARER abc":  codes.OK,
		"bEaReR abc":  codes.OK,
		"Bearer  abc": codes.OK,
		"Bearer xyz":  codes.Unauthenticated,
		"Basic abc":   codes.Unauthenticated,
		"Bearerabc":   codes.Unauthenticated,
		"abc":         codes.Unauthenticated,
	} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", header)
		_, err := timefencev1.NewRegistryServiceClient(c.Conn()).ListSplits(ctx, &timefencev1.ListSplitsRequest{})
		require.Equal(t, want, status.Code(err), "authorization: %q: %v", header, err)
	}
}

// TestReflectionForAnyRole: every authenticated role may list the services
// by reflection; a call without a valid token may not.
func TestReflectionForAnyRole(t *testing.T) {
	var creds []server.Credential
	for _, r := range []server.Role{server.RoleAdmin, server.RoleWriter, server.RoleReader, server.RoleTrainer} {
		creds = append(creds, server.Credential{Name: string(r), TokenSHA256: server.HashToken(string(r) + "-token"), Role: r})
	}
	addr := startSecure(t, nil, creds)
	listServices := func(token string) ([]string, error) {
		var opts []client.DialOption
		if token != "" {
			opts = append(opts, client.WithToken(token))
		}
		c, err := client.Dial(addr, opts...)
		require.NoError(t, err)
		defer c.Close()
		stream, err := reflectionpb.NewServerReflectionClient(c.Conn()).ServerReflectionInfo(context.Background())
		require.NoError(t, err)
		err = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		if !errors.Is(err, io.EOF) { // EOF: the server ended the stream; Recv says why
			require.NoError(t, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names, nil
	}
	for _, cred := range creds {
		names, err := listServices(cred.Name + "-token")
		require.NoError(t, err, cred.Name)
		require.Contains(t, names, "timefence.v1.OnlineService", cred.Name)
	}
	for _, token := range []string{"", "wrong-token"} {
		_, err := listServices(token)
		require.Equal(t, codes.Unauthenticated, status.Code(err), "token %q: %v", token, err)
	}
}

// TestStartupLog: the server says at start whether TLS, mutual TLS and auth
// are on, with the number of credentials; durations are logged in seconds.
func TestStartupLog(t *testing.T) {
	cert, pool := selfSigned(t, "server")
	creds := []server.Credential{
		{Name: "ops", TokenSHA256: server.HashToken("a"), Role: server.RoleAdmin},
		{Name: "ci", TokenSHA256: server.HashToken("b"), Role: server.RoleWriter},
	}
	auth, err := server.NewAuth(creds)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		auth *server.Auth
		want map[string]any
	}{
		{"plain", nil, nil, map[string]any{"tls": false, "mutual_tls": false, "auth": false, "credentials": 0.0}},
		{"tls", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil,
			map[string]any{"tls": true, "mutual_tls": false, "auth": false, "credentials": 0.0}},
		{"mutual tls and auth", &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}, auth,
			map[string]any{"tls": true, "mutual_tls": true, "auth": true, "credentials": 2.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := storage.Open(testStoreOptions(t.TempDir()))
			require.NoError(t, err)
			defer st.Close()
			var logs bytes.Buffer
			cfg := server.DefaultConfig()
			cfg.Logger, cfg.TLS, cfg.Auth = slog.New(slog.NewJSONHandler(&logs, nil)), tc.tls, tc.auth
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.NoError(t, server.New(st, cfg).Serve(ctx, lis))
			records := map[string]map[string]any{}
			dec := json.NewDecoder(&logs)
			for dec.More() {
				var r map[string]any
				require.NoError(t, dec.Decode(&r))
				records[r["msg"].(string)] = r
			}
			require.Contains(t, records, "serving")
			for k, v := range tc.want {
				require.Equal(t, v, records["serving"][k], k)
			}
			require.Equal(t, cfg.StopTimeout.Seconds(), records["stopping gracefully"]["timeout_s"])
		})
	}
}
