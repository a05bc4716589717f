package client

import (
	"context"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// GetManifest returns the manifest of a dataset id (ErrUnknownDataset if none).
func (c *Client) GetManifest(ctx context.Context, datasetID string, opts ...Option) (*timefencev1.Manifest, error) {
	resp, err := unary(ctx, "GetManifest", opts, func(ctx context.Context) (*timefencev1.GetManifestResponse, error) {
		return c.datasets.GetManifest(ctx, &timefencev1.GetManifestRequest{DatasetId: datasetID})
	})
	return resp.GetManifest(), err
}

// ListManifests returns the manifest of every recorded dataset.
func (c *Client) ListManifests(ctx context.Context, opts ...Option) ([]*timefencev1.Manifest, error) {
	resp, err := unary(ctx, "ListManifests", opts, func(ctx context.Context) (*timefencev1.ListManifestsResponse, error) {
		return c.datasets.ListManifests(ctx, &timefencev1.ListManifestsRequest{})
	})
	return resp.GetManifests(), err
}

// GetStatistics summarises view's features (all, or WithFeatures) over the
// versions readable under split: counts, nulls, range, moments, quantiles,
// top values, distinct counts. Nothing after the split's cutoff is counted.
func (c *Client) GetStatistics(ctx context.Context, split, view string, opts ...Option) (*timefencev1.GetStatisticsResponse, error) {
	o, ctx, cancel, err := apply(ctx, "GetStatistics", opts, "WithFeatures")
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.datasets.GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: split, FeatureView: view, Features: o.features})
	return resp, fromStatus(err)
}

// CompareStatistics compares the statistics of view's features (all, or
// WithFeatures) under split current with those under split baseline, and
// returns both with the anomalies found.
func (c *Client) CompareStatistics(ctx context.Context, view, baseline, current string, opts ...Option) (*timefencev1.CompareStatisticsResponse, error) {
	o, ctx, cancel, err := apply(ctx, "CompareStatistics", opts, "WithFeatures")
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.datasets.CompareStatistics(ctx, &timefencev1.CompareStatisticsRequest{FeatureView: view,
		BaselineSplit: baseline, CurrentSplit: current, Features: o.features})
	return resp, fromStatus(err)
}

// GetHistoryStatus returns the state of each feature view's columnar
// history: run files and their versions, versions still in memory, last
// compaction. It needs an admin or reader credential when auth is on.
func (c *Client) GetHistoryStatus(ctx context.Context, opts ...Option) ([]*timefencev1.ViewHistory, error) {
	resp, err := unary(ctx, "GetHistoryStatus", opts, func(ctx context.Context) (*timefencev1.GetHistoryStatusResponse, error) {
		return c.datasets.GetHistoryStatus(ctx, &timefencev1.GetHistoryStatusRequest{})
	})
	return resp.GetViews(), err
}
