package storage_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sesamehq/sesame/engine/internal/storage"
)

func Example() {
	dir, err := os.MkdirTemp("", "sesame-storage-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := storage.Open(filepath.Join(dir, "vaults", "LocalStore.db"), storage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for _, k := range []string{"db/password", "db/user", "mail/password"} {
		if err := s.Set(ctx, []byte(k), []byte("s3cret")); err != nil {
			log.Fatal(err)
		}
	}
	v, err := s.Get(ctx, []byte("db/user"))
	fmt.Printf("%s %v\n", v, err)

	keys, err := s.List(ctx, []byte("db/"), nil, 10)
	fmt.Printf("%q %v\n", keys, err)

	_, err = s.Get(ctx, []byte("web/token"))
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// s3cret <nil>
	// ["db/password" "db/user"] <nil>
	// true
}
