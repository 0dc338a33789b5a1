package pins

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestWriteMake(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMake(&b); err != nil {
		t.Fatal(err)
	}
	want := "K8S_VERSION ?= " + K8s + "\nCNI_PLUGINS_VERSION ?= " + CNIPlugins + "\nFLANNEL_CNI_VERSION ?= " + FlannelCNI + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The Makefile must take its pins from here, never assign them itself: a second copy is
// how a bump reached make plugins but not the lab (or the other way round).
func TestMakefileHasNoPins(t *testing.T) {
	data, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	mk := string(data)
	if !strings.Contains(mk, "include $(BIN)/.pins.mk") || !strings.Contains(mk, "go run ./lab/cmd/pins") && !strings.Contains(mk, "$(GO) run ./lab/cmd/pins") {
		t.Error("the Makefile does not include the printed pins")
	}
	for _, v := range Make {
		if m := regexp.MustCompile(`(?m)^` + v.Name + `\s*(\?|:|\+)?=`).FindString(mk); m != "" {
			t.Errorf("the Makefile assigns %s itself (%q): take it from lab/internal/pins", v.Name, m)
		}
	}
	for _, version := range []string{K8s, Kind, Crictl, CNIPlugins, FlannelCNI, Flannel} {
		if strings.Contains(mk, version) {
			t.Errorf("the Makefile names version %s: take it from lab/internal/pins", version)
		}
	}
}
