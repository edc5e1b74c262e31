package feed

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore keeps the feed in a bbolt file in the data directory, for
// running without Redis. The file is opened for each operation and closed
// after, so `callscreen feed import` can write while `serve` runs.
//
// Layout: bucket "feed" → one bucket per tenant ("t:" + tenant) → 8-byte
// key → 4-byte value; bucket "meta" → "version".
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

func (s *BoltStore) open(ctx context.Context, readOnly bool) (*bolt.DB, error) {
	if readOnly {
		if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	} else if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return nil, err
	}
	timeout := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	return db, nil
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
			n := 0
			return root.Bucket(name).ForEach(func(k, v []byte) error {
				if n++; n%65536 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				if len(k) != 8 || len(v) != 4 || !value(binary.BigEndian.Uint32(v)).valid() {
					return nil
				}
				return fn(tenant, Record{binary.BigEndian.Uint64(k), binary.BigEndian.Uint32(v)})
			})
		})
	})
	if err != nil {
		return "", fmt.Errorf("feed load: %w", err)
	}
	return version, nil
}

// Write implements Store: one transaction, keys in order (fast for bbolt).
func (s *BoltStore) Write(ctx context.Context, tenant string, puts []Record, dels []uint64) (string, error) {
	db, err := s.open(ctx, false)
	if err != nil {
		return "", fmt.Errorf("feed write: %w", err)
	}
	defer db.Close()
	puts = slices.Clone(puts)
	slices.SortFunc(puts, func(a, b Record) int { return cmp.Compare(a.Key, b.Key) })
	var version uint64
	err = db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(feedBucket)
		if err != nil {
			return err
		}
		b, err := root.CreateBucketIfNotExists([]byte("t:" + tenant))
		if err != nil {
			return err
		}
		b.FillPercent = 0.9
		// bbolt keeps the slices given to Put until the commit: one
		// buffer, a fresh piece for each.
		buf := make([]byte, 12*len(puts)+8*len(dels)+8)
		for i, r := range puts {
			if i%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			k, v := buf[:8:8], buf[8:12:12]
			buf = buf[12:]
			binary.BigEndian.PutUint64(k, r.Key)
			binary.BigEndian.PutUint32(v, r.Value)
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		for _, d := range dels {
			k := buf[:8:8]
			buf = buf[8:]
			binary.BigEndian.PutUint64(k, d)
			if err := b.Delete(k); err != nil {
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
		return "", fmt.Errorf("feed write: %w", err)
	}
	return strconv.FormatUint(version, 10), nil
}
