package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Role is what a credential may do.
type Role string

// Roles. Deny by default: a call no rule allows is refused.
const (
	// RoleAdmin may do everything: registry, splits, writes, every read.
	RoleAdmin Role = "admin"
	// RoleWriter writes feature values and reads the registry.
	RoleWriter Role = "writer"
	// RoleReader reads online at now and reads the registry.
	RoleReader Role = "reader"
	// RoleTrainer reads online at now and runs training-side reads
	// (historical joins, as-of reads, exports, statistics, manifests) under
	// its splits only, or under every split when it names none.
	RoleTrainer Role = "trainer"
)

// Credential is one bearer token with its role and split scope.
type Credential struct {
	Name string `json:"name"`
	// TokenSHA256 is the lowercase hex SHA-256 of the token's bytes (see
	// HashToken); the token itself is never stored.
	TokenSHA256 string `json:"token_sha256"`
	Role        Role   `json:"role"`
	// Splits scopes a trainer to these splits.
	Splits []string `json:"splits,omitempty"`
}

// Auth holds the credentials a server accepts. A nil *Auth disables auth.
type Auth struct {
	creds []Credential
	hash  [][]byte
}

// NewAuth checks the credentials and returns an Auth.
func NewAuth(creds []Credential) (*Auth, error) {
	a := &Auth{}
	for i, c := range creds {
		h, err := hex.DecodeString(c.TokenSHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("credentials[%d] (%s): token_sha256 must be 64 hex digits", i, c.Name)
		}
		switch c.Role {
		case RoleAdmin, RoleWriter, RoleReader, RoleTrainer:
		default:
			return nil, fmt.Errorf("credentials[%d] (%s): role %q: expected admin, writer, reader or trainer", i, c.Name, c.Role)
		}
		if len(c.Splits) > 0 && c.Role != RoleTrainer {
			return nil, fmt.Errorf("credentials[%d] (%s): only a trainer is scoped to splits", i, c.Name)
		}
		a.creds, a.hash = append(a.creds, c), append(a.hash, h)
	}
	if len(a.creds) == 0 {
		return nil, fmt.Errorf("auth: no credentials")
	}
	return a, nil
}

// LoadAuth reads credentials from a JSON file: {"credentials": [...]}.
func LoadAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Credentials []Credential `json:"credentials"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	a, err := NewAuth(f.Credentials)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// HashToken returns the hex SHA-256 of a token, as Credential.TokenSHA256 wants it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// count returns the number of credentials; 0 for a nil *Auth.
func (a *Auth) count() int {
	if a == nil {
		return 0
	}
	return len(a.creds)
}

func (a *Auth) lookup(token string) (*Credential, bool) {
	h := sha256.Sum256([]byte(token))
	for i := range a.creds {
		if subtle.ConstantTimeCompare(h[:], a.hash[i]) == 1 {
			return &a.creds[i], true
		}
	}
	return nil, false
}

// methodRoles lists the roles allowed per method. Methods not listed are
// for admins only; health checks need no credential.
var methodRoles = map[string][]Role{
	"/timefence.v1.RegistryService/GetEntity":        {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.RegistryService/ListEntities":     {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.RegistryService/GetFeatureView":   {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.RegistryService/ListFeatureViews": {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.RegistryService/GetSplit":         {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.RegistryService/ListSplits":       {RoleWriter, RoleReader, RoleTrainer},
	"/timefence.v1.WriteService/WriteBatch":          {RoleWriter},
	"/timefence.v1.OnlineService/GetOnlineFeatures":  {RoleReader, RoleTrainer},
	"/timefence.v1.DatasetService/GetManifest":       {RoleTrainer},
	"/timefence.v1.DatasetService/ListManifests":     {RoleTrainer},
	// Counts of every version, after any cutoff too: not for trainers,
	// whose reads are bounded by their splits.
	"/timefence.v1.DatasetService/GetHistoryStatus":  {RoleReader},
	"/timefence.v1.DatasetService/GetStatistics":     {RoleTrainer},
	"/timefence.v1.DatasetService/CompareStatistics": {RoleTrainer},
	// Replays logged lookups at their read times with every version the
	// store holds, after any cutoff too: not for trainers.
	"/timefence.v1.ServingLogService/GetSkewReport": {RoleReader},
	// Validation events describe writes, after any cutoff too, with some of
	// their values: for writers and readers, not for trainers.
	"/timefence.v1.DatasetService/GetValidationReport": {RoleWriter, RoleReader},
	// A sandbox holds what exports under its split hold, and the definitions.
	"/timefence.v1.DatasetService/CreateSandbox": {RoleTrainer},
	"/arrow.flight.protocol.FlightService/DoPut": {RoleWriter},
	"/arrow.flight.protocol.FlightService/DoGet": {RoleTrainer},
	// DoExchange carries historical joins; the split scope is checked inside.
	"/arrow.flight.protocol.FlightService/DoExchange": {RoleTrainer},
	// Reflection describes the API, which every role may call some of.
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {RoleWriter, RoleReader, RoleTrainer},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {RoleWriter, RoleReader, RoleTrainer},
}

var openMethods = []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch", "/grpc.health.v1.Health/List"}

type credentialKey struct{}

// authorize finds the call's credential and checks the method against its role.
func (a *Auth) authorize(ctx context.Context, method string) (context.Context, error) {
	if slices.Contains(openMethods, method) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	if v := md.Get("authorization"); len(v) == 1 {
		token = bearerToken(v[0])
	}
	if token == "" {
		return nil, &requestError{code: codes.Unauthenticated, reason: ReasonUnauthenticated,
			msg: "missing credential: send \"authorization: Bearer <token>\""}
	}
	cred, ok := a.lookup(token)
	if !ok {
		return nil, &requestError{code: codes.Unauthenticated, reason: ReasonUnauthenticated, msg: "unknown credential"}
	}
	if cred.Role != RoleAdmin && !slices.Contains(methodRoles[method], cred.Role) {
		return nil, &requestError{code: codes.PermissionDenied, reason: ReasonPermissionDenied,
			msg: fmt.Sprintf("credential %q (%s) may not call %s", cred.Name, cred.Role, method)}
	}
	return context.WithValue(ctx, credentialKey{}, cred), nil
}

// bearerToken returns the token of an authorization header value of the
// bearer scheme, or "". The scheme is matched case-insensitively (RFC 7235).
func bearerToken(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimLeft(token, " ")
}

// checkSplitScope refuses a training-side read under a split the caller's
// credential does not cover. Without auth every split is allowed.
func checkSplitScope(ctx context.Context, split string) error {
	cred, ok := ctx.Value(credentialKey{}).(*Credential)
	if !ok || cred.Role == RoleAdmin {
		return nil
	}
	if cred.Role != RoleTrainer {
		return &requestError{code: codes.PermissionDenied, reason: ReasonPermissionDenied,
			msg: fmt.Sprintf("credential %q (%s) may read online at now only; training-side reads need a trainer credential", cred.Name, cred.Role)}
	}
	if len(cred.Splits) > 0 && !slices.Contains(cred.Splits, split) {
		return &requestError{code: codes.PermissionDenied, reason: ReasonPermissionDenied,
			msg: fmt.Sprintf("credential %q is scoped to splits [%s], not %q", cred.Name, strings.Join(cred.Splits, ", "), split)}
	}
	return nil
}

func (s *Server) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.cfg.Auth.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, toStatus(err)
	}
	return h(ctx, req)
}

func (s *Server) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.cfg.Auth.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return toStatus(err)
	}
	return h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }
