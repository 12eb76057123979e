package redact

import (
	"context"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// Handler wraps a slog.Handler and masks secrets in every message and
// string attribute, so no log level can leak a key a caller forgot about.
// It also cuts each of them to MaxLogText bytes: a warning that quotes
// what a feed sent must not make a line of many kilobytes.
type Handler struct {
	next    slog.Handler
	secrets *Secrets
}

// MaxLogText is the most bytes of a log message or attribute value kept.
const MaxLogText = 1024

// cut shortens s to MaxLogText bytes, at a character boundary, saying how
// much was left out.
func cut(s string) string {
	if len(s) <= MaxLogText {
		return s
	}
	n := MaxLogText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)-n) + " more bytes)"
}

// NewHandler returns a Handler that masks secrets before next sees a record.
func NewHandler(next slog.Handler, secrets *Secrets) *Handler {
	return &Handler{next: next, secrets: secrets}
}

// Enabled reports whether next handles the level.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle masks the record and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, cut(h.secrets.Text(r.Message)), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, cut(h.secrets.Text(v.String())))
	case slog.KindGroup:
		attrs := v.Group()
		masked := make([]any, len(attrs))
		for i, g := range attrs {
			masked[i] = h.attr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, cut(h.secrets.Text(err.Error())))
		}
		return slog.String(a.Key, cut(h.secrets.Text(v.String())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// WithAttrs masks the attributes and passes them on.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked), secrets: h.secrets}
}

// WithGroup passes the group on.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), secrets: h.secrets}
}
