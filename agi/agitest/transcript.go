package agitest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Line is one line on the wire, exactly as sent, "\n" included.
type Line struct {
	// FromServer is true for what the FastAGI server sent (commands),
	// false for what Asterisk sent (environment, replies, HANGUP).
	FromServer bool
	Text       string
}

// String renders the line in the fixture format: `> "..."` for the server,
// `< "..."` for Asterisk, the text Go-quoted.
func (l Line) String() string {
	dir := "<"
	if l.FromServer {
		dir = ">"
	}
	return dir + " " + strconv.Quote(l.Text)
}

// Transcript is what happened on one simulated call.
type Transcript struct {
	// Commands are the command lines received, in order, without "\n".
	Commands []string
	// Lines are all lines both ways, in order.
	Lines []Line
	// Vars are the channel variables when the session ended (preset Vars,
	// then every SET VARIABLE and EXEC Set), AGISTATUS included.
	Vars map[string]string
	// Answered is true once ANSWER succeeded.
	Answered bool
	// HungUp is true when the channel hung up during the session (the
	// scripted caller, or HANGUP from the server).
	HungUp bool
	// Played lists the files STREAM FILE and GET DATA played; Said the
	// digits SAY DIGITS spoke.
	Played, Said []string
	// Context, Extension and Priority are where the dialplan goes on after
	// the session (changed by SET CONTEXT/EXTENSION/PRIORITY or EXEC Goto).
	Context, Extension, Priority string
	// Status is AGISTATUS: SUCCESS, HANGUP or FAILURE.
	Status string
	// Warnings are what Asterisk would have logged as warnings, such as
	// "MSet: ignoring entry 'lost' with no '='".
	Warnings []string
}

// String renders the transcript's lines in the fixture format, one a line.
func (t *Transcript) String() string {
	var b strings.Builder
	for _, l := range t.Lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ReadFixture parses a transcript in the fixture format (`< "..."`,
// `> "..."`, and `! note` lines, which are skipped).
func ReadFixture(r io.Reader) ([]Line, error) {
	var lines []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "!") {
			continue
		}
		if len(l) < 3 || (l[0] != '<' && l[0] != '>') || l[1] != ' ' {
			return nil, fmt.Errorf("fixture line %d: want `< \"...\"` or `> \"...\"`, got %q", n, l)
		}
		text, err := strconv.Unquote(l[2:])
		if err != nil {
			return nil, fmt.Errorf("fixture line %d: %w", n, err)
		}
		lines = append(lines, Line{FromServer: l[0] == '>', Text: text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading fixture: %w", err)
	}
	return lines, nil
}
