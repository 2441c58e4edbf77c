package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxModuleFile is the size of the largest module file the engine reads
// (64 MiB). The built-in extensions are under 4 MiB; a module many times
// that size is a mistake or an attack, refused before it is read.
const MaxModuleFile = 64 << 20

// moduleChunk is how much of a module file is read between two looks at
// the caller's deadline.
const moduleChunk = 1 << 20

// ReadModule reads the extension module at path, the one way the engine,
// vault register and sesame extension read a module file:
//
//   - it opens without blocking and without following a symbolic link at
//     path itself (a link is refused: the registry names the file that runs,
//     and a link would let whoever may write the link's folder swap it);
//   - it serves only a regular file (a named pipe, a device such as
//     /dev/zero, a folder or a socket is refused before anything is read);
//   - the file must be at most MaxModuleFile bytes, by its size and by what
//     is read;
//   - reading stops when ctx ends.
//
// Errors name path and the cause. A sha256 pin is checked on the bytes
// returned, before they are compiled (sandbox.Host.Load).
func ReadModule(ctx context.Context, path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openModuleFlags, 0)
	if err != nil {
		return nil, moduleOpenError(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("module file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("module file %s is %s, not a regular file", path, fileKind(st.Mode()))
	}
	if st.Size() > MaxModuleFile {
		return nil, moduleTooLarge(path, st.Size())
	}
	// bytes.MinRead to spare: ReadFrom grows a full buffer before it reads
	// again to find the end, doubling it and copying the module.
	b := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	r := io.LimitReader(f, MaxModuleFile+1) // a file that grows while read
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("module file %s: reading stopped: %w", path, context.Cause(ctx))
		}
		_, err := io.CopyN(b, r, moduleChunk)
		if b.Len() > MaxModuleFile {
			return nil, moduleTooLarge(path, int64(b.Len()))
		}
		if err == io.EOF {
			return b.Bytes(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("module file %s: %w", path, err)
		}
	}
}

// ModuleSHA256 returns the lowercase hex sha256 of a module's bytes: the
// pin of vaults.toml's sha256 key.
func ModuleSHA256(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

func moduleTooLarge(path string, size int64) error {
	return fmt.Errorf("module file %s is %d bytes, more than the limit of %d MiB", path, size, MaxModuleFile>>20)
}

// moduleOpenError explains a failed open: a symbolic link refused by
// O_NOFOLLOW shows as ELOOP, said here in plain words with its target.
func moduleOpenError(path string, err error) error {
	if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return fmt.Errorf("module file %s is a symbolic link (to %s); register the file itself", path, target)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("module file %s: %w", path, err)
}

// fileKind names the type of a file that is not regular, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}
