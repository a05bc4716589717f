package server

import (
	"context"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

func (s *Server) ApplyEntity(ctx context.Context, req *timefencev1.ApplyEntityRequest) (*timefencev1.ApplyEntityResponse, error) {
	e, err := toEntity(req.GetEntity())
	if err != nil {
		return nil, toStatus(err)
	}
	got, changed, err := s.store.ApplyEntity(e)
	if err != nil {
		return nil, toStatus(err)
	}
	if changed {
		s.log.Info("entity applied", "entity", got.Name, "version", got.Version)
	}
	return &timefencev1.ApplyEntityResponse{Entity: fromEntity(got), Changed: changed}, nil
}

func (s *Server) GetEntity(ctx context.Context, req *timefencev1.GetEntityRequest) (*timefencev1.GetEntityResponse, error) {
	e, err := s.store.Entity(req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.GetEntityResponse{Entity: fromEntity(e)}, nil
}

func (s *Server) ListEntities(ctx context.Context, req *timefencev1.ListEntitiesRequest) (*timefencev1.ListEntitiesResponse, error) {
	resp := &timefencev1.ListEntitiesResponse{}
	for _, e := range s.store.Entities() {
		resp.Entities = append(resp.Entities, fromEntity(e))
	}
	return resp, nil
}

func (s *Server) ApplyFeatureView(ctx context.Context, req *timefencev1.ApplyFeatureViewRequest) (*timefencev1.ApplyFeatureViewResponse, error) {
	v, err := toView(req.GetFeatureView())
	if err != nil {
		return nil, toStatus(err)
	}
	got, changed, err := s.store.ApplyView(v)
	if err != nil {
		return nil, toStatus(err)
	}
	if changed {
		s.log.Info("feature view applied", "view", got.Name, "version", got.Version)
	}
	return &timefencev1.ApplyFeatureViewResponse{FeatureView: fromView(got), Changed: changed}, nil
}

func (s *Server) GetFeatureView(ctx context.Context, req *timefencev1.GetFeatureViewRequest) (*timefencev1.GetFeatureViewResponse, error) {
	v, err := s.store.View(req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.GetFeatureViewResponse{FeatureView: fromView(v)}, nil
}

func (s *Server) ListFeatureViews(ctx context.Context, req *timefencev1.ListFeatureViewsRequest) (*timefencev1.ListFeatureViewsResponse, error) {
	resp := &timefencev1.ListFeatureViewsResponse{}
	for _, v := range s.store.Views() {
		resp.FeatureViews = append(resp.FeatureViews, fromView(v))
	}
	return resp, nil
}

func (s *Server) CreateSplit(ctx context.Context, req *timefencev1.CreateSplitRequest) (*timefencev1.CreateSplitResponse, error) {
	sp, err := toSplit(req.GetSplit())
	if err != nil {
		return nil, toStatus(err)
	}
	got, created, err := s.store.CreateSplit(sp)
	if err != nil {
		return nil, toStatus(err)
	}
	if created {
		s.log.Info("split created", "split", got.Name, "start", got.Start, "end", got.End)
	}
	return &timefencev1.CreateSplitResponse{Split: fromSplit(got), Created: created}, nil
}

func (s *Server) GetSplit(ctx context.Context, req *timefencev1.GetSplitRequest) (*timefencev1.GetSplitResponse, error) {
	sp, err := s.store.Split(req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.GetSplitResponse{Split: fromSplit(sp)}, nil
}

func (s *Server) ListSplits(ctx context.Context, req *timefencev1.ListSplitsRequest) (*timefencev1.ListSplitsResponse, error) {
	resp := &timefencev1.ListSplitsResponse{}
	for _, sp := range s.store.Splits() {
		resp.Splits = append(resp.Splits, fromSplit(sp))
	}
	return resp, nil
}
