package memvault_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/memvault"
)

func Example() {
	ctx := context.Background()
	v := memvault.New(memvault.Options{Name: "mem"})

	token := abi.Value{Type: abi.TypeString, Data: []byte("s3cr3t")}
	md := abi.Metadata{"purpose": {Kind: abi.MetaString, Str: "ci"}}
	if err := v.Set(ctx, "GitHubToken", token, md); err != nil {
		panic(err)
	}

	// Names are case-insensitive unless Options.CaseSensitive; the stored
	// spelling is kept.
	info, val, err := v.Get(ctx, "githubtoken")
	fmt.Println(info.Name, info.Type, info.Metadata["purpose"].Str, string(val.Data), err)

	list, _ := v.List(ctx, "git*")
	fmt.Println(len(list), list[0].Name)

	_, _, err = v.Get(ctx, "missing")
	fmt.Println(errors.Is(err, abi.NotFound))
	// Output:
	// GitHubToken string ci s3cr3t <nil>
	// 1 GitHubToken
	// true
}
