// Package vaulttest is the conformance suite for sesame vaults, in the manner
// of testing/fstest.TestFS: every vault, native Go or WebAssembly extension,
// should pass it.
//
// # Using it
//
// A native vault (an engine.Vault written in Go) runs the suite from its own
// tests. newVault is called once per subtest and must return a fresh, empty
// vault, so that subtests cannot see each other's secrets:
//
//	func TestConformance(t *testing.T) {
//		vaulttest.Run(t, func(t *testing.T) engine.Vault {
//			return myvault.New(t.TempDir())
//		}, vaulttest.Options{})
//	}
//
// An extension is tested the same way through the engine's sandbox: newVault
// opens an engine over a fresh directory (t.TempDir()), registers the
// extension there and returns what (*engine.Engine).Vault hands out for it:
// the vault the engine itself would call, over a new, empty storage area. The suite then exercises the guest exactly as sesame will,
// with every name, value and metadata map crossing the ABI encoding in both
// directions. Declare in Options what the manifest cannot say: the types the
// extension refuses, a smaller MaxValue if its backend cannot hold 1 MiB,
// the names it rejects.
//
// The vault's Manifest says whether it keeps metadata, whether names are
// case-sensitive and which optional operations (stat, set_metadata, test) it
// has; the suite checks each rule the manifest declares and skips the checks
// of what it does not. Options says the rest: the value types the vault
// accepts, the largest value it must hold, how many goroutines to run at
// once, and which names it accepts (ValidName; a dotenv vault takes only
// shell variable names, and the suite skips the others).
//
// Run it with the race detector: the Concurrent subtest relies on it as well
// as on its own checks.
//
// # Subtests
//
// Each is a subtest of the test given to Run, so that go test -run
// 'TestConformance/Metadata' runs one of them.
//
//   - Manifest: the core operations are supported, the listed operations are
//     known, not repeated and implemented (engine.Statter, …), set_metadata
//     is listed only with metadata, and Manifest is stable.
//   - RoundTrip: a value of every accepted type comes back equal from Get,
//     with the right Info.Name and Info.Type: empty and all-256 bytes,
//     Unicode and empty strings, credentials with a Unicode user or an empty
//     password, a hashtable with an entry of each scalar type. The vault must
//     copy what it is given and what it hands out.
//   - RefusedTypes: types outside Options.Types are refused with an error
//     wrapping abi.InvalidArgument that does not quote the value, and
//     nothing is stored or replaced.
//   - Overwrite: Set replaces the value and the type, leaving nothing of the
//     old one; Get, Stat and Remove of a missing name report abi.NotFound;
//     a removed name is gone and can be used again.
//   - Create: for a vault that supports create (engine.Creator), an absent
//     secret is stored and an existing one refused with an error wrapping
//     abi.Conflict, unchanged.
//   - Metadata: all three kinds (with nanosecond, pre-1970 and extreme
//     values) come back equal from Get, Stat and List; nil metadata keeps it,
//     empty metadata clears it, other metadata replaces it whole;
//     SetMetadata replaces it, and reports abi.NotFound for a missing secret.
//     A vault without metadata must report none.
//   - Stat: Stat agrees with Get.
//   - List: '*', '?', prefixes, suffixes, exact names, multi-byte characters
//     and patterns that match nothing.
//   - CaseRules: a case-insensitive vault finds a secret by any spelling
//     (Unicode letters too), keeps one secret when names differ only in case
//     and reports the stored spelling; a case-sensitive vault keeps two.
//   - Sizes: the empty value of each type, the largest value (Options.MaxValue),
//     names of 1 and abi.MaxNameBytes bytes, and names in other scripts, with
//     emoji, spaces and punctuation.
//   - Many: 200 secrets, all listed, all readable, some removed.
//   - Concurrent: goroutines set, read and remove secrets of their own while
//     overwriting and reading a shared one whose every version is
//     self-consistent, so that a torn read shows.
//   - Test: Test reports no error.
//
// # What the suite takes into account
//
// Errors may wrap an abi.Status or the engine sentinel it maps to: the suite
// accepts abi.NotFound as well as engine.ErrSecretNotFound. A nil and an
// empty Data, Entries or Metadata are alike, since the ABI encoding cannot
// tell them apart. List may return more than asked, as SPEC.md §4 allows: the
// suite filters its result with abi.Match under the vault's case rule, as the
// engine does, and then requires every matching secret exactly once and
// nothing else. A case-insensitive vault may keep either spelling when a
// name differing only in case overwrites a secret. The suite reads a value
// and its metadata separately for consistency only where no writer is
// running: a vault that stores them under different storage keys is not
// failed for a race between the two.
package vaulttest
