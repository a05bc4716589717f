package server

import (
	"bufio"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// CreateSandbox streams a sandbox cut at a split (storage.Store.Sandbox): a
// training-side read of the split, bounded as joins and exports are.
func (s *Server) CreateSandbox(req *timefencev1.CreateSandboxRequest, stream timefencev1.DatasetService_CreateSandboxServer) error {
	ctx := stream.Context()
	if _, err := s.splitFor(ctx, req.GetSplit()); err != nil {
		return toStatus(err)
	}
	leave, err := s.work.enter(ctx, nil)
	if err != nil {
		return toStatus(err)
	}
	defer leave()
	w := bufio.NewWriterSize(chunkWriter(func(b []byte) error { return stream.Send(&timefencev1.CreateSandboxResponse{Chunk: b}) }), backupChunkBytes)
	// A credential scoped to some splits gets only those.
	inScope := func(split string) bool { return checkSplitScope(ctx, split) == nil }
	info, err := s.store.Sandbox(ctx, w, req.GetSplit(), inScope)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return toStatus(err)
	}
	s.cfg.Logger.Info("sandbox sent", "split", info.Split.Name, "watermark", info.Watermark, "versions", info.Versions, "left_out", info.LeftOut)
	return stream.Send(&timefencev1.CreateSandboxResponse{Info: sandboxInfoProto(info)})
}

func sandboxInfoProto(i storage.SandboxInfo) *timefencev1.SandboxInfo {
	return &timefencev1.SandboxInfo{Split: fromSplit(i.Split), Splits: i.Splits, SourceStoreId: i.SourceID, Watermark: i.Watermark,
		Versions: i.Versions, LeftOut: i.LeftOut, Manifests: i.Manifests, Created: fromNanos(i.Created)}
}
