package lists

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callscreen/callscreen/internal/boltfile"
)

// BoltStore is a Store in a bbolt file in the data directory, for running
// without Redis. The file is opened for each operation and closed after,
// so `callscreen lists import` can write while `serve` runs; serve sees
// the change on SIGHUP or restart.
//
// Layout: bucket "lists" → one bucket per tenant ("t:" + tenant) →
// "<list>|<entry>" → metadata JSON.
type BoltStore struct {
	path    string
	timeout time.Duration
}

var _ Store = (*BoltStore)(nil)

// BoltFile is the file name of the lists' store in the data directory.
const BoltFile = "lists.db"

// NewBoltStore returns a store in dataDir/lists.db (created on first write).
func NewBoltStore(dataDir string) *BoltStore {
	return &BoltStore{path: filepath.Join(dataDir, BoltFile), timeout: 5 * time.Second}
}

var rootBucket = []byte("lists")

func tenantBucket(tenant string) []byte { return []byte("t:" + tenant) }

// open opens the file; readOnly on a missing file returns (nil, nil).
func (s *BoltStore) open(ctx context.Context, readOnly bool) (*bolt.DB, error) {
	return boltfile.Open(ctx, s.path, readOnly, s.timeout)
}

// Tenants implements Store.
func (s *BoltStore) Tenants(ctx context.Context) ([]string, error) {
	db, err := s.open(ctx, true)
	if err != nil || db == nil {
		return nil, err
	}
	defer db.Close()
	var out []string
	err = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			if t, ok := strings.CutPrefix(string(k), "t:"); ok {
				out = append(out, t)
			}
			return nil
		})
	})
	return out, err
}

// Load implements Store.
func (s *BoltStore) Load(ctx context.Context, tenant string, fn func(Entry) error) error {
	db, err := s.open(ctx, true)
	if err != nil || db == nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if root == nil {
			return nil
		}
		b := root.Bucket(tenantBucket(tenant))
		if b == nil {
			return nil
		}
		n := 0
		return b.ForEach(func(k, v []byte) error {
			if n++; n%10000 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			e, err := decodeStored(tenant, string(k), string(v))
			if err != nil {
				return nil // damaged or from a newer version: skip
			}
			return fn(e)
		})
	})
}

// boltBatch is how many changes one write transaction carries.
const boltBatch = 100_000

// Apply implements Store. Batches of up to 100,000 changes are atomic.
func (s *BoltStore) Apply(ctx context.Context, changes []Change) error {
	for i := range changes {
		if err := checkChange(&changes[i]); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	db, err := s.open(ctx, false)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer db.Close()
	for i := 0; i < len(changes); i += boltBatch {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		batch := changes[i:min(i+boltBatch, len(changes))]
		err := db.Update(func(tx *bolt.Tx) error {
			root, err := tx.CreateBucketIfNotExists(rootBucket)
			if err != nil {
				return err
			}
			for j := range batch {
				c := &batch[j]
				b, err := root.CreateBucketIfNotExists(tenantBucket(c.Entry.Tenant))
				if err != nil {
					return err
				}
				k := []byte(field(&c.Entry))
				if c.Delete {
					err = b.Delete(k)
				} else {
					err = b.Put(k, []byte(encodeMeta(&c.Entry)))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	return nil
}
