package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
	Version     int64             `json:"version"`
	ID          uint32            `json:"id"`
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

// ApplyEntity creates an entity or updates its description. It reports
// whether anything changed. Changing the join keys of an entity that a view
// uses fails with ErrSchemaMismatch.
func (s *Store) ApplyEntity(e Entity) (Entity, bool, error) {
	if err := checkName("entity", e.Name); err != nil {
		return Entity{}, false, err
	}
	if len(e.JoinKeys) == 0 {
		return Entity{}, false, fmt.Errorf("%w: entity %q: at least one join key is required", ErrInvalid, e.Name)
	}
	seen := map[string]bool{}
	for _, k := range e.JoinKeys {
		if err := checkName("join key", k.Name); err != nil {
			return Entity{}, false, err
		}
		if k.Type != TypeInt64 && k.Type != TypeString {
			return Entity{}, false, fmt.Errorf("%w: entity %q: join key %q: type must be int64 or string, got %s", ErrInvalid, e.Name, k.Name, k.Type)
		}
		if seen[k.Name] {
			return Entity{}, false, fmt.Errorf("%w: entity %q: join key %q appears twice", ErrInvalid, e.Name, k.Name)
		}
		seen[k.Name] = true
	}
	s.regWrite.Lock()
	defer s.regWrite.Unlock()
	old, exists := s.entities[e.Name]
	if exists {
		if old.Description == e.Description && slices.Equal(old.JoinKeys, e.JoinKeys) {
			return *old, false, nil
		}
		if !slices.Equal(old.JoinKeys, e.JoinKeys) {
			for _, v := range s.views {
				if v.Entity == e.Name {
					return Entity{}, false, fmt.Errorf("%w: entity %q: join keys cannot change while feature view %q uses it", ErrSchemaMismatch, e.Name, v.Name)
				}
			}
		}
		e.Version = old.Version + 1
	} else {
		e.Version = 1
	}
	e.JoinKeys = slices.Clone(e.JoinKeys)
	if err := s.putJSON(registryKey("entity", e.Name), &e); err != nil {
		return Entity{}, false, err
	}
	s.regMu.Lock()
	s.entities[e.Name] = &e
	s.regMu.Unlock()
	return e, true, nil
}

// ApplyView creates a view or makes a compatible change to it. New features
// may be added; description, tags, owner and ttl may change. A type change, a
// removed feature or another entity fails with ErrSchemaMismatch.
func (s *Store) ApplyView(v View) (*View, bool, error) {
	if err := checkName("feature view", v.Name); err != nil {
		return nil, false, err
	}
	if len(v.Features) == 0 {
		return nil, false, fmt.Errorf("%w: feature view %q: at least one feature is required", ErrInvalid, v.Name)
	}
	if v.TTL < 0 {
		return nil, false, fmt.Errorf("%w: feature view %q: ttl must not be negative", ErrInvalid, v.Name)
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
	s.regWrite.Lock()
	defer s.regWrite.Unlock()
	ent, ok := s.entities[v.Entity]
	if !ok {
		return nil, false, fmt.Errorf("feature view %q: %w %q", v.Name, ErrUnknownEntity, v.Entity)
	}
	nv := v
	nv.Features = slices.Clone(v.Features)
	nv.Tags = maps.Clone(v.Tags)
	nv.JoinKeys = slices.Clone(ent.JoinKeys)
	old, exists := s.views[v.Name]
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
			case of.Type != f.Type:
				return nil, false, fmt.Errorf("%w: feature view %q: feature %q cannot change type from %s to %s; add a feature with a new name instead", ErrSchemaMismatch, v.Name, f.Name, of.Type, f.Type)
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
		nv.ID, nv.Version = s.lastViewID+1, 1
	}
	if err := s.checkSpace(0, s.recordKeep()); err != nil {
		return nil, false, err
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		b, err := json.Marshal(&nv)
		if err != nil {
			return err
		}
		if err := txn.Set(registryKey("view", nv.Name), b); err != nil {
			return err
		}
		return txn.Set(viewHistoryKey(nv.Name, nv.Version), b)
	})
	if err != nil {
		return nil, false, err
	}
	s.regMu.Lock()
	s.views[nv.Name] = &nv
	s.lastViewID = max(s.lastViewID, nv.ID)
	s.regMu.Unlock()
	if !exists {
		s.histMu.Lock()
		s.hist[nv.ID] = newHistory(nil)
		s.histMu.Unlock()
	}
	return &nv, true, nil
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
		a.Description == b.Description && maps.Equal(a.Tags, b.Tags) && a.Owner == b.Owner
}

// CreateSplit creates an immutable split. Creating an identical split again
// returns it with created false; other bounds fail with ErrAlreadyExists.
func (s *Store) CreateSplit(sp Split) (Split, bool, error) {
	if err := checkName("split", sp.Name); err != nil {
		return Split{}, false, err
	}
	if sp.Start < 0 || sp.End < sp.Start {
		return Split{}, false, fmt.Errorf("%w: split %q: start must be >= 1970-01-01 and <= end", ErrInvalid, sp.Name)
	}
	s.regWrite.Lock()
	defer s.regWrite.Unlock()
	if old, ok := s.splits[sp.Name]; ok {
		if old.Start == sp.Start && old.End == sp.End {
			return *old, false, nil
		}
		return Split{}, false, fmt.Errorf("%w: split %q exists with window [%s, %s]; splits are immutable",
			ErrAlreadyExists, sp.Name, FormatTime(old.Start), FormatTime(old.End))
	}
	sp.Created = s.opts.Now().UnixNano()
	if err := s.putJSON(registryKey("split", sp.Name), &sp); err != nil {
		return Split{}, false, err
	}
	s.regMu.Lock()
	s.splits[sp.Name] = &sp
	s.regMu.Unlock()
	return sp, true, nil
}

func (s *Store) putJSON(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.checkSpace(int64(len(b)), s.recordKeep()); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, b) })
}

// FormatTime formats Unix nanoseconds as RFC 3339 in UTC.
func FormatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
