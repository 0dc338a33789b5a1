package logx

import "log/slog"

// ErrKey is the attribute name of an error in every log line.
const ErrKey = "err"

// A failed request is logged once, by the layer that answers it (the
// server). Lower layers that know more than the error says (how many
// delegates were rolled back, whether a rollback failed and its cache was
// kept) attach it to the error with WithAttrs instead of logging a line of
// their own; the server logs the error with Attrs(err).

// attrError is an error carrying log attributes for whoever logs it. It
// changes neither the message nor what errors.Is and errors.As find.
type attrError struct {
	err   error
	attrs []any
}

func (e *attrError) Error() string { return e.err.Error() }
func (e *attrError) Unwrap() error { return e.err }

// WithAttrs returns err carrying attrs (slog key-value pairs or
// slog.Attr values); a nil err stays nil.
func WithAttrs(err error, attrs ...any) error {
	if err == nil || len(attrs) == 0 {
		return err
	}
	return &attrError{err: err, attrs: attrs}
}

// Attrs returns the attributes attached anywhere in err's chain (through
// %w wraps and errors.Join), outermost first, as slog.Attr values ready to
// be passed to a log call after the error itself.
func Attrs(err error) []any {
	var out []any
	walk(err, func(e error) {
		if ae, ok := e.(*attrError); ok {
			// slog.Group turns key-value pairs into Attrs, so an odd
			// list cannot shift the caller's own pairs.
			for _, a := range slog.Group("", ae.attrs...).Value.Group() {
				out = append(out, a)
			}
		}
	})
	return out
}

// walk calls fn for err and every error it wraps, depth first.
func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	}
}
