package client

import (
	"context"
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/grpcbuf"
)

// Client talks to one timefence server. It is safe for concurrent use.
type Client struct {
	conn     *grpc.ClientConn
	registry timefencev1.RegistryServiceClient
	online   timefencev1.OnlineServiceClient
	datasets timefencev1.DatasetServiceClient
	logs     timefencev1.ServingLogServiceClient
	admin    timefencev1.AdminServiceClient
}

type dialConfig struct {
	tls   *tls.Config
	token string
	extra []grpc.DialOption
}

// DialOption configures Dial.
type DialOption func(*dialConfig)

// WithTLS connects over TLS with cfg. Without it the connection is plaintext.
func WithTLS(cfg *tls.Config) DialOption { return func(c *dialConfig) { c.tls = cfg } }

// WithToken sends token as a bearer token on every call.
func WithToken(token string) DialOption { return func(c *dialConfig) { c.token = token } }

// WithGRPCOptions adds raw gRPC dial options.
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(c *dialConfig) { c.extra = append(c.extra, opts...) }
}

// Dial connects to the server at target ("host:port"). The connection is
// made lazily; the first call reports an unreachable server.
func Dial(target string, opts ...DialOption) (*Client, error) {
	var cfg dialConfig
	for _, o := range opts {
		o(&cfg)
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20),
			grpc.ForceCodecV2(grpcbuf.NewCodec())),
		experimental.WithBufferPool(grpcbuf.Receive),
	}
	if cfg.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer{token: cfg.token, secure: cfg.tls != nil}))
	}
	conn, err := grpc.NewClient(target, append(dopts, cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("timefence: dial %s: %w", target, err)
	}
	return &Client{
		conn:     conn,
		registry: timefencev1.NewRegistryServiceClient(conn),
		online:   timefencev1.NewOnlineServiceClient(conn),
		datasets: timefencev1.NewDatasetServiceClient(conn),
		logs:     timefencev1.NewServingLogServiceClient(conn),
		admin:    timefencev1.NewAdminServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the underlying connection, e.g. for a raw gRPC or Arrow
// Flight client.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// unary runs one unary call of method with the time options of opts (and
// no other), converting its error.
func unary[Resp any](ctx context.Context, method string, opts []Option, call func(context.Context) (Resp, error)) (Resp, error) {
	_, ctx, cancel, err := apply(ctx, method, opts)
	if err != nil {
		var zero Resp
		return zero, err
	}
	defer cancel()
	resp, err := call(ctx)
	return resp, fromStatus(err)
}
