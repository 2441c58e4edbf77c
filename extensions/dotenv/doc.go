// Command dotenv is a sesame vault over one .env file, the KEY=VALUE file
// that docker compose and many tools read, in the folder that vaults.toml
// grants to the vault:
//
//	[vaults.LocalStore2]
//	extension = "builtin:dotenv"
//
//	  [vaults.LocalStore2.grants]
//	  directory = "."            # relative to vaults.toml
//
//	  [vaults.LocalStore2.parameters]
//	  file = ".env"              # the default; a name in that folder
//
// Secrets are strings (a secure string is stored as a string, and reads back
// as one: the file has no types), names are case-sensitive shell variable
// names, and there is no metadata. A set or a remove rewrites the file
// atomically under a lock file, changing only the line of the secret:
// comments, blank lines and every other line stay byte for byte. README.md
// gives the format and the rules.
//
// Build it as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o extensions/dotenv.wasm ./extensions/dotenv
//
// The parser (format.go) has no build constraint: go test ./extensions/dotenv
// runs its tests natively.
package main

// main is never run: the host calls the exports that package guest defines.
func main() {}
