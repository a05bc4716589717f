package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/timefence/timefence/server"
)

func tokenCmd() *cobra.Command {
	cmd := verb("token", "create bearer tokens for a server with auth",
		`Tokens authenticate calls to a server started with --auth-file. The file
keeps only each token's SHA-256, never the token (docs/auth.md).`,
		"timefence token create --name etl --role writer --add-to auth.json")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("token", "unknown subcommand %q; expected create", args[0])
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Usage()
		return usageError("token", "expected a subcommand: create")
	}
	cmd.AddCommand(tokenCreateCmd())
	return cmd
}

func tokenCreateCmd() *cobra.Command {
	cmd := verb("create --name NAME --role ROLE [--split S ...] [--add-to FILE]", "make a new token and its auth-file entry",
		`Makes a new random token and prints it once, on stdout; it cannot be shown
again. The credential entry for the server's auth file (its name, role,
splits and the token's SHA-256) goes to stderr, or with --add-to straight
into that file, which is created when missing. Restart the server for it to
take effect. Roles: admin, writer, reader, trainer; --split scopes a
trainer to splits.`,
		"timefence token create --name etl --role writer --add-to auth.json",
		"TOKEN=$(timefence token create --name nightly --role trainer --split train 2>/dev/null)")
	cmd.Args = noArgs
	fs := cmd.Flags()
	var cred server.Credential
	fs.StringVar(&cred.Name, "name", "", "the credential's name, shown in logs and refusals (required)")
	role := fs.String("role", "", "admin, writer, reader or trainer (required)")
	fs.StringSliceVar(&cred.Splits, "split", nil, "scope a trainer to this split; repeat or separate with commas")
	addTo := fs.String("add-to", "", "add the entry to this auth file instead of printing it")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(
		[]string{"admin", "writer", "reader", "trainer"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if cred.Name == "" || *role == "" {
			return usageError("token create", "--name and --role are required")
		}
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		token := "tf_" + base64.RawURLEncoding.EncodeToString(secret)
		cred.Role, cred.TokenSHA256 = server.Role(*role), server.HashToken(token)
		if _, err := server.NewAuth([]server.Credential{cred}); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "credentials[0] "))
		}
		if *addTo != "" {
			if err := addCredential(*addTo, cred); err != nil {
				return err
			}
		}
		fmt.Fprintln(cmd.OutOrStdout(), token)
		stderr := cmd.ErrOrStderr()
		if *addTo != "" {
			fmt.Fprintf(stderr, "added credential %q (%s) to %s; the token above is shown only once\n", cred.Name, cred.Role, *addTo)
			return nil
		}
		entry, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "the token above is shown only once; add this entry to the \"credentials\" of the server's auth file:\n%s\n", entry)
		return nil
	}
	return cmd
}

// authFile is the JSON file of a server's credentials.
type authFile struct {
	Credentials []server.Credential `json:"credentials"`
}

// addCredential adds cred to the auth file at path, creating it when
// missing, and refuses a name already there. The file is replaced whole.
func addCredential(path string, cred server.Credential) error {
	var f authFile
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fileError(path, err)
	default:
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("%s is not an auth file: %v", path, err)
		}
	}
	for _, c := range f.Credentials {
		if c.Name == cred.Name {
			return fmt.Errorf("%s already has a credential named %q; pick another --name", path, cred.Name)
		}
	}
	f.Credentials = append(f.Credentials, cred)
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".auth-*.json")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, unwrapPath(err))
	}
	return os.Rename(tmp.Name(), path)
}
