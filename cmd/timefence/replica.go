package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/storage"
)

// replicaFlags are serve's flags of a read replica.
type replicaFlags struct{ of, token, ca *string }

func addReplicaFlags(fs *pflag.FlagSet) *replicaFlags {
	return &replicaFlags{
		of:    fs.String("replica-of", "", "serve as a read replica of the primary at this address (host:port, grpc:// or grpcs://): copy its store into an empty --data, then apply its changes as they come; writes are refused (see docs/replicas.md)"),
		token: fs.String("replica-token", "", "an admin bearer token of the primary, for a primary with auth (env TIMEFENCE_REPLICA_TOKEN)"),
		ca:    fs.String("replica-tls-ca", "", "reach the primary over TLS, trusting this PEM certificate authority"),
	}
}

// dial connects to the primary; with check, it also makes sure the primary
// answers, for the first copy of its store.
func (f *replicaFlags) dial(ctx context.Context, check bool) (*client.Client, error) {
	addr, useTLS, err := parseAddr(*f.of)
	if err != nil {
		return nil, fmt.Errorf("--replica-of: %w", err)
	}
	var opts []client.DialOption
	token := *f.token
	if token == "" {
		token = os.Getenv("TIMEFENCE_REPLICA_TOKEN")
	}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if useTLS || *f.ca != "" {
		cfg, err := clientTLS(*f.ca)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	if !check {
		return client.Dial(addr, opts...)
	}
	s, err := dial(ctx, addr, dialed{token: token != "", tls: useTLS || *f.ca != ""}, opts...)
	if err != nil {
		return nil, fmt.Errorf("--replica-of: %w", err)
	}
	return s.Client, nil
}

// prepareReplica makes dir a replica of the primary when it holds no store
// yet: it copies a full backup of the primary's store and restores it. A
// directory that holds a store must hold a replica.
func prepareReplica(ctx context.Context, f *replicaFlags, dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(ents) > 0 {
		return nil // Open says whether it is a replica
	}
	c, err := f.dial(ctx, true)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return err
	}
	tmp := filepath.Clean(dir) + ".full.tfbackup"
	file, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	log.Info("replica: copying the primary's store", "primary", *f.of)
	_, err = c.Backup(ctx, file, nil)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--replica-of: copying the primary's store: %w", err)
	}
	info, err := storage.InitReplica(dir, tmp)
	if err != nil {
		return err
	}
	log.Info("replica: copied the primary's store", "store", info.StoreID, "watermark", info.Watermark, "keys", info.Keys)
	return nil
}

func promoteCmd() *cobra.Command {
	cmd := verb("promote --data DIR", "make a stopped read replica an ordinary store that takes writes",
		`Turns the read replica in DIR into an ordinary store, to replace a primary
that is gone. Stop the primary for good and the replica's server first;
then start 'timefence serve --data DIR' and send writes there. The store
keeps its id, and its sequence numbers and commit times go on from the
last change the replica applied. See docs/replicas.md.`,
		"timefence promote --data /srv/timefence-replica")
	cmd.Args = noArgs
	dir := cmd.Flags().String("data", "", "the replica's data directory (its server stopped)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *dir == "" {
			return usageError("promote", "expected --data DIR")
		}
		info, err := storage.Promote(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "promoted %s: store %s takes writes from watermark %d on; start it with 'timefence serve --data %s'\n",
			*dir, info.StoreID, info.Watermark, *dir)
		return nil
	}
	return cmd
}
