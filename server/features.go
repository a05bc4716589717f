package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/storage"
)

// viewRead is the part of a read that touches one view.
type viewRead struct {
	proj *storage.Projection
	// cols[i] is the output column of proj.Features[i].
	cols []int
	// keyCols[j] is the request's key column holding the view's j-th join key.
	keyCols []int
}

// resolveFeatures turns feature references ("view:feature" or "view") into
// reads grouped by view, and the output column names in request order.
// Views named in versions are read under that definition version instead
// of the current one.
func (s *Server) resolveFeatures(refs []string, versions map[string]int64) ([]*viewRead, []string, error) {
	if len(refs) == 0 {
		return nil, nil, invalid("features: name at least one feature, as \"view:feature\" or \"view\"")
	}
	byView := map[string]*viewRead{}
	var order []*viewRead
	var names []string
	seen := map[string]int{}
	for i, ref := range refs {
		viewName, feat, whole := strings.Cut(ref, ":")
		whole = !whole
		var view *storage.View
		var err error
		view, err = s.store.View(viewName)
		if ver, ok := versions[viewName]; ok && (err != nil || view.Version != ver) {
			// An older definition is read from the registry's history; the
			// current one is at hand.
			view, err = s.store.ViewVersion(viewName, ver)
		}
		if errors.Is(err, storage.ErrUnknownView) {
			return nil, nil, &requestError{code: codes.NotFound, reason: ReasonUnknownView,
				msg: fmt.Sprintf("features[%d]: unknown feature view %q", i, viewName)}
		} else if err != nil {
			return nil, nil, err
		}
		var feats []string
		if whole {
			for _, f := range view.Features {
				feats = append(feats, f.Name)
			}
		} else {
			if _, ok := view.Feature(feat); !ok {
				return nil, nil, &requestError{code: codes.NotFound, reason: ReasonUnknownFeature,
					msg: fmt.Sprintf("features[%d]: feature view %q has no feature %q", i, viewName, feat)}
			}
			feats = []string{feat}
		}
		vr := byView[viewName]
		if vr == nil {
			vr = &viewRead{proj: &storage.Projection{View: view}}
			byView[viewName] = vr
			order = append(order, vr)
		}
		for _, f := range feats {
			name := viewName + ":" + f
			if j, dup := seen[name]; dup {
				return nil, nil, invalid(fmt.Sprintf("features[%d]: %q is already requested by features[%d]", i, name, j))
			}
			seen[name] = i
			vr.cols = append(vr.cols, len(names))
			names = append(names, name)
			ff, _ := view.Feature(f)
			vr.proj.Features = append(vr.proj.Features, ff)
		}
	}
	for _, vr := range order {
		var fs []string
		for _, f := range vr.proj.Features {
			fs = append(fs, f.Name)
		}
		p, err := vr.proj.View.Project(fs...)
		if err != nil {
			return nil, nil, err
		}
		vr.proj = p
	}
	return order, names, nil
}

// bindKeys finds, for every view, the key columns among the request's.
func bindKeys(reads []*viewRead, keyNames []string, field string) error {
	for _, vr := range reads {
		vr.keyCols = vr.keyCols[:0]
		for _, k := range vr.proj.View.JoinKeys {
			j := slices.Index(keyNames, k.Name)
			if j < 0 {
				return invalid(fmt.Sprintf("%s: feature view %q needs join key %q (%s); the request has [%s]",
					field, vr.proj.View.Name, k.Name, k.Type, strings.Join(keyNames, ", ")))
			}
			if slices.Index(keyNames[j+1:], k.Name) >= 0 {
				return invalid(fmt.Sprintf("%s: join key %q appears twice; name each join key once", field, k.Name))
			}
			vr.keyCols = append(vr.keyCols, j)
		}
	}
	return nil
}
