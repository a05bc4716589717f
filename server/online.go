package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// maxOnlineValues bounds entity rows × features of one online request.
const maxOnlineValues = 1 << 20

var statusToProto = [...]timefencev1.FeatureStatus{
	storage.NotFound: timefencev1.FeatureStatus_FEATURE_STATUS_NOT_FOUND,
	storage.Present:  timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT,
	storage.Stale:    timefencev1.FeatureStatus_FEATURE_STATUS_STALE,
}

func (s *Server) GetOnlineFeatures(ctx context.Context, req *timefencev1.GetOnlineFeaturesRequest) (*timefencev1.GetOnlineFeaturesResponse, error) {
	reads, names, err := s.resolveFeatures(req.GetFeatures(), nil)
	if err != nil {
		return nil, toStatus(err)
	}
	rows := req.GetEntityRows()
	if len(rows) == 0 {
		return nil, toStatus(invalid("entity_rows: at least one entity row is required"))
	}
	if len(rows)*len(names) > maxOnlineValues {
		return nil, toStatus(invalid(fmt.Sprintf("entity_rows: %d rows × %d features exceeds %d values; split the request", len(rows), len(names), maxOnlineValues)))
	}
	if err := bindKeys(reads, req.GetJoinKeys(), "join_keys"); err != nil {
		return nil, toStatus(err)
	}
	at, watermark, err := s.onlineTime(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &timefencev1.GetOnlineFeaturesResponse{Features: names, Rows: make([]*timefencev1.FeatureRow, len(rows)),
		ReadTime: fromNanos(at), Watermark: int64(watermark)}
	for i := range resp.Rows {
		resp.Rows[i] = &timefencev1.FeatureRow{Values: make([]*timefencev1.FeatureValue, len(names))}
	}
	nkeys := len(req.GetJoinKeys())
	for _, vr := range reads {
		keys := make([][]byte, len(rows))
		key := make([]storage.Value, len(vr.keyCols))
		for i, r := range rows {
			if len(r.GetValues()) != nkeys {
				return nil, toStatus(invalid(fmt.Sprintf("entity_rows[%d]: %d values, want %d (one per join key)", i, len(r.GetValues()), nkeys)))
			}
			for j, c := range vr.keyCols {
				key[j] = toValue(r.GetValues()[c])
			}
			if keys[i], err = vr.proj.View.EncodeKey(key); err != nil {
				return nil, toStatus(fmt.Errorf("entity_rows[%d]: %w", i, err))
			}
		}
		results, err := s.store.Lookup(ctx, storage.Query{Proj: vr.proj, Keys: keys, Bounds: []storage.Bounds{storage.At(at)}, Watermark: watermark})
		if err != nil {
			return nil, toStatus(err)
		}
		for i, res := range results {
			var et = fromNanosIf(res.Status != storage.NotFound, res.EventTime)
			for j, col := range vr.cols {
				fv := &timefencev1.FeatureValue{Status: statusToProto[res.Status], EventTime: et}
				if res.Status == storage.Present {
					fv.Value = fromValue(res.Values[j])
				}
				resp.Rows[i].Values[col] = fv
			}
		}
	}
	return resp, nil
}

// onlineTime returns the read time and watermark: now, or as_of under a split.
func (s *Server) onlineTime(ctx context.Context, req *timefencev1.GetOnlineFeaturesRequest) (int64, uint64, error) {
	if req.GetAsOf() == nil {
		if req.GetSplit() != "" {
			return 0, 0, invalid("split: only used with as_of; an online read at now needs no split")
		}
		at, w := s.store.ReadTime()
		return at, w, nil
	}
	at, err := toNanos(req.GetAsOf(), "as_of")
	if err != nil {
		return 0, 0, err
	}
	sp, err := s.splitFor(ctx, req.GetSplit())
	if err != nil {
		return 0, 0, err
	}
	if err := checkWindow(sp, 1, func(int) int64 { return at }); err != nil {
		return 0, 0, err
	}
	return at, s.store.Watermark(), nil
}

func fromNanosIf(ok bool, ns int64) *timestamppb.Timestamp {
	if !ok {
		return nil
	}
	return fromNanos(ns)
}
