package audit

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRecord is the cost a call pays: Record with a writer behind it
// (batch fsync).
func BenchmarkRecord(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir(), Logger: quiet, QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	r := result(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l.Record(r)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommit is what the flow adds to a call before its routing
// variables: encode, hash and write(2) the record (batch fsync runs on the
// log's goroutine), one call at a time and with calls in parallel.
func BenchmarkCommit(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "parallel"}[parallel], func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			r := result(1)
			b.ReportAllocs()
			b.ResetTimer()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := l.Commit(r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := l.Commit(r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := l.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkSeal is the writer's work per record: encode and hash.
func BenchmarkSeal(b *testing.B) {
	rec := FromResult(result(1), "")
	rec.Seq, rec.Prev, rec.Type = 1, GenesisHash, TypeRecord
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := sealRecord(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendDurable is one record at a time, each waiting for its
// fsync: the worst case for the writer.
func BenchmarkAppendDurable(b *testing.B) {
	for _, policy := range []string{FsyncAlways, FsyncBatch} {
		b.Run(policy, func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Logger: quiet, Fsync: policy, FsyncInterval: 5 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			r := result(1)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkVerify is the verifier's speed over a log of 10,000 records.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(Options{Dir: dir, Logger: quiet, QueueSize: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		l.Record(result(i))
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	files, _ := Files(dir)
	b.ResetTimer()
	for b.Loop() {
		if rep, err := Verify(files, l.PublicKey()); err != nil || rep.Records != 10000 {
			b.Fatal(rep, err)
		}
	}
}
