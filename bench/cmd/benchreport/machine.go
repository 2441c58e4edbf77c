package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// machine is what the report says about where it ran.
type machine struct {
	CPU, Kernel, OS, Go string
	Cores               int
	RAM                 int64
	Date                time.Time
	LoadStart, LoadEnd  string // /proc/loadavg's 1, 5 and 15 minute averages
}

// loadAverage returns the 1, 5 and 15 minute load averages: other work on
// the machine during a run shows in them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Date: time.Now().UTC(), LoadStart: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.RAM = int64(si.Totalram) * int64(si.Unit)
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

// short is the one line that goes under every table.
func (m machine) short() string {
	return fmt.Sprintf("%s, %d cores, %.0f GiB RAM, %s, %s, %s, load average %s at the start of the run and %s at its end",
		m.CPU, m.Cores, float64(m.RAM)/(1<<30), m.Kernel, m.Go, m.Date.Format("2006-01-02 15:04 MST"), m.LoadStart, m.LoadEnd)
}
