package feed

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callscreen/callscreen/internal/boltfile"
)

// BoltStore keeps the feed in a bbolt file in the data directory, for
// running without Redis. The file is opened for each operation and closed
// after, so `callscreen feed import` can write while `serve` runs.
//
// Layout: bucket "feed" → one bucket per tenant ("t:" + tenant) → chunk
// number (4 bytes) → packed chunk (see chunk.go); bucket "meta" →
// "version". A replace rewrites the tenant's bucket in one transaction.
type BoltStore struct {
	path    string
	timeout time.Duration
}

var _ Store = (*BoltStore)(nil)

// BoltFile is the file name of the feed's store in the data directory.
const BoltFile = "feed.db"

// NewBoltStore returns a store in dataDir/feed.db (created on first write).
func NewBoltStore(dataDir string) *BoltStore {
	return &BoltStore{path: filepath.Join(dataDir, BoltFile), timeout: 10 * time.Second}
}

var (
	feedBucket = []byte("feed")
	metaBucket = []byte("meta")
	versionKey = []byte("version")
)

// open opens the file; readOnly on a missing file returns (nil, nil).
func (s *BoltStore) open(ctx context.Context, readOnly bool) (*bolt.DB, error) {
	return boltfile.Open(ctx, s.path, readOnly, s.timeout)
}

func readVersion(tx *bolt.Tx) string {
	if m := tx.Bucket(metaBucket); m != nil {
		if v := m.Get(versionKey); len(v) == 8 {
			return strconv.FormatUint(binary.BigEndian.Uint64(v), 10)
		}
	}
	return "0"
}

// Version implements Store.
func (s *BoltStore) Version(ctx context.Context) (string, error) {
	db, err := s.open(ctx, true)
	if err != nil || db == nil {
		return "0", err
	}
	defer db.Close()
	var v string
	err = db.View(func(tx *bolt.Tx) error {
		v = readVersion(tx)
		return nil
	})
	return v, err
}

// Load implements Store.
func (s *BoltStore) Load(ctx context.Context, fn func(string, Record) error) (string, error) {
	db, err := s.open(ctx, true)
	if err != nil || db == nil {
		return "0", err
	}
	defer db.Close()
	var version string
	err = db.View(func(tx *bolt.Tx) error {
		version = readVersion(tx)
		root := tx.Bucket(feedBucket)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			tenant, ok := strings.CutPrefix(string(name), "t:")
			if !ok {
				return nil
			}
			return root.Bucket(name).ForEach(func(_, v []byte) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return unchunk(v, func(r Record) error { return fn(tenant, r) })
			})
		})
	})
	if err != nil {
		return "", fmt.Errorf("feed load: %w", err)
	}
	return version, nil
}

// Replace implements Store.
func (s *BoltStore) Replace(ctx context.Context, tenant string, recs []Record) (string, error) {
	db, err := s.open(ctx, false)
	if err != nil {
		return "", fmt.Errorf("feed replace: %w", err)
	}
	defer db.Close()
	var version uint64
	err = db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(feedBucket)
		if err != nil {
			return err
		}
		name := []byte("t:" + tenant)
		if root.Bucket(name) != nil {
			if err := root.DeleteBucket(name); err != nil {
				return err
			}
		}
		b, err := root.CreateBucket(name)
		if err != nil {
			return err
		}
		for i, c := range chunks(recs) {
			if err := b.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), c); err != nil {
				return err
			}
		}
		m, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if old := m.Get(versionKey); len(old) == 8 {
			version = binary.BigEndian.Uint64(old)
		}
		version++
		return m.Put(versionKey, binary.BigEndian.AppendUint64(nil, version))
	})
	if err != nil {
		return "", fmt.Errorf("feed replace: %w", err)
	}
	return strconv.FormatUint(version, 10), nil
}
