package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/bench/internal/chart"
)

// report is everything one run measured. It is saved as JSON beside the
// charts (results.json), and `benchreport -render FILE` writes the report
// again from it without measuring.
type report struct {
	Quick    bool
	Machine  machine
	Took     time.Duration
	Boundary *boundaryResult `json:",omitempty"`
	Fresh    *freshResult    `json:",omitempty"`
	Scale    *scaleResult    `json:",omitempty"`
	Memory   *memoryResult   `json:",omitempty"`
}

// write writes the report to out and its charts to chartDir, and appends
// the notes file.
func (r *report) write(out, chartDir, notesFile string) error {
	if err := os.MkdirAll(chartDir, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(mustAbs(out)), mustAbs(chartDir))
	if err != nil {
		return err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	w("# Benchmarks\n\n")
	w("sesame against what a user would pick instead, measured in one run on one machine. This file is\n")
	w("generated: `make bench` writes it (about 4 minutes on a quiet two-core machine; `BENCHQUICK=1 make bench` for a short run)\n")
	w("and the charts in `%s/`. Do not edit it by hand; the explanations come from `bench/NOTES.md`.\n\n", rel)
	if r.Quick {
		w("> **Quick run** (BENCHQUICK=1): fewer reads and shorter benchmarks, no 100 000-secret store. Not for quoting.\n\n")
	}
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s, %d cores |\n| RAM | %.1f GiB |\n| kernel | %s |\n| OS | %s |\n| Go | %s |\n| date | %s |\n| run took | %s |\n| load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n",
		m.CPU, m.Cores, float64(m.RAM)/(1<<30), m.Kernel, m.OS, m.Go, m.Date.Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second), m.LoadStart, m.LoadEnd)
	w("Reproduce everything with `make bench`, or one section with\n`cd bench && go run ./cmd/benchreport -only SECTION -out /tmp/b.md` (boundary, fresh, scale, memory).\n\n")

	charts := map[string]*chart.Bars{}
	if r.Boundary != nil {
		charts["boundary.svg"] = r.writeBoundary(w, rel)
	}
	if r.Fresh != nil {
		charts["fresh.svg"] = r.writeFresh(w, rel)
	}
	if r.Scale != nil {
		charts["scale.svg"] = r.writeScale(w, rel)
	}
	if r.Memory != nil {
		charts["memory.svg"] = r.writeMemory(w, rel)
	}
	if notes, err := os.ReadFile(notesFile); err == nil {
		w("%s", strings.TrimSpace(string(notes))+"\n")
	}
	js, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(chartDir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	for name, c := range charts {
		f, err := os.Create(filepath.Join(chartDir, name))
		if err != nil {
			return err
		}
		if err := c.Write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

type writer func(format string, args ...any)

func (r *report) machineLine(w writer) {
	w("<sub>Machine: %s.</sub>\n\n", r.Machine.short())
}

func (r *report) writeBoundary(w writer, rel string) *chart.Bars {
	res := r.Boundary
	w("## 1. The plugin boundary\n\n")
	w("One get and one set of a 32-byte secret in an in-memory store, through each way a Go program can\n")
	w("reach a vault, in one process (`testing.Benchmark`, %d runs of %v each, the median run shown).\n", res.Count, res.Benchtime)
	w("The stores are as small as each system allows, so that the boundary is what is measured:\n\n")
	w("- **native**: `engine/memvault`, called through the `engine.Vault` interface: the floor.\n")
	w("- **sesame**: the engine's `Vault` for a registered extension (`engine.Vault`), default grants (a deadline per\n")
	w("  call, a pool of instances). The guests (`bench/guests/sesame-go`, `bench/guests/sesame-wat`) keep the secret in\n")
	w("  the vault's keyring slot, the host memory an extension can keep between instances.\n")
	w("- **Extism**: go-sdk v1.7.1 on the same wazero, a WAT guest (`bench/guests/extism-wat`) against Extism's\n")
	w("  documented host functions, which keeps the secret in its own memory; once as Extism runs by default and once\n")
	w("  with `timeout_ms`, the setting that gives Extism the per-call deadline sesame always has.\n")
	w("- **go-plugin**: hashicorp/go-plugin v1.8.0, a Go plugin process serving a map over gRPC (`bench/kvplugin`).\n\n")
	table := func(title string, rows []boundaryRow, get bool) {
		refWat, refGo := refRow(rows, "wat", get), refRow(rows, "go", get)
		w("**%s**\n\n", title)
		w("| path | guest | ns/op | B/op | allocs/op | × sesame (WAT guest) | × sesame (Go guest) |\n|---|---|--:|--:|--:|--:|--:|\n")
		for _, row := range rows {
			mm := row.Set
			if get {
				mm = row.Get
			}
			w("| %s | %s | %s | %d | %d | %s | %s |\n", row.Name, row.Guest, ns(mm.NsOp), mm.BOp, mm.AllocsOp, ratio(mm.NsOp, refWat), ratio(mm.NsOp, refGo))
		}
		w("\n")
	}
	table("get", res.Vault, true)
	table("set", res.Vault, false)
	w("The same through the engine's public operations (`Engine.Get`, `Engine.Set`): name and type checks, the registry's\n")
	w("freshness check, and for a set the existence check that NoClobber and the overwrite report need (these guests\n")
	w("have no `stat`, so it is a get). The last row is the built-in secretstore, a C guest, as a user's default vault\n")
	w("runs it: a password store, unlocked, on disk (a get reads two records through bbolt; a set is durable, an fsync).\n\n")
	table("engine API, get", res.Engine, true)
	table("engine API, set", res.Engine, false)
	w("![plugin boundary, ratios to sesame](%s/boundary.svg)\n\n", rel)
	r.machineLine(w)

	c := &chart.Bars{Title: "The plugin boundary: time per call, × sesame (WAT guest)", Axis: "× sesame sandbox, WAT guest (log scale; < 1 is faster)",
		Series: []string{"get", "set"}, Log: true, Ref: 1, Format: ratioLabel}
	refG, refS := refRow(res.Vault, "wat", true), refRow(res.Vault, "wat", false)
	for _, row := range res.Vault {
		c.Rows = append(c.Rows, chart.Row{Label: shortLabel(row.Name), Values: []float64{row.Get.NsOp / refG, row.Set.NsOp / refS}})
	}
	return c
}

func refRow(rows []boundaryRow, ref string, get bool) float64 {
	for _, r := range rows {
		if r.Ref == ref {
			if get {
				return r.Get.NsOp
			}
			return r.Set.NsOp
		}
	}
	return math.NaN()
}

func shortLabel(s string) string {
	if i := strings.Index(s, " ("); i > 0 && !strings.HasPrefix(s, "Extism,") {
		s = s[:i]
	}
	s = strings.Replace(s, "Extism, with timeout_ms (a deadline per call, as sesame)", "Extism with timeout_ms", 1)
	s = strings.Replace(s, "hashicorp/go-plugin v1.8.0, gRPC", "go-plugin, gRPC", 1)
	return s
}

func (r *report) writeFresh(w writer, rel string) *chart.Bars {
	res := r.Fresh
	w("## 2. A secret from a fresh process\n\n")
	w("What a shell user pays for `$(… get …)`: one new process that prints one 32-byte secret, timed from start to exit\n")
	w("by the report (fork and exec included, the same for every tool). Two untimed reads first, then the reads\n")
	w("round-robin across the tools. Every tool is set up in a throw-away folder with keys that have no passphrase, so\n")
	w("that no prompt is timed; the secret goes in on standard input, never on a command line.\n\n")
	// The targets are ratios to age (DESIGN.md, "Targets"): a column of its own.
	ref, age := math.NaN(), math.NaN()
	for _, row := range res.Rows {
		switch {
		case row.Skipped != "":
		case row.Name == "sesame get":
			ref = float64(row.P50)
		case row.Name == "age --decrypt":
			age = float64(row.P50)
		}
	}
	w("| tool | command | setting | reads | p50 | p95 | min | max | CPU (mean) | peak RSS | p50 × sesame get | p50 × age |\n|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	c := &chart.Bars{Title: "A secret from a fresh process: p50, × sesame get", Axis: "× sesame get, compile cache warm (log scale; < 1 is faster)",
		Series: []string{"p50", "p95"}, Log: true, Ref: 1, Format: ratioLabel}
	for _, row := range res.Rows {
		if row.Skipped != "" {
			w("| %s | `%s` | not measured: %s | | | | | | | | | |\n", row.Name, row.Command, oneLine(row.Skipped))
			continue
		}
		w("| %s | `%s` | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.Name, row.Command, row.Note, row.Reads,
			msStr(row.P50), msStr(row.P95), msStr(row.Min), msStr(row.Max), msStr(row.CPU), humanBytes(row.MaxRSS), ratio(float64(row.P50), ref), ratio(float64(row.P50), age))
		c.Rows = append(c.Rows, chart.Row{Label: row.Name, Values: []float64{float64(row.P50) / ref, float64(row.P95) / ref}})
	}
	w("\nCPU is user plus system time of the process and the children it waited for (gpg under pass); peak RSS is what\n")
	w("GNU time reports for one more read (the largest of the process and those children).\n\n")
	w("Set-up:\n\n")
	for _, s := range res.Setup {
		w("- %s\n", s)
	}
	if len(res.Versions) > 0 {
		w("\nVersions (Debian packages): %s; sesame built from this checkout.\n", strings.Join(res.Versions, ", "))
	}
	w("\n![fresh process, ratios to sesame get](%s/fresh.svg)\n\n", rel)
	r.machineLine(w)
	return c
}

func (r *report) writeScale(w writer, rel string) *chart.Bars {
	res := r.Scale
	w("## 3. Scale\n\n")
	w("The builtin `secretstore` (the default LocalStore, no password, granted a %s call deadline) with 100, 10 000 and\n", scaleTimeout)
	w("100 000 secrets of 32 bytes. The store is filled by `sesame import -` (a new process, no agent) of JSON records, one a line:\n")
	w("batches of 2000 secrets, each one storage transaction. Then, in a child process of its own per size, random secrets\n")
	w("are read and overwritten through the engine (`Engine.Get`, `Engine.Set`: a set is durable on disk when it returns,\n")
	w("an fsync each), and the whole vault is listed (`Engine.Info`). Peak RSS is the child's VmHWM; RSS after is measured\n")
	w("after two garbage collections, and the next column is the part of it that the Go heap has freed but not yet\n")
	w("returned to the OS. The last columns start the CLI (`sesame get`, `sesame info`; no agent, compile cache warm) on\n")
	w("the same store.\n\n")
	w("| secrets | `sesame import` | secrets/s (a CPU-second) | get mean | get p95 | set mean | set p95 | `Engine.Info` | `sesame info` p50 | file | on disk | peak RSS | RSS after | of it, Go heap free but not returned | `sesame get` p50 | p95 |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	c := &chart.Bars{Title: "Scale: cost per operation, × the 100-secret store", Axis: "× the same operation on 100 secrets (log scale)",
		Series: []string{"get", "set", "sesame get (process)", "peak RSS"}, Log: true, Ref: 1, Format: ratioLabel}
	var base scaleRow
	for i, row := range res.Rows {
		if i == 0 {
			base = row
		}
		w("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.N, durStr(row.Import), importRates(row),
			durStr(row.GetMean), durStr(row.GetP95), durStr(row.SetMean), durStr(row.SetP95), durStr(row.Info), msStr(row.FreshInfo),
			humanBytes(row.FileBytes), humanBytes(row.DiskBytes), humanBytes(row.PeakRSS), humanBytes(row.RSSAfter),
			humanBytes(row.HeapUnreturned), msStr(row.FreshP50), msStr(row.FreshP95))
		c.Rows = append(c.Rows, chart.Row{Label: fmt.Sprintf("%d secrets", row.N), Values: []float64{
			float64(row.GetMean) / float64(base.GetMean), float64(row.SetMean) / float64(base.SetMean),
			float64(row.FreshP50) / float64(base.FreshP50), float64(row.PeakRSS) / float64(base.PeakRSS)}})
	}
	if len(res.Rows) > 0 {
		w("\nGets and sets: %d and %d per size, random names; `Engine.Info`: the mean of %d listings; `sesame get`: %d reads per size; `sesame info`: the median of %d.\n",
			res.Rows[0].Gets, res.Rows[0].Sets, res.Rows[0].Infos, res.Rows[0].FreshReads, res.Rows[0].FreshInfos)
	}
	w("\n![scale, ratios to 100 secrets](%s/scale.svg)\n\n", rel)
	r.machineLine(w)
	return c
}

func (r *report) writeMemory(w writer, rel string) *chart.Bars {
	res := r.Memory
	w("## 4. Memory\n\n")
	w("A process with an engine (or the peer's host) and no, one or ten vaults loaded, each vault having set and read one\n")
	w("secret, so that it has a live instance. Each row is a child process of its own; RSS is read from `/proc` after two\n")
	w("garbage collections, peak RSS is its VmHWM. Go heap is `HeapAlloc`; sesame keeps each instance's linear memory\n")
	w("outside it (mapped, and committed as the guest grows it), so RSS counts only the pages a guest touched.\n")
	w("The compile cache is warm.\n\n")
	for _, k := range res.Kinds {
		w("- **%s**: %s.\n", k.Label, k.What)
	}
	w("\n| host | vaults | RSS | Go heap | plugin processes | total | peak RSS | per vault beyond the first |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	totals := map[string]map[int]int64{}
	for _, row := range res.Rows {
		if totals[row.Kind] == nil {
			totals[row.Kind] = map[int]int64{}
		}
		totals[row.Kind][row.Vaults] = row.RSS + row.Children
	}
	for _, row := range res.Rows {
		per := ""
		if row.Vaults == 10 {
			per = humanBytes((totals[row.Kind][10] - totals[row.Kind][1]) / 9)
		}
		children := "—"
		if row.Kind == "go-plugin" {
			children = humanBytes(row.Children)
		}
		w("| %s | %d | %s | %s | %s | %s | %s | %s |\n", row.Label, row.Vaults, humanBytes(row.RSS), humanBytes(row.Heap), children,
			humanBytes(row.RSS+row.Children), humanBytes(row.PeakRSS), per)
	}
	c := &chart.Bars{Title: "Memory: total RSS, × sesame with the builtin secretstore", Axis: "× sesame, builtin secretstore, same number of vaults (log scale)",
		Series: []string{"1 vault", "10 vaults"}, Log: true, Ref: 1, Format: ratioLabel}
	ref := totals["secretstore"]
	for _, k := range res.Kinds {
		t := totals[k.Kind]
		c.Rows = append(c.Rows, chart.Row{Label: k.Label, Values: []float64{float64(t[1]) / float64(ref[1]), float64(t[10]) / float64(ref[10])}})
	}
	w("\n![memory, ratios to sesame](%s/memory.svg)\n\n", rel)
	if len(res.Agent) > 0 {
		r.writeAgentMemory(w)
	}
	r.machineLine(w)
	return c
}

// writeAgentMemory writes the agent's rows: one line per count and kind,
// a column per CLI measured.
func (r *report) writeAgentMemory(w writer) {
	res := r.Memory
	var clis []string
	for _, row := range res.Agent {
		if !slices.Contains(clis, row.CLI) {
			clis = append(clis, row.CLI)
		}
	}
	w("### The agent\n\n")
	w("The resident set (VmRSS, from `/proc`) of a running `sesame agent` after it served the vaults: each is registered\n")
	w("(which fills the compile cache), then sets and reads one secret through the agent; a fresh home and agent per\n")
	w("row. Idle: started, no vault used. ")
	if len(clis) > 1 {
		w("Each line measures every CLI one after the other.")
	}
	w("\n\n")
	for _, k := range agentKinds {
		if slices.ContainsFunc(res.Agent, func(row agentRow) bool { return row.Kind == k.Kind }) {
			w("- **%s**: %s.\n", k.Kind, k.What)
		}
	}
	w("\n| vaults | kind |")
	for _, cli := range clis {
		w(" RSS, %s | peak, %s |", cli, cli)
	}
	w("\n|--:|---|%s\n", strings.Repeat("--:|--:|", len(clis)))
	for i := 0; i < len(res.Agent); i += len(clis) {
		first := res.Agent[i]
		kind := first.Kind
		if kind == "" {
			kind = "idle"
		}
		w("| %d | %s |", first.Vaults, kind)
		for _, row := range res.Agent[i:min(i+len(clis), len(res.Agent))] {
			w(" %s | %s |", humanBytes(row.RSS), humanBytes(row.PeakRSS))
		}
		w("\n")
	}
	w("\n")
}

func ns(v float64) string {
	switch {
	case v >= 60e9:
		return time.Duration(v).Round(time.Second).String()
	case v >= 1e9:
		return fmt.Sprintf("%.2f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func durStr(d time.Duration) string { return ns(float64(d)) }

func msStr(d time.Duration) string { return fmt.Sprintf("%.1f ms", ms(d)) }

func ratio(v, ref float64) string {
	if math.IsNaN(ref) || ref == 0 {
		return "—"
	}
	return ratioLabel(v / ref)
}

func ratioLabel(x float64) string {
	switch {
	case x < 0.1:
		return strconv.FormatFloat(x, 'g', 2, 64) + "×"
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
