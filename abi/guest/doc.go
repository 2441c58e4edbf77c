// Package guest is the Go SDK for writing a sesame vault extension: a
// WebAssembly module that the sesame engine runs in a sandbox and that
// speaks ABI version 1 (abi/SPEC.md).
//
// An extension implements Vault, plus any of the optional interfaces
// Statter, MetadataSetter, Locker, PasswordSetter, Tester, Unregisterer, Batcher and Initializer,
// and calls Register once from an init function. The package provides
// everything else: the sesame_abi_v1 marker, the sesame_manifest export
// (whose JSON, with the "operations" the vault implements, Register writes),
// the export of every operation, the decoding of arguments and the encoding
// of results with package abi, the mapping of errors to status codes, and
// the bindings of the host functions: storage (KVGet, KVSet, KVAdd,
// KVDelete, KVList, KVScan, and KVScanPage and KVEntries, which read the
// values with the keys), logging (Log) and, for a vault granted "http", one
// request through the host (HTTP). An operation the vault does not
// implement is left out of the manifest and answers UNSUPPORTED.
//
// Apart from this documentation the package builds only for GOOS=wasip1
// (every other file has a wasip1 build constraint, so the host's go vet ./...
// and go build ./... pass it by). All of the SDK's unsafe code is here.
//
// # A complete vault
//
// This vault keeps each secret under its name in host storage:
//
//	//go:build wasip1
//
//	package main
//
//	import (
//		"github.com/sesamehq/sesame/abi"
//		"github.com/sesamehq/sesame/abi/guest"
//	)
//
//	func init() {
//		guest.Register(abi.Manifest{
//			Name: "tiny", Version: "0.1.0", CaseSensitive: true,
//			Grants: []string{abi.GrantStorage},
//		}, tiny{})
//	}
//
//	func main() {} // never run
//
//	type tiny struct{}
//
//	func (tiny) Get(name string) (abi.Info, abi.Value, error) {
//		b, err := guest.KVGet([]byte(name)) // wraps abi.NotFound when absent
//		if err != nil {
//			return abi.Info{}, abi.Value{}, err
//		}
//		v, err := abi.DecodeValue(b)
//		return abi.Info{Name: name, Type: v.Type}, v, err
//	}
//
//	func (tiny) Set(name string, v abi.Value, _ abi.Metadata) error {
//		b, err := abi.AppendValue(nil, v)
//		if err != nil {
//			return err
//		}
//		return guest.KVSet([]byte(name), b)
//	}
//
//	func (tiny) Remove(name string) error { return guest.KVDelete([]byte(name)) }
//
//	func (tiny) List(string) ([]abi.Info, error) {
//		var list []abi.Info // every secret: the host filters by pattern
//		err := guest.KVScan(nil, func(k []byte) bool {
//			if b, err := guest.KVGet(k); err == nil && len(b) > 0 {
//				list = append(list, abi.Info{Name: string(k), Type: abi.Type(b[0])})
//			}
//			return true
//		})
//		return list, err
//	}
//
// With Metadata false in the manifest the host never sends metadata, so Set
// may ignore it. The same vault is ExampleRegister, which go vet checks. examples/go-vault is a fuller vault: metadata,
// case-insensitive names, Stat, SetMetadata and Test.
//
// # Building
//
// Build the main package as a WASI reactor (-buildmode=c-shared), which
// exports _initialize instead of _start; -trimpath and -buildvcs=false make
// the bytes reproducible, so that the host's compilation cache hits:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o tiny.wasm ./tiny
//
// Check it with GOOS=wasip1 GOARCH=wasm go vet. A Go guest is 2.5–3 MB
// (examples/go-vault: 2.5 MB) and needs at least 35 pages (2.2 MiB) of
// linear memory.
//
// # Pitfalls
//
//   - main is never run. Set things up in init functions or in Initializer.
//   - The host keeps a pool of instances per vault, may run several at once,
//     and discards an instance after a trap, a timeout or at will. Anything
//     another call must see belongs in host storage, not in a variable.
//   - Goroutines run only while an export is running. Do not start
//     background goroutines: they stop between calls, and one that an export
//     waits for forever is a deadlock, which traps. The SDK ends every export
//     with runtime.Gosched, which lets the garbage collector finish; without
//     it a Go guest's memory grows without bound. A call that loops over
//     many records (a list of a large store) must call runtime.Gosched
//     itself every so often, for the same reason, or run out of memory.
//   - Compute inside the guest is slow: wasm has no assembly fast paths, and
//     the host's deadline checks slow loops down several times more.
//     Derive keys from passwords with KDFArgon2id, which runs in the host,
//     and keep derived keys in the host keyring (KeyringSet) rather than
//     recomputing them per call. Better: let the host keep the keys
//     (KeyArgon2id, Key.Unwrap, Key.Derive, Key.Seal, Key.Open, Key.HMAC,
//     Key.Keep), so that no key byte is ever in the guest's memory.
//   - Every call has a deadline (5 s by default); do not sleep long. A sleep
//     is cut into 10 ms host calls so that the deadline can stop it.
//   - A panic is not recovered: it traps, the host reports INTERNAL with the
//     tail of stderr, and the instance is discarded. Panic messages, error
//     messages and log lines reach users and logs: never put a secret value
//     in them.
//   - There is no filesystem, environment or argument list unless
//     vaults.toml grants one; time and crypto/rand are real.
//   - Size: encoding/json adds about 1.4 MiB to a guest and fmt about
//     130 KB; the SDK uses neither (the manifest JSON is written by hand).
package guest
