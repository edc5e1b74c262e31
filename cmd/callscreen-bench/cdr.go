package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/callscreen/callscreen/cdr"
	"github.com/callscreen/callscreen/internal/cdrgen"
	"github.com/callscreen/callscreen/outbound"
)

func init() {
	register(bench{name: "cdr", summary: "outbound health: a generated Master.csv of 1M rows followed and judged, rows/s and peak heap at two file sizes", run: runCDRBench})
}

// runCDRBench generates Master.csv files of each -rows size (three rows a
// call, like the fixture) in a temporary directory and, for each, times
// (1) reading alone and (2) what serve does, a cdr.Follower feeding an
// outbound.Aggregator and a report. It samples the live heap while each
// runs: streaming, the peak must not grow with the file.
func runCDRBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cdr", flag.ContinueOnError)
	sizes := fs.String("rows", "100000,1000000", "comma-separated file sizes in rows")
	numbers := fs.Int("numbers", 20, "numbers placing the calls")
	days := fs.Int("days", 7, "days the calls are spread over")
	dir := fs.String("dir", "", "directory for the generated files (default: a temporary one, removed after)")
	limit := fs.Duration("max", 5*time.Minute, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	if *dir == "" {
		d, err := os.MkdirTemp("", "callscreen-bench-cdr-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	fmt.Fprintf(out, "cdr bench: %s/%s, %d CPUs, GOMAXPROCS %d; %d numbers over %d days, three rows a call\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), *numbers, *days)
	fmt.Fprintln(out, "rows/s is wall clock; M/CPU-s counts rows per second of CPU the process used (GC included), steadier on a busy machine;")
	fmt.Fprintln(out, "heap is the peak live heap above the start (sampled every 2ms), B/row the bytes allocated per row")
	fmt.Fprintf(out, "%10s %9s  %-48s %-48s\n", "rows", "file", "read only", "follow + judge (what serve does)")
	for _, s := range strings.Split(*sizes, ",") {
		rows, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || rows <= 0 {
			return fmt.Errorf("-rows: %q is not a positive number", s)
		}
		path := filepath.Join(*dir, fmt.Sprintf("Master-%d.csv", rows))
		if err := cbGenerate(path, rows, *numbers, *days); err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		read, err := cbMeasure(ctx, rows, func() error {
			_, err := cdr.ReadCSVFile(path, cdr.CSVOptions{Layout: cdr.DefaultLayout}, func(*cdr.Record) error { return nil })
			return err
		})
		if err != nil {
			return err
		}
		judge, err := cbMeasure(ctx, rows, func() error {
			f := cdr.NewFollower(path, cdr.CSVOptions{Layout: cdr.DefaultLayout})
			defer f.Close()
			a := outbound.New(outbound.Options{})
			stats, err := f.Read(ctx, func(r *cdr.Record) error { a.Add(r); return nil })
			if err != nil {
				return err
			}
			if stats.Rows != int64(rows) {
				return fmt.Errorf("read %d rows of %d", stats.Rows, rows)
			}
			if len(a.Report().Numbers) == 0 {
				return errors.New("no numbers judged")
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%10d %7.0fMB  %-48s %-48s\n", rows, float64(st.Size())/1e6, read, judge)
		_ = os.Remove(path)
	}
	return nil
}

func cbGenerate(path string, rows, numbers, days int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	if err := cdrgen.Write(f, cdrgen.Options{Rows: rows, Numbers: numbers, Start: start, Days: days, Seed: 1}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cbMeasure runs fn once and says rows/s, the peak live heap above what
// was live before, and bytes allocated per row.
func cbMeasure(ctx context.Context, rows int, fn func() error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	base, allocBase := sample[0].Value.Uint64(), sample[1].Value.Uint64()
	peak := base
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				metrics.Read(s)
				if v := s[0].Value.Uint64(); v > peak {
					peak = v
				}
			}
		}
	}()
	cpu0 := cpuTime()
	start := time.Now()
	err := fn()
	el := time.Since(start)
	cpu := cpuTime() - cpu0
	close(done)
	<-sampled
	metrics.Read(sample)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%5.2fM rows/s %4.2fM/CPU-s heap %4.1fMB %3.0fB/row", float64(rows)/el.Seconds()/1e6, float64(rows)/cpu.Seconds()/1e6,
		float64(peak-base)/1e6, float64(sample[1].Value.Uint64()-allocBase)/float64(rows)), nil
}
