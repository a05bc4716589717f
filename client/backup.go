package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// Backup writes a consistent backup of the store to w while the server
// keeps serving: a full backup when after is nil, else an incremental one
// holding what changed since the backup after describes (the footer of that
// file, see storage.ReadBackupInfo). It returns the new backup's footer.
// The call needs an admin credential when auth is on.
func (c *Client) Backup(ctx context.Context, w io.Writer, after *timefencev1.BackupInfo, opts ...Option) (*timefencev1.BackupInfo, error) {
	_, ctx, cancel, err := apply(ctx, "Backup", opts)
	if err != nil {
		return nil, err
	}
	defer cancel()
	ctx, end := context.WithCancel(ctx) // ends the stream on an early return
	defer end()
	stream, err := c.admin.Backup(ctx, &timefencev1.BackupRequest{After: after})
	if err != nil {
		return nil, fromStatus(err)
	}
	return receiveFile(stream.Recv, w, "backup", func(m *timefencev1.BackupResponse) ([]byte, *timefencev1.BackupInfo) {
		return m.GetChunk(), m.GetInfo()
	})
}

// receiveFile writes the chunks of a stream carrying a file to w, and
// returns the summary its last message carries; parts splits a message.
func receiveFile[M, I any](recv func() (M, error), w io.Writer, what string, parts func(M) ([]byte, *I)) (*I, error) {
	for {
		msg, err := recv()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("timefence: the %s stream ended without its summary", what)
		} else if err != nil {
			return nil, fromStatus(err)
		}
		chunk, info := parts(msg)
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return nil, err
			}
		}
		if info != nil {
			return info, nil
		}
	}
}
