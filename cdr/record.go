package cdr

import (
	"fmt"
	"strings"
	"time"
)

// Record is one CDR row. Fields a source does not have are zero.
type Record struct {
	// Line is the line of the row in its file (1-based); 0 for a row from
	// a database.
	Line int64
	// ID identifies a database row in messages (its primary key or
	// uniqueid); "" for a file row.
	ID string

	AccountCode string
	Src         string // the caller ID number of the channel that placed the call
	Dst         string // the extension dialled
	DContext    string // the dialplan context of Dst
	CLID        string // "name" <number>
	Channel     string
	DstChannel  string
	LastApp     string // the last application run, "Dial" for the row that placed a call
	LastData    string
	Start       time.Time
	Answer      time.Time // zero when the call was not answered
	End         time.Time
	Duration    int // seconds from Start to End
	BillSec     int // seconds from Answer to End
	Disposition Disposition
	AMAFlags    string
	UniqueID    string
	UserField   string
	PeerAccount string
	LinkedID    string
	Sequence    int

	// OutboundCNum is the caller ID FreePBX presented to the trunk
	// (asteriskcdrdb.cdr outbound_cnum); HasOutboundCNum says whether the
	// source has that column at all.
	OutboundCNum    string
	HasOutboundCNum bool
}

// CallKey identifies the call a row belongs to: LinkedID when the source
// has it, else UniqueID.
func (r *Record) CallKey() string {
	if r.LinkedID != "" {
		return r.LinkedID
	}
	return r.UniqueID
}

// CallerNumber is the number the far end saw: FreePBX's outbound_cnum when
// set, else Src.
func (r *Record) CallerNumber() string {
	if r.OutboundCNum != "" {
		return r.OutboundCNum
	}
	return r.Src
}

// Where names the row in messages: "line 12" or "row 1796175839.13".
func (r *Record) Where() string {
	if r.Line > 0 {
		return fmt.Sprintf("line %d", r.Line)
	}
	return "row " + r.ID
}

// Disposition is what became of the call, as Asterisk writes it.
type Disposition string

// The dispositions Asterisk writes (main/cdr.c ast_cdr_disp2str).
const (
	Answered   Disposition = "ANSWERED"
	NoAnswer   Disposition = "NO ANSWER"
	Busy       Disposition = "BUSY"
	Failed     Disposition = "FAILED"
	Congestion Disposition = "CONGESTION"
)

// ParseDisposition reads a disposition; ok is false for anything else.
func ParseDisposition(s string) (Disposition, bool) {
	switch d := Disposition(strings.ToUpper(strings.TrimSpace(s))); d {
	case Answered, NoAnswer, Busy, Failed, Congestion:
		return d, true
	}
	return "", false
}
