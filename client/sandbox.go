package client

import (
	"context"
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
	return receiveFile(stream.Recv, w, "sandbox", func(m *timefencev1.CreateSandboxResponse) ([]byte, *timefencev1.SandboxInfo) {
		return m.GetChunk(), m.GetInfo()
	})
}
