package cdrdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/callscreen/callscreen/cdr"
)

// Defaults of Options.
const (
	DefaultTable    = "cdr"
	DefaultLookback = 4 * time.Hour
	DefaultTimeout  = 30 * time.Second
)

// Options configure a Reader.
type Options struct {
	// DSN is the go-sql-driver/mysql data source name, such as
	// "callscreen@tcp(127.0.0.1:3306)/asteriskcdrdb".
	DSN string
	// Password, when set, replaces the DSN's: keep it out of the DSN.
	Password string
	// Table is DefaultTable when "": a name, or database.name.
	Table string
	// Location reads calldate, which MariaDB keeps without a zone: the
	// PBX's time zone (UTC unless cdr_adaptive_odbc was told otherwise).
	// nil is UTC.
	Location *time.Location
	// Lookback is DefaultLookback when 0.
	Lookback time.Duration
	// Timeout bounds one Read (connect, query and rows); DefaultTimeout
	// when 0.
	Timeout time.Duration
}

var tableRE = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}(\.[A-Za-z0-9_$]{1,64})?$`)

// config parses the DSN with the reader's settings applied.
func (o Options) config() (*mysql.Config, error) {
	c, err := mysql.ParseDSN(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w (want user@tcp(host:3306)/asteriskcdrdb)", err)
	}
	if o.Password != "" {
		c.Passwd = o.Password
	}
	if c.DBName == "" && !strings.Contains(o.Table, ".") {
		return nil, errors.New("dsn: no database name (want user@tcp(host:3306)/asteriskcdrdb)")
	}
	c.ParseTime = true
	c.Loc = o.Location
	if c.Loc == nil {
		c.Loc = time.UTC
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	return c, nil
}

// Redacted is the DSN without its password, for messages.
func (o Options) Redacted() string {
	c, err := mysql.ParseDSN(o.DSN)
	if err != nil {
		return "(unparsable dsn)"
	}
	if c.Passwd != "" {
		c.Passwd = "redacted"
	}
	return c.FormatDSN()
}

// required are the columns a CDR row needs; the others are read when the
// table has them.
var required = []string{"calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata",
	"duration", "billsec", "disposition", "uniqueid"}

var optional = []string{"accountcode", "amaflags", "userfield", "peeraccount", "linkedid", "sequence", "outbound_cnum"}

// Reader reads a CDR table incrementally. It is not safe for concurrent
// use.
type Reader struct {
	opts   Options
	db     *sql.DB
	where  string         // the redacted DSN and table, for messages
	cols   []string       // the columns selected, calldate first
	index  map[string]int // column → its place in the raw values (after calldate)
	query  string
	from   time.Time            // the next Read takes rows dated from here
	newest time.Time            // the newest calldate read
	seen   map[uint64]time.Time // fingerprints of rows read inside the look-back
	seed   maphash.Seed
}

// Open checks the options and prepares a connection pool; nothing is
// connected until Read.
func Open(opts Options) (*Reader, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if !tableRE.MatchString(opts.Table) {
		return nil, fmt.Errorf("table %q: want a table name such as cdr or asteriskcdrdb.cdr", opts.Table)
	}
	if opts.Lookback <= 0 {
		opts.Lookback = DefaultLookback
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c, err := opts.config()
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return &Reader{
		opts: opts, db: db, where: opts.Redacted() + " table " + opts.Table,
		seen: map[uint64]time.Time{}, seed: maphash.MakeSeed(),
	}, nil
}

// Where names the database and table, without the password.
func (r *Reader) Where() string { return r.where }

// Since makes the next Read start at t (the first Read starts at the
// zero time otherwise: the whole table).
func (r *Reader) Since(t time.Time) {
	r.from = t
}

// Close closes the connection pool.
func (r *Reader) Close() error { return r.db.Close() }

func quoteIdent(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = "`" + p + "`"
	}
	return strings.Join(parts, ".")
}

// discover reads the table's columns once and builds the query.
func (r *Reader) discover(ctx context.Context) error {
	if r.query != "" {
		return nil
	}
	rows, err := r.db.QueryContext(ctx, "SELECT * FROM "+quoteIdent(r.opts.Table)+" LIMIT 0")
	if err != nil {
		return err
	}
	names, err := rows.Columns()
	_ = rows.Close()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range names {
		have[strings.ToLower(n)] = true
	}
	var missing []string
	for _, c := range required {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("has no column %s: is it the CDR table cdr_adaptive_odbc writes (asteriskcdrdb.cdr)?", strings.Join(missing, ", "))
	}
	cols := append([]string(nil), required...)
	for _, c := range optional {
		if have[c] {
			cols = append(cols, c)
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "`" + c + "`"
	}
	r.cols = cols
	r.index = map[string]int{}
	for i, c := range cols[1:] {
		r.index[c] = i
	}
	r.query = "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(r.opts.Table) +
		" WHERE `calldate` >= ? ORDER BY `calldate`"
	return nil
}

// Read calls fn with every row not read before, from the start time (or
// the newest calldate seen less the look-back) on, in calldate order; rec
// is reused. It fails when the database cannot be reached or queried (the
// error names the DSN without its password, and the next Read starts where
// this one should have), when the table lacks a needed column, or when fn
// fails. Rows it cannot use are counted and skipped in Stats.
func (r *Reader) Read(ctx context.Context, fn func(rec *cdr.Record) error) (cdr.Stats, error) {
	st, err := r.read(ctx, fn)
	if err != nil {
		return st, fmt.Errorf("cdr database %s: %w", r.where, err)
	}
	return st, nil
}

func (r *Reader) read(ctx context.Context, fn func(rec *cdr.Record) error) (cdr.Stats, error) {
	var st cdr.Stats
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	if err := r.discover(ctx); err != nil {
		return st, err
	}
	from := r.from
	if !r.newest.IsZero() {
		from = r.newest.Add(-r.opts.Lookback)
	}
	rows, err := r.db.QueryContext(ctx, r.query, from.In(r.loc()).Format(time.DateTime))
	if err != nil {
		return st, err
	}
	defer rows.Close()
	var (
		calldate sql.NullTime
		raw      = make([]sql.RawBytes, len(r.cols)-1)
		dest     = make([]any, len(r.cols))
		rec      cdr.Record
		newest   = r.newest
	)
	dest[0] = &calldate
	for i := range raw {
		dest[i+1] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return st, err
		}
		st.Rows++
		fp := r.fingerprint(calldate, raw)
		if _, dup := r.seen[fp]; dup {
			st.Rows--
			continue
		}
		where, perr := r.record(&rec, calldate, raw)
		if calldate.Valid {
			r.seen[fp] = calldate.Time
			if calldate.Time.After(newest) {
				newest = calldate.Time
			}
		}
		if perr != nil {
			st.Skip(where, perr)
			continue
		}
		if err := fn(&rec); err != nil {
			return st, err
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	r.newest = newest
	// Forget rows that fell out of the look-back.
	cut := r.newest.Add(-r.opts.Lookback)
	for fp, t := range r.seen {
		if t.Before(cut) {
			delete(r.seen, fp)
		}
	}
	return st, nil
}

func (r *Reader) loc() *time.Location {
	if r.opts.Location == nil {
		return time.UTC
	}
	return r.opts.Location
}

// fingerprint identifies a row among those read inside the look-back.
func (r *Reader) fingerprint(calldate sql.NullTime, raw []sql.RawBytes) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	if calldate.Valid {
		_, _ = h.WriteString(calldate.Time.UTC().Format(time.RFC3339))
	}
	for _, b := range raw {
		_, _ = h.Write(b)
		_ = h.WriteByte(0)
	}
	return h.Sum64()
}

// record fills rec from one row; where names the row.
func (r *Reader) record(rec *cdr.Record, calldate sql.NullTime, raw []sql.RawBytes) (where string, err error) {
	*rec = cdr.Record{}
	col := func(name string) string {
		if i, ok := r.index[name]; ok {
			return string(raw[i])
		}
		return ""
	}
	rec.UniqueID = col("uniqueid")
	rec.ID = rec.UniqueID
	where = "row uniqueid " + strconv.Quote(rec.UniqueID)
	if !calldate.Valid || calldate.Time.IsZero() {
		return where, errors.New("calldate is NULL")
	}
	rec.Start = calldate.Time
	rec.CLID, rec.Src, rec.Dst, rec.DContext = col("clid"), col("src"), col("dst"), col("dcontext")
	rec.Channel, rec.DstChannel, rec.LastApp, rec.LastData = col("channel"), col("dstchannel"), col("lastapp"), col("lastdata")
	rec.AccountCode, rec.AMAFlags, rec.UserField = col("accountcode"), col("amaflags"), col("userfield")
	rec.PeerAccount, rec.LinkedID = col("peeraccount"), col("linkedid")
	rec.OutboundCNum = col("outbound_cnum")
	_, rec.HasOutboundCNum = r.index["outbound_cnum"]
	if rec.Duration, err = whole(col("duration")); err != nil {
		return where, fmt.Errorf("duration %q: want seconds", col("duration"))
	}
	if rec.BillSec, err = whole(col("billsec")); err != nil {
		return where, fmt.Errorf("billsec %q: want seconds", col("billsec"))
	}
	if s := col("sequence"); s != "" {
		if rec.Sequence, err = whole(s); err != nil {
			return where, fmt.Errorf("sequence %q: want a number", s)
		}
	}
	d, ok := cdr.ParseDisposition(col("disposition"))
	if !ok {
		return where, fmt.Errorf("disposition %q: want ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION", col("disposition"))
	}
	rec.Disposition = d
	rec.End = rec.Start.Add(time.Duration(rec.Duration) * time.Second)
	if d == cdr.Answered {
		rec.Answer = rec.End.Add(-time.Duration(rec.BillSec) * time.Second)
	}
	return where, nil
}

// whole reads seconds written as an integer or a float (some schemas keep
// them as FLOAT).
func whole(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, errors.New("bad number")
	}
	return int(f), nil
}
