package server

import (
	"io"
	"log/slog"

	"ward/internal/config"
)

// NewLogger returns the process logger cfg asks for: JSON lines (for log
// collectors) or text (for a terminal), at cfg's level.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == config.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
