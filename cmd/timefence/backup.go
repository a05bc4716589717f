package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"

	"github.com/spf13/cobra"
)

func backupCmd() *cobra.Command {
	cmd := verb("backup [flags] FILE", "write a backup of a running server's store, full or incremental",
		`Writes a consistent backup of a running server's store to FILE, while it
keeps serving. With --after, the backup is incremental: it holds only what
changed since that earlier backup. Restore a full backup and the incremental
ones after it, in order, with 'timefence restore'. Needs an admin credential
when auth is on.`,
		"timefence backup full.tfbackup", "timefence backup --after full.tfbackup inc1.tfbackup")
	cmd.Args = exactArgs(1, "expected one FILE to write")
	conn := connectionFlags(cmd)
	afterPath := cmd.Flags().String("after", "", "an earlier backup file: write an incremental backup of what changed since it")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		out := pos[0]
		var after *timefencev1.BackupInfo
		if *afterPath != "" {
			prev, err := storage.ReadBackupInfo(*afterPath)
			if err != nil {
				return err
			}
			after = &timefencev1.BackupInfo{StoreId: prev.StoreID, NextSince: prev.NextSince, Watermark: prev.Watermark}
		}
		if _, err := os.Stat(out); err == nil {
			return fmt.Errorf("%s exists; backups are never overwritten", out)
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		// The file appears under its name only once it is whole and checked.
		tmp := out + ".partial"
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		info, err := s.Backup(ctx, f, after)
		if err != nil {
			f.Close()
			return s.explain(err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if _, err := storage.ReadBackupInfo(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, out); err != nil {
			return err
		}
		kind := "full backup"
		if after != nil {
			kind = "incremental backup"
		}
		fmt.Fprintf(stdout, "wrote %s %s of store %s: %s, watermark %d\n", kind, out, info.GetStoreId(), plural(info.GetKeys(), "key"), info.GetWatermark())
		return nil
	}
	return cmd
}

func restoreCmd() *cobra.Command {
	cmd := verb("restore --data NEW_DIR FILE...", "restore backups into a new data directory",
		`Restores a store into a new data directory from a full backup and the
incremental backups after it, in the order they were taken. Every file is
checked whole first, and the chain must be unbroken. Then the restored store
is opened and verified; start a server on it with 'timefence serve --data'.`,
		"timefence restore --data /srv/timefence-restored full.tfbackup inc1.tfbackup")
	dir := cmd.Flags().String("data", "", "the new data directory (must not exist or be empty)")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		stdout := cmd.OutOrStdout()
		if *dir == "" || len(pos) == 0 {
			return usageError("restore", "expected --data NEW_DIR and at least one backup FILE")
		}
		info, err := storage.Restore(*dir, pos)
		if err != nil {
			return err
		}
		rep, err := verifyDir(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored store %s into %s from %s: watermark %d, %s, %s\n",
			info.StoreID, *dir, plural(int64(len(pos)), "backup"), info.Watermark, plural(rep.Versions, "version"), plural(int64(rep.Manifests), "dataset"))
		return reportProblems(stdout, rep)
	}
	return cmd
}

func verifyCmd() *cobra.Command {
	cmd := verb("verify [--data DIR]", "check a data directory offline: checksums, keys, registry, watermark",
		`Checks a data directory offline, with the server stopped: every table
checksum, the write-ahead log against the record of acknowledged writes,
every run file, every key and value, the registry, the manifests and the
watermark. It opens the store as a server start does, with the same
recoveries (none of which drop data) and the same refusals, then reads all
of it. Exits non-zero when anything is wrong, and says what.`,
		"timefence verify", "timefence verify --data /srv/timefence")
	cmd.Args = noArgs
	dir := cmd.Flags().String("data", defaultDataDir(), "data directory (env TIMEFENCE_DATA)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if ents, err := os.ReadDir(*dir); err != nil {
			return err
		} else if len(ents) == 0 {
			return fmt.Errorf("%s is empty: there is no store to verify", *dir)
		}
		rep, err := verifyDir(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s in %s, %s, %s, %s\n", *dir, plural(rep.Versions, "version"), plural(int64(rep.Views), "feature view"),
			plural(int64(rep.RunFiles), "run file"), plural(int64(rep.Manifests), "dataset"), plural(rep.Keys, "key"))
		return reportProblems(stdout, rep)
	}
	return cmd
}

// verifyDir opens the store in dir, runs Verify and closes it.
func verifyDir(dir string) (storage.VerifyReport, error) {
	st, err := storage.Open(storage.DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return storage.VerifyReport{}, err
	}
	rep, err := st.Verify(context.Background())
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return rep, err
}

func reportProblems(w io.Writer, rep storage.VerifyReport) error {
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "ok: no problems found")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	return fmt.Errorf("%s found", plural(int64(len(rep.Problems)), "problem"))
}
