package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// printVersion is `keyward version`: the module version and the VCS
// revision, time and modified flag that `go build` stamps into the binary,
// and the Go version, so that an operator can tell which commit runs.
func printVersion(w io.Writer, opts Options) {
	info, ok := debug.ReadBuildInfo()
	writeVersion(w, opts.version(), info, ok)
}

// writeVersion formats the build information (ok false: none).
func writeVersion(w io.Writer, version string, info *debug.BuildInfo, ok bool) {
	fmt.Fprintln(w, "keyward", version)
	if !ok {
		fmt.Fprintln(w, "go", runtime.Version())
		return
	}
	fmt.Fprintln(w, "module", info.Main.Path, orUnknown(info.Main.Version))
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for _, key := range []string{"vcs.revision", "vcs.time", "vcs.modified"} {
		fmt.Fprintln(w, key, orUnknown(settings[key]))
	}
	fmt.Fprintln(w, "go", info.GoVersion)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
