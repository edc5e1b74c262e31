package bridge

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callscreen/callscreen/agi/agitest"
	"github.com/callscreen/callscreen/internal/promtest"
	"github.com/callscreen/callscreen/policy"
	"github.com/callscreen/callscreen/screen"
	"github.com/prometheus/client_golang/prometheus"
)

// callscreenSounds are the files `make install` puts on the PBX, as the
// simulator's Sounds.
func callscreenSounds() map[string]int64 {
	m := map[string]int64{}
	for _, s := range screen.ChallengeSounds(policy.Default().Challenge) {
		m[s] = 8000
	}
	return m
}

// TestChallengeWithoutCoreSounds: a PBX with callscreen's prompts but none
// of Asterisk's core sounds (no digits/N, no beep; the test PBX image in
// deploy/ is one) still challenges, and a human passes.
func TestChallengeWithoutCoreSounds(t *testing.T) {
	var logs syncBuffer
	addr := serve(t, testFlow(&logs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := agitest.Dial(ctx, addr, agitest.Call{CallerID: "anonymous", Sounds: callscreenSounds(), Caller: agitest.Caller{Auto: true}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Vars["CALLSCREEN_CHALLENGE"] != "passed" || tr.Status != "SUCCESS" {
		t.Fatalf("challenge %q, AGISTATUS %s\n%s", tr.Vars["CALLSCREEN_CHALLENGE"], tr.Status, tr)
	}
	for _, p := range tr.Played {
		if !strings.HasPrefix(p, "callscreen/") {
			t.Errorf("played %q, not one of callscreen's sounds", p)
		}
	}
}

// TestMissingDigitFailsOpenBeforeAnything: one digit missing on the PBX
// (the silent SAY DIGITS case: a caller would hear nothing and fail) means
// no challenge at all: the call is allowed with challenge.unavailable
// before anything is answered or played, the gauge and the report name the
// PBX, and the next call uses the cached answer.
func TestMissingDigitFailsOpenBeforeAnything(t *testing.T) {
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	f := testFlow(&logs)
	f.Metrics = screen.NewMetrics(reg)
	prompts := &screen.Prompts{Metrics: f.Metrics, Logger: f.Logger}
	f.Prompts = prompts
	addr := serve(t, f)
	sounds := callscreenSounds()
	delete(sounds, "callscreen/digits/4")
	for call := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		tr, err := agitest.Dial(ctx, addr, agitest.Call{CallerID: "anonymous", Sounds: sounds, Caller: agitest.Caller{Auto: true}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if tr.Vars["CALLSCREEN_RESULT"] != "allow" || tr.Vars["CALLSCREEN_CHALLENGE"] != "none" ||
			!strings.Contains(tr.Vars["CALLSCREEN_REASONS"], "challenge.unavailable") {
			t.Fatalf("call %d: vars %v", call, tr.Vars)
		}
		if tr.Answered || len(tr.Played) > 0 || tr.Status != "SUCCESS" {
			t.Fatalf("call %d: answered %v, played %q, AGISTATUS %s", call, tr.Answered, tr.Played, tr.Status)
		}
		checks := 0
		for _, c := range tr.Commands {
			if strings.HasPrefix(c, "GET FULL VARIABLE ${STAT(") {
				checks++
			}
		}
		if want := []int{3, 0}[call]; checks != want {
			t.Errorf("call %d: %d prompt checks; want %d", call, checks, want)
		}
	}
	if got := gauge(t, reg, "callscreen_screen_prompts_missing", "pbx", "127.0.0.1"); got != 1 {
		t.Errorf("callscreen_screen_prompts_missing{pbx=127.0.0.1} = %v; want 1", got)
	}
	report := prompts.Report()
	if len(report) != 1 || !strings.Contains(report[0], "127.0.0.1") || !strings.Contains(report[0], "callscreen/digits/4") {
		t.Errorf("report %q", report)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"screen: prompts missing on the PBX"); n != 1 {
		t.Errorf("%d warnings about the missing prompt; want one\n%s", n, logs.String())
	}
}

func TestSoundPaths(t *testing.T) {
	tests := []struct {
		sound, lang string
		want        []string
	}{
		{"callscreen/beep", "en", []string{
			"${ASTDATADIR}/sounds/en/callscreen/beep.wav", "${ASTDATADIR}/sounds/en/callscreen/beep.ulaw", "${ASTDATADIR}/sounds/en/callscreen/beep.gsm"}},
		{"callscreen/beep", "es_MX", []string{
			"${ASTDATADIR}/sounds/es_MX/callscreen/beep.wav", "${ASTDATADIR}/sounds/es/callscreen/beep.wav", "${ASTDATADIR}/sounds/en/callscreen/beep.wav",
			"${ASTDATADIR}/sounds/es_MX/callscreen/beep.ulaw", "${ASTDATADIR}/sounds/es/callscreen/beep.ulaw", "${ASTDATADIR}/sounds/en/callscreen/beep.ulaw",
			"${ASTDATADIR}/sounds/es_MX/callscreen/beep.gsm", "${ASTDATADIR}/sounds/es/callscreen/beep.gsm", "${ASTDATADIR}/sounds/en/callscreen/beep.gsm"}},
		{"callscreen/beep", "x}${SHELL(rm)}", []string{
			"${ASTDATADIR}/sounds/en/callscreen/beep.wav", "${ASTDATADIR}/sounds/en/callscreen/beep.ulaw", "${ASTDATADIR}/sounds/en/callscreen/beep.gsm"}},
		{"/srv/prompts/intro", "en", []string{"/srv/prompts/intro.wav", "/srv/prompts/intro.ulaw", "/srv/prompts/intro.gsm"}},
	}
	for _, tt := range tests {
		t.Run(tt.sound+"/"+tt.lang, func(t *testing.T) {
			if got := soundPaths(tt.sound, tt.lang); !slices.Equal(got, tt.want) {
				t.Fatalf("soundPaths\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// gauge reads one labelled gauge from reg; -1 when it is not there.
func gauge(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	if !promtest.Has(reg, name, label, value) {
		return -1
	}
	return promtest.Value(reg, name, label, value)
}
