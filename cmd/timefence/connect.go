package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/client"
)

const (
	// connectTimeout bounds how long a command waits to reach the server.
	connectTimeout = 3 * time.Second
	// callTimeout bounds one unary call; streams (write, join, export) have none.
	callTimeout = 30 * time.Second
)

// connFlags are the flags of every command that talks to a server.
type connFlags struct {
	addr, token, ca, cert, key *string
	tls                        *bool
}

// connectionFlags adds --addr, --token and the TLS flags to cmd.
func connectionFlags(cmd *cobra.Command) *connFlags {
	fs := cmd.Flags()
	f := &connFlags{
		addr:  fs.String("addr", envOr("TIMEFENCE_ADDR", defaultAddr), "server address: host:port, grpc://host:port, or grpcs://host:port for TLS (env TIMEFENCE_ADDR)"),
		token: fs.String("token", "", "bearer token for a server with auth (env TIMEFENCE_TOKEN)"),
		tls:   fs.Bool("tls", false, "connect over TLS, trusting the system's certificate authorities"),
		ca:    fs.String("tls-ca", "", "connect over TLS, trusting this PEM certificate authority"),
		cert:  fs.String("tls-cert", "", "client certificate (PEM) for mutual TLS"),
		key:   fs.String("tls-key", "", "the PEM private key of --tls-cert"),
	}
	for _, name := range []string{"addr", "token", "tls", "tls-ca", "tls-cert", "tls-key"} {
		_ = fs.SetAnnotation(name, connectionAnnotation, []string{"true"})
	}
	return f
}

// dial connects as the flags say.
func (f *connFlags) dial(ctx context.Context) (*session, error) {
	addr, useTLS, err := parseAddr(*f.addr)
	if err != nil {
		return nil, err
	}
	var opts []client.DialOption
	token := *f.token
	if token == "" {
		token = os.Getenv("TIMEFENCE_TOKEN")
	}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if useTLS || *f.tls || *f.ca != "" || *f.cert != "" || *f.key != "" {
		cfg, err := clientTLS(*f.ca)
		if err != nil {
			return nil, err
		}
		if *f.cert != "" || *f.key != "" {
			if *f.cert == "" || *f.key == "" {
				return nil, errors.New("mutual TLS needs both --tls-cert and --tls-key")
			}
			pair, err := tls.LoadX509KeyPair(*f.cert, *f.key)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	useTLS = useTLS || *f.tls || *f.ca != "" || *f.cert != ""
	return dial(ctx, addr, dialed{token: token != "", tls: useTLS, clientCert: *f.cert != ""}, opts...)
}

// clientTLS is the TLS config of a client, trusting the PEM certificate
// authority in the file ca, or the system's when ca is empty.
func clientTLS(ca string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fileError(ca, err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", ca)
	}
	return cfg, nil
}

// dialed is how a session connected, to explain its failures.
type dialed struct{ token, tls, clientCert bool }

// parseAddr splits an address given as host:port, grpc://host:port or
// grpcs://host:port (TLS) into host:port and whether to use TLS.
func parseAddr(addr string) (hostPort string, useTLS bool, err error) {
	switch {
	case strings.HasPrefix(addr, "grpcs://"):
		hostPort, useTLS = strings.TrimPrefix(addr, "grpcs://"), true
	case strings.HasPrefix(addr, "grpc://"):
		hostPort = strings.TrimPrefix(addr, "grpc://")
	case strings.Contains(addr, "://"):
		return "", false, fmt.Errorf("server address %q: the scheme must be grpc:// or grpcs://", addr)
	default:
		hostPort = addr
	}
	hostPort = strings.TrimSuffix(hostPort, "/")
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		return "", false, fmt.Errorf("invalid server address %q; expected host:port, grpc://host:port or grpcs://host:port", addr)
	}
	return hostPort, useTLS, nil
}

// session is a connection to the server that explains its errors.
type session struct {
	*client.Client
	addr string
	dialed
}

// dial connects to the server at addr and checks that it answers, so an
// unreachable server fails within seconds with one clear sentence.
func dial(ctx context.Context, addr string, how dialed, opts ...client.DialOption) (*session, error) {
	c, err := client.Dial(addr, append(opts, client.WithGRPCOptions(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.DefaultConfig, MinConnectTimeout: connectTimeout})))...)
	if err != nil {
		return nil, fmt.Errorf("invalid server address %q; expected host:port", addr)
	}
	s := &session{Client: c, addr: addr, dialed: how}
	hctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(c.Conn()).Check(hctx, &healthpb.HealthCheckRequest{})
	switch status.Code(err) {
	case codes.OK:
		if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return s, nil
		}
		c.Close()
		return nil, s.shuttingDown()
	case codes.PermissionDenied, codes.Unauthenticated:
		return s, nil
	}
	c.Close()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case status.Code(err) == codes.Unimplemented:
		return nil, fmt.Errorf("%s answers, but not as a timefence server (%s)", addr, oneLine(status.Convert(err).Message()))
	}
	return nil, s.unreachable(err)
}

func (s *session) shuttingDown() error {
	return fmt.Errorf("the server at %s is shutting down; retry once it is back", s.addr)
}

// unreachable explains a failed connection: a TLS mismatch, a missing
// client certificate, or no server, with gRPC's cause when it gave one.
func (s *session) unreachable(err error) error {
	msg := ""
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
		msg = strings.Trim(st.Message(), `"`)
	}
	has := func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(msg, p) {
				return true
			}
		}
		return false
	}
	switch {
	case has("certificate required", "bad certificate"),
		// A TLS 1.3 server refuses a missing client certificate after the
		// handshake; the client may see only the connection going away.
		s.tls && !s.clientCert && has("broken pipe", "connection reset", "EOF"):
		return fmt.Errorf("the server at %s requires a client certificate (mutual TLS); pass --tls-cert and --tls-key", s.addr)
	case has("unknown authority", "certificate is not valid", "x509:"):
		return fmt.Errorf("the server at %s has a certificate this client does not trust; pass its CA with --tls-ca", s.addr)
	case has("first record does not look like a TLS handshake"):
		return fmt.Errorf("the server at %s does not use TLS; drop --tls, --tls-ca and grpcs://", s.addr)
	case has("server preface", "EOF") && !has("connection refused"):
		return fmt.Errorf("the server at %s closed the connection; if it serves TLS, pass --tls or --tls-ca, or use grpcs://", s.addr)
	case has("GOAWAY", "draining", "shutting down", "transport is closing"):
		return s.shuttingDown()
	}
	cause := ""
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	if msg != "" {
		cause = " (" + oneLine(strings.Trim(msg, `"`)) + ")"
	}
	return fmt.Errorf("cannot reach a timefence server at %s%s; start one with 'timefence serve', or check --addr, --tls and --token", s.addr, cause)
}

// open dials the server for a verb that makes unary calls: it returns the
// session and a context bounded for them; done closes both.
func (f *connFlags) open(ctx context.Context) (s *session, cctx context.Context, done func(), err error) {
	if s, err = f.dial(ctx); err != nil {
		return nil, nil, nil, err
	}
	cctx, cancel := call(ctx)
	return s, cctx, func() { cancel(); s.Close() }, nil
}

// call returns a context for one unary call.
func call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// explain turns an error from the server into one sentence: the server's
// own message, or what a failed connection means.
func (s *session) explain(err error) error {
	e, ok := serverError(err)
	if !ok {
		return err
	}
	switch {
	case e.Code == codes.Unavailable && e.Reason == "":
		return s.unreachable(status.Error(e.Code, e.Message))
	case e.Code == codes.DeadlineExceeded && e.Reason == "":
		return fmt.Errorf("the server at %s did not answer in time", s.addr)
	case e.Code == codes.Unauthenticated && !s.token:
		return fmt.Errorf("the server at %s requires a token; pass --token or set TIMEFENCE_TOKEN", s.addr)
	case e.Code == codes.Unauthenticated:
		return fmt.Errorf("the server at %s did not accept the token (%s); check --token or TIMEFENCE_TOKEN", s.addr, oneLine(e.Message))
	case e.Code == codes.PermissionDenied:
		return fmt.Errorf("permission denied: %s", oneLine(e.Message))
	case e.Code == codes.Canceled:
		return context.Canceled
	case e.Reason == "CUTOFF_EXCEEDED" && e.Metadata["offending_rows"] != "":
		return &cutoffError{rows: e.Metadata["offending_rows"], split: e.Metadata["split"],
			cutoff: e.Metadata["cutoff"], first: e.Metadata["first_rows"]}
	}
	return errors.New(oneLine(e.Message))
}

// cutoffError is the guard's refusal of a spine with rows outside its split.
type cutoffError struct{ rows, split, cutoff, first string }

func (e *cutoffError) Error() string {
	first := ""
	if e.first != "" {
		first = fmt.Sprintf(" (first rows: %s)", strings.ReplaceAll(e.first, ",", ", "))
	}
	rows := e.rows + " spine rows lie"
	if n, err := strconv.ParseInt(e.rows, 10, 64); err == nil {
		rows = count(n) + " spine rows lie"
	}
	if e.rows == "1" {
		rows = "1 spine row lies"
	}
	return fmt.Sprintf("refused by the guard: %s outside split %q, whose cutoff is %s%s; nothing was read",
		rows, e.split, e.cutoff, first)
}

func (e *cutoffError) Is(target error) bool { return target == client.ErrCutoffExceeded }

// serverError returns err as a *client.Error, converting a raw gRPC status
// (from the generated service clients) the way the client does.
func serverError(err error) (*client.Error, bool) {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce, true
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.OK {
		return nil, false
	}
	ce = &client.Error{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			ce.Reason, ce.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return ce, true
}

// fileError explains a failure to open or read a file.
func fileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("file %s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("no permission to read %s", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read %s: %v", path, err)
}

// checkFile fails with a clear sentence unless path is a readable file.
func checkFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fileError(path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}

// unwrapPath drops the operation and path from an error of package os, for
// messages that name the file themselves.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
