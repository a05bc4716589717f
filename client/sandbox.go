package client

import (
	"context"
	"errors"
	"io"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// CreateSandbox writes to w a sandbox cut at split: a backup file of a store
// of its own holding the definitions, the split and every split that ends
// no later, the versions no later than the split's end, and the manifests
// recorded under those splits; nothing after the cutoff. Restore it with
// storage.Restore (`timefence sandbox create` does both) and serve it with
// `timefence serve --data DIR`, read-only. It returns what was cut.
func (c *Client) CreateSandbox(ctx context.Context, split string, w io.Writer, opts ...Option) (*timefencev1.SandboxInfo, error) {
	_, ctx, cancel, err := apply(ctx, "CreateSandbox", opts)
	if err != nil {
		return nil, err
	}
	defer cancel()
	ctx, end := context.WithCancel(ctx) // ends the stream on an early return
	defer end()
	stream, err := c.datasets.CreateSandbox(ctx, &timefencev1.CreateSandboxRequest{Split: split})
	if err != nil {
		return nil, fromStatus(err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("timefence: the sandbox stream ended without its summary")
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
