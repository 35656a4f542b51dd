package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/report"
)

// buildVersion is what 'iamwarden version' prints: the module version and the VCS revision the
// binary was built from, as the Go toolchain records them (runtime/debug build info).
type buildVersion struct {
	Version      string `json:"version"`
	Revision     string `json:"revision"`
	RevisionTime string `json:"revision_time,omitempty"`
	Modified     bool   `json:"modified"`
	GoVersion    string `json:"go_version"`
}

// readVersion reads bi (nil when the binary has no build info). Version wins when set at build
// time with -ldflags; else the module version the toolchain stamped; else "dev".
func readVersion(bi *debug.BuildInfo, ldflags string) buildVersion {
	v := buildVersion{Version: "dev", Revision: "unknown"}
	if ldflags != "" && ldflags != "dev" {
		v.Version = ldflags
	}
	if bi == nil {
		return v
	}
	v.GoVersion = bi.GoVersion
	if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.RevisionTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// currentVersion is this binary's version.
func currentVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(bi, Version)
}

// String is the one-line version: "v1.2.0 (revision 1a2b3c4d5e6f, 2026-11-20T09:00:00Z)", with
// ", modified" for a build from a working tree with uncommitted changes.
func (v buildVersion) String() string {
	s := v.Version + " (revision " + v.Revision
	if v.RevisionTime != "" {
		s += ", " + v.RevisionTime
	}
	if v.Modified {
		s += ", modified"
	}
	return s + ")"
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print iamwarden's version and the VCS revision it was built from",
		Long: `Print the module version and the VCS revision (with its time, and "modified" for a build
from uncommitted changes) the Go toolchain recorded in the binary. One line of text, piped or
not; -o json prints {"version", "revision", "revision_time", "modified", "go_version"}.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := g.format("version")
			if err != nil {
				return err
			}
			if g.output == "" {
				f = report.FormatTable // one line, even piped: what scripts and bug reports want
			}
			v := currentVersion()
			if f == report.FormatJSON {
				return encodeJSON(g.stdout, v)
			}
			_, err = fmt.Fprintf(g.stdout, "iamwarden %s\n", v)
			return err
		},
	}
}
