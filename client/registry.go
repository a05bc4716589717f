package client

import (
	"context"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// ApplyEntity creates an entity or changes it compatibly; the response
// holds the current definition and whether it changed. An incompatible
// change returns ErrSchemaMismatch.
func (c *Client) ApplyEntity(ctx context.Context, e *timefencev1.Entity, opts ...Option) (*timefencev1.ApplyEntityResponse, error) {
	return unary(ctx, "ApplyEntity", opts, func(ctx context.Context) (*timefencev1.ApplyEntityResponse, error) {
		return c.registry.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: e})
	})
}

// GetEntity returns an entity's definition (ErrUnknownEntity if none).
func (c *Client) GetEntity(ctx context.Context, name string, opts ...Option) (*timefencev1.Entity, error) {
	resp, err := unary(ctx, "GetEntity", opts, func(ctx context.Context) (*timefencev1.GetEntityResponse, error) {
		return c.registry.GetEntity(ctx, &timefencev1.GetEntityRequest{Name: name})
	})
	return resp.GetEntity(), err
}

// ListEntities returns every entity, by name.
func (c *Client) ListEntities(ctx context.Context, opts ...Option) ([]*timefencev1.Entity, error) {
	resp, err := unary(ctx, "ListEntities", opts, func(ctx context.Context) (*timefencev1.ListEntitiesResponse, error) {
		return c.registry.ListEntities(ctx, &timefencev1.ListEntitiesRequest{})
	})
	return resp.GetEntities(), err
}

// ApplyFeatureView creates a feature view or changes it compatibly; the
// response holds the current definition (with its version) and whether it
// changed. An incompatible change returns ErrSchemaMismatch.
func (c *Client) ApplyFeatureView(ctx context.Context, v *timefencev1.FeatureView, opts ...Option) (*timefencev1.ApplyFeatureViewResponse, error) {
	return unary(ctx, "ApplyFeatureView", opts, func(ctx context.Context) (*timefencev1.ApplyFeatureViewResponse, error) {
		return c.registry.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: v})
	})
}

// GetFeatureView returns a view's definition (ErrUnknownFeatureView if none).
func (c *Client) GetFeatureView(ctx context.Context, name string, opts ...Option) (*timefencev1.FeatureView, error) {
	resp, err := unary(ctx, "GetFeatureView", opts, func(ctx context.Context) (*timefencev1.GetFeatureViewResponse, error) {
		return c.registry.GetFeatureView(ctx, &timefencev1.GetFeatureViewRequest{Name: name})
	})
	return resp.GetFeatureView(), err
}

// ListFeatureViews returns every feature view, by name.
func (c *Client) ListFeatureViews(ctx context.Context, opts ...Option) ([]*timefencev1.FeatureView, error) {
	resp, err := unary(ctx, "ListFeatureViews", opts, func(ctx context.Context) (*timefencev1.ListFeatureViewsResponse, error) {
		return c.registry.ListFeatureViews(ctx, &timefencev1.ListFeatureViewsRequest{})
	})
	return resp.GetFeatureViews(), err
}

// CreateSplit creates the split [start, end] (WithDescription describes
// it). Splits are immutable: creating an identical split again succeeds
// with Created false, and other bounds return ErrSplitExists.
func (c *Client) CreateSplit(ctx context.Context, name string, start, end time.Time, opts ...Option) (*timefencev1.CreateSplitResponse, error) {
	o, ctx, cancel, err := apply(ctx, "CreateSplit", opts, "WithDescription")
	if err != nil {
		return nil, err
	}
	defer cancel()
	sp := &timefencev1.Split{Name: name, Start: tsOrNil(start), End: tsOrNil(end), Description: o.description}
	resp, err := c.registry.CreateSplit(ctx, &timefencev1.CreateSplitRequest{Split: sp})
	return resp, fromStatus(err)
}

// GetSplit returns a split (ErrUnknownSplit if none).
func (c *Client) GetSplit(ctx context.Context, name string, opts ...Option) (*timefencev1.Split, error) {
	resp, err := unary(ctx, "GetSplit", opts, func(ctx context.Context) (*timefencev1.GetSplitResponse, error) {
		return c.registry.GetSplit(ctx, &timefencev1.GetSplitRequest{Name: name})
	})
	return resp.GetSplit(), err
}

// ListSplits returns every split, by name.
func (c *Client) ListSplits(ctx context.Context, opts ...Option) ([]*timefencev1.Split, error) {
	resp, err := unary(ctx, "ListSplits", opts, func(ctx context.Context) (*timefencev1.ListSplitsResponse, error) {
		return c.registry.ListSplits(ctx, &timefencev1.ListSplitsRequest{})
	})
	return resp.GetSplits(), err
}

// ApplyDefinitions applies a definitions file, all or nothing: the server
// parses text (YAML; name is the file's name, for locations), checks every
// definition against its registry and the others, and applies them in one
// transaction only when none is refused. The response is the plan: per
// definition its action ("create", "update", "unchanged" or "refused"),
// version and file:line, and for a refusal the problem and its reason.
// With DryRun nothing is applied and refusals are only reported in the
// plan; without it a refusal fails the call with the first refusal's
// sentinel and a message naming every one.
func (c *Client) ApplyDefinitions(ctx context.Context, name string, text []byte, opts ...Option) (*timefencev1.ApplyDefinitionsResponse, error) {
	o, ctx, cancel, err := apply(ctx, "ApplyDefinitions", opts, "DryRun")
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.registry.ApplyDefinitions(ctx, &timefencev1.ApplyDefinitionsRequest{Yaml: string(text), FileName: name, DryRun: o.dryRun})
	return resp, fromStatus(err)
}
