package server

import (
	"bufio"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// backupChunkBytes is the size of a Backup message's chunk.
const backupChunkBytes = 1 << 20

// Backup streams a consistent backup of the store (storage.Store.Backup).
// Memory is bounded: one chunk is buffered while the next is read. The chunk
// is copied into its message, which gRPC may hold after Send returns.
func (s *Server) Backup(req *timefencev1.BackupRequest, stream timefencev1.AdminService_BackupServer) error {
	var after *storage.BackupInfo
	if a := req.GetAfter(); a != nil {
		if a.GetStoreId() == "" || a.GetNextSince() == 0 {
			return toStatus(invalid("after: the footer of an earlier backup needs store_id and next_since"))
		}
		after = &storage.BackupInfo{StoreID: a.GetStoreId(), NextSince: a.GetNextSince(), Watermark: a.GetWatermark()}
	}
	w := bufio.NewWriterSize(chunkWriter(func(b []byte) error { return stream.Send(&timefencev1.BackupResponse{Chunk: b}) }), backupChunkBytes)
	info, err := s.store.Backup(stream.Context(), w, after)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return toStatus(err)
	}
	s.cfg.Logger.Info("backup sent", "store", info.StoreID, "watermark", info.Watermark, "since", info.Since, "keys", info.Keys)
	return stream.Send(&timefencev1.BackupResponse{Info: backupInfoProto(info)})
}

// chunkWriter sends what is written to it as the chunks of a file's stream;
// the function sends one chunk, a copy of the bytes written.
type chunkWriter func(chunk []byte) error

func (send chunkWriter) Write(p []byte) (int, error) {
	if err := send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func backupInfoProto(i storage.BackupInfo) *timefencev1.BackupInfo {
	return &timefencev1.BackupInfo{StoreId: i.StoreID, Since: i.Since, SinceWatermark: i.SinceWatermark, NextSince: i.NextSince,
		Watermark: i.Watermark, Keys: i.Keys, Deletes: i.Deletes, Created: fromNanos(i.Created)}
}
