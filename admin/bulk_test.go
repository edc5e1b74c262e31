package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/number"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/reputation"
	"github.com/callscreen/callscreen/reputation/feed"
	"github.com/callscreen/callscreen/reputation/feedback"
	"github.com/callscreen/callscreen/reputation/lists"
)

// bulk is an admin server over real lists, reports and feed, and a Client
// of it.
type bulk struct {
	lists    *lists.Lists
	store    lists.Store
	reports  feedback.Store
	feed     *feed.Feed
	ts       *httptest.Server
	client   *Client
	failLoad bool
}

// failingStore is a lists store whose Load fails once asked to.
type failingStore struct {
	lists.Store
	b *bulk
}

func (s failingStore) Load(ctx context.Context, tenant string, fn func(lists.Entry) error) error {
	if s.b.failLoad {
		return errors.New("disk on fire")
	}
	return s.Store.Load(ctx, tenant, fn)
}

// failAfter is an Applier that stores its first n changes, then fails.
type failAfter struct {
	Applier
	n int
}

func (f *failAfter) Apply(ctx context.Context, cs []lists.Change) error {
	if f.n < len(cs) {
		return errors.New("disk full")
	}
	f.n -= len(cs)
	return f.Applier.Apply(ctx, cs)
}

func newBulk(t *testing.T, token string, pull feed.PullOptions, opts func(*Options)) *bulk {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	block := filepath.Join(dir, "block.txt")
	if err := os.WriteFile(block, []byte("+12125550666\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bulk{reports: feedback.NewMemoryStore()}
	b.store = failingStore{lists.NewMemStore(), b}
	l, err := lists.New(lists.Options{BlockFile: block, Store: b.store})
	if err != nil {
		t.Fatal(err)
	}
	b.lists = l
	b.feed = feed.New(ctx, feed.Options{Store: feed.NewMemStore()})
	o := Options{
		Listen: "127.0.0.1:0", Token: token, Logger: quiet,
		Lists: Lists(l, "US"), Feedback: FeedbackStore(b.reports, "US"),
		ListTransfer: ListTransfers(l, b.store, "US"), Reports: FeedbackReports(b.reports),
		Feed: Feed(b.feed, pull),
	}
	if opts != nil {
		opts(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(b.ts.Close)
	b.client = NewClient(b.ts.Listener.Addr().String(), token)
	return b
}

func (b *bulk) blocked(tenant, caller string) bool {
	v, _ := b.lists.Lookup(context.Background(), reputation.Query{Tenant: tenant, Caller: number.Parse(caller, "US"), Profile: policy.Default()})
	return v.Final && v.Tier == policy.TierSpam
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBulkLists: a list import through the API applies to the next
// lookup, counts and names the refused rows, and the export gives back
// the stored entries (not the file's) in either layout.
func TestBulkLists(t *testing.T) {
	b := newBulk(t, testToken, feed.PullOptions{}, nil)
	ctx := testCtx(t)
	csv := "number,description\n2125550001,robo\n(212) 555-0002,\"warranty, car\"\nnot-a-number,x\n"
	res, err := b.client.ImportLists(ctx, strings.NewReader(csv), ListImport{Tenant: "acme", AddedBy: "ops"})
	if err != nil || res.Stored != 2 || res.Layout != "freepbx" || res.Rejected != 1 || len(res.Bad) != 1 || res.Bad[0].Line != 4 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if !b.blocked("acme", "+12125550001") || !b.blocked("acme", "+12125550002") || b.blocked("globex", "+12125550001") {
		t.Fatal("the imported entries do not apply to acme's next call alone")
	}

	if _, err := b.client.AddListEntry(ctx, ListEntry{List: "allow", Value: "+12125550100", Note: "clinic"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		o          ListExport
		want       []string
		written    int
		skipped    int
		notContain string
	}{
		{"one tenant, native", ListExport{Tenant: "acme"}, []string{
			"tenant,list,entry,note,added_by,added,expires",
			"acme,block,+12125550001,robo,ops,", `acme,block,+12125550002,"warranty, car",ops,`}, 2, 0, "+12125550666"},
		{"every tenant", ListExport{All: true}, []string{"acme,block,+12125550001", ",allow,+12125550100,clinic,admin,"}, 3, 0, "+12125550666"},
		{"freepbx", ListExport{All: true, Layout: "freepbx"}, []string{"number,description", "2125550001,robo"}, 2, 1, "2125550100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := b.client.ExportLists(ctx, &out, tt.o)
			if err != nil || got.Written != tt.written || got.Skipped != tt.skipped {
				t.Fatalf("export: %+v, %v\n%s", got, err, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("export lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), tt.notContain) {
				t.Errorf("export holds %q:\n%s", tt.notContain, out.String())
			}
		})
	}

	// An export the store cuts short is an error, not a short file.
	b.failLoad = true
	var out bytes.Buffer
	if _, err := b.client.ExportLists(ctx, &out, ListExport{All: true}); err == nil || !strings.Contains(err.Error(), "list export cut short") {
		t.Fatalf("export with a failing store: %v\n%s", err, out.String())
	}
	b.failLoad = false
}

// TestBulkListsRefused: every import or export the API refuses says why,
// with the status the client sees.
func TestBulkListsRefused(t *testing.T) {
	b := newBulk(t, testToken, feed.PullOptions{}, func(o *Options) { o.MaxUpload = 1 << 10 })
	ctx := testCtx(t)
	big := "number\n" + strings.Repeat("2125550001\n", 200)
	tests := []struct {
		name   string
		call   func() error
		status int
		msg    string
	}{
		{"wrong token", func() error {
			_, err := NewClient(b.client.Addr(), "nope").ImportLists(ctx, strings.NewReader("2125550001\n"), ListImport{})
			return err
		}, 401, "missing or wrong token"},
		{"a list that does not exist", func() error {
			_, err := b.client.ImportLists(ctx, strings.NewReader("2125550001\n"), ListImport{List: "grey"})
			return err
		}, 400, `list "grey": want allow or block`},
		{"a name with a control character", func() error {
			_, err := b.client.ImportLists(ctx, strings.NewReader("2125550001\n"), ListImport{AddedBy: "ann\x1b[2J"})
			return err
		}, 400, "by contains a control character"},
		{"a body over the cap", func() error {
			_, err := b.client.ImportLists(ctx, strings.NewReader(big), ListImport{})
			return err
		}, 413, "request body too large"},
		{"an export layout it does not know", func() error {
			_, err := b.client.ExportLists(ctx, io.Discard, ListExport{Layout: "xml"})
			return err
		}, 400, `format "xml": want native or freepbx`},
		{"a report export format it does not know", func() error {
			return b.client.ExportReports(ctx, io.Discard, "", "xml")
		}, 400, `format "xml": want csv or jsonl`},
		{"withdrawing a report on no number", func() error {
			return b.client.WithdrawReport(ctx, "", "anonymous")
		}, 400, "a withheld number has no report"},
		{"a feed format it does not know", func() error {
			_, err := b.client.ImportFeed(ctx, strings.NewReader("[]"), FeedImport{Format: "xml"})
			return err
		}, 400, `format "xml": want json or ftc`},
		{"a pull with no feed.url", func() error {
			_, err := b.client.PullFeed(ctx, FeedImport{})
			return err
		}, 501, "feed.url is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || !strings.Contains(ae.Message, tt.msg) {
				t.Fatalf("err %v; want %d %q", err, tt.status, tt.msg)
			}
		})
	}

	// A form post (what another site's page can send without asking) is
	// refused before anything is read.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.ts.URL+"/api/v1/lists.csv", strings.NewReader("2125550001\n"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := b.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || b.blocked("", "+12125550001") {
		t.Fatalf("text/plain import: %d", resp.StatusCode)
	}
}

// TestBulkListsStoreFails: an import whose store fails part way says how
// many entries were stored before, and those apply.
func TestBulkListsStoreFails(t *testing.T) {
	var fa *failAfter
	b := newBulk(t, "", feed.PullOptions{}, func(o *Options) {
		lt := o.ListTransfer.(listTransfer)
		fa = &failAfter{Applier: lt.apply, n: 10}
		lt.apply, lt.batch = fa, 10
		o.ListTransfer = lt
	})
	var csv strings.Builder
	csv.WriteString("entry\n")
	for i := range 25 {
		fmt.Fprintf(&csv, "+1212%07d\n", i)
	}
	res, err := b.client.ImportLists(testCtx(t), strings.NewReader(csv.String()), ListImport{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || !strings.Contains(ae.Message, "list import failed") || res.Stored != 10 {
		t.Fatalf("import onto a failing store: %+v, %v", res, err)
	}
	if !b.blocked("", "+12120000000") || b.blocked("", "+12120000010") {
		t.Fatal("the first batch does not apply, or the refused one does")
	}
}

// TestBulkReports: a report recorded, exported and withdrawn through the
// API reaches the store the chain reads.
func TestBulkReports(t *testing.T) {
	b := newBulk(t, testToken, feed.PullOptions{}, nil)
	ctx := testCtx(t)
	if err := b.client.Report(ctx, FeedbackReport{Tenant: "acme", Caller: "(212) 555-0142", Spam: true, Agent: "ann", Note: "=HYPERLINK(1)"}); err != nil {
		t.Fatal(err)
	}
	if r, ok, _ := b.reports.Get(ctx, "acme", "+12125550142"); !ok || r.Kind != feedback.Spam || r.Agent != "ann" {
		t.Fatalf("stored %+v %v", r, ok)
	}
	for _, format := range []string{"csv", "jsonl"} {
		var out bytes.Buffer
		if err := b.client.ExportReports(ctx, &out, "acme", format); err != nil || !strings.Contains(out.String(), "+12125550142") || !strings.Contains(out.String(), "ann") {
			t.Fatalf("export %s: %v\n%s", format, err, out.String())
		}
	}
	if err := b.client.WithdrawReport(ctx, "acme", "2125550142"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.reports.Get(ctx, "acme", "+12125550142"); ok {
		t.Fatal("the report is still there after the withdrawal")
	}
	var out bytes.Buffer
	if err := b.client.ExportReports(ctx, &out, "acme", ""); err != nil || strings.Contains(out.String(), "+12125550142") {
		t.Fatalf("export after the withdrawal: %v\n%s", err, out.String())
	}
}

// TestBulkFeed: a feed import through the API applies to the next lookup;
// one that cannot be read to the end changes nothing; a pull fetches
// feed.url.
func TestBulkFeed(t *testing.T) {
	today := time.Now().UTC().Format("2006-01-02")
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `[{"number":"2125550300","created_date":%q}]`, today)
	}))
	defer src.Close()
	b := newBulk(t, "", feed.PullOptions{URL: src.URL, Client: src.Client()}, nil)
	ctx := testCtx(t)
	listed := func(caller string) bool {
		v, _ := b.feed.Lookup(ctx, reputation.Query{Caller: number.Parse(caller, "US"), Profile: policy.Default()})
		return len(v.Reasons) > 0
	}
	ftc := "Company_Phone_Number,Created_Date,Violation_Date,Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall\n" +
		"2125550123," + today + "," + today + ",New York,NY,212,debt,Y\n" +
		"x," + today + "," + today + ",New York,NY,212,debt,Y\n"
	res, err := b.client.ImportFeed(ctx, strings.NewReader(ftc), FeedImport{Format: "ftc"})
	if err != nil || res.Rows != 2 || res.Accepted != 1 || res.Rejected != 1 || len(res.Bad) != 1 || res.Held != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if !listed("+12125550123") {
		t.Fatal("the imported report does not apply to the next lookup")
	}
	_, err = b.client.ImportFeed(ctx, strings.NewReader(`[{"number":"2125550200","created_date":"`+today+`"},{"num`), FeedImport{Format: "json"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || listed("+12125550200") || !listed("+12125550123") {
		t.Fatalf("a cut JSON file: %v", err)
	}
	if res, err := b.client.PullFeed(ctx, FeedImport{}); err != nil || res.Accepted != 1 || !listed("+12125550300") {
		t.Fatalf("pull: %+v, %v", res, err)
	}
}

// TestClientPing: a callscreen admin API answers; nothing listening is
// ErrNoServer; another server is not taken for one.
func TestClientPing(t *testing.T) {
	b := newBulk(t, testToken, feed.PullOptions{}, nil)
	ctx := testCtx(t)
	if err := b.client.Ping(ctx); err != nil {
		t.Fatalf("ping the admin API: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if err := NewClient(closed, "").Ping(ctx); !errors.Is(err, ErrNoServer) {
		t.Fatalf("ping a closed port: %v; want ErrNoServer", err)
	}
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if err := NewClient(other.Listener.Addr().String(), "").Ping(ctx); err == nil || errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), "not a callscreen admin API") {
		t.Fatalf("ping another server: %v", err)
	}
}

func TestDialAddr(t *testing.T) {
	for _, tt := range []struct {
		listen, want string
		ok           bool
	}{
		{"127.0.0.1:8089", "127.0.0.1:8089", true},
		{"0.0.0.0:8089", "127.0.0.1:8089", true},
		{":8089", "127.0.0.1:8089", true},
		{"[::]:8089", "[::1]:8089", true},
		{"192.0.2.7:8089", "192.0.2.7:8089", true},
		{"127.0.0.1:0", "", false},
		{"nonsense", "", false},
	} {
		got, ok := DialAddr(tt.listen)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DialAddr(%q) = %q, %v; want %q, %v", tt.listen, got, ok, tt.want, tt.ok)
		}
	}
}
