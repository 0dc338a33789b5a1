package logx

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestErrorAttrs(t *testing.T) {
	base := fmt.Errorf("delegate macvlan: %w", fs.ErrPermission)
	inner := WithAttrs(base, "rolledBack", 2)
	outer := WithAttrs(fmt.Errorf("add: %w", inner), slog.Bool("cacheKept", true))
	joined := errors.Join(errors.New("other"), outer)
	cases := []struct {
		name string
		err  error
		want string // the attributes as a text handler writes them
	}{
		{"nil", nil, ""},
		{"none attached", base, ""},
		{"one level", inner, "rolledBack=2"},
		{"through a wrap, outermost first", outer, "cacheKept=true rolledBack=2"},
		{"through errors.Join", joined, "cacheKept=true rolledBack=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: dropTimeAndLevel}))
			log.Info("x", Attrs(tc.err)...)
			got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(b.String()), "msg=x"))
			if got != tc.want {
				t.Errorf("attrs = %q, want %q", got, tc.want)
			}
		})
	}
	if outer.Error() != "add: delegate macvlan: permission denied" || !errors.Is(outer, fs.ErrPermission) {
		t.Errorf("attributes changed the error: %q", outer)
	}
	if WithAttrs(nil, "k", 1) != nil {
		t.Error("WithAttrs(nil) is not nil")
	}
}

func dropTimeAndLevel(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
		return slog.Attr{}
	}
	return a
}
