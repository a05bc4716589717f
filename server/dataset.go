package server

import (
	"context"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

var _ timefencev1.DatasetServiceServer = (*Server)(nil)

func (s *Server) GetManifest(ctx context.Context, req *timefencev1.GetManifestRequest) (*timefencev1.GetManifestResponse, error) {
	if req.GetDatasetId() == "" {
		return nil, toStatus(invalid("dataset_id: missing"))
	}
	m, err := s.store.Manifest(req.GetDatasetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkSplitScope(ctx, m.Split.Name); err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.GetManifestResponse{Manifest: fromManifest(m)}, nil
}

func (s *Server) ListManifests(ctx context.Context, req *timefencev1.ListManifestsRequest) (*timefencev1.ListManifestsResponse, error) {
	ms, err := s.store.Manifests()
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &timefencev1.ListManifestsResponse{}
	for _, m := range ms {
		if checkSplitScope(ctx, m.Split.Name) != nil {
			continue
		}
		resp.Manifests = append(resp.Manifests, fromManifest(m))
	}
	return resp, nil
}

func fromManifest(m storage.Manifest) *timefencev1.Manifest {
	out := &timefencev1.Manifest{DatasetId: m.DatasetID, Kind: m.Kind, SpineHash: m.SpineHash, Split: fromSplit(m.Split),
		Watermark: int64(m.Watermark), Options: m.Options, Rows: m.Rows, BackfilledValues: m.BackfilledValues,
		NaiveDifferences: m.NaiveDifferences, ServerVersion: m.ServerVersion, OutputChecksum: m.OutputChecksum,
		CreateTime: fromNanos(m.Created)}
	if m.MaxEventTime > 0 {
		out.MaxEventTime, out.MaxAvailableAt = fromNanos(m.MaxEventTime), fromNanos(m.MaxAvailableAt)
	}
	for _, f := range m.Features {
		out.Features = append(out.Features, &timefencev1.FeatureRef{FeatureView: f.View, Feature: f.Feature, ViewVersion: f.ViewVersion})
	}
	return out
}

// GetHistoryStatus reports each view's columnar history: no values, only
// counts and sizes, but of every version, so trainers may not call it.
func (s *Server) GetHistoryStatus(ctx context.Context, req *timefencev1.GetHistoryStatusRequest) (*timefencev1.GetHistoryStatusResponse, error) {
	resp := &timefencev1.GetHistoryStatusResponse{}
	for _, h := range s.store.HistoryStatus() {
		vh := &timefencev1.ViewHistory{FeatureView: h.View, FileRuns: int64(h.FileRuns), FileVersions: h.FileVersions,
			FileBytes: h.FileBytes, TailRuns: int64(h.TailRuns), TailVersions: h.TailVersions}
		if h.LastCompaction != 0 {
			vh.LastCompaction = fromNanos(h.LastCompaction)
		}
		resp.Views = append(resp.Views, vh)
	}
	return resp, nil
}
