//go:build unix && !linux

package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// harden keeps the agent's memory, which holds keys, passwords and values,
// out of core files (its core file limit is 0). Making the process not
// dumpable is done on Linux only; elsewhere the agent refuses every client
// anyway (peercred_other.go).
func harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("turning core files off for the agent's process: %w", err)
	}
	return nil
}
