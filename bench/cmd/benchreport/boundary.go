package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/bench/kvplugin"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/extensions"
)

// The secret of the boundary benchmarks: 32 bytes, one name.
const boundaryName = "bench-secret"

var boundaryValue = bytes.Repeat([]byte("s"), 32)

// boundaryOther is what every other set of a sesame path writes instead:
// a vault whose set reports what it did (SPEC.md §4, set_reports: the
// builtin secretstore) writes nothing for a set of the value the secret
// holds, and the boundary measures a write.
var boundaryOther = bytes.Repeat([]byte("t"), 32)

// boundaryHeld reports whether v is one of the two values a sesame path's
// sets write.
func boundaryHeld(v []byte) bool {
	return bytes.Equal(v, boundaryValue) || bytes.Equal(v, boundaryOther)
}

// op is one measured operation: a get or a set through one path.
type op func(ctx context.Context) error

// path is one way to reach an in-memory store of secrets.
type path struct {
	Name  string // as the table shows it
	Guest string // the guest's language and size, or "—"
	Ref   string // "wat" or "go": a sesame reference row
	get   op
	set   op
}

// measurement is the result of one benchmark (the median of several runs).
type measurement struct {
	NsOp     float64
	CPUNsOp  float64 `json:",omitempty"` // the process's CPU time per operation
	BOp      int64
	AllocsOp int64
	N        int
}

type boundaryRow struct {
	Name, Guest, Ref string
	Get, Set         measurement
}

type boundaryResult struct {
	Vault     []boundaryRow // the Vault interface (or the peer's own client)
	Engine    []boundaryRow // the whole engine API
	Count     int
	Benchtime time.Duration
}

func runBoundary(ctx context.Context, c *config) (*boundaryResult, error) {
	res := &boundaryResult{Count: 5, Benchtime: time.Second}
	if c.quick {
		res.Count, res.Benchtime = 1, 200*time.Millisecond
	}
	if err := flag.Set("test.benchtime", res.Benchtime.String()); err != nil {
		return nil, err
	}
	dir := filepath.Join(c.work, "boundary")
	e, err := engine.Open(ctx, filepath.Join(dir, "vaults.toml"), &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	for _, r := range []struct{ name, file string }{{"GoGuest", "sesame-go.wasm"}, {"WatGuest", "sesame-wat.wasm"}} {
		if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: r.name, Extension: c.path(r.file)}}); err != nil {
			return nil, err
		}
	}
	if err := e.Mount("Native", memvault.New(memvault.Options{})); err != nil {
		return nil, err
	}
	goSize, watSize := fileSize(c.path("sesame-go.wasm")), fileSize(c.path("sesame-wat.wasm"))
	storeSize, err := builtinStore(ctx, e)
	if err != nil {
		return nil, err
	}

	var paths []path
	for _, v := range []struct{ name, vault, guest, ref string }{
		{"native Go vault (memvault), the floor", "Native", "—", ""},
		{"sesame sandbox, Go guest", "GoGuest", "Go, " + goSize, "go"},
		{"sesame sandbox, WAT guest", "WatGuest", "WAT, " + watSize, "wat"},
	} {
		vt, err := e.Vault(ctx, v.vault)
		if err != nil {
			return nil, err
		}
		paths = append(paths, vaultPath(v.name, v.guest, v.ref, vt))
	}
	ext, closeExt, err := extismPaths(ctx, c)
	if err != nil {
		return nil, err
	}
	defer closeExt()
	paths = append(paths, ext...)
	gp, closeGP, err := goPluginPath(ctx, c)
	if err != nil {
		return nil, err
	}
	defer closeGP()
	paths = append(paths, gp)

	if res.Vault, err = measurePaths(ctx, res, paths); err != nil {
		return nil, err
	}
	var enginePaths []path
	for _, v := range []struct{ name, vault, guest, ref string }{
		{"engine API, native vault (Mount)", "Native", "—", ""},
		{"engine API, Go guest", "GoGuest", "Go, " + goSize, "go"},
		{"engine API, WAT guest", "WatGuest", "WAT, " + watSize, "wat"},
		{"engine API, builtin secretstore (a password store, unlocked)", "BuiltinStore", "C, " + storeSize, ""},
	} {
		enginePaths = append(enginePaths, enginePath(v.name, v.guest, v.ref, e, v.vault))
	}
	if res.Engine, err = measurePaths(ctx, res, enginePaths); err != nil {
		return nil, err
	}
	return res, nil
}

func measurePaths(ctx context.Context, res *boundaryResult, paths []path) ([]boundaryRow, error) {
	var rows []boundaryRow
	for _, p := range paths {
		// A set first: every get then finds the secret.
		if err := p.set(ctx); err != nil {
			return nil, fmt.Errorf("%s: set: %w", p.Name, err)
		}
		if err := p.get(ctx); err != nil {
			return nil, fmt.Errorf("%s: get: %w", p.Name, err)
		}
		row := boundaryRow{Name: p.Name, Guest: p.Guest, Ref: p.Ref}
		var err error
		if row.Get, err = measure(ctx, res.Count, p.get); err != nil {
			return nil, fmt.Errorf("%s: get: %w", p.Name, err)
		}
		if row.Set, err = measure(ctx, res.Count, p.set); err != nil {
			return nil, fmt.Errorf("%s: set: %w", p.Name, err)
		}
		logf("  %-45s get %9.0f ns (%9.0f of CPU) %5d allocs   set %9.0f ns (%9.0f of CPU) %5d allocs", p.Name, row.Get.NsOp, row.Get.CPUNsOp, row.Get.AllocsOp, row.Set.NsOp, row.Set.CPUNsOp, row.Set.AllocsOp)
		rows = append(rows, row)
	}
	return rows, nil
}

// measure runs o under testing.Benchmark count times and returns the run
// with the median time.
func measure(ctx context.Context, count int, o op) (measurement, error) {
	var runs []measurement
	for range count {
		var failed error
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if err := o(ctx); err != nil {
					failed = err
					return
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
		if failed != nil {
			return measurement{}, failed
		}
		if r.N == 0 {
			return measurement{}, errors.New("the benchmark did not run")
		}
		runs = append(runs, measurement{NsOp: float64(r.T.Nanoseconds()) / float64(r.N), CPUNsOp: r.Extra["cpu-ns/op"], BOp: r.AllocedBytesPerOp(), AllocsOp: r.AllocsPerOp(), N: r.N})
	}
	slices.SortFunc(runs, func(a, b measurement) int { return cmp.Compare(a.NsOp, b.NsOp) })
	return runs[len(runs)/2], nil
}

// vaultPath calls an engine.Vault directly: what the engine does below its
// own checks, and the level at which a native vault is the floor.
func vaultPath(name, guest, ref string, v engine.Vault) path {
	vals := [2]abi.Value{{Type: abi.TypeString, Data: boundaryValue}, {Type: abi.TypeString, Data: boundaryOther}}
	n := 0
	return path{Name: name, Guest: guest, Ref: ref,
		get: func(ctx context.Context) error {
			_, got, err := v.Get(ctx, boundaryName)
			if err == nil && !boundaryHeld(got.Data) {
				err = errors.New("get returned another value")
			}
			return err
		},
		set: func(ctx context.Context) error {
			n++
			return v.Set(ctx, boundaryName, vals[n%2], nil)
		},
	}
}

// enginePath goes through the engine's public operations, with their checks:
// names, types, the vault's manifest, and the existence check before a set.
func enginePath(name, guest, ref string, e *engine.Engine, vault string) path {
	values := [2]string{string(boundaryValue), string(boundaryOther)}
	n := 0
	return path{Name: name, Guest: guest, Ref: ref,
		get: func(ctx context.Context) error {
			s, err := e.Get(ctx, engine.GetRequest{Name: boundaryName, Vault: vault})
			if err == nil && s.Value != values[0] && s.Value != values[1] {
				err = errors.New("get returned another value")
			}
			return err
		},
		set: func(ctx context.Context) error {
			n++
			_, err := e.Set(ctx, engine.SetRequest{Name: boundaryName, Value: values[n%2], Vault: vault})
			return err
		},
	}
}

// extismPaths loads the Extism guest twice: as Extism runs it by default,
// and with timeout_ms, which turns on what sesame always has (wazero's
// close-on-context-done and a deadline per call).
func extismPaths(ctx context.Context, c *config) ([]path, func(), error) {
	wasm, err := os.ReadFile(c.path("extism-wat.wasm"))
	if err != nil {
		return nil, nil, err
	}
	var paths []path
	var closers []func()
	closeAll := func() {
		for _, f := range closers {
			f()
		}
	}
	for _, v := range []struct {
		name    string
		timeout uint64
	}{
		{"Extism (go-sdk v1.7.1)", 0},
		{"Extism, with timeout_ms (a deadline per call, as sesame)", 5000},
	} {
		m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}, Timeout: v.timeout}
		cp, err := extism.NewCompiledPlugin(ctx, m, extism.PluginConfig{}, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
		if err != nil {
			cp.Close(ctx)
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { p.Close(context.Background()); cp.Close(context.Background()) })
		input := append(append([]byte{byte(len(boundaryName))}, boundaryName...), boundaryValue...)
		paths = append(paths, path{Name: v.name, Guest: "WAT, " + fmt.Sprintf("%d B", len(wasm)),
			get: func(ctx context.Context) error {
				rc, out, err := p.CallWithContext(ctx, "get", []byte(boundaryName))
				return extismErr(rc, err, out)
			},
			set: func(ctx context.Context) error {
				rc, _, err := p.CallWithContext(ctx, "set", input)
				return extismErr(rc, err, nil)
			},
		})
	}
	return paths, closeAll, nil
}

func extismErr(rc uint32, err error, out []byte) error {
	switch {
	case err != nil:
		return err
	case rc != 0:
		return fmt.Errorf("return code %d", rc)
	case out != nil && !bytes.Equal(out, boundaryValue):
		return errors.New("get returned another value")
	}
	return nil
}

// goPluginPath starts the go-plugin plugin process and talks gRPC to it.
func goPluginPath(ctx context.Context, c *config) (path, func(), error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  kvplugin.Handshake(),
		Plugins:          map[string]plugin.Plugin{kvplugin.Name: &kvplugin.Plugin{}},
		Cmd:              exec.Command(c.path("kvplugin")),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return path{}, nil, err
	}
	raw, err := rpc.Dispense(kvplugin.Name)
	if err != nil {
		client.Kill()
		return path{}, nil, err
	}
	s := raw.(kvplugin.Store)
	return path{Name: "hashicorp/go-plugin v1.8.0, gRPC", Guest: "Go, separate process",
		get: func(ctx context.Context) error {
			v, err := s.Get(ctx, boundaryName)
			if err == nil && !bytes.Equal(v, boundaryValue) {
				err = errors.New("get returned another value")
			}
			return err
		},
		set: func(ctx context.Context) error { return s.Set(ctx, boundaryName, boundaryValue) },
	}, client.Kill, nil
}

func fileSize(p string) string {
	st, err := os.Stat(p)
	if err != nil {
		return "?"
	}
	return humanBytes(st.Size())
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// builtinStore registers BuiltinStore, the built-in secretstore with a
// password that does not time out, and unlocks it: what every get of a
// user's default vault goes through (two storage reads, the host's key
// capability). It returns the module's size.
func builtinStore(ctx context.Context, e *engine.Engine) (string, error) {
	wasm, ok := extensions.Lookup("secretstore")
	if !ok {
		return "", errors.New("no built-in secretstore")
	}
	reg := engine.Registration{Name: "BuiltinStore", Extension: "builtin:secretstore",
		Parameters: map[string]any{"authentication": "password", "password_timeout": int64(-1)},
		Grants:     engine.Grants{Storage: true}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		return "", err
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: "BuiltinStore", Password: []byte("bench password")}); err != nil {
		return "", err
	}
	return humanBytes(int64(len(wasm))), nil
}
