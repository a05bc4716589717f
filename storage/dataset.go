package storage

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// ErrUnknownDataset is returned for a dataset id with no manifest.
var ErrUnknownDataset = errors.New("storage: unknown dataset")

// FeatureRef names a feature with the definition version it was read under.
type FeatureRef struct {
	View        string `json:"view"`
	Feature     string `json:"feature"`
	ViewVersion int64  `json:"view_version"`
}

// Manifest records what a historical read or export read, so that it can be
// audited and re-read byte for byte.
type Manifest struct {
	DatasetID string       `json:"dataset_id"`
	Kind      string       `json:"kind"` // "historical" or "export"
	SpineHash string       `json:"spine_hash,omitempty"`
	Features  []FeatureRef `json:"features"`
	Split     Split        `json:"split"`
	Watermark uint64       `json:"watermark"`
	// Options are the request options that shape the output.
	Options          map[string]string `json:"options,omitempty"`
	Rows             int64             `json:"rows"`
	MaxEventTime     int64             `json:"max_event_time"`
	MaxAvailableAt   int64             `json:"max_available_at"`
	BackfilledValues int64             `json:"backfilled_values"`
	NaiveDifferences int64             `json:"naive_differences"`
	ServerVersion    string            `json:"server_version"`
	OutputChecksum   string            `json:"output_checksum"`
	Created          int64             `json:"created"`
}

func manifestKey(id string) []byte { return append([]byte{prefixDataset, '/'}, id...) }

// PutManifest records m unless a manifest with its id exists already; it
// returns the stored manifest. On a replica the primary's manifest of the
// same dataset may arrive meanwhile: the transaction then conflicts, and the
// retry finds it stored.
func (s *Store) PutManifest(m Manifest) (Manifest, error) {
	if m.DatasetID == "" {
		return m, fmt.Errorf("%w: manifest without dataset id", ErrInvalid)
	}
	if err := s.checkSpace(0, s.recordKeep()); err != nil {
		return m, err
	}
	for attempt := 0; ; attempt++ {
		stored, err := s.putManifest(m)
		if !errors.Is(err, badger.ErrConflict) || attempt == 3 {
			return stored, err
		}
	}
}

func (s *Store) putManifest(m Manifest) (Manifest, error) {
	var stored Manifest
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(manifestKey(m.DatasetID))
		if err == nil {
			return item.Value(func(b []byte) error { return json.Unmarshal(b, &stored) })
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		m.Created = s.opts.Now().UnixNano()
		b, err := json.Marshal(&m)
		if err != nil {
			return err
		}
		stored = m
		return txn.Set(manifestKey(m.DatasetID), b)
	})
	if err == nil {
		s.notify()
	}
	return stored, err
}

// Manifest returns the manifest of a dataset id.
func (s *Store) Manifest(id string) (Manifest, error) {
	var m Manifest
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(manifestKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%w %q", ErrUnknownDataset, id)
		} else if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { return json.Unmarshal(b, &m) })
	})
	return m, err
}

// Manifests returns every manifest, ordered by dataset id.
func (s *Store) Manifests() ([]Manifest, error) {
	var out []Manifest
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixDataset, '/'}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m Manifest
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &m) }); err != nil {
				return fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
