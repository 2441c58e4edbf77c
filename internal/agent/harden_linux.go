package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// harden keeps the agent's memory, which holds keys, passwords and values,
// out of reach of other processes of the user and out of core files: the
// process is not dumpable (no ptrace attach, no /proc/PID/mem or environ
// for the user's other processes, no core on a crash) and its core file
// limit is 0.
func harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the agent's process not dumpable: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("turning core files off for the agent's process: %w", err)
	}
	return nil
}
