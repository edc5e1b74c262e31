package admin

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/callscreen/callscreen/internal/citest"
)

const fileCaller = "+12125550666"

// TestRemoveFileEntryConflict: removing an entry that comes from a list
// file answers 409 with the store's message, naming the file and line,
// and the entry stays.
func TestRemoveFileEntryConflict(t *testing.T) {
	h := newHarness(t, testToken)
	if _, err := h.lists.Add(context.Background(), ListEntry{List: "block", Value: fileCaller}); err != nil {
		t.Fatal(err)
	}
	h.lists.origins = map[string]string{fileCaller: "block.txt:3"}
	code, body := h.do(t, "DELETE", "/api/v1/lists/block?value="+url.QueryEscape(fileCaller), testToken, nil)
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	if code != 409 || !strings.Contains(e.Error, "comes from block.txt:3; edit the file") {
		t.Fatalf("DELETE file entry: %d %s", code, body)
	}
	if es, _ := h.lists.Entries(context.Background(), "", "block"); len(es) != 1 {
		t.Fatalf("entries after a refused removal: %v", es)
	}
}

// TestDashboardRemoveFileEntry: in the dashboard, Remove on an entry that
// comes from a list file shows the server's message, not "Removed".
func TestDashboardRemoveFileEntry(t *testing.T) {
	citest.Short(t, "starts Chromium")
	const token = "dashboard-token"
	st := newStack(t, token)
	if _, err := st.lists.Add(context.Background(), ListEntry{List: "block", Value: fileCaller}); err != nil {
		t.Fatal(err)
	}
	st.lists.mu.Lock()
	st.lists.origins = map[string]string{fileCaller: "block.txt:3"}
	st.lists.mu.Unlock()
	ctx, problems := browser(t)
	row := `#list-table tr[data-value="` + fileCaller + `"]`
	var msg, toast string
	var rows int
	err := chromedp.Run(ctx,
		chromedp.Navigate(st.adminURL+"/"),
		chromedp.WaitVisible("#login-form", chromedp.ByQuery),
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-ready="true"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.Click(row+" button", chromedp.ByQuery),
		chromedp.WaitVisible(`//*[@id="list-error"][contains(., "edit the file")]`),
		chromedp.Text("#list-error", &msg, chromedp.ByQuery),
		chromedp.Text("#toast", &toast, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#list-table tr[data-value="`+fileCaller+`"]').length`, &rows),
	)
	if err != nil {
		t.Fatalf("remove in the dashboard: %v; page problems %v", err, problems())
	}
	if !strings.Contains(msg, "comes from block.txt:3; edit the file") || strings.Contains(toast, "Removed") || rows != 1 {
		t.Fatalf("message %q, toast %q, rows %d: want the file's message, no \"Removed\", the row kept", msg, toast, rows)
	}
}
