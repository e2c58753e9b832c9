package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

// version prints what go build stamped: module version, VCS revision, time
// and modified flag, and the Go version.
func TestVersionFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/keyward/keyward", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	var b strings.Builder
	writeVersion(&b, "v1.2.3", info, true)
	want := `keyward v1.2.3
module github.com/keyward/keyward v1.2.3
vcs.revision 0123456789abcdef0123456789abcdef01234567
vcs.time 2026-12-01T10:00:00Z
vcs.modified false
go go1.26.8
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
