package storage

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// JoinKey is one typed key column of an entity. Its type is int64 or string.
type JoinKey struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Entity is a kind of thing features describe.
type Entity struct {
	Name        string    `json:"name"`
	JoinKeys    []JoinKey `json:"join_keys"`
	Description string    `json:"description,omitempty"`
	Version     int64     `json:"version"`
}

// Feature is one typed column of a view. ID is assigned by the store and
// never reused within the view; values are stored under it.
type Feature struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	ID          uint32 `json:"id"`
}

// View is a feature view: a named group of features about one entity.
type View struct {
	Name        string            `json:"name"`
	Entity      string            `json:"entity"`
	Features    []Feature         `json:"features"`
	TTL         time.Duration     `json:"ttl,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	// ServingLogRate is the share of online lookups of the view that the
	// server's serving log keeps, from 0 to 1.
	ServingLogRate float64 `json:"serving_log_rate,omitempty"`
	// Expectations are checked on every write batch (expect.go).
	Expectations []Expectation `json:"expectations,omitempty"`
	Version      int64         `json:"version"`
	ID           uint32        `json:"id"`
	// JoinKeys are the entity's keys, copied in when the view is applied.
	JoinKeys []JoinKey `json:"join_keys"`
}

// Split is a named, immutable window [Start, End] in Unix nanoseconds.
// End is the cutoff of training-side reads under the split.
type Split struct {
	Name        string `json:"name"`
	Start       int64  `json:"start"`
	End         int64  `json:"end"`
	Description string `json:"description,omitempty"`
	Created     int64  `json:"created"`
}

// Feature returns the view's feature named name.
func (v *View) Feature(name string) (Feature, bool) {
	for _, f := range v.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// EncodeKey encodes an entity key of the view's entity.
func (v *View) EncodeKey(key []Value) ([]byte, error) {
	return encodeEntityKey(nil, v.JoinKeys, key)
}

// AppendKey appends the encoding of an entity key to b.
func (v *View) AppendKey(b []byte, key []Value) ([]byte, error) {
	return encodeEntityKey(b, v.JoinKeys, key)
}

// DecodeKey decodes an entity key encoded by EncodeKey.
func (v *View) DecodeKey(b []byte) ([]Value, error) { return decodeKeyValues(b, v.JoinKeys) }

func encodeEntityKey(b []byte, keys []JoinKey, key []Value) ([]byte, error) {
	if len(key) != len(keys) {
		return nil, fmt.Errorf("%w: %d join key values, want %d (%s)", ErrInvalid, len(key), len(keys), keyNames(keys))
	}
	for i, k := range keys {
		if key[i].Type != k.Type {
			return nil, fmt.Errorf("%w: join key %q: expected %s, got %s", ErrInvalid, k.Name, k.Type, key[i].Type)
		}
		b = appendKeyValue(b, k.Type, key[i])
	}
	return b, nil
}

func keyNames(keys []JoinKey) string {
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += k.Name
	}
	return s
}

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: %s name %q: expected letters, digits and underscores, starting with a letter or underscore, at most 128", ErrInvalid, what, name)
	}
	return nil
}

func registryKey(kind, name string) []byte { return []byte("r/" + kind + "/" + name) }

func viewHistoryKey(name string, version int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("r/viewh/"+name+"/"), uint64(version))
}

// loadRegistry reads all definitions into memory.
func (s *Store) loadRegistry() error {
	s.entities = map[string]*Entity{}
	s.views = map[string]*View{}
	s.splits = map[string]*Split{}
	return s.db.View(func(txn *badger.Txn) error {
		load := func(kind string, fn func([]byte) error) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: registryKey(kind, ""), PrefetchValues: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := it.Item().Value(fn); err != nil {
					return err
				}
			}
			return nil
		}
		err := load("entity", func(b []byte) error {
			e := new(Entity)
			return unmarshalInto(b, e, func() { s.entities[e.Name] = e })
		})
		if err == nil {
			err = load("view", func(b []byte) error {
				v := new(View)
				return unmarshalInto(b, v, func() { s.views[v.Name] = v; s.lastViewID = max(s.lastViewID, v.ID) })
			})
		}
		if err == nil {
			err = load("split", func(b []byte) error {
				sp := new(Split)
				return unmarshalInto(b, sp, func() { s.splits[sp.Name] = sp })
			})
		}
		return err
	})
}

func unmarshalInto(b []byte, v any, ok func()) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: registry: %v", ErrCorrupt, err)
	}
	ok()
	return nil
}

// Entity returns the entity named name.
func (s *Store) Entity(name string) (Entity, error) {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	e, ok := s.entities[name]
	if !ok {
		return Entity{}, fmt.Errorf("%w %q", ErrUnknownEntity, name)
	}
	return *e, nil
}

// Entities returns all entities sorted by name.
func (s *Store) Entities() []Entity {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	out := make([]Entity, 0, len(s.entities))
	for _, name := range slices.Sorted(maps.Keys(s.entities)) {
		out = append(out, *s.entities[name])
	}
	return out
}

// View returns the current definition of the view named name. The returned
// view is shared and must not be modified.
func (s *Store) View(name string) (*View, error) {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	v, ok := s.views[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownView, name)
	}
	return v, nil
}

// Views returns all views sorted by name.
func (s *Store) Views() []*View {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	out := make([]*View, 0, len(s.views))
	for _, name := range slices.Sorted(maps.Keys(s.views)) {
		out = append(out, s.views[name])
	}
	return out
}

// ViewVersion returns version version of the view named name.
func (s *Store) ViewVersion(name string, version int64) (*View, error) {
	v := new(View)
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(viewHistoryKey(name, version))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%w %q version %d", ErrUnknownView, name, version)
		} else if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { return unmarshalInto(b, v, func() {}) })
	})
	return v, err
}

// Split returns the split named name.
func (s *Store) Split(name string) (Split, error) {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	sp, ok := s.splits[name]
	if !ok {
		return Split{}, fmt.Errorf("%w %q", ErrUnknownSplit, name)
	}
	return *sp, nil
}

// Splits returns all splits sorted by name.
func (s *Store) Splits() []Split {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	out := make([]Split, 0, len(s.splits))
	for _, name := range slices.Sorted(maps.Keys(s.splits)) {
		out = append(out, *s.splits[name])
	}
	return out
}

// Definitions are entities, feature views and splits applied together, all
// or nothing (ApplyDefinitions).
type Definitions struct {
	Entities []Entity
	Views    []View
	Splits   []Split
}

// Action is what applying one definition does.
type Action string

// Actions of a plan.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Refused   Action = "refused"
)

// Change is the plan for one definition of a Definitions: what applying it
// does and the version it would have, or why it is refused (Err).
type Change struct {
	Kind    string // "entity", "feature_view" or "split"
	Name    string
	Index   int // in its list of the Definitions
	Action  Action
	Version int64 // after the apply; 0 for splits and refusals
	Err     error

	// The definition as it stands after the apply (one is set, unless refused).
	Entity *Entity
	View   *View
	Split  *Split
}

// ApplyDefinitions checks defs against the registry and against each other
// (a view may use an entity of defs) and, unless dryRun or a definition is
// refused, applies them in one transaction: all or nothing. Entities come
// first, then views, then splits. It returns the plan, one Change per
// definition in that order; when a definition is refused and dryRun is
// false, also the first refusal, and nothing is applied.
//
// Entities may change their description; their join keys only while no
// view uses them. Views may add features and change description, tags,
// owner and ttl; a type change, a removed feature or another entity is
// refused with ErrSchemaMismatch. Splits are immutable: the same window
// again is unchanged, another is refused with ErrAlreadyExists.
func (s *Store) ApplyDefinitions(defs Definitions, dryRun bool) ([]Change, error) {
	s.regWrite.Lock()
	defer s.regWrite.Unlock()
	st := staged{entities: maps.Clone(s.entities), views: maps.Clone(s.views), splits: maps.Clone(s.splits),
		lastViewID: s.lastViewID, now: s.opts.Now().UnixNano()}
	var plan []Change
	var refused error
	add := func(c Change, changed bool, err error) {
		if err == nil && changed {
			err = s.ReadOnly(fmt.Sprintf("%s %q", strings.ReplaceAll(c.Kind, "_", " "), c.Name))
		}
		switch {
		case err != nil:
			c.Action, c.Version, c.Err = Refused, 0, err
			refused = cmp.Or(refused, err)
		case !changed:
			c.Action = Unchanged
		case c.Version > 1:
			c.Action = Update
		default:
			c.Action = Create
		}
		plan = append(plan, c)
	}
	for i, e := range defs.Entities {
		got, changed, err := st.entity(e)
		add(Change{Kind: "entity", Name: e.Name, Index: i, Version: got.version(), Entity: got}, changed, err)
	}
	for i, v := range defs.Views {
		got, changed, err := st.view(v)
		add(Change{Kind: "feature_view", Name: v.Name, Index: i, Version: got.version(), View: got}, changed, err)
	}
	for i, sp := range defs.Splits {
		got, created, err := st.split(sp)
		add(Change{Kind: "split", Name: sp.Name, Index: i, Split: got}, created, err)
	}
	if refused != nil && !dryRun {
		return plan, refused
	}
	if dryRun || refused != nil {
		return plan, nil
	}
	return plan, s.commitDefinitions(plan)
}

// commitDefinitions writes the changed definitions of plan in one
// transaction, then publishes them.
func (s *Store) commitDefinitions(plan []Change) error {
	type kv struct{ key, val []byte }
	var writes []kv
	var size int64
	put := func(key []byte, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		writes = append(writes, kv{key, b})
		size += int64(len(key) + len(b))
		return nil
	}
	for _, c := range plan {
		if c.Action == Unchanged {
			continue
		}
		var err error
		switch {
		case c.Entity != nil:
			err = put(registryKey("entity", c.Name), c.Entity)
		case c.View != nil:
			if err = put(registryKey("view", c.Name), c.View); err == nil {
				err = put(viewHistoryKey(c.Name, c.View.Version), c.View)
			}
		case c.Split != nil:
			err = put(registryKey("split", c.Name), c.Split)
		}
		if err != nil {
			return err
		}
	}
	if len(writes) == 0 {
		return nil
	}
	if err := s.checkSpace(size, s.recordKeep()); err != nil {
		return err
	}
	gen := s.regGen + 1
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, w := range writes {
			if err := txn.Set(w.key, w.val); err != nil {
				return err
			}
		}
		return txn.Set(metaRegistry, uintBytes(gen))
	})
	if err != nil {
		return err
	}
	s.regGen = gen
	s.regMu.Lock()
	var created []uint32
	for _, c := range plan {
		if c.Action == Unchanged {
			continue
		}
		switch {
		case c.Entity != nil:
			s.entities[c.Name] = c.Entity
		case c.View != nil:
			s.views[c.Name] = c.View
			s.lastViewID = max(s.lastViewID, c.View.ID)
			if c.Action == Create {
				created = append(created, c.View.ID)
			}
		case c.Split != nil:
			s.splits[c.Name] = c.Split
		}
	}
	s.regMu.Unlock()
	if len(created) > 0 {
		s.histMu.Lock()
		for _, id := range created {
			s.hist[id] = newHistory(nil)
		}
		s.histMu.Unlock()
	}
	s.notify()
	// Answered only once the ack file records the change too.
	return s.ack.recordRegistry(gen)
}

// reservedColumns are the columns an export adds to a view's: no join key
// or feature may take their names.
var reservedColumns = []string{"event_timestamp", "available_at", "deleted", "backfilled"}

// staged is the registry as a plan changes it, definition by definition.
type staged struct {
	entities   map[string]*Entity
	views      map[string]*View
	splits     map[string]*Split
	lastViewID uint32
	now        int64
}

func (e *Entity) version() int64 {
	if e == nil {
		return 0
	}
	return e.Version
}

func (v *View) version() int64 {
	if v == nil {
		return 0
	}
	return v.Version
}

// entity plans e: the entity as it would stand, and whether it changes.
func (st *staged) entity(e Entity) (*Entity, bool, error) {
	if err := checkName("entity", e.Name); err != nil {
		return nil, false, err
	}
	if len(e.JoinKeys) == 0 {
		return nil, false, fmt.Errorf("%w: entity %q: at least one join key is required", ErrInvalid, e.Name)
	}
	seen := map[string]bool{}
	for _, k := range e.JoinKeys {
		if err := checkName("join key", k.Name); err != nil {
			return nil, false, err
		}
		if k.Type != TypeInt64 && k.Type != TypeString {
			return nil, false, fmt.Errorf("%w: entity %q: join key %q: type must be int64 or string, got %s", ErrInvalid, e.Name, k.Name, k.Type)
		}
		if seen[k.Name] {
			return nil, false, fmt.Errorf("%w: entity %q: join key %q appears twice", ErrInvalid, e.Name, k.Name)
		}
		seen[k.Name] = true
	}
	old, exists := st.entities[e.Name]
	for _, k := range e.JoinKeys {
		if slices.Contains(reservedColumns, k.Name) && (!exists || !slices.Contains(old.JoinKeys, k)) {
			return nil, false, fmt.Errorf("%w: entity %q: join key %q: the name is reserved: exports and bulk writes have a column of that name", ErrInvalid, e.Name, k.Name)
		}
	}
	if exists {
		if old.Description == e.Description && slices.Equal(old.JoinKeys, e.JoinKeys) {
			return old, false, nil
		}
		if !slices.Equal(old.JoinKeys, e.JoinKeys) {
			for _, v := range st.views {
				if v.Entity == e.Name {
					return nil, false, fmt.Errorf("%w: entity %q: join keys cannot change while feature view %q uses it", ErrSchemaMismatch, e.Name, v.Name)
				}
			}
		}
		e.Version = old.Version + 1
	} else {
		e.Version = 1
	}
	e.JoinKeys = slices.Clone(e.JoinKeys)
	st.entities[e.Name] = &e
	return &e, true, nil
}

// view plans v: the view as it would stand, and whether it changes.
func (st *staged) view(v View) (*View, bool, error) {
	if err := checkName("feature view", v.Name); err != nil {
		return nil, false, err
	}
	if len(v.Features) == 0 {
		return nil, false, fmt.Errorf("%w: feature view %q: at least one feature is required", ErrInvalid, v.Name)
	}
	if v.TTL < 0 {
		return nil, false, fmt.Errorf("%w: feature view %q: ttl must not be negative", ErrInvalid, v.Name)
	}
	if !(v.ServingLogRate >= 0 && v.ServingLogRate <= 1) {
		return nil, false, fmt.Errorf("%w: feature view %q: serving_log_rate %g is not between 0 and 1", ErrInvalid, v.Name, v.ServingLogRate)
	}
	seen := map[string]bool{}
	for _, f := range v.Features {
		if err := checkName("feature", f.Name); err != nil {
			return nil, false, fmt.Errorf("feature view %q: %w", v.Name, err)
		}
		if !f.Type.Valid() {
			return nil, false, fmt.Errorf("%w: feature view %q: feature %q: unknown type", ErrInvalid, v.Name, f.Name)
		}
		if seen[f.Name] {
			return nil, false, fmt.Errorf("%w: feature view %q: feature %q appears twice", ErrInvalid, v.Name, f.Name)
		}
		seen[f.Name] = true
	}
	ent, ok := st.entities[v.Entity]
	if !ok {
		return nil, false, fmt.Errorf("feature view %q: %w %q", v.Name, ErrUnknownEntity, v.Entity)
	}
	nv := v
	nv.Features = slices.Clone(v.Features)
	nv.Expectations = slices.Clone(v.Expectations)
	for i := range nv.Expectations {
		e := &nv.Expectations[i]
		if err := checkExpectation(&nv, e, fmt.Sprintf("feature view %q: expectations[%d]", v.Name, i)); err != nil {
			return nil, false, err
		}
		e.Level = e.LevelName()
		e.Allowed = slices.Clone(e.Allowed)
	}
	nv.Tags = maps.Clone(v.Tags)
	nv.JoinKeys = slices.Clone(ent.JoinKeys)
	old, exists := st.views[v.Name]
	for _, f := range v.Features {
		if !slices.Contains(reservedColumns, f.Name) {
			continue
		}
		if !exists || !slices.ContainsFunc(old.Features, func(o Feature) bool { return o.Name == f.Name }) {
			return nil, false, fmt.Errorf("%w: feature view %q: feature %q: the name is reserved: exports and bulk writes have a column of that name", ErrInvalid, v.Name, f.Name)
		}
	}
	if exists {
		if old.Entity != v.Entity {
			return nil, false, fmt.Errorf("%w: feature view %q: entity cannot change from %q to %q", ErrSchemaMismatch, v.Name, old.Entity, v.Entity)
		}
		next := old.nextFeatureID()
		for i := range nv.Features {
			f := &nv.Features[i]
			of, had := old.Feature(f.Name)
			switch {
			case !had:
				f.ID = next
				next++
			case !of.Type.WidensTo(f.Type):
				return nil, false, fmt.Errorf("%w: feature view %q: feature %q cannot change type from %s to %s (only int32 to int64, float to double, and their lists, widen); add a feature with a new name instead", ErrSchemaMismatch, v.Name, f.Name, of.Type, f.Type)
			default:
				f.ID = of.ID
			}
		}
		for _, of := range old.Features {
			if _, ok := nv.Feature(of.Name); !ok {
				return nil, false, fmt.Errorf("%w: feature view %q: feature %q cannot be removed: readers and stored versions refer to it", ErrSchemaMismatch, v.Name, of.Name)
			}
		}
		nv.ID, nv.Version = old.ID, old.Version
		if viewEqual(old, &nv) {
			return old, false, nil
		}
		nv.Version = old.Version + 1
	} else {
		for i := range nv.Features {
			nv.Features[i].ID = uint32(i)
		}
		st.lastViewID++
		nv.ID, nv.Version = st.lastViewID, 1
	}
	st.views[nv.Name] = &nv
	return &nv, true, nil
}

// split plans sp: the split as it would stand, and whether it is created.
func (st *staged) split(sp Split) (*Split, bool, error) {
	if err := checkName("split", sp.Name); err != nil {
		return nil, false, err
	}
	if sp.Start < 0 || sp.End < sp.Start {
		return nil, false, fmt.Errorf("%w: split %q: start must be >= 1970-01-01 and <= end", ErrInvalid, sp.Name)
	}
	if old, ok := st.splits[sp.Name]; ok {
		if old.Start == sp.Start && old.End == sp.End {
			return old, false, nil
		}
		return nil, false, fmt.Errorf("%w: split %q exists with window [%s, %s]; splits are immutable",
			ErrAlreadyExists, sp.Name, FormatTime(old.Start), FormatTime(old.End))
	}
	sp.Created = st.now
	st.splits[sp.Name] = &sp
	return &sp, true, nil
}

// ApplyEntity creates an entity or updates its description, and reports
// whether anything changed (see ApplyDefinitions).
func (s *Store) ApplyEntity(e Entity) (Entity, bool, error) {
	plan, err := s.ApplyDefinitions(Definitions{Entities: []Entity{e}}, false)
	if err != nil {
		return Entity{}, false, err
	}
	return *plan[0].Entity, plan[0].Action != Unchanged, nil
}

// ApplyView creates a view or makes a compatible change to it, and reports
// whether anything changed (see ApplyDefinitions).
func (s *Store) ApplyView(v View) (*View, bool, error) {
	plan, err := s.ApplyDefinitions(Definitions{Views: []View{v}}, false)
	if err != nil {
		return nil, false, err
	}
	return plan[0].View, plan[0].Action != Unchanged, nil
}

func (v *View) nextFeatureID() uint32 {
	var next uint32
	for _, f := range v.Features {
		next = max(next, f.ID+1)
	}
	return next
}

func viewEqual(a, b *View) bool {
	return a.Entity == b.Entity && slices.Equal(a.Features, b.Features) && a.TTL == b.TTL &&
		a.Description == b.Description && maps.Equal(a.Tags, b.Tags) && a.Owner == b.Owner &&
		a.ServingLogRate == b.ServingLogRate && slices.EqualFunc(a.Expectations, b.Expectations, Expectation.equal)
}

// CreateSplit creates an immutable split. Creating an identical split again
// returns it with created false; other bounds fail with ErrAlreadyExists.
func (s *Store) CreateSplit(sp Split) (Split, bool, error) {
	plan, err := s.ApplyDefinitions(Definitions{Splits: []Split{sp}}, false)
	if err != nil {
		return Split{}, false, err
	}
	return *plan[0].Split, plan[0].Action != Unchanged, nil
}

// FormatTime formats Unix nanoseconds as RFC 3339 in UTC.
func FormatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
