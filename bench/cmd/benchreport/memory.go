package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	extism "github.com/extism/go-sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/sesamehq/sesame/bench/kvplugin"
	"github.com/sesamehq/sesame/engine"
)

type memoryOptions struct {
	Kind       string
	Vaults     int
	Dir, Cache string
	Bin        string
}

// memoryStats is what one child reports: its memory with the vaults loaded
// and one secret set and read in each.
type memoryStats struct {
	RSS      int64 // this process's resident set, after a GC
	PeakRSS  int64 // its peak resident set (VmHWM)
	Heap     int64 // the Go heap (HeapAlloc)
	Children int64 // the resident sets of plugin processes (go-plugin)
}

type memoryRow struct {
	Kind, Label string
	Vaults      int
	memoryStats
}

type memoryResult struct {
	Kinds []memoryKind
	Rows  []memoryRow
	Agent []agentRow `json:",omitempty"`
}

type memoryKind struct {
	Kind, Label, What string
}

var memoryKinds = []memoryKind{
	{"secretstore", "sesame, builtin secretstore", "the default LocalStore vault (a C guest, 43 KB) with its storage file"},
	{"sesame-go", "sesame, Go guest", "the boundary benchmark's Go guest"},
	{"sesame-wat", "sesame, WAT guest", "the boundary benchmark's WAT guest"},
	{"extism", "Extism, WAT guest", "one compiled plugin and one instance per vault"},
	{"go-plugin", "go-plugin, gRPC", "one plugin process per vault; RSS is the host's plus the plugins'"},
}

func runMemory(ctx context.Context, c *config) (*memoryResult, error) {
	res := &memoryResult{Kinds: memoryKinds}
	cache := filepath.Join(c.work, "memory-cache")
	for _, k := range memoryKinds {
		if !c.runs("memory") {
			break // -only agent
		}
		// An untimed run first fills the compile cache: the rows measure an
		// engine whose cache is warm, as it is after the first use.
		if err := runChild(ctx, &memoryStats{}, "memory", "-kind", k.Kind, "-vaults", "1", "-dir", filepath.Join(c.work, "memory-warm-"+k.Kind), "-cache", cache, "-bin", c.bin); err != nil {
			return nil, err
		}
		for _, n := range []int{0, 1, 10} {
			row := memoryRow{Kind: k.Kind, Label: k.Label, Vaults: n}
			dir := filepath.Join(c.work, fmt.Sprintf("memory-%s-%d", k.Kind, n))
			err := runChild(ctx, &row.memoryStats, "memory", "-kind", k.Kind, "-vaults", strconv.Itoa(n), "-dir", dir, "-cache", cache, "-bin", c.bin)
			if err != nil {
				return nil, err
			}
			logf("  %-28s %2d vaults: RSS %s (+ plugins %s), heap %s, peak %s", k.Label, n,
				humanBytes(row.RSS), humanBytes(row.Children), humanBytes(row.Heap), humanBytes(row.PeakRSS))
			res.Rows = append(res.Rows, row)
			os.RemoveAll(dir)
		}
	}
	var err error
	if res.Agent, err = runAgentMemory(ctx, c); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return res, nil
}

func memoryChild(ctx context.Context, o memoryOptions) (*memoryStats, error) {
	value := string(boundaryValue)
	st := &memoryStats{}
	switch o.Kind {
	case "secretstore", "sesame-go", "sesame-wat":
		e, err := engine.Open(ctx, filepath.Join(o.Dir, "vaults.toml"), &engine.Options{DataDir: filepath.Join(o.Dir, "data"), CacheDir: o.Cache})
		if err != nil {
			return nil, err
		}
		defer e.Close()
		for i := range o.Vaults {
			r := engine.Registration{Name: fmt.Sprintf("Vault%02d", i)}
			switch o.Kind {
			case "secretstore":
				r.Extension, r.Grants = "builtin:secretstore", engine.Grants{Storage: true}
				r.Parameters = map[string]any{"authentication": "none"}
			case "sesame-go":
				r.Extension = filepath.Join(o.Bin, "sesame-go.wasm")
			case "sesame-wat":
				r.Extension = filepath.Join(o.Bin, "sesame-wat.wasm")
			}
			if err := e.Register(ctx, engine.RegisterRequest{Registration: r}); err != nil {
				return nil, err
			}
			if _, err := e.Set(ctx, engine.SetRequest{Name: boundaryName, Value: value, Vault: r.Name}); err != nil {
				return nil, err
			}
			if s, err := e.Get(ctx, engine.GetRequest{Name: boundaryName, Vault: r.Name}); err != nil || s.Value != value {
				return nil, fmt.Errorf("get from %s: %v", r.Name, err)
			}
		}
		st.RSS, st.PeakRSS, st.Heap = settle()
	case "extism":
		wasm, err := os.ReadFile(filepath.Join(o.Bin, "extism-wat.wasm"))
		if err != nil {
			return nil, err
		}
		input := append(append([]byte{byte(len(boundaryName))}, boundaryName...), boundaryValue...)
		for range o.Vaults {
			cp, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}, Timeout: 5000}, extism.PluginConfig{}, nil)
			if err != nil {
				return nil, err
			}
			defer cp.Close(ctx)
			p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
			if err != nil {
				return nil, err
			}
			defer p.Close(ctx)
			rc, _, err := p.CallWithContext(ctx, "set", input)
			if err = extismErr(rc, err, nil); err != nil {
				return nil, err
			}
			rc, out, err := p.CallWithContext(ctx, "get", []byte(boundaryName))
			if err = extismErr(rc, err, out); err != nil {
				return nil, err
			}
		}
		st.RSS, st.PeakRSS, st.Heap = settle()
	case "go-plugin":
		var pids []int
		for range o.Vaults {
			client := plugin.NewClient(&plugin.ClientConfig{
				HandshakeConfig:  kvplugin.Handshake(),
				Plugins:          map[string]plugin.Plugin{kvplugin.Name: &kvplugin.Plugin{}},
				Cmd:              exec.Command(filepath.Join(o.Bin, "kvplugin")),
				AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
				Logger:           hclog.NewNullLogger(),
			})
			defer client.Kill()
			rpc, err := client.Client()
			if err != nil {
				return nil, err
			}
			raw, err := rpc.Dispense(kvplugin.Name)
			if err != nil {
				return nil, err
			}
			s := raw.(kvplugin.Store)
			if err := s.Set(ctx, boundaryName, boundaryValue); err != nil {
				return nil, err
			}
			if _, err := s.Get(ctx, boundaryName); err != nil {
				return nil, err
			}
			pids = append(pids, client.ReattachConfig().Pid)
		}
		st.RSS, st.PeakRSS, st.Heap = settle()
		for _, pid := range pids {
			st.Children += procStatus(pid)["VmRSS"]
		}
	default:
		return nil, errors.New("unknown kind " + o.Kind)
	}
	return st, nil
}
