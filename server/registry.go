package server

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/definitions"
	"github.com/timefence/timefence/storage"
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

// ApplyDefinitions applies a definitions file, or definitions as messages,
// all or nothing (storage.ApplyDefinitions), and returns the plan.
func (s *Server) ApplyDefinitions(ctx context.Context, req *timefencev1.ApplyDefinitionsRequest) (*timefencev1.ApplyDefinitionsResponse, error) {
	defs, where, err := definitionsOf(req)
	if err != nil {
		return nil, toStatus(err)
	}
	plan, err := s.store.ApplyDefinitions(defs, req.GetDryRun())
	resp := &timefencev1.ApplyDefinitionsResponse{}
	var problems []string
	var first *status.Status
	for _, c := range plan {
		pc := &timefencev1.PlannedChange{Kind: c.Kind, Name: c.Name, Action: string(c.Action), Version: c.Version,
			Location: where[c.Kind][c.Index]}
		switch {
		case c.Entity != nil:
			pc.Definition = &timefencev1.PlannedChange_Entity{Entity: fromEntity(*c.Entity)}
		case c.View != nil:
			pc.Definition = &timefencev1.PlannedChange_FeatureView{FeatureView: fromView(c.View)}
		case c.Split != nil:
			pc.Definition = &timefencev1.PlannedChange_Split{Split: fromSplit(*c.Split)}
		}
		if c.Err != nil {
			st := status.Convert(toStatus(c.Err))
			pc.Problem, pc.Reason = st.Message(), reasonOf(st)
			problems = append(problems, pc.Location+": "+pc.Problem)
			if first == nil {
				first = st
			}
		}
		resp.Changes = append(resp.Changes, pc)
	}
	switch {
	case err != nil && first == nil: // the commit failed
		return nil, toStatus(err)
	case err != nil:
		msg := strings.Join(problems, "; ")
		if len(problems) > 1 {
			msg = fmt.Sprintf("%d definitions refused: %s", len(problems), msg)
		}
		return nil, toStatus(&requestError{code: first.Code(), reason: reasonOf(first), msg: msg + "; nothing was applied"})
	}
	resp.Applied = !req.GetDryRun() && len(problems) == 0
	if resp.Applied {
		for _, c := range resp.Changes {
			if c.Action != string(storage.Unchanged) {
				s.log.Info("definition applied", "kind", c.Kind, "name", c.Name, "action", c.Action, "version", c.Version)
			}
		}
	}
	return resp, nil
}

// maxDefinitionsBytes bounds a definitions file: parsed, it takes several
// times its size in memory.
const maxDefinitionsBytes = 4 << 20

// definitionsOf converts the definitions of req, from its YAML or its
// messages, and says where each is: locations by kind, in order.
func definitionsOf(req *timefencev1.ApplyDefinitionsRequest) (storage.Definitions, map[string][]string, error) {
	var defs storage.Definitions
	where := map[string][]string{}
	messages := len(req.GetEntities()) + len(req.GetFeatureViews()) + len(req.GetSplits())
	var (
		entities []*timefencev1.Entity
		views    []*timefencev1.FeatureView
		splits   []*timefencev1.Split
	)
	if req.GetYaml() != "" {
		if len(req.GetYaml()) > maxDefinitionsBytes {
			return defs, nil, invalid(fmt.Sprintf("yaml: a definitions file of %d bytes; at most %d are accepted", len(req.GetYaml()), maxDefinitionsBytes))
		}
		if messages > 0 {
			return defs, nil, invalid("yaml and entities, feature_views or splits: send one or the other")
		}
		name := cmp.Or(req.GetFileName(), "definitions")
		file, err := definitions.Parse(name, []byte(req.GetYaml()))
		if err != nil {
			return defs, nil, invalid(err.Error())
		}
		at := func(line int) string { return fmt.Sprintf("%s:%d", name, line) }
		for _, e := range file.Entities {
			entities, where["entity"] = append(entities, e.Def), append(where["entity"], at(e.Line))
		}
		for _, v := range file.FeatureViews {
			views, where["feature_view"] = append(views, v.Def), append(where["feature_view"], at(v.Line))
		}
		for _, sp := range file.Splits {
			splits, where["split"] = append(splits, sp.Def), append(where["split"], at(sp.Line))
		}
	} else {
		entities, views, splits = req.GetEntities(), req.GetFeatureViews(), req.GetSplits()
		for i := range entities {
			where["entity"] = append(where["entity"], fmt.Sprintf("entities[%d]", i))
		}
		for i := range views {
			where["feature_view"] = append(where["feature_view"], fmt.Sprintf("feature_views[%d]", i))
		}
		for i := range splits {
			where["split"] = append(where["split"], fmt.Sprintf("splits[%d]", i))
		}
	}
	for i, pb := range entities {
		e, err := toEntity(pb)
		if err != nil {
			return defs, nil, fmt.Errorf("%s: %w", where["entity"][i], err)
		}
		defs.Entities = append(defs.Entities, e)
	}
	for i, pb := range views {
		v, err := toView(pb)
		if err != nil {
			return defs, nil, fmt.Errorf("%s: %w", where["feature_view"][i], err)
		}
		defs.Views = append(defs.Views, v)
	}
	for i, pb := range splits {
		sp, err := toSplit(pb)
		if err != nil {
			return defs, nil, fmt.Errorf("%s: %w", where["split"][i], err)
		}
		defs.Splits = append(defs.Splits, sp)
	}
	return defs, where, nil
}

// reasonOf is the ErrorInfo reason of st, or "".
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
