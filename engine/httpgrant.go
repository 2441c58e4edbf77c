package engine

import (
	"fmt"
	"io"
	"runtime"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/engine/internal/registry"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
)

// maxPEMFile bounds a TLS file of the http grant: a few certificates.
const maxPEMFile = 1 << 20

// httpGrant reads the http grant of cfg (nil when there is none): the
// origins, and the TLS files, read now, once, through the checks of
// package fileperm (a file another user could have written decides whom
// the vault trusts, or who it is). The client key must also be unreadable
// by others. Errors name the grant and the file.
func httpGrant(reg *registry.Registry, g registry.Grants) (*sandbox.HTTPGrant, error) {
	if len(g.HTTP) == 0 {
		return nil, nil
	}
	out := &sandbox.HTTPGrant{Origins: g.HTTP}
	for _, f := range []struct {
		key, path string
		dst       *[]byte
		private   bool
	}{
		{"ca_file", g.CAFile, &out.CA, false},
		{"client_cert", g.ClientCert, &out.ClientCert, false},
		{"client_key", g.ClientKey, &out.ClientKey, true},
	} {
		if f.path == "" {
			continue
		}
		b, err := readGrantFile(reg.ResolvePath(f.path), f.private)
		if err != nil {
			return nil, fmt.Errorf("%w: grant %s: %w", ErrUnavailable, f.key, err)
		}
		*f.dst = b
	}
	return out, nil
}

// readGrantFile reads the file at path, refusing one that fileperm does not
// trust, one larger than maxPEMFile, and, when private, one that its group
// or other users can read.
func readGrantFile(path string, private bool) ([]byte, error) {
	f, err := fileperm.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if private && runtime.GOOS != "windows" {
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("%s can be read by other users (mode %04o); sesame does not use a private key others can read (fix: chmod 600 %s)", path, perm, path)
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for PEM certificates", path, maxPEMFile)
	}
	return b, nil
}
