package client

import (
	"context"
	"errors"
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
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("timefence: the backup stream ended without its footer")
		} else if err != nil {
			return nil, fromStatus(err)
		}
		if len(msg.GetChunk()) > 0 {
			if _, err := w.Write(msg.GetChunk()); err != nil {
				return nil, err
			}
		}
		if info := msg.GetInfo(); info != nil {
			return info, nil
		}
	}
}
