package config

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// SlogLevel returns log.level as a slog level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogger builds the process logger for w: log.format "text" or "auto"
// on a terminal gives coloured text (tint), "json" or "auto" elsewhere
// gives one JSON object per line.
func NewLogger(l Log, w io.Writer) *slog.Logger {
	level := l.SlogLevel()
	text := l.Format == "text"
	if l.Format == "" || l.Format == "auto" {
		text = isTerminal(w)
	}
	if text {
		return slog.New(tint.NewTextHandler(w, &tint.Options{
			Level:      level,
			TimeFormat: time.TimeOnly,
			NoColor:    !isTerminal(w),
		}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
