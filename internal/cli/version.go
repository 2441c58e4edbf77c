package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/abi"
)

func (s *session) versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version of sesame and of the extension ABI it speaks",
		UsageText: "sesame version (or sesame --version)",
		Action: func(c *cli.Context) error {
			if _, err := args(c, 0, 0, ""); err != nil {
				return err
			}
			s.printVersion()
			return nil
		},
	}
}

// printVersion prints the module version (or "(devel)") with the commit it
// was built from, and the ABI major version: the one extensions must export
// as its marker.
func (s *session) printVersion() {
	version, commit := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			switch {
			case kv.Key == "vcs.revision" && len(kv.Value) >= 12:
				commit = " " + kv.Value[:12] + commit
			case kv.Key == "vcs.modified" && kv.Value == "true":
				commit += " (modified)"
			}
		}
	}
	fmt.Fprintf(s.stdout, "sesame %s%s\nextension ABI: version %d (%s)\n", version, commit, abi.Version, abi.Marker)
}
