package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/agent"
	"github.com/sesamehq/sesame/internal/xdg"
)

// session is one run of the command: its files, the registry it works on,
// and the engine, opened on first use.
type session struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	config  string // --config or $SESAME_CONFIG; "" = the default path
	verbose bool   // --verbose: the vaults' info and debug lines too
	quiet   bool   // no log lines at all (shell completion)

	args   []string // the command line, for handOff
	inproc *Engine  // the engine in this process; nil in the thin sesame

	eng          backend       // s.local, or an engine in the agent
	local        LocalEngine   // an engine in this process
	client       *agent.Client // the connection to the agent
	alone        string        // why the agent is not used, as a clause: "it cannot run: …"
	cache        string        // the compile cache folder
	fresh        bool          // no registry file existed when the engine was opened
	compileNoted bool
	oneCall      bool // the command makes one small call into a vault (get, set): see interpretNow
	interpret    bool // the engine in this process interprets the extensions
}

// The default vault created on a machine without a registry.
const (
	firstVault     = "LocalStore"
	firstExtension = "builtin:secretstore"
)

// registryPath returns the registry file this run works on.
func (s *session) registryPath() (string, error) {
	if s.config != "" {
		return s.config, nil
	}
	dir, err := xdg.ConfigDir()
	if err != nil {
		return "", withHint(err, "or name the registry with --config FILE")
	}
	return filepath.Join(dir, "vaults.toml"), nil
}

// dataDir returns where the vaults of the registry at path keep their data:
// the user's data folder for the user's registry, and a .sesame folder beside
// any other registry (a project's vaults.toml, --config FILE), so that two
// registries with a vault of the same name never share its storage.
func (s *session) dataDir(path string) (string, error) {
	if s.config != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		if def, err := xdg.ConfigDir(); err != nil || filepath.Join(def, "vaults.toml") != abs {
			return filepath.Join(filepath.Dir(abs), ".sesame"), nil
		}
	}
	return xdg.DataDir()
}

// backend is what the commands need of an engine: the engine itself, in
// this process, or its twin in the user's agent (*agent.Remote), which
// behaves the same. Commands run operations on it with api.Do.
type backend interface {
	api.Transport
	Path() string
}

// engineFiles returns the registry file and the folders of this run.
func (s *session) engineFiles() (path string, opts *api.Options, err error) {
	if path, err = s.registryPath(); err != nil {
		return "", nil, err
	}
	data, err := s.dataDir(path)
	if err != nil {
		return "", nil, err
	}
	cache, err := xdg.CacheDir()
	if err != nil {
		return "", nil, err
	}
	opts = &api.Options{DataDir: data, CacheDir: cache}
	if !s.quiet {
		opts.Logger = newStderrLog(s.stderr, s.verbose)
	}
	return path, opts, nil
}

// engine opens the engine on first use: the agent's when it runs or can be
// started (see agentMode), else one in this process.
func (s *session) engine() (backend, error) {
	if s.eng != nil {
		return s.eng, nil
	}
	path, opts, err := s.engineFiles()
	if err != nil {
		return nil, err
	}
	_, err = os.Stat(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	var b backend
	if r, err := s.remote(path, opts); err != nil {
		return nil, err
	} else if r != nil {
		b = r
	} else if s.inproc == nil {
		return nil, s.handOff()
	} else {
		oneShot()
		opts.ShortLived = true
		opts.Interpret = s.oneCall && interpretNow(opts.CacheDir)
		e, err := s.inproc.Open(s.ctx, path, opts)
		if err != nil {
			return nil, err
		}
		s.local, b = e, e
	}
	s.eng, s.fresh, s.cache, s.interpret = b, fresh, opts.CacheDir, opts.Interpret
	return b, nil
}

// localEngine opens an engine in this process, whatever the agent mode:
// for the shell completion, which must be quick and must not start an
// agent. The thin sesame hands the command over to sesame-engine instead.
func (s *session) localEngine() (LocalEngine, error) {
	if s.local != nil {
		return s.local, nil
	}
	if s.inproc == nil {
		return nil, s.handOff()
	}
	path, opts, err := s.engineFiles()
	if err != nil {
		return nil, err
	}
	oneShot()
	opts.ShortLived = true
	if s.local, err = s.inproc.Open(s.ctx, path, opts); err != nil {
		return nil, err
	}
	return s.local, nil
}

// vaultEngine opens the engine for a command that needs a vault. On a
// machine without a registry it first creates the default vault.
func (s *session) vaultEngine() (backend, error) {
	e, err := s.engine()
	if err != nil {
		return nil, err
	}
	if s.fresh {
		s.fresh = false
		if err := s.firstRun(e); err != nil {
			return nil, err
		}
	}
	s.noteCompile()
	return e, nil
}

// firstRun registers the default vault LocalStore and says so on stderr.
// On a terminal it asks for the vault's password (empty: none); without one
// it never asks, and creates the vault without a password.
func (s *session) firstRun(e backend) error {
	s.noteCompile()
	reg := api.Registration{
		Name:        firstVault,
		Extension:   firstExtension,
		Description: "encrypted local store",
		Grants:      api.Grants{Storage: true},
	}
	var password []byte
	if t, ok := s.terminal(); ok {
		fmt.Fprintf(s.stderr, "sesame: no vaults yet; creating vault %s in %s\n", firstVault, e.Path())
		pw, err := t.newPassword(fmt.Sprintf("Password for the new vault %s (empty for none): ", firstVault))
		if err != nil {
			return err
		}
		password = pw
		defer clear(password)
	}
	auth := "none"
	if len(password) > 0 {
		auth = "password"
	}
	reg.Parameters = map[string]any{"authentication": auth}
	err := api.Run(s.ctx, e, api.RegisterRequest{Registration: reg, Default: true})
	switch {
	case errors.Is(err, api.ErrVaultExists):
		return nil // another process was first
	case err != nil:
		return fmt.Errorf("cannot create the default vault: %w", err)
	}
	if len(password) > 0 {
		// The first unlock of a new password store sets its password.
		if err := api.Run(s.ctx, e, api.UnlockRequest{Vault: firstVault, Password: password}); err != nil {
			return fmt.Errorf("vault %s was created, but setting its password failed: %w", firstVault, err)
		}
		fmt.Fprintf(s.stderr, "sesame: created vault %s (%s, password protected) in %s\n", firstVault, firstExtension, e.Path())
		return nil
	}
	fmt.Fprintf(s.stderr, "sesame: created vault %s (%s, no password: its key is stored unencrypted, readable only by you) in %s\n", firstVault, firstExtension, e.Path())
	for _, h := range passwordHints(reg, "to give it a password later, run: ") {
		s.hint(h)
	}
	return nil
}

// noteCompile says, on a terminal, that the extension is compiled, which
// takes up to a second: when the compile cache is empty and the engine does
// not interpret the extensions instead (interpretNow; so it may be the fifth
// command, not the first). Commands call it before the engine call that
// loads a vault.
func (s *session) noteCompile() {
	if s.compileNoted || s.eng == nil || s.interpret || !isTerminal(s.stderr) {
		return
	}
	s.compileNoted = true
	if hasFile(filepath.Join(s.cache, "wazero")) {
		return
	}
	fmt.Fprintln(s.stderr, "sesame: compiling extension (once: the result is cached) …")
}

// close closes the engine and the connection to the agent.
func (s *session) close() {
	if s.local != nil {
		s.local.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
	s.eng, s.local, s.client = nil, nil, nil
}

// hasFile reports whether the tree at dir holds a regular file.
func hasFile(dir string) bool {
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			return found
		}
		return nil
	})
	return err == found
}
