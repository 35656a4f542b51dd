package cli

import (
	"runtime/debug"
	"testing"
)

func TestReadVersion(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "1a2b3c4d"}, {Key: "vcs.time", Value: "2026-11-20T09:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		name    string
		bi      *debug.BuildInfo
		ldflags string
		want    string
	}{
		{"no build info", nil, "dev", "dev (revision unknown)"},
		{"go install", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs[:2]}, "dev", "v1.2.0 (revision 1a2b3c4d, 2026-11-20T09:00:00Z)"},
		{"local build with changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "dev", "dev (revision 1a2b3c4d, 2026-11-20T09:00:00Z, modified)"},
		{"ldflags win", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs[:1]}, "v1.3.0-rc1", "v1.3.0-rc1 (revision 1a2b3c4d)"},
	} {
		if got := readVersion(c.bi, c.ldflags).String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
