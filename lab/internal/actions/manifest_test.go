package actions

import (
	"strings"
	"testing"
)

func TestDaemonManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string // value "" leaves LAB_MANIFEST unset
		wantName    string
		wantSelect  string // the DaemonSet's selector label
		wantErr     string
	}{
		{name: "default is ours", wantName: "ours", wantSelect: "app"},
		{name: "ours", value: "ours", wantName: "ours", wantSelect: "app"},
		{name: "upstream", value: "upstream", wantName: "upstream", wantSelect: "name"},
		{name: "unknown", value: "upstrem", wantErr: `LAB_MANIFEST="upstrem": want one of ours, upstream`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &env{vars: map[string]string{}}
			if tc.value != "" {
				e.vars["LAB_MANIFEST"] = tc.value
			}
			m, err := e.daemonManifest()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || m.name != tc.wantName {
				t.Fatalf("manifest %q, err %v; want %q", m.name, err, tc.wantName)
			}
			objs, err := m.objects()
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, o := range objs {
				if o.GetKind() != "DaemonSet" || o.GetName() != daemonName || o.GetNamespace() != daemonNamespace {
					continue
				}
				found = true
				sel := o.Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
				if sel[tc.wantSelect] != "multus" || len(sel) != 1 {
					t.Errorf("selector %v, want %s=multus", sel, tc.wantSelect)
				}
				// lab status and logs find the daemon pods with daemonSelector.
				labels := o.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
				if labels["app"] != "multus" {
					t.Errorf("pod labels %v lack %s", labels, daemonSelector)
				}
			}
			if !found {
				t.Fatalf("%s holds no DaemonSet %s/%s", m.source, daemonNamespace, daemonName)
			}
		})
	}
}
