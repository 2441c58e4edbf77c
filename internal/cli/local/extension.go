package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/xdg"
)

// probe is a throw-away engine in which extension modules are registered
// with a fresh storage area and folder each, and removed with it.
type probe struct {
	e     *engine.Engine
	dir   string
	path  string // the module file, absolute
	bytes []byte // the module as read first, by engine.ReadModule
	n     int
}

func newProbe(ctx context.Context, file string) (*probe, error) {
	path, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	b, err := engine.ReadModule(ctx, path)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sesame-extension-")
	if err != nil {
		return nil, err
	}
	cache, err := xdg.CacheDir()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e, err := engine.Open(ctx, filepath.Join(dir, "vaults.toml"), &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: cache})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &probe{e: e, dir: dir, path: path, bytes: b}, nil
}

// vault registers the module once more, under a new name with its own
// storage area and folder, and returns it.
func (p *probe) vault(ctx context.Context) (engine.Vault, error) {
	p.n++
	name := "Probe" + strconv.Itoa(p.n)
	folder := filepath.Join(p.dir, "folder-"+strconv.Itoa(p.n))
	if err := os.Mkdir(folder, 0o700); err != nil {
		return nil, err
	}
	reg := engine.Registration{Name: name, Extension: p.path, Grants: engine.Grants{Storage: true, Directory: folder}}
	if err := p.e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		return nil, err
	}
	return p.e.Vault(ctx, name)
}

func (p *probe) close() {
	p.e.Close()
	os.RemoveAll(p.dir)
}

// extensionInfo is sesame extension info FILE: what the module declares,
// its size and its sha256, printed to out.
func extensionInfo(ctx context.Context, out io.Writer, file string) error {
	p, err := newProbe(ctx, file)
	if err != nil {
		return err
	}
	defer p.close()
	v, err := p.vault(ctx)
	if err != nil {
		return err
	}
	m := v.Manifest()
	ops := make([]string, len(m.Operations))
	for i, op := range m.Operations {
		ops[i] = string(op)
	}
	rows := [][2]string{
		{"file", file},
		{"size", fmt.Sprintf("%d bytes", len(p.bytes))},
		{"sha256", engine.ModuleSHA256(p.bytes)},
		{"abi", strconv.Itoa(m.ABI)},
		{"name", m.Name},
		{"version", m.Version},
		{"description", m.Description},
		{"metadata", yesNo(m.Metadata)},
		{"datetimes", map[bool]string{true: "keep their offset", false: "in UTC"}[m.DatetimeOffset]},
		{"case", map[bool]string{true: "sensitive", false: "insensitive"}[m.CaseSensitive]},
		{"operations", strings.Join(ops, ", ")},
		{"grants", strings.Join(m.Grants, ", ")},
	}
	for _, r := range rows {
		fmt.Fprintf(out, "%-12s %s\n", r[0], r[1])
	}
	return nil
}

// printPart prints the results of one top-level test of the suite (the
// test, then its subtests): one line for the test, and the first messages of
// each failure.
func printPart(out io.Writer, results []vaulttest.Result) {
	top := results[0]
	switch {
	case top.Failed:
		fmt.Fprintf(out, "FAIL  %s\n", top.Name)
	case top.Skipped:
		fmt.Fprintf(out, "skip  %s: %s\n", top.Name, strings.Join(top.Messages, "; "))
	default:
		fmt.Fprintf(out, "ok    %s\n", top.Name)
	}
	for _, r := range results {
		if !r.Failed {
			continue
		}
		const most = 3
		for i, msg := range r.Messages {
			if i == most {
				fmt.Fprintf(out, "      %s: … and %d more\n", r.Name, len(r.Messages)-most)
				break
			}
			fmt.Fprintf(out, "      %s: %s\n", r.Name, strings.ReplaceAll(msg, "\n", "\n      "))
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// extensionCheck is sesame extension check FILE: the module loaded, then
// the conformance suite run on it, each part within limit, reported to out
// as it ends.
func extensionCheck(ctx context.Context, out io.Writer, file string, limit time.Duration) error {
	p, err := newProbe(ctx, file)
	if err != nil {
		return err
	}
	defer p.close()
	fmt.Fprintf(out, "checking %s\n", file)
	first, err := p.vault(ctx)
	if err != nil {
		fmt.Fprintf(out, "FAIL  load: %v\n", err)
		return fmt.Errorf("%s does not load as a sesame ABI v1 extension: %w", file, err)
	}
	m := first.Manifest()
	fmt.Fprintf(out, "ok    load: ABI v%d, %s %s\n", m.ABI, m.Name, m.Version)
	if len(m.Grants) > 0 {
		fmt.Fprintf(out, "      asks to be granted: %s\n", strings.Join(m.Grants, ", "))
	} else {
		fmt.Fprintf(out, "      asks to be granted: nothing\n")
	}
	var passed, failed, skipped int
	vaulttest.CheckStream(ctx, func() (engine.Vault, func(), error) {
		v, err := p.vault(ctx)
		return v, func() {}, err
	}, vaulttest.Options{}, limit, func(results []vaulttest.Result) {
		switch top := results[0]; {
		case top.Failed:
			failed++
		case top.Skipped:
			skipped++
		default:
			passed++
		}
		printPart(out, results)
	})
	if failed > 0 {
		fmt.Fprintf(out, "result: does not conform (%d of %d parts failed)\n", failed, passed+failed+skipped)
		return fmt.Errorf("%s does not conform to the sesame ABI: %d of %d parts of the conformance suite failed", file, failed, passed+failed+skipped)
	}
	fmt.Fprintf(out, "result: conforms (%d parts passed, %d skipped)\n", passed, skipped)
	return nil
}
