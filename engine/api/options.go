package api

import "log/slog"

// Options configure an engine: one opened in this process (engine.Open),
// or the sesame agent's (its client's Engine). The zero value is ready to
// use.
type Options struct {
	// DataDir holds the vaults' storage areas. Default: $XDG_DATA_HOME/sesame
	// (~/.local/share/sesame).
	DataDir string
	// CacheDir holds compiled extensions. Default: $XDG_CACHE_HOME/sesame
	// (~/.cache/sesame). Set NoCache to compile in memory only. A cache
	// folder that someone else could write is not used (the engine logs
	// why and compiles in memory).
	CacheDir string
	NoCache  bool
	// CacheKey is the file of the key that seals the compiled extensions
	// in CacheDir, created (0600) if missing; an entry whose seal does not
	// match is never run. Default: $XDG_CONFIG_HOME/sesame/cache.key
	// (~/.config/sesame/cache.key), kept out of the cache folder on
	// purpose (see RATIONALE.md).
	CacheKey string
	// Logger receives the engine's and the extensions' log lines, their
	// text made printable; an extension's carry its vault's name as the
	// attribute "vault". A line logged while an operation runs is logged
	// with that operation's context. Default: discarded.
	Logger *slog.Logger
	// Interpret runs the builtin C extensions (secretstore, dotenv) in
	// wazero's interpreter instead of compiling them to machine code:
	// opening such a vault then costs a few milliseconds of CPU and no
	// compile cache, but each call into it runs several times slower. For
	// a process that makes one small call and exits while the compile
	// cache is empty (the sesame command without its agent). Other
	// extensions are compiled. The agent ignores it: its engine compiles.
	Interpret bool
	// ShortLived tells the engine that its process makes a call or a few
	// and exits (the sesame command without its agent), so that it sets up
	// nothing that pays only over many calls: no inotify watch of the
	// registry file (the engine looks at it at most every 100 ms, as where
	// inotify is missing) nor of the vaults' storage files (a read takes
	// and gives back the file's lock each time instead of keeping it idle
	// between calls). Results are the same either way; a one-call process
	// is about half a millisecond faster with it.
	ShortLived bool
}
