package admin

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"testing"

	"github.com/callscreen/callscreen/internal/csvsafe"
)

func TestWriteCSVEscapesFormulas(t *testing.T) {
	for _, s := range csvsafe.FormulaCases {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			var b bytes.Buffer
			if err := writeCSV(&b, []Decision{{ID: "d-1", Caller: "+12125550100", CallerName: s, Error: s}}); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&b).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("rows %q, %v", rows, err)
			}
			if rows[1][4] != "+12125550100" || rows[1][5] != "'"+s || rows[1][17] != "'"+s {
				t.Errorf("row %q: want caller as is, name and error %q", rows[1], "'"+s)
			}
		})
	}
}
