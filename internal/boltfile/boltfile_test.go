package boltfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	db, err := Open(ctx, path, true, time.Second)
	if db != nil || err != nil {
		t.Fatalf("read-only open of a missing file = %v, %v; want nil, nil", db, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created the directory: %v", err)
	}
	w, err := Open(ctx, path, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The writer holds the lock: a second opener gives up at its
	// context's deadline, well before the timeout.
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if db, err := Open(dctx, path, false, time.Minute); err == nil {
		db.Close()
		t.Fatal("second writer opened a locked file")
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("second writer waited %s; want about its 50ms deadline", waited)
	}
	w.Close()
	r, err := Open(ctx, path, true, time.Second)
	if err != nil || r == nil {
		t.Fatalf("read-only open of an existing file = %v, %v", r, err)
	}
	r.Close()
}
