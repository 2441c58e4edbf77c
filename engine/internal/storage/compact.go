package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/filelock"
)

// compactSuffix names the file a compaction writes beside the store: the
// store's path with it appended. One left by a compaction that was killed
// is removed by the next.
const compactSuffix = ".compact"

// compactTxSize is how many bytes of keys and values a compaction copies
// into the new file per transaction. One transaction for the whole store
// holds every copied page in memory until it commits: 0.95–1.29 s for a
// store of 100 000 secrets, against 0.28–0.41 s in transactions of 1 MiB
// (bench/NOTES.md). The new file is only renamed over the old one once it
// is complete, so the size of its transactions changes nothing of what a
// crash leaves.
const compactTxSize = 1 << 20

// Compact rewrites the store's file without its free pages: bbolt keeps
// the pages of overwritten and deleted values in the file until it reuses
// them, so a record or key replaced on purpose (a vault given a new master
// key) could otherwise still be read from the file's bytes. It copies
// every key into a new file beside the old one (bbolt.Compact, committed
// and fsynced, compactTxSize bytes a transaction), renames it over the
// old, and fsyncs the folder, holding the old file's exclusive lock
// throughout, so that no write of another process lands in the old file
// meanwhile; a process that opened the old file and waits for its lock
// finds, once it has the lock, that the file is no longer the one at the
// path, and opens the new one (openLocked).
//
// A crash leaves the old file or the new one at the path, never neither,
// and maybe the unfinished new file under the path with compactSuffix.
func (s *Store) Compact(ctx context.Context) error {
	return s.run(ctx, "compact", true, func(deadline time.Time) (err error) {
		s.lock.writes.close() // it would map the old file until its next write
		src, err := openDB(ctx, s.path, true, deadline, nil)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := src.Close(); err == nil {
				err = cerr
			}
		}()
		tmp := s.path + compactSuffix
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dst, err := bolt.Open(tmp, 0o600, &bolt.Options{
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				return fileperm.OpenFile(name, flag|os.O_EXCL, perm)
			},
		})
		if err != nil {
			return fmt.Errorf("new file for the compaction: %w", err)
		}
		if err := bolt.Compact(dst, src, compactTxSize); err != nil {
			dst.Close()
			os.Remove(tmp)
			return fmt.Errorf("compaction: %w", err)
		}
		if err := dst.Close(); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, s.path); err != nil {
			os.Remove(tmp)
			return err
		}
		return filelock.SyncDir(filepath.Dir(s.path))
	})
}
