// Package registry reads, checks, edits and writes vaults.toml, the file that
// registers the vaults sesame knows about: which extension implements each
// vault, the parameters handed to it and the capabilities granted to it.
//
// Load or Parse a file to inspect it; change it only through Update, which
// holds an exclusive lock on the file (flock(2) on a sidecar "<path>.lock",
// plus a per-path lock for the goroutines of one process), hands the current
// content to a callback, validates the result and replaces the file
// atomically (temporary file, fsync, rename, fsync of the folder):
//
//	_, err := registry.Update(ctx, path, func(r *registry.Registry) error {
//		return r.Put(registry.Vault{Name: "Local", Extension: "builtin:secretstore"}, false)
//	})
//
// Every problem with the content of a file is an error wrapping ErrInvalid
// whose message names the file, the line and the key at fault, for example
//
//	vaults.toml:12: unknown key "vaults.Local.grants.stroage"
//
// A file that does not parse is never replaced or removed.
//
// A file anyone but the user or root could have written is refused (see
// package fileperm): Load and Update check the file, a link to it, its lock
// file and the folders above them, and name the fix.
//
// Caveats: comments in the file are not preserved by Update. On systems
// without flock(2) (Windows, wasip1, AIX, Solaris and illumos) Update
// serialises only the goroutines of one process, not separate processes.
package registry
