package feedback

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/callscreen/callscreen/internal/csvsafe"
)

// Export writes reports for upload as spam reports: format "csv" (a
// header line, then number, kind, time, tenant, agent, decision_id, note)
// or "jsonl" (one report per line). CSV cells that a spreadsheet would
// run as a formula are escaped (see internal/csvsafe).
func Export(w io.Writer, reports []Report, format string) error {
	switch format {
	case "csv", "":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"number", "kind", "time", "tenant", "agent", "decision_id", "note"})
		for _, r := range reports {
			_ = cw.Write(csvsafe.Row([]string{r.Number, string(r.Kind), r.Time.UTC().Format(time.RFC3339), r.Tenant, r.Agent, r.DecisionID, r.Note}))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("export feedback: %w", err)
		}
		return nil
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range reports {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("export feedback: %w", err)
			}
		}
		return nil
	}
	return fmt.Errorf("export format %q: want csv or jsonl", format)
}
