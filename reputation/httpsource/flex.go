package httpsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Int is a JSON integer that providers sometimes send as a string or a
// float ("87", 87.0). null and "" read as absent (Set false).
type Int struct {
	V   int
	Set bool
}

// UnmarshalJSON accepts a number, a numeric string, or null.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = Int{}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > math.MaxInt32 || i < math.MinInt32 {
			return fmt.Errorf("integer %s out of range", s)
		}
		n.V, n.Set = int(i), true
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt32 || f < math.MinInt32 {
		return fmt.Errorf("want an integer, got %s", b)
	}
	n.V, n.Set = int(math.Round(f)), true
	return nil
}

// Bool is a JSON boolean that providers sometimes send as a string or a
// number ("true", "1", 1). null and "" read as absent (Set false).
type Bool struct {
	V   bool
	Set bool
}

// UnmarshalJSON accepts true/false, "true"/"false"/"yes"/"no"/"1"/"0", 1/0,
// or null.
func (v *Bool) UnmarshalJSON(b []byte) error {
	*v = Bool{}
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "null", "":
		return nil
	case "true", "yes", "1", "y", "t":
		v.V, v.Set = true, true
	case "false", "no", "0", "n", "f":
		v.Set = true
	default:
		return fmt.Errorf("want a boolean, got %s", b)
	}
	return nil
}
