package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
)

// TestServeWithTLSAndTokens runs `timefence serve` with -tls-cert, -tls-key
// and -auth-file and checks that tokens and roles are enforced end to end.
func TestServeWithTLSAndTokens(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "timefence"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile, authFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "auth.json")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	require.NoError(t, os.WriteFile(authFile, fmt.Appendf(nil, `{"credentials": [
		{"name": "ops", "token_sha256": %q, "role": "admin"},
		{"name": "app", "token_sha256": %q, "role": "reader"}]}`, server.HashToken("s3cret"), server.HashToken("r3ader")), 0o600))

	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--data", filepath.Join(dir, "data"), "--addr", addr, "--log-level", "warn",
		"--tls-cert", certFile, "--tls-key", keyFile, "--auth-file", authFile)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()

	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	dial := func(token string) *client.Client {
		c, err := client.Dial(addr, client.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), client.WithToken(token))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin, reader := dial("s3cret"), dial("r3ader")
	entity := &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = admin.ApplyEntity(ctx, entity)
		cancel()
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "server did not come up: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	_, err = reader.ApplyEntity(context.Background(), entity)
	require.ErrorIs(t, err, client.ErrPermissionDenied)
	var ce *client.Error
	_, err = dial("wrong").ApplyEntity(context.Background(), entity)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, codes.Unauthenticated, ce.Code)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
