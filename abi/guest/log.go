//go:build wasip1

package guest

import "github.com/sesamehq/sesame/abi"

// LogLevel is the severity of a log line (SPEC.md §5.1).
type LogLevel uint32

// The four levels.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// Log sends msg to the host's log at level. The host keeps lines of up to
// 8 KiB (Log cuts longer ones) and at most 100 lines per call. Never log a
// secret value.
//
// There is no Logf: importing fmt adds about 130 KB to a guest. Build the
// line with strconv, or call Log(level, fmt.Sprintf(…)) in a vault that
// uses fmt anyway.
func Log(level LogLevel, msg string) {
	hostLog(uint32(level), truncate(msg, abi.MaxLogLineBytes))
}
